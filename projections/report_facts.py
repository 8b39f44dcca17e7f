"""``report_facts``: what the compliance reports count, one row per fact, appended, never changed.

Reports (``application.reports``) must reproduce exactly: the same period and ``as_of`` give the
same figures whatever was recorded, re-versioned or rebuilt since. So this view only ever
appends, and every row carries the ``recorded_at`` of the event it comes from: a report counts
the rows recorded by its ``as_of`` and nothing else, and a rebuild writes the same rows (each is
a pure function of the log up to its event). Nothing is folded into a row that a later event
could change: a clock's start and each thing that may stop it are separate rows, and a report
takes, per clock, the earliest stop recorded by its ``as_of``.

Three tables, none holding personal data (ids, enums, usernames of staff, numbers and times):

* ``report_facts``: one row per counted event: ``fact`` names what it is, ``d1``..``d4`` its
  dimensions and ``n1``/``n2`` its measures (``FACTS`` below says which is which per fact), the
  service and the local date, hour and weekday of its ``occurred_at`` in the service's time
  zone (by the calendar in force then, as the log held it at the event), so a period of dates
  "in the service's time zone" is a plain range. A fact about a contact's or shift's later
  event (a review, a check-in) has no date of its own: reports join it to its contact or shift.
* ``report_clocks``: one row per SLA clock started (DOMAIN.md's SLA table): the clock, its item
  (a flag's event, an escalation, an out-of-hours decision, a referral, an approval, a contact,
  a follow-up, a new forum member), when it started, when it is due and the target used, and
  the versions of the SLA policy and of the service calendar in force when it started (as the
  log held them at the starting event: a later version never moves a due time already set).
* ``report_clock_stops``: each event that may stop a clock: by ``clock_id``, or, for the
  first-action clock, every action on the case (``ACTION_EVENTS``), matched to a flag's clock
  when it occurred at or after the flag. The earliest stop recorded by ``as_of`` wins.

Community intake counts a forum member's joining (and their welcome clock, stopped by the
welcome) and each topic or post a delivery brought (its category and day, never its author or
text). Serious-incident decisions and reports, breach explanations (``domain.sla_clocks``'
clock ids) and the trustees' sign-offs of the register are facts too, without their free text.
"""

# SQL here names only this module's own tables and columns (constants, quoted by the store);
# every value is a bound parameter.

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.calendar import ServiceCalendar
from domain.case import events as case_events
from domain.case.events import CaseEvent
from domain.case.state import ACTION_EVENTS, CaseState
from domain.case.vocabulary import (
    AGENCIES_THAT_NEVER_ACKNOWLEDGE,
    CaseSource,
    ReferralUpdateStatus,
    RiskLevel,
)
from domain.community import events as community_events
from domain.community.events import CommunityEvent
from domain.compliance.events import SeriousIncidentRegisterSignedOff
from domain.contact import events as contact_events
from domain.contact.events import ContactEvent
from domain.policy.sla import SlaTargets, Target
from domain.service.commands import DEFAULT_SERVICE
from domain.shift import events as shift_events
from domain.shift.events import ShiftEvent
from domain.sla_clocks import SlaClock, clock_id
from infrastructure.event_log import EventLog
from infrastructure.persistence import view_decoder
from projections.bulk_write import bulk_insert
from projections.case_folds import CaseFolds, case_folds_for
from projections.runner import Positioned, Statement, View
from projections.service_calendars import ServiceCalendars
from projections.sla import due
from projections.sla_policies import SlaPolicies
from projections.store import ViewStore

FACTS_TABLE = "report_facts"
CLOCKS_TABLE = "report_clocks"
STOPS_TABLE = "report_clock_stops"

# What each fact's dimensions and measures hold (the report builders read them by these names).
FACTS: dict[str, dict[str, str]] = {
    "case_opened": {"d1": "category", "d2": "channel", "d3": "source", "d4": "risk_level"},
    "risk_assessed": {"d1": "risk_level"},
    "moderation": {"d1": "action", "d2": "policy", "d3": "clause", "d4": "channel"},
    "ooh_decision": {},
    "ooh_review": {"d1": "outcome"},
    "referral": {"d1": "agency_kind", "d2": "consent"},
    "escalation": {"d1": "level", "d2": "urgency"},
    "si_assessed": {"d1": "reportable", "d2": "regulator", "d3": "grounds", "d4": "decided_by"},
    "si_reported": {"d1": "regulator"},
    "breach_explained": {"d1": "clock_id", "d2": "cause", "d3": "explained_by"},
    "register_signed_off": {
        "d1": "period_from",
        "d2": "period_to",
        "d3": "signed_off_by",
        "t1": "as_of",
    },
    "contact": {
        "d1": "channel",
        "d2": "direction",
        "d3": "outcome",
        "d4": "category",
        "n1": "duration_seconds",
    },
    "contact_review": {
        "d1": "result",
        "d2": "reviewer",
        "d3": "calibration",
        "d4": "scorecard_version",
        "n1": "score",
        "n2": "safeguarding_fail",
    },
    "criterion_score": {"d1": "criterion", "d4": "scorecard_version", "n1": "score"},
    "shift_planned": {"d1": "role", "d2": "assignee", "t1": "ends_at"},
    "shift_reassigned": {"d2": "assignee"},
    "shift_cancelled": {},
    "checked_in": {"d2": "person"},
    "checked_out": {"d2": "person"},
    # A flag (a case opened from one, or raised on a case): the flag's category, the case's
    # channel.
    "flag": {"d1": "category", "d2": "channel"},
    # Community intake: a forum member joined; a topic or post counted for engagement (the
    # category's forum id as text, and its slug when the delivery named it).
    "member_joined": {},
    "forum_activity": {"d1": "kind", "d2": "category_id", "d3": "category"},
}

FACT_COLUMNS = (
    "position", "seq", "fact", "service", "subject_id", "item_id", "occurred_at",
    "recorded_at", "local_date", "local_hour", "weekday", "calendar_version", "d1", "d2", "d3",
    "d4", "n1", "n2", "t1",
)  # fmt: skip
CLOCK_COLUMNS = (
    "position", "seq", "clock", "clock_id", "subject_kind", "subject_id", "item_id", "service",
    "started_at", "recorded_at", "local_date", "due_at", "target", "policy_version",
    "calendar_version", "detail",
)  # fmt: skip
STOP_COLUMNS = (
    "position", "seq", "clock", "clock_id", "subject_id", "stopped_at", "recorded_at", "outcome",
)  # fmt: skip

_TIME_COLUMNS = frozenset(
    {"occurred_at", "recorded_at", "t1", "started_at", "due_at", "stopped_at"}
)
_UUID_COLUMNS = frozenset({"subject_id", "item_id"})

# A case unassessed when flagged is judged as medium risk (the flags_awaiting_action queue's rule).
UNASSESSED_FLAG_RISK = RiskLevel.MEDIUM
_SERVICE_CACHE = 20_000
_AGENCY_ANSWERED = frozenset(
    {ReferralUpdateStatus.ACKNOWLEDGED, ReferralUpdateStatus.OUTCOME_RECEIVED}
)


class PolicyInForce(Protocol):
    """The SLA policy version in force at a moment (``domain.policy``'s ``SlaPolicyVersion``)."""

    @property
    def version(self) -> int: ...

    @property
    def targets(self) -> SlaTargets: ...


PolicyLookup = Callable[[int, datetime], PolicyInForce]
"""The SLA policy version in force at a moment, as the log held the versions at a position."""


def describe(target: Target) -> str:
    """A target as people read it: ``30 min``, ``4 h``, ``1 working day``, ``5 working days``."""
    return target.describe()


def _local(at: datetime, calendar: ServiceCalendar) -> datetime:
    """``at`` in the calendar's time zone; a time stored before client times were bounded may
    fall outside the years a datetime holds there: it is then read on its own offset."""
    try:
        return at.astimezone(calendar.timezone)
    except OverflowError:
        return at


@dataclass
class _CaseAt:
    """What a case's facts need of its state, kept up to date event by event in a batch."""

    service: str
    channel: str | None
    risk: RiskLevel | None

    @classmethod
    def of(cls, state: CaseState) -> _CaseAt:
        return cls(state.service, state.channel, state.risk_level)


def _bool(value: bool) -> str:
    return "true" if value else "false"


class ReportFactsView(View):
    name = "report_facts"
    # 1: facts, clocks and stops; 2: only the agency's answer stops a referral's clock;
    # 3: flags by category and channel, forum members' welcome clocks and forum activity
    version = 3

    def __init__(
        self,
        event_log: EventLog,
        *,
        calendars: ServiceCalendars,
        policies: SlaPolicies,
        fingerprint: str = "",
    ) -> None:
        self._event_log = event_log
        self._folds: CaseFolds = case_folds_for(event_log)
        self._services: OrderedDict[UUID, str] = OrderedDict()
        self._decode: Callable[[Any], Any] | None = None
        self._calendars = calendars
        self._policies = policies
        self.feeds = (calendars, policies)
        self._fingerprint = fingerprint

    def stored_version(self) -> int:
        if not self._fingerprint:
            return self.version
        # Fits PostgreSQL's INTEGER: the schema version, then 6 digits of the fingerprint.
        return self.version * 1_000_000 + zlib.crc32(self._fingerprint.encode()) % 1_000_000

    def reset(self) -> None:
        self._folds.forget()
        self._services.clear()

    def _contact_service(self, contact_id: UUID) -> str:
        """The service of a contact (its first event's), read from the log once and kept."""
        service = self._services.get(contact_id)
        if service is None:
            if self._decode is None:
                self._decode = view_decoder(self._event_log)
            stored = self._event_log.recorder.select_events(contact_id, lte=1)
            first = self._decode(stored[0]) if stored else None
            service = getattr(first, "service", None) or DEFAULT_SERVICE
            self._services[contact_id] = service
            while len(self._services) > _SERVICE_CACHE:
                self._services.popitem(last=False)
        return service

    # --- tables ----------------------------------------------------------------------------

    def create_statements(self, store: ViewStore) -> list[str]:
        ts, uid = store.time_type, store.uuid_type
        facts, clocks, stops = (
            store.table(FACTS_TABLE),
            store.table(CLOCKS_TABLE),
            store.table(STOPS_TABLE),
        )
        real = "DOUBLE PRECISION" if store.dialect == "postgresql" else "REAL"

        def ix(table: str, suffix: str) -> str:
            return store.index(f"{table}_{suffix}")

        return [
            f"CREATE TABLE IF NOT EXISTS {facts} ("
            "position BIGINT NOT NULL, seq INTEGER NOT NULL, fact TEXT NOT NULL, service TEXT, "
            f"subject_id {uid}, item_id {uid}, occurred_at {ts} NOT NULL, "
            f"recorded_at {ts} NOT NULL, local_date TEXT, local_hour INTEGER, weekday INTEGER, "
            "calendar_version INTEGER, "
            f"d1 TEXT, d2 TEXT, d3 TEXT, d4 TEXT, n1 {real}, n2 {real}, t1 {ts}, "
            "PRIMARY KEY (position, seq))",
            f"CREATE INDEX IF NOT EXISTS {ix(FACTS_TABLE, 'by_date')} "
            f"ON {facts} (fact, local_date)",
            f"CREATE INDEX IF NOT EXISTS {ix(FACTS_TABLE, 'by_subject')} "
            f"ON {facts} (subject_id, fact)",
            f"CREATE TABLE IF NOT EXISTS {clocks} ("
            "position BIGINT NOT NULL, seq INTEGER NOT NULL, clock TEXT NOT NULL, "
            f"clock_id TEXT NOT NULL, subject_kind TEXT NOT NULL, subject_id {uid} NOT NULL, "
            f"item_id {uid} NOT NULL, service TEXT NOT NULL, started_at {ts} NOT NULL, "
            f"recorded_at {ts} NOT NULL, local_date TEXT NOT NULL, due_at {ts} NOT NULL, "
            "target TEXT NOT NULL, policy_version INTEGER NOT NULL, "
            "calendar_version INTEGER NOT NULL, detail TEXT, PRIMARY KEY (position, seq))",
            f"CREATE INDEX IF NOT EXISTS {ix(CLOCKS_TABLE, 'by_date')} ON {clocks} (local_date)",
            f"CREATE INDEX IF NOT EXISTS {ix(CLOCKS_TABLE, 'by_id')} ON {clocks} (clock_id)",
            f"CREATE TABLE IF NOT EXISTS {stops} ("
            "position BIGINT NOT NULL, seq INTEGER NOT NULL, clock TEXT NOT NULL, "
            f"clock_id TEXT, subject_id {uid} NOT NULL, stopped_at {ts} NOT NULL, "
            f"recorded_at {ts} NOT NULL, outcome TEXT, PRIMARY KEY (position, seq))",
            f"CREATE INDEX IF NOT EXISTS {ix(STOPS_TABLE, 'by_clock')} ON {stops} (clock_id)",
            f"CREATE INDEX IF NOT EXISTS {ix(STOPS_TABLE, 'by_subject')} "
            f"ON {stops} (subject_id, clock)",
            # A flag's first action: the earliest action on its case at or after the flag, read
            # in stopped_at order from the index (report_queries' clocks), not every action of
            # the case.
            f"CREATE INDEX IF NOT EXISTS {ix(STOPS_TABLE, 'first_action')} "
            f"ON {stops} (subject_id, stopped_at, recorded_at) "
            "WHERE clock = 'first_action' AND clock_id IS NULL",
        ]

    def drop_statements(self, store: ViewStore) -> list[str]:
        return [
            f"DROP TABLE IF EXISTS {store.table(name)}"
            for name in (FACTS_TABLE, CLOCKS_TABLE, STOPS_TABLE)
        ]

    # --- folding -----------------------------------------------------------------------------

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        out = _Rows(self._calendars, self._policies.in_force, self._contact_service)
        cases: dict[UUID, _CaseAt] = {
            f.before.id: _CaseAt.of(f.before)
            for f in self._folds.fold_batch(batch)
            if f.before is not None
        }
        for item in batch:
            event = item.event
            if isinstance(event, CaseEvent):
                _case_facts(out, item, event, cases)
            elif isinstance(event, ContactEvent):
                _contact_facts(out, item, event)
            elif isinstance(event, ShiftEvent):
                _shift_facts(out, item, event)
            elif isinstance(event, CommunityEvent):
                _community_facts(out, item, event)
            elif isinstance(event, SeriousIncidentRegisterSignedOff):
                out.fact(
                    item, event, "register_signed_off", service=None, subject_id=None,
                    d1=event.period_from.isoformat(), d2=event.period_to.isoformat(),
                    d3=event.actor, t1=event.as_of,
                )  # fmt: skip
        return [
            *bulk_insert(store, store.table(FACTS_TABLE), FACT_COLUMNS, out.encoded(store, 0)),
            *bulk_insert(store, store.table(CLOCKS_TABLE), CLOCK_COLUMNS, out.encoded(store, 1)),
            *bulk_insert(store, store.table(STOPS_TABLE), STOP_COLUMNS, out.encoded(store, 2)),
        ]


class _Rows:
    """The rows one batch adds, in three lists, with each row's place (position, seq)."""

    def __init__(
        self,
        calendars: ServiceCalendars,
        policies: PolicyLookup,
        contact_service: Callable[[UUID], str],
    ) -> None:
        self.calendars = calendars
        self.policies = policies
        self.contact_service = contact_service
        self.tables: tuple[list[dict[str, Any]], ...] = ([], [], [])
        self._seq: dict[int, int] = {}

    def _next(self, position: int) -> int:
        seq = self._seq.get(position, 0)
        self._seq[position] = seq + 1
        return seq

    def calendar(self, service: str, position: int, at: datetime) -> tuple[ServiceCalendar, int]:
        history = self.calendars.history(service, position)
        index = history.index_at(at)
        return history.calendars[index], index + 1

    def date(self, row: dict[str, Any], service: str, position: int, at: datetime) -> None:
        """Date a row by ``at`` in the time zone of the service's calendar in force then."""
        calendar, version = self.calendar(service, position, at)
        local = _local(at, calendar)
        row.update(
            local_date=local.date().isoformat(), local_hour=local.hour, weekday=local.weekday(),
            calendar_version=version,
        )  # fmt: skip

    def fact(
        self,
        item: Positioned,
        event: Any,
        fact: str,
        *,
        service: str | None,
        subject_id: UUID | None,
        item_id: UUID | None = None,
        dated: bool = True,
        **values: Any,
    ) -> None:
        row: dict[str, Any] = dict.fromkeys(FACT_COLUMNS)
        occurred = event.occurred_at
        row.update(
            position=item.position, seq=self._next(item.position), fact=fact, service=service,
            subject_id=subject_id, item_id=item_id, occurred_at=occurred,
            recorded_at=event.recorded_at,
        )  # fmt: skip
        if dated and service is not None:
            self.date(row, service, item.position, occurred)
        row.update(values)
        self.tables[0].append(row)

    def clock(
        self,
        item: Positioned,
        event: Any,
        clock: SlaClock,
        *,
        subject_kind: str,
        subject_id: UUID,
        item_id: UUID,
        service: str,
        target: Target | None = None,
        due_at: datetime | None = None,
        target_text: str | None = None,
        detail: str | None = None,
    ) -> None:
        start: datetime = event.occurred_at
        calendar, calendar_version = self.calendar(service, item.position, start)
        policy = self.policies(item.position, start)
        if target_text is None:
            assert target is not None, "a clock due by a target names it"
            target_text = describe(target)
        if due_at is None:
            assert target is not None
            due_at = due(target, calendar, start)
        self.tables[1].append(
            {
                "position": item.position, "seq": self._next(item.position),
                "clock": clock.value, "clock_id": clock_id(clock, item_id),
                "subject_kind": subject_kind, "subject_id": subject_id, "item_id": item_id,
                "service": service, "started_at": start, "recorded_at": event.recorded_at,
                "local_date": _local(start, calendar).date().isoformat(),
                "due_at": due_at,
                "target": target_text,
                "policy_version": policy.version, "calendar_version": calendar_version,
                "detail": detail,
            }
        )  # fmt: skip

    def stop(
        self,
        item: Positioned,
        event: Any,
        clock: SlaClock,
        *,
        subject_id: UUID,
        item_id: UUID | None,
        outcome: str | None = None,
    ) -> None:
        self.tables[2].append(
            {
                "position": item.position, "seq": self._next(item.position),
                "clock": clock.value,
                "clock_id": None if item_id is None else clock_id(clock, item_id),
                "subject_id": subject_id, "stopped_at": event.occurred_at,
                "recorded_at": event.recorded_at, "outcome": outcome,
            }
        )  # fmt: skip

    def encoded(self, store: ViewStore, table: int) -> list[dict[str, Any]]:
        rows = self.tables[table]
        for row in rows:
            for name, value in row.items():
                if value is None:
                    continue
                if name in _TIME_COLUMNS and isinstance(value, datetime):
                    row[name] = store.encode_time(value)
                elif name in _UUID_COLUMNS:
                    row[name] = store.encode_uuid(value)
        return rows


def _case_facts(out: _Rows, item: Positioned, e: CaseEvent, cases: dict[UUID, _CaseAt]) -> None:
    case_id = e.originator_id
    if isinstance(e, case_events.CaseOpened):
        opened = cases[case_id] = _CaseAt(e.service, e.channel, e.risk_level)
        out.fact(
            item, e, "case_opened", service=e.service, subject_id=case_id,
            d1=e.category.value, d2=e.channel, d3=e.source.value,
            d4=None if e.risk_level is None else e.risk_level.value,
        )  # fmt: skip
        if e.source is CaseSource.FLAG:
            out.fact(
                item, e, "flag", service=e.service, subject_id=case_id, item_id=e.event_id,
                d1=e.category.value, d2=e.channel,
            )  # fmt: skip
            _flag_clock(out, item, e, opened)
        return
    at = cases.get(case_id)
    if at is None:
        return  # a case whose opening the log does not hold: nothing to count it by
    service, policy = at.service, out.policies(item.position, e.occurred_at)
    if isinstance(e, ACTION_EVENTS):
        out.stop(item, e, SlaClock.FIRST_ACTION, subject_id=case_id, item_id=None)
    if isinstance(e, case_events.FlagRaised):
        out.fact(
            item, e, "flag", service=service, subject_id=case_id, item_id=e.event_id,
            d1=e.category.value, d2=at.channel,
        )  # fmt: skip
        _flag_clock(out, item, e, at)
    elif isinstance(e, case_events.RiskAssessed):
        at.risk = e.level
        out.fact(item, e, "risk_assessed", service=service, subject_id=case_id, d1=e.level.value)
    elif isinstance(e, case_events.ModerationActionTaken):
        out.fact(
            item, e, "moderation", service=service, subject_id=case_id, item_id=e.event_id,
            d1=e.action.value, d2=e.policy_ref.policy,
            d3=f"{e.policy_ref.version} {e.policy_ref.clause}", d4=at.channel,
        )  # fmt: skip
    elif isinstance(e, case_events.OutOfHoursDecisionRecorded):
        out.fact(
            item, e, "ooh_decision", service=service, subject_id=case_id, item_id=e.decision_id
        )
        out.clock(
            item, e, SlaClock.OUT_OF_HOURS_REVIEW, subject_kind="case", subject_id=case_id,
            item_id=e.decision_id, service=service, due_at=e.review_due,
            target_text=describe(policy.targets.out_of_hours_review),
        )  # fmt: skip
    elif isinstance(e, case_events.OutOfHoursDecisionReviewed):
        out.fact(
            item, e, "ooh_review", service=service, subject_id=case_id, item_id=e.decision_id,
            d1=e.outcome.value,
        )  # fmt: skip
        out.stop(
            item, e, SlaClock.OUT_OF_HOURS_REVIEW, subject_id=case_id, item_id=e.decision_id,
            outcome=e.outcome.value,
        )  # fmt: skip
    elif isinstance(e, case_events.ReferralMade):
        out.fact(
            item, e, "referral", service=service, subject_id=case_id, item_id=e.referral_id,
            d1=e.agency.kind.value, d2=e.consent.value,
        )  # fmt: skip
        if e.agency.kind not in AGENCIES_THAT_NEVER_ACKNOWLEDGE:
            out.clock(
                item, e, SlaClock.REFERRAL_ACKNOWLEDGED, subject_kind="case",
                subject_id=case_id, item_id=e.referral_id, service=service,
                target=policy.targets.referral_acknowledged, detail=e.agency.kind.value,
            )  # fmt: skip
    elif isinstance(e, case_events.ReferralUpdated) and e.status in _AGENCY_ANSWERED:
        # The agency's acknowledgement, or its outcome (which acknowledges it); our own chase
        # (followed_up) or closing it is not an answer from the agency.
        out.stop(
            item, e, SlaClock.REFERRAL_ACKNOWLEDGED, subject_id=case_id, item_id=e.referral_id,
            outcome=e.status.value,
        )  # fmt: skip
    elif isinstance(e, case_events.CaseEscalated):
        out.fact(
            item, e, "escalation", service=service, subject_id=case_id,
            item_id=e.escalation_id, d1=e.level.value, d2=e.urgency.value,
        )  # fmt: skip
        out.clock(
            item, e, SlaClock.ESCALATION_ACKNOWLEDGED, subject_kind="case", subject_id=case_id,
            item_id=e.escalation_id, service=service,
            target=policy.targets.escalation_acknowledged[e.urgency], detail=e.urgency.value,
        )  # fmt: skip
    elif isinstance(e, case_events.EscalationAcknowledged):
        out.stop(
            item, e, SlaClock.ESCALATION_ACKNOWLEDGED, subject_id=case_id,
            item_id=e.escalation_id,
        )  # fmt: skip
    elif isinstance(e, case_events.ApprovalRequested):
        out.clock(
            item, e, SlaClock.APPROVAL_DECIDED, subject_kind="case", subject_id=case_id,
            item_id=e.approval_id, service=service, target=policy.targets.approval_decided,
            detail=e.kind.value,
        )  # fmt: skip
    elif isinstance(e, case_events.ApprovalDecided):
        out.stop(
            item, e, SlaClock.APPROVAL_DECIDED, subject_id=case_id, item_id=e.approval_id,
            outcome=e.decision.value,
        )  # fmt: skip
    elif isinstance(e, case_events.SeriousIncidentAssessed):
        out.fact(
            item, e, "si_assessed", service=service, subject_id=case_id,
            item_id=e.assessment_id, d1=_bool(e.reportable), d2=e.regulator.value,
            d3=",".join(sorted(g.value for g in e.grounds)), d4=e.actor,
        )  # fmt: skip
    elif isinstance(e, case_events.SeriousIncidentReported):
        out.fact(
            item, e, "si_reported", service=service, subject_id=case_id,
            item_id=e.assessment_id, d1=e.regulator.value,
        )  # fmt: skip
    elif isinstance(e, case_events.SlaBreachExplained):
        _explained(out, item, e, service, case_id)


def _flag_clock(out: _Rows, item: Positioned, e: CaseEvent, at: _CaseAt) -> None:
    risk = at.risk or UNASSESSED_FLAG_RISK
    policy = out.policies(item.position, e.occurred_at)
    out.clock(
        item, e, SlaClock.FIRST_ACTION, subject_kind="case", subject_id=e.originator_id,
        item_id=e.event_id, service=at.service, target=policy.targets.first_action[risk],
        detail=risk.value,
    )  # fmt: skip


def _explained(out: _Rows, item: Positioned, e: Any, service: str | None, subject: UUID) -> None:
    out.fact(
        item, e, "breach_explained", service=service, subject_id=subject, item_id=e.item_id,
        dated=False, d1=clock_id(e.clock, e.item_id), d2=e.cause.value, d3=e.actor,
    )  # fmt: skip


def _contact_facts(out: _Rows, item: Positioned, e: ContactEvent) -> None:
    contact_id = e.originator_id
    if isinstance(e, contact_events.ContactLogged):
        out.fact(
            item, e, "contact", service=e.service, subject_id=contact_id,
            d1=e.channel.value, d2=e.direction.value, d3=e.outcome.value,
            d4=e.category.value, n1=e.duration_seconds,
        )  # fmt: skip
        policy = out.policies(item.position, e.occurred_at)
        out.clock(
            item, e, SlaClock.CONTACT_REVIEWED, subject_kind="contact", subject_id=contact_id,
            item_id=contact_id, service=e.service, target=policy.targets.contact_reviewed,
        )  # fmt: skip
    elif isinstance(e, contact_events.ContactReviewed):
        out.fact(
            item, e, "contact_review", service=None, subject_id=contact_id,
            item_id=e.review_id, dated=False, d1=e.result.value, d2=e.reviewer,
            d3=_bool(e.calibration), d4=str(e.scorecard_version), n1=e.score,
            n2=1 if e.safeguarding_fail else 0,
        )  # fmt: skip
        for key, score in sorted(e.scores.items()):
            out.fact(
                item, e, "criterion_score", service=None, subject_id=contact_id,
                item_id=e.review_id, dated=False, d1=key, d4=str(e.scorecard_version),
                n1=score,
            )  # fmt: skip
        out.stop(
            item, e, SlaClock.CONTACT_REVIEWED, subject_id=contact_id, item_id=contact_id,
            outcome=e.result.value,
        )  # fmt: skip
    elif isinstance(e, contact_events.FollowUpScheduled):
        service = _contact_service(out, contact_id)
        out.clock(
            item, e, SlaClock.FOLLOW_UP, subject_kind="contact", subject_id=contact_id,
            item_id=e.follow_up_id, service=service, due_at=e.due_at,
            target_text="the due time given", detail=e.kind.value,
        )  # fmt: skip
    elif isinstance(e, contact_events.FollowUpCompleted):
        out.stop(item, e, SlaClock.FOLLOW_UP, subject_id=contact_id, item_id=e.follow_up_id)
    elif isinstance(e, contact_events.ContactSlaBreachExplained):
        _explained(out, item, e, None, contact_id)


def _contact_service(out: _Rows, contact_id: UUID) -> str:
    # A follow-up is dated on its contact's service's calendar: the contact's first event names
    # the service (in this batch, or read from the log).
    for row in out.tables[0]:
        if row["fact"] == "contact" and row["subject_id"] == contact_id:
            return str(row["service"])
    return out.contact_service(contact_id)


def _shift_facts(out: _Rows, item: Positioned, e: ShiftEvent) -> None:
    shift_id = e.originator_id
    if isinstance(e, shift_events.ShiftPlanned):
        # Dated by when the shift starts, not when it was planned.
        out.fact(
            item, e, "shift_planned", service=e.service, subject_id=shift_id, d1=e.role.value,
            d2=e.assignee, t1=e.ends_at,
        )  # fmt: skip
        row = out.tables[0][-1]
        row["occurred_at"] = e.starts_at
        out.date(row, e.service, item.position, e.starts_at)
    elif isinstance(e, shift_events.ShiftReassigned):
        out.fact(
            item, e, "shift_reassigned", service=None, subject_id=shift_id, dated=False,
            d2=e.assignee,
        )  # fmt: skip
    elif isinstance(e, shift_events.ShiftCancelled):
        out.fact(item, e, "shift_cancelled", service=None, subject_id=shift_id, dated=False)
    elif isinstance(e, shift_events.CheckedIn):
        out.fact(item, e, "checked_in", service=None, subject_id=shift_id, dated=False, d2=e.actor)
    elif isinstance(e, shift_events.CheckedOut):
        out.fact(
            item, e, "checked_out", service=None, subject_id=shift_id, dated=False,
            d2=getattr(e, "on_behalf_of", None) or e.actor,
        )  # fmt: skip


def _community_facts(out: _Rows, item: Positioned, e: CommunityEvent) -> None:
    # No username, post or text: the member's stream id, the forum's category and the moment.
    if isinstance(e, community_events.ForumMemberJoined):
        member = e.originator_id
        out.fact(item, e, "member_joined", service=e.service, subject_id=member)
        policy = out.policies(item.position, e.occurred_at)
        out.clock(
            item, e, SlaClock.NEW_MEMBER_WELCOMED, subject_kind="member", subject_id=member,
            item_id=member, service=e.service, target=policy.targets.new_member_welcomed,
        )  # fmt: skip
    elif isinstance(e, community_events.ForumMemberWelcomed):
        out.stop(
            item, e, SlaClock.NEW_MEMBER_WELCOMED, subject_id=e.originator_id,
            item_id=e.originator_id, outcome=e.how.value,
        )  # fmt: skip
    elif isinstance(e, community_events.DiscourseDeliveryAccepted) and e.activity is not None:
        activity = e.activity
        out.fact(
            item, e, "forum_activity", service=e.service, subject_id=e.originator_id,
            d1=activity.kind.value,
            d2=None if activity.category_id is None else str(activity.category_id),
            d3=activity.category,
        )  # fmt: skip
