"""Events of the SLA policy stream: the organisation's service-level targets, versioned.

THESE CLASSES ARE THE STORAGE FORMAT (topic ``domain.policy.events:<Class>``): never rename
or move them, never remove or retype a field; add fields only with defaults. The targets are
stored as ``domain.policy.sla.SlaTargets`` and ``Target`` (the same rule holds for them).

One stream for the whole organisation, with a fixed id (``domain.policy.state.SLA_POLICY_ID``):
each event is a version, numbered 1, 2, ... in stream order, in force from its
``effective_from`` until a later one's. Nothing here is personal data: as a service calendar's
(``domain.service.events``), a rationale says why the organisation changed its targets, never
anything about a person.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.policy.sla import SlaPolicyVersion, SlaTargets
from domain.shared import Role


class SlaPolicyEvent(BaseModel):
    """Envelope shared by every SLA policy event."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID = Field(description="The SLA policy stream's fixed id.")
    originator_version: int = Field(ge=1)
    event_id: UUID
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: str
    actor_role: Role

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at


class SlaPolicyVersioned(SlaPolicyEvent):
    """A version of the SLA policy (its number: the stream version), in force from
    ``effective_from``."""

    targets: SlaTargets
    effective_from: AwareDatetime
    rationale: str

    def policy(self) -> SlaPolicyVersion:
        return SlaPolicyVersion(
            version=self.originator_version,
            effective_from=self.effective_from,
            targets=self.targets,
            rationale=self.rationale,
        )


EVENT_TYPES: dict[str, type[SlaPolicyEvent]] = {cls.__name__: cls for cls in (SlaPolicyVersioned,)}
