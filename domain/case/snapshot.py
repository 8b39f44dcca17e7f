"""A snapshot of a case's state, so a long case loads without replaying every event.

Stored under the topic ``domain.case.snapshot:CaseSnapshot``. Snapshots are a
cache, not the record: they can be deleted and retaken from the log at any time.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.case.state import CaseState
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
