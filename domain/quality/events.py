"""Events of the scorecard stream: the organisation's quality scorecard, versioned.

THESE CLASSES ARE THE STORAGE FORMAT (topic ``domain.quality.events:<Class>``): never rename
or move them, never remove or retype a field; add fields only with defaults. The criteria are
stored as ``domain.quality.scoring.Criterion`` (the same rule holds for it).

One stream for the whole organisation, with a fixed id (``domain.quality.state.SCORECARD_ID``):
each event is a version, in force from its ``effective_from`` until the next one's. Nothing here
is personal data: labels say what a reviewer looks for in a contact, and a rationale says why
the organisation changed how it reviews, never anything about a caller or a member of staff.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.quality.scoring import Criterion, ScorecardVersion
from domain.shared import Role


class ScorecardEvent(BaseModel):
    """Envelope shared by every scorecard event."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID = Field(description="The scorecard stream's fixed id.")
    originator_version: int = Field(ge=1)
    event_id: UUID
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: str
    actor_role: Role

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at


class ScorecardVersioned(ScorecardEvent):
    """A version of the scorecard, in force from ``effective_from`` until the next one's."""

    version: int = Field(ge=1, description="1, 2, ...: the number reviews record.")
    name: str
    criteria: list[Criterion]
    pass_mark: float = Field(description="0-100: a weighted score below it fails.")
    effective_from: AwareDatetime
    rationale: str

    def scorecard(self) -> ScorecardVersion:
        return ScorecardVersion(
            version=self.version,
            name=self.name,
            criteria=self.criteria,
            pass_mark=self.pass_mark,
            effective_from=self.effective_from,
            rationale=self.rationale,
        )


EVENT_TYPES: dict[str, type[ScorecardEvent]] = {cls.__name__: cls for cls in (ScorecardVersioned,)}
