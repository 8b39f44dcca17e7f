"""Events of the Subject aggregate: legal holds and erasures.

THESE CLASSES ARE THE STORAGE FORMAT (topic ``domain.subject.events:<Class>``): never rename
or move them; add fields only with defaults.

A subject's aggregate id derives from its kind and ref through a keyed hash (the keyring's,
under the master key), so the log does not name the subject in the clear; the ref itself is
never stored here. Nothing in these events is personal data (they are the trail that outlives
an erasure): reasons and references must say why without describing the person.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.case.vocabulary import SubjectKind
from domain.personal import ErasureTrigger
from domain.shared import Role


class SubjectEvent(BaseModel):
    """Envelope shared by every subject event."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID = Field(description="The subject's id (a keyed hash of kind and ref).")
    originator_version: int = Field(ge=1)
    event_id: UUID
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: str
    actor_role: Role
    subject_kind: SubjectKind

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at


class LegalHoldPlaced(SubjectEvent):
    """The subject's data may not be destroyed (erasure and retention are refused) until lifted."""

    reason: str
    reference: str | None = None


class LegalHoldLifted(SubjectEvent):
    reason: str


class SubjectErased(SubjectEvent):
    """The subject's keys were destroyed: every personal field recorded about them under those
    keys is unreadable from now on. Each of ``case_ids`` records a PersonalDataErased."""

    trigger: ErasureTrigger
    lawful_basis: str
    reason: str
    case_ids: list[UUID]
    key_ids: list[str] = Field(description="The destroyed keys (ids only).")
    # The helpline contacts whose caller the subject is (sealed under the destroyed keys too).
    contact_ids: list[UUID] = []


EVENT_TYPES: dict[str, type[SubjectEvent]] = {
    cls.__name__: cls for cls in (LegalHoldPlaced, LegalHoldLifted, SubjectErased)
}
