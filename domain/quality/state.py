"""The scorecard's state: its versions, folded from its events (``evolve`` never raises: it
runs on every replay)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict

from domain.quality.events import ScorecardEvent, ScorecardVersioned
from domain.quality.scoring import ScorecardVersion, in_force

QUALITY_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/quality")
SCORECARD_ID: UUID = uuid5(QUALITY_NAMESPACE, "scorecard")
"""The one scorecard stream's id: the organisation has one scorecard, in versions."""


class ScorecardState(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    version: int  # the stream's version (how many events it holds)
    versions: tuple[ScorecardVersion, ...] = ()  # in the order they were numbered

    @property
    def latest(self) -> ScorecardVersion | None:
        return self.versions[-1] if self.versions else None

    def in_force(self, at: datetime) -> ScorecardVersion | None:
        """The version in force at ``at`` (None before the first)."""
        return in_force(self.versions, at)


def evolve(state: ScorecardState | None, event: ScorecardEvent) -> ScorecardState:
    """Fold one event (never raises on a stored event)."""
    if state is None:
        state = ScorecardState(id=event.originator_id, version=0)
    update: dict[str, object] = {"version": event.originator_version}
    if isinstance(event, ScorecardVersioned):
        update["versions"] = (*state.versions, event.scorecard())
    return state.model_copy(update=update)


def fold(events: Iterable[ScorecardEvent]) -> ScorecardState | None:
    state: ScorecardState | None = None
    for event in events:
        state = evolve(state, event)
    return state
