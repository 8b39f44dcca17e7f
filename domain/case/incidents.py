"""The case's compliance decisions (issue 15): a serious incident assessed and reported, and a
breached SLA clock explained. Pure, as ``domain.case.decide`` (which dispatches here).

* Only a safeguarding lead assesses, reports and explains (the permission matrix agrees:
  ``case.serious_incident``, ``sla.explain_breach``).
* A case may be assessed again: the latest assessment supersedes the earlier ones, which stay on
  the record. An assessment is reported once, only if it was ``reportable`` and is still the
  latest (a superseded decision is not what the organisation reports), never before it was made.
* An explanation names a clock the case runs (``domain.sla_clocks.CASE_CLOCKS``) and an item of
  this case that starts it: a flag (the ``FlagRaised`` event, or the opening of the case), an
  escalation, an out-of-hours decision, a referral, a four-eyes approval. Whether the clock
  breached is judged by the reports, not here.
* All three are decided on closed cases too (``decide.ALLOWED_WHEN_CLOSED``): a serious incident
  is often judged, and a breach explained, after the case closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.case import commands as c
from domain.case.ids import event_id_for, version_in
from domain.case.state import CaseState
from domain.errors import InvalidCommand, ItemNotFound, NotPermitted, RuleViolation
from domain.shared import DecisionContext, Role
from domain.sla_clocks import CASE_CLOCKS, SlaClock, clock_id

Fields = dict[str, Any]


class Decision(Protocol):
    """What these decisions read of the case context (``decide.CaseContext``)."""

    @property
    def decision(self) -> DecisionContext: ...


def _lead_only(ctx: Decision, what: str) -> None:
    if ctx.decision.actor.role is not Role.SAFEGUARDING_LEAD:
        raise NotPermitted(f"only a safeguarding lead may {what}")


def _not_before(occurred_at: datetime, earlier: datetime, what: str) -> None:
    if occurred_at < earlier:
        raise InvalidCommand(
            f"occurred_at is before the {what}",
            errors={"occurred_at": f"earlier than the {what} ({earlier.isoformat()})"},
        )


def assess_serious_incident(
    s: CaseState, cmd: c.AssessSeriousIncident, ctx: Decision, at: datetime
) -> Fields:
    _lead_only(ctx, "decide whether a case is a serious incident")
    return {
        **cmd.model_dump(exclude={"occurred_at"}),
        "assessment_id": event_id_for(s.id, s.version + 1),
    }


def report_serious_incident(
    s: CaseState, cmd: c.ReportSeriousIncident, ctx: Decision, at: datetime
) -> Fields:
    _lead_only(ctx, "record that a serious incident was reported")
    assessment = s.serious_incidents.get(str(cmd.assessment_id))
    if assessment is None:
        raise ItemNotFound(
            "no serious-incident assessment with that id in this case",
            errors={"assessment_id": "not found"},
        )
    if not assessment.reportable:
        raise RuleViolation(
            "this assessment decided the case is not a serious incident to report: assess it "
            "again if that has changed"
        )
    if assessment.reported_at is not None:
        raise RuleViolation(
            f"this assessment was already reported (at {assessment.reported_at.isoformat()})"
        )
    if s.latest_serious_incident != assessment.assessment_id:
        raise RuleViolation(
            "a later assessment supersedes this one: report the latest "
            f"({s.latest_serious_incident})"
        )
    _not_before(at, assessment.assessed_at, "assessment")
    return {
        "assessment_id": assessment.assessment_id,
        "regulator": assessment.regulator,
        "reference": cmd.reference,
    }


def explain_sla_breach(
    s: CaseState, cmd: c.ExplainSlaBreach, ctx: Decision, at: datetime
) -> Fields:
    _lead_only(ctx, "explain a breached SLA clock")
    if cmd.clock not in CASE_CLOCKS:
        raise InvalidCommand(
            f"the {cmd.clock.value} clock does not run on a case",
            errors={"clock": "one of " + ", ".join(sorted(k.value for k in CASE_CLOCKS))},
        )
    started = _clock_started_at(s, cmd.clock, cmd.item_id)
    if started is None:
        raise ItemNotFound(
            f"nothing in this case starts a {cmd.clock.value} clock with that id",
            errors={"clock_id": f"no {clock_id(cmd.clock, cmd.item_id)} in this case"},
        )
    if isinstance(started, datetime):
        _not_before(at, started, "start of the clock")
    return cmd.model_dump(exclude={"occurred_at"})


def _clock_started_at(s: CaseState, clock: SlaClock, item_id: UUID) -> datetime | bool | None:
    """When the item that starts ``clock`` happened (True: it is of this case, when unknown), or
    None if no such item is in the case."""
    key = str(item_id)
    if clock is SlaClock.FIRST_ACTION:
        if item_id == event_id_for(s.id, 1):
            return s.opened_at
        version = version_in(s.id, item_id)
        known = s.flag_event_ids is None or key in s.flag_event_ids
        return True if version is not None and version <= s.version and known else None
    items: dict[SlaClock, Any] = {
        SlaClock.ESCALATION_ACKNOWLEDGED: (s.escalations, "raised_at"),
        SlaClock.OUT_OF_HOURS_REVIEW: (s.decisions, "decided_at"),
        SlaClock.REFERRAL_ACKNOWLEDGED: (s.referrals, "made_at"),
        SlaClock.APPROVAL_DECIDED: (s.approvals, "requested_at"),
    }
    found, field = items[clock]
    item = found.get(key)
    return None if item is None else getattr(item, field)
