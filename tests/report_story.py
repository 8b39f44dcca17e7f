"""The fixed story the golden reports are made from: the demo at the test clock's Tuesday
morning (cases, the week's rota and the night on call, a day of the helpline), then a morning's
work that gives every report's tables something to count: a flag nobody acted on yet, a
critical case referred to the police, a routine escalation left unacknowledged, and a content
restoration (a reversal).

Every report is asked for November 2026 as of ``AS_OF``, after the story.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from application.demo import load_demo
from domain.case import commands as c
from domain.case.vocabulary import (
    AgencyKind,
    CaseSource,
    Category,
    Consent,
    ModerationAction,
    RiskLevel,
    Urgency,
)
from domain.shared import Actor, PolicyRef, Role

PERIOD = (date(2026, 11, 1), date(2026, 11, 30))
# The story's last write is at 11:30; the reports are asked for as of noon.
AS_OF = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)

COORDINATOR = Actor(username="kit.coordinator", role=Role.COORDINATOR)
MODERATOR = Actor(username="ola.moderator", role=Role.MODERATOR)
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
    _at(vigil, AS_OF + timedelta(minutes=30))
