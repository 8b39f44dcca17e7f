"""Subject history: every case about one member, piece of content or helpline contact."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from domain.access.vocabulary import AccessedRecord
from domain.case.vocabulary import SubjectKind
from interfaces.http.access import Reader
from interfaces.http.dependencies import MinPosition, SubjectHistoryDep
from interfaces.http.docs import LIST_ERRORS
from interfaces.http.problems import error_responses
from projections.paging import DEFAULT_LIMIT, MAX_LIMIT
from projections.subject_history import SubjectCase

router = APIRouter(prefix="/api/v1", tags=["subjects"])


class SubjectCaseList(BaseModel):
    """A page of a subject's cases, newest first; pass ``next_cursor`` back as ``cursor``."""

    items: list[SubjectCase]
    next_cursor: str | None


_SUMMARY = (
    "List every case about a subject, newest first (an unknown subject has no cases). "
    "Restricted cases are listed only to those who may see them; every read is recorded in "
    "the access log (`purpose` as a query parameter or the Vigil-Purpose header)."
)


@router.get(
    "/subjects/{ref:path}/cases",
    responses=error_responses(*LIST_ERRORS),
    description=_SUMMARY,
)
def list_subject_cases(
    ref: Annotated[
        str,
        Path(
            min_length=1,
            max_length=500,
            description="The subject's ref (its id in the community or helpline system); "
            "it may contain '/'.",
        ),
    ],
    history: SubjectHistoryDep,
    reader: Reader,
    caught_up: MinPosition,
    kind: Annotated[SubjectKind | None, Query(description="Only subjects of this kind.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> SubjectCaseList:
    """List every case about a subject, newest first (an unknown subject has no cases)."""
    items, next_cursor = history.cases(
        ref, kind=kind, limit=limit, cursor=cursor, visibility=reader.visibility()
    )
    # A subject's records: the read is recorded in the access log before it is answered.
    reader.record_subject(AccessedRecord.SUBJECT_HISTORY, ref)
    return SubjectCaseList(items=items, next_cursor=next_cursor)
