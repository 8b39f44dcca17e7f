"""Events of the serious-incident register stream: the trustees' sign-offs.

THESE CLASSES ARE THE STORAGE FORMAT (topic ``domain.compliance.events:<Class>``): never rename
or move them, never remove or retype a field; add fields only with defaults.

One stream for the whole organisation, with a fixed id (``REGISTER_ID``), as the scorecard's
(``domain.quality.state.SCORECARD_ID``). Nothing here is personal data: a sign-off names a
period and the moment of the register the trustee read (the register itself is the trustee
pack's list of serious-incident decisions, read from the cases); who signed is the actor.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.shared import Role

COMPLIANCE_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/compliance")
REGISTER_ID: UUID = uuid5(COMPLIANCE_NAMESPACE, "serious-incident-register")
"""The one serious-incident register stream's id."""


class RegisterEvent(BaseModel):
    """Envelope shared by every register event."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID = Field(description="The register stream's fixed id.")
    originator_version: int = Field(ge=1)
    event_id: UUID
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: str
    actor_role: Role

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at


class SeriousIncidentRegisterSignedOff(RegisterEvent):
    """A trustee (the actor) signed the serious-incident register off for a period of dates,
    as the register stood at ``as_of`` (what was recorded by then: the trustee pack with that
    ``as_of`` shows exactly what they read)."""

    period_from: date
    period_to: date
    as_of: AwareDatetime


EVENT_TYPES: dict[str, type[RegisterEvent]] = {
    cls.__name__: cls for cls in (SeriousIncidentRegisterSignedOff,)
}
