"""Events of the access context: reads of case records, and break-glass grants and reviews.

THESE CLASSES ARE THE STORAGE FORMAT (topic ``domain.access.events:<Class>``): never rename
or move them; add fields only with defaults.

Each read is its own aggregate (a fresh id, version 1), so concurrent reads never contend
for a stream. Break-glass grants and their reviews go in one small stream per (user, case),
whose id derives from the pair, so "does this user hold an active grant on this case?" is one
read of a short stream. A read record holds no personal data: usernames of staff, ids,
pseudonymous subject refs and enums only. A break-glass reason is the user's own words about
the case: personal, like a rationale.

Reads carry ``accessed_by`` rather than ``actor`` on purpose: actor activity (shift logs) lists
what people recorded; reads have their own log (``GET /api/v1/audit/access``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.access.vocabulary import AccessedRecord, AccessLevel, AccessPurpose, GrantReviewOutcome
from domain.personal import DataSubjectOf
from domain.shared import PERSONAL, Role

Personal = Annotated[str, PERSONAL]


class AccessEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    originator_id: UUID
    originator_version: int = Field(ge=1)
    event_id: UUID
    recorded_at: AwareDatetime

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at


class CaseRecordAccessed(AccessEvent):
    """Someone read case content (a case, its timeline or changes, an export) or a subject's
    records (their history, a subject access export), for a stated purpose."""

    accessed_by: str
    accessed_by_role: Role
    what: AccessedRecord
    case_id: UUID | None = None
    subject_ref: str | None = None
    purpose: AccessPurpose
    access: AccessLevel = Field(description="Under which right: full, break_glass, own_records.")
    grant_id: UUID | None = Field(default=None, description="The break-glass grant, if any.")
    request_id: str | None = None
    # A helpline contact read (``what`` is ``contact``); ``case_id`` is then its case, if any.
    contact_id: UUID | None = None


class BreakGlassAccessGranted(AccessEvent):
    """A user without access opened a restricted case, saying why; it lasts until expires_at."""

    actor: str
    actor_role: Role
    case_id: UUID
    category: str = Field(description="The case's category when access was granted.")
    reason: Personal
    expires_at: AwareDatetime = Field(description="recorded_at plus the break-glass duration.")

    __data_subject__ = DataSubjectOf.subject_of_its_case


class BreakGlassAccessReviewed(AccessEvent):
    """A safeguarding lead reviewed a break-glass grant: it leaves the review queue."""

    actor: str
    actor_role: Role
    grant_id: UUID
    case_id: UUID
    outcome: GrantReviewOutcome
    rationale: Personal

    __data_subject__ = DataSubjectOf.subject_of_its_case
