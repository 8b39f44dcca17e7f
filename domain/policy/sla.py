"""SLA targets: how soon each piece of safeguarding work is due, and the versions of the policy.

Pure models. ``SlaTargets`` is also stored, inside ``domain.policy.events.SlaPolicyVersioned``
(the same rule holds for it: never rename or retype a field; add fields only with defaults).

A target is a fixed duration (``minutes``) or a number of working days on the calendar of the
service the work belongs to (``working_days``), never both. A due time is judged by the policy
version in force when the work's clock started and the calendar in force then: a new version
never moves a due time already set (it may not take effect in the past:
``domain.policy.decide``).

Follow-ups (a helpline contact's ``due_at``, a referral's chase date a person sets) are due at
their own ``due_at``: they have no target here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.calendar import EARLIEST_VERSION, ServiceCalendar
from domain.case.vocabulary import RiskLevel, Urgency

# Look this far ahead for a working day before deciding the service is never open.
_HORIZON_DAYS = 400


class Target(BaseModel):
    """A deadline: ``minutes`` after the clock starts, or ``working_days`` on the service's
    calendar (exactly one of them, each at least 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    minutes: int | None = Field(default=None, ge=1, description="A fixed duration, in minutes.")
    working_days: int | None = Field(
        default=None, ge=1, description="Working days on the service's calendar."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        if (self.minutes is None) == (self.working_days is None):
            raise ValueError("give exactly one of minutes and working_days")
        return self

    @classmethod
    def of_minutes(cls, minutes: int) -> Target:
        return cls(minutes=minutes)

    @classmethod
    def of_working_days(cls, days: int) -> Target:
        return cls(working_days=days)

    @property
    def duration(self) -> timedelta | None:
        """The fixed duration (None for a target in working days)."""
        return None if self.minutes is None else timedelta(minutes=self.minutes)

    def describe(self) -> str:
        """ "30 min", "4 h", "1 working day", "5 working days", "1 h 30 min"."""
        if self.working_days is not None:
            days = self.working_days
            return f"{days} working day{'' if days == 1 else 's'}"
        assert self.minutes is not None
        hours, minutes = divmod(self.minutes, 60)
        if not hours:
            return f"{minutes} min"
        return f"{hours} h" if not minutes else f"{hours} h {minutes} min"


def _hours(hours: int) -> Target:
    return Target(minutes=hours * 60)


class SlaTargets(BaseModel):
    """Every target of the SLA policy (all required: a new version states each one).

    Follow-ups are due at their own ``due_at``: they have no target."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_action: dict[RiskLevel, Target] = Field(
        description="A flag awaiting the first action on its case, by the case's risk when the "
        "flag was raised (unassessed counts as medium): every level, e.g. critical 1 h, high "
        "4 h, medium 24 h, low 72 h."
    )
    escalation_acknowledged: dict[Urgency, Target] = Field(
        description="An escalation acknowledged, by urgency: every urgency, e.g. immediate "
        "30 min, urgent 4 h, routine 1 working day."
    )
    out_of_hours_review: Target = Field(
        description="An out-of-hours decision (and a referral made without consent) reviewed by "
        "a safeguarding lead; in working days, the close of the Nth working day opening after "
        "it (1 working day: the end of the next working day)."
    )
    referral_acknowledged: Target = Field(description="A referral acknowledged by its agency.")
    referral_chase: Target = Field(
        description="An acknowledged referral with no outcome chased, after the acknowledgement "
        "or the last follow-up."
    )
    approval_decided: Target = Field(
        description="Four-eyes: a held decision approved or rejected by a second lead."
    )
    contact_reviewed: Target = Field(description="A helpline contact given a quality review.")
    new_member_welcomed: Target = Field(description="A new member welcomed (a later issue).")

    @field_validator("first_action")
    @classmethod
    def _every_risk(cls, value: dict[RiskLevel, Target]) -> dict[RiskLevel, Target]:
        missing = [level.value for level in RiskLevel if level not in value]
        if missing:
            raise ValueError(f"a target for every risk level; missing: {', '.join(missing)}")
        return {level: value[level] for level in RiskLevel}

    @field_validator("escalation_acknowledged")
    @classmethod
    def _every_urgency(cls, value: dict[Urgency, Target]) -> dict[Urgency, Target]:
        missing = [urgency.value for urgency in Urgency if urgency not in value]
        if missing:
            raise ValueError(f"a target for every urgency; missing: {', '.join(missing)}")
        return {urgency: value[urgency] for urgency in Urgency}

    def first_action_for(self, risk: RiskLevel | None) -> Target:
        """The first-action target of a case at ``risk`` (unassessed: medium)."""
        return self.first_action[risk or RiskLevel.MEDIUM]

    def described(self) -> dict[str, Any]:
        """Each target in words, keyed as the fields are (for people reading the policy)."""
        return {
            "first_action": {k.value: t.describe() for k, t in self.first_action.items()},
            "escalation_acknowledged": {
                k.value: t.describe() for k, t in self.escalation_acknowledged.items()
            },
            **{
                name: getattr(self, name).describe()
                for name in (
                    "out_of_hours_review",
                    "referral_acknowledged",
                    "referral_chase",
                    "approval_decided",
                    "contact_reviewed",
                    "new_member_welcomed",
                )
            },
        }


DEFAULT_TARGETS = SlaTargets(
    first_action={
        RiskLevel.CRITICAL: _hours(1),
        RiskLevel.HIGH: _hours(4),
        RiskLevel.MEDIUM: _hours(24),
        RiskLevel.LOW: _hours(72),
    },
    escalation_acknowledged={
        Urgency.IMMEDIATE: Target(minutes=30),
        Urgency.URGENT: _hours(4),
        Urgency.ROUTINE: Target(working_days=1),
    },
    out_of_hours_review=Target(working_days=1),
    referral_acknowledged=Target(working_days=1),
    referral_chase=Target(working_days=5),
    approval_decided=Target(working_days=1),
    contact_reviewed=Target(working_days=5),
    new_member_welcomed=_hours(24),
)
"""The targets of version 1 when the settings change none of them."""


class SlaPolicyVersion(BaseModel):
    """One version of the SLA policy, in force from ``effective_from`` until a later one's."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(description="1, 2, ...: in the order the versions were recorded.")
    effective_from: AwareDatetime
    targets: SlaTargets
    rationale: str | None = Field(default=None, description="Why this version was made.")


class SlaPolicyHistory(BaseModel):
    """The versions of the SLA policy, and the one in force at a moment."""

    model_config = ConfigDict(frozen=True)

    versions: tuple[SlaPolicyVersion, ...]

    @model_validator(mode="after")
    def _not_empty(self) -> SlaPolicyHistory:
        if not self.versions:
            raise ValueError("an SLA policy history has at least one version")
        return self

    def in_force(self, moment: datetime) -> SlaPolicyVersion:
        """The version with the latest ``effective_from`` at or before ``moment`` (the first
        version is in force from the start of time, whatever its ``effective_from``)."""
        return in_force(self.versions, moment)

    def targets_at(self, moment: datetime) -> SlaTargets:
        return self.in_force(moment).targets


def in_force(versions: Sequence[SlaPolicyVersion], moment: datetime) -> SlaPolicyVersion:
    """The version in force at ``moment`` among ``versions`` (see ``SlaPolicyHistory``)."""
    first = versions[0]
    taken = [v for v in versions if v.effective_from <= moment]
    if not taken:
        return first
    return max(taken, key=lambda v: (v.effective_from, v.version))


def review_deadline(calendar: ServiceCalendar, at: datetime, target: Target) -> datetime:
    """When a review of something done at ``at`` is due (UTC): ``at`` plus the minutes, or the
    close of the Nth working day that opens after ``at`` (one: the end of the next working day,
    ``ServiceCalendar.end_of_next_working_day``; a service never open: a day each)."""
    if target.minutes is not None:
        return (at + timedelta(minutes=target.minutes)).astimezone(UTC)
    assert target.working_days is not None
    due = at
    for _ in range(target.working_days):
        due = calendar.end_of_next_working_day(due)
    return due.astimezone(UTC)


def first_version(targets: SlaTargets, rationale: str | None = None) -> SlaPolicyVersion:
    """Version 1 as the settings give it, in force from the start of time."""
    return SlaPolicyVersion(
        version=1,
        effective_from=EARLIEST_VERSION,
        targets=targets,
        rationale=rationale or DEFAULT_RATIONALE,
    )


DEFAULT_RATIONALE = (
    "The service's default targets (from the settings), recorded when a target was first "
    "needed; in force until the organisation versions its own policy."
)
