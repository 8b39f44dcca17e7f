"""An Idempotency-Key used on a write outside cases, and which event that write made.

THIS CLASS IS THE STORAGE FORMAT (topic ``domain.idempotency:IdempotencyKeyUsed``): never
rename or move it; add fields only with defaults.

Case writes keep their key on their own events (``domain.case.events``). Writes to users,
subjects (legal holds, erasure) and break-glass grants keep it here instead, so their events stay
as they are: one small aggregate per (user, key), whose id derives from the pair as a new case's
id does, saved in the same transaction as the write's own event. A retry finds it with one read;
two racing retries cannot both write (only one version 1 can be stored).

It names the writer ``username``, not ``actor``, on purpose: it is bookkeeping about a request,
not something a person recorded, so it stays out of actor activity (shift logs). It holds no
personal data: a username, ids, a SHA-256 of the request; not the key itself (the id is made
from it).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class IdempotencyKeyUsed(BaseModel):
    """A write carried an Idempotency-Key: this request (by its hash) made this event."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID = Field(description="Derived from (username, key).")
    originator_version: int = Field(ge=1)
    event_id: UUID
    recorded_at: AwareDatetime
    username: str
    request_hash: str = Field(description="SHA-256 of method, path and canonical body.")
    target_id: UUID = Field(description="The aggregate the write appended to.")
    target_version: int = Field(ge=1, description="The version of the event the write made.")

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at
