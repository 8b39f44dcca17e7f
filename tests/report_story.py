"""The fixed story the golden reports are made from: the demo at the test clock's Tuesday
morning (cases, the week's rota and the night on call, a day of the helpline), then a morning's
work that gives every report's tables something to count: a new SLA policy version (a medium
flag acted on within 12 hours, from 10:00), a flag nobody acted on yet, a critical case referred
to the police and assessed (and reported) as a serious incident, a routine escalation left
unacknowledged, a content restoration (a reversal), a lead's explanation of a follow-up that
was late, and a trustee's sign-off of the register for the first half of November.

Every report is asked for November 2026 as of ``AS_OF``, after the story.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from application.demo import load_demo
from application.reports.service import ReportRequest
from domain.case import commands as c
from domain.case.vocabulary import (
    AgencyKind,
    CaseSource,
    Category,
    Consent,
    ModerationAction,
    Regulator,
    RiskLevel,
    SeriousIncidentGround,
    Urgency,
)
from domain.compliance.register import SignOffRegister
from domain.contact.commands import ExplainContactSlaBreach
from domain.policy.commands import VersionSlaPolicy
from domain.policy.sla import DEFAULT_TARGETS, Target
from domain.shared import Actor, PolicyRef, Role
from domain.sla_clocks import BreachCause, parse_clock_id

PERIOD = (date(2026, 11, 1), date(2026, 11, 30))
# The story's last write is at 11:30; the reports are asked for as of noon.
AS_OF = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)

COORDINATOR = Actor(username="kit.coordinator", role=Role.COORDINATOR)
MODERATOR = Actor(username="ola.moderator", role=Role.MODERATOR)
LEAD = Actor(username="lee.lead", role=Role.SAFEGUARDING_LEAD)
TRUSTEE = Actor(username="tess.trustee", role=Role.TRUSTEE)
GUIDELINES = PolicyRef(policy="community-guidelines", version="2025-01", clause="3.1")


def _at(vigil: Any, moment: datetime) -> None:
    vigil.clock.set(moment)


def _open(vigil: Any, actor: Actor, **fields: Any) -> UUID:
    command = c.OpenCase.model_validate(
        {
            "subject": {"kind": "member", "ref": fields.pop("ref"), "display_name": "A Member"},
            "summary": "What the flag said, in the member's words.",
            **fields,
        }
    )
    return vigil.cases.execute(None, command, actor).state.id


def record_story(vigil: Any) -> None:
    """The demo, then the morning's work (the clock moved on as it goes)."""
    start = vigil.clock()
    load_demo(vigil, actor="cli")

    _at(vigil, start + timedelta(minutes=30))  # 10:00
    # From now on a medium-risk flag is to be acted on within 12 hours, not 24.
    targets = DEFAULT_TARGETS.model_dump()
    targets["first_action"][RiskLevel.MEDIUM] = Target(minutes=12 * 60).model_dump()
    vigil.sla_policies.add_version(
        VersionSlaPolicy.model_validate(
            {**targets, "rationale": "Trustees asked for medium-risk flags within 12 hours."}
        ),
        LEAD,
    )
    # A medium-risk flag nobody has acted on by noon: its first-action clock runs (24 h).
    _open(
        vigil, MODERATOR, ref="member-7001", source=CaseSource.FLAG,
        category=Category.HARASSMENT, risk_level=RiskLevel.MEDIUM, channel="forum",
    )  # fmt: skip

    _at(vigil, start + timedelta(minutes=45))  # 10:15
    # A critical case, referred to the police: a serious-incident candidate.
    critical = _open(
        vigil, COORDINATOR, ref="member-7002", source=CaseSource.STAFF_CONCERN,
        category=Category.HARM_TO_OTHERS, risk_level=RiskLevel.CRITICAL, channel="forum",
    )  # fmt: skip
    _at(vigil, start + timedelta(minutes=50))
    vigil.cases.execute(
        critical,
        c.MakeReferral.model_validate(
            {
                "agency": {"name": "Local police", "kind": AgencyKind.POLICE},
                "reason": "Threat of violence against a named person.",
                "consent": Consent.NOT_SOUGHT,
                "consent_rationale": "Seeking consent would put the named person at risk.",
                "lawful_basis": "UK GDPR Art 6(1)(e); DPA 2018 Sch 1 para 18",
            }
        ),
        COORDINATOR,
    )
    _at(vigil, start + timedelta(minutes=55))
    # A routine escalation nobody has acknowledged by noon (due the next working day).
    vigil.cases.execute(
        critical,
        c.EscalateCase.model_validate(
            {"level": "safeguarding_lead", "reason": "Lead to decide on reporting.",
             "urgency": Urgency.ROUTINE}
        ),
        COORDINATOR,
    )  # fmt: skip

    _at(vigil, start + timedelta(minutes=58))
    # The lead decides it is a serious incident to report to the Charity Commission, and does.
    assessed = vigil.cases.execute(
        critical,
        c.AssessSeriousIncident(
            reportable=True,
            regulator=Regulator.CHARITY_COMMISSION,
            grounds=[
                SeriousIncidentGround.HARM_TO_BENEFICIARY,
                SeriousIncidentGround.POLICE_INVOLVEMENT,
            ],
            rationale="Threat of serious harm; police involved; meets the RSI threshold.",
        ),
        LEAD,
    )
    assessment_id = assessed.state.latest_serious_incident
    _at(vigil, start + timedelta(hours=1, minutes=5))
    vigil.cases.execute(
        critical,
        c.ReportSeriousIncident.model_validate(
            {"assessment_id": assessment_id, "reference": "RSI-2026-0042"}
        ),
        LEAD,
    )

    _at(vigil, start + timedelta(hours=1, minutes=30))  # 11:00
    # Hidden last night in error, restored this morning: a reversal in the moderation report.
    restored = _open(
        vigil, MODERATOR, ref="member-7003", source=CaseSource.FLAG,
        category=Category.OFFENSIVE_CONTENT, risk_level=RiskLevel.LOW, channel="forum",
    )  # fmt: skip
    for action in (ModerationAction.HIDE_CONTENT, ModerationAction.RESTORE_CONTENT):
        vigil.clock.advance(minutes=10)
        vigil.cases.execute(
            restored,
            c.TakeModerationAction.model_validate(
                {
                    "action": action,
                    "target_ref": "post-991",
                    "rationale": "Checked against the guidelines with the member's context.",
                    "policy_ref": GUIDELINES.model_dump(),
                }
            ),
            MODERATOR,
        )
    # The lead explains the first late follow-up (the call-back that came 95 minutes late).
    vigil.clock.advance(minutes=5)
    vigil.projector.catch_up()
    sla = vigil.reports.report(ReportRequest("sla", PERIOD[0], PERIOD[1], None, None))
    late = sla["sections"][1]["tables"][0]["rows"][0]
    clock, item_id = parse_clock_id(late["clock_id"])
    vigil.contacts.execute(
        UUID(late["subject_id"]),
        ExplainContactSlaBreach(
            clock=clock,
            item_id=item_id,
            cause=BreachCause.STAFFING,
            explanation="One handler on the line that morning.",
            action="A second handler is rostered on Wednesdays.",
        ),
        LEAD,
    )
    # A trustee signs the register off for the first half of November, as it stands now.
    vigil.clock.advance(minutes=5)
    vigil.register.sign_off(
        SignOffRegister(period_from=date(2026, 11, 1), period_to=date(2026, 11, 16)), TRUSTEE
    )
    _at(vigil, AS_OF + timedelta(minutes=30))
