"""Commands to the SLA policy stream. Each target's shape (exactly one of minutes and
working_days, each at least 1; every risk level and urgency) is checked when a command is built
(422); the moment a version takes effect in ``decide``."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from domain.calendar import EARLIEST_VERSION
from domain.policy.sla import SlaTargets
from domain.shared import Moment, Reason


class SlaPolicyCommand(SlaTargets):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    effective_from: Moment | None = Field(
        default=None,
        description="When this version takes effect (default now): now or later, and not at "
        "the moment another version does.",
    )

    def targets(self) -> SlaTargets:
        return SlaTargets.model_validate(self.model_dump(include=set(SlaTargets.model_fields)))


class VersionSlaPolicy(SlaPolicyCommand):
    """Give the SLA policy a new version, from ``effective_from`` (now or later)."""

    rationale: Reason = Field(description="Why the organisation's targets change from then.")


class RecordDefaultSlaPolicy(SlaPolicyCommand):
    """Record the default policy (the settings' targets) as version 1, in force from the start of
    time (only on a stream with no version yet: Vigil itself records it, on first need)."""

    rationale: str


def record_default_policy(targets: SlaTargets, rationale: str) -> RecordDefaultSlaPolicy:
    return RecordDefaultSlaPolicy(
        **targets.model_dump(), effective_from=EARLIEST_VERSION, rationale=rationale
    )
