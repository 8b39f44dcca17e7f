"""Per-actor activity: who did what, when (the raw material of shift logs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from domain.shared import Basis, Moment
from interfaces.http.access import Reader
from interfaces.http.dependencies import ActorActivityDep, MinPosition
from interfaces.http.docs import LIST_ERRORS
from interfaces.http.problems import error_responses
from projections.actor_activity import Activity
from projections.paging import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(prefix="/api/v1", tags=["actors"])


class ActivityList(BaseModel):
    """A page of an actor's events in log order; pass ``next_cursor`` back as ``cursor``."""

    items: list[Activity]
    next_cursor: str | None


@router.get("/actors/{username}/activity", responses=error_responses(*LIST_ERRORS))
def list_actor_activity(
    username: Annotated[str, Path(max_length=63, description="The actor's username.")],
    activity: ActorActivityDep,
    reader: Reader,
    caught_up: MinPosition,
    from_: Annotated[
        Moment | None,
        Query(alias="from", description="From this moment (inclusive), on the chosen clock."),
    ] = None,
    to: Annotated[
        Moment | None,
        Query(description="Until this moment (exclusive), on the chosen clock."),
    ] = None,
    basis: Annotated[
        Basis,
        Query(
            description="Which clock from/to are on: `recorded` (when Vigil was told) or "
            "`occurred` (when it happened, e.g. an out-of-hours call logged next morning)."
        ),
    ] = Basis.RECORDED,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> ActivityList:
    """List what one person recorded, in log order, within an optional time range (no payload).

    Someone else's events on restricted cases you may not see are left out; your own are all
    listed."""
    who = username.strip().lower()
    items, next_cursor = activity.activity(
        who,
        start=from_,
        end=to,
        basis=basis,
        limit=limit,
        cursor=cursor,
        visibility=None if who == reader.actor.username else reader.visibility(),
    )
    return ActivityList(items=items, next_cursor=next_cursor)
