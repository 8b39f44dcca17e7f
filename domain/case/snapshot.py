"""A snapshot of a case's state, so a long case loads without replaying every event.

Stored under the topic ``domain.case.snapshot:CaseSnapshot``. Snapshots are a
cache, not the record: they can be deleted and retaken from the log at any time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.case.state import CaseState, apply_in_place
from domain.personal import DataSubjectOf


class CaseSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    originator_id: UUID
    originator_version: int
    recorded_at: AwareDatetime
    state: CaseState

    __data_subject__ = DataSubjectOf.case_state_subject

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at

    def outdated(self) -> str | None:
        """Why this snapshot may not be trusted as the case's state, or None: one taken before
        the state kept something the code now reads from it (which a snapshot cannot recompute)
        is passed over, and the case replayed from its events (``infrastructure.snapshots``)."""
        if self.state.flags_awaiting is None:
            return "taken before flags awaiting action were kept"
        return None


def project_case(state: CaseState | None, events: Iterable[Any]) -> CaseState | None:
    """Fold what the event store hands back for a case, a snapshot then the events after it,
    into its state (the store's ``projector_func``); a snapshot replaces the state outright."""
    for event in events:
        state = event.state if isinstance(event, CaseSnapshot) else apply_in_place(state, event)
    return state
