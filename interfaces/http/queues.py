"""Work queues: what is open, what is due, and what is overdue right now (or at ``as_of``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from domain.access.permissions import Permission, check, permits
from domain.access.rules import Visibility
from domain.service.commands import DEFAULT_SERVICE
from domain.shared import Actor
from interfaces.composition import Vigil
from interfaces.http.access import Reader
from interfaces.http.dependencies import ReadAt, VigilDep, WorkQueuesDep
from interfaces.http.docs import LIST_ERRORS
from interfaces.http.problems import error_responses
from projections.access_log import BREAK_GLASS_QUEUE, BreakGlassItem
from projections.community_members import (
    MemberQueueCount,
    MemberQueueItem,
    parse_member_queue,
)
from projections.contact_queues import (
    OWN_ITEM_QUEUES,
    ContactQueue,
    ContactQueueCount,
    ContactQueueItem,
    parse_contact_queue,
)
from projections.paging import DEFAULT_LIMIT, MAX_LIMIT, InvalidQuery
from projections.queue_rows import DEFAULT_IDLE_DAYS, MAX_IDLE_DAYS, QueueCount, QueueItem
from projections.shift_queues import ShiftQueueCount, ShiftQueueItem, parse_shift_queue
from projections.work_queues import WorkQueues, parse_queue

router = APIRouter(prefix="/api/v1", tags=["queues"])

REPLAYED = Field(
    default=False,
    description="true when as_of was in the past and the answer was replayed from the log as "
    "Vigil knew it then; false for today's queues.",
)
IdleDays = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_IDLE_DAYS,
        description="no_recent_action: a case is idle after this many days without action.",
    ),
]
Assignee = Annotated[
    str | None,
    Query(max_length=63, description="Only items on cases assigned to this username."),
]


class QueueList(BaseModel):
    """Every work queue with its size; ``next_cursor`` is always null (the list is short)."""

    items: list[QueueCount]
    next_cursor: str | None = None
    as_of: datetime = Field(description="The moment overdue was judged at.")
    replayed: bool = REPLAYED
    shift_queues: list[ShiftQueueCount] = Field(
        default_factory=list,
        description="The shift queues (uncovered_shifts, missed_check_outs, "
        "handovers_unacknowledged) with their sizes at as_of (for a past as_of, replayed as "
        "Vigil knew them then).",
    )
    contact_queues: list[ContactQueueCount] = Field(
        default_factory=list,
        description="The helpline contact queues (contacts_awaiting_review, follow_ups_due, "
        "feedback_unacknowledged, feedback_disputes, qa_safeguarding_fails) with their sizes "
        "at as_of, as far as you may work them (your own follow-ups and feedback, unless you "
        "read every contact); for a past as_of, replayed as Vigil knew them then.",
    )
    community_queues: list[MemberQueueCount] = Field(
        default_factory=list,
        description="The community intake queue (members_awaiting_welcome) with its size at "
        "as_of, for those who read members; for a past as_of, replayed as Vigil knew it then.",
    )


class BreakGlassPage(BaseModel):
    """The break_glass_reviews queue: grants awaiting a safeguarding lead's review."""

    items: list[BreakGlassItem]
    next_cursor: str | None
    as_of: datetime = Field(description="The moment overdue and active were judged at.")


class ShiftQueuePage(BaseModel):
    """A page of a shift queue (uncovered_shifts, missed_check_outs, handovers_unacknowledged),
    oldest first; pass ``next_cursor`` back as ``cursor``."""

    items: list[ShiftQueueItem]
    next_cursor: str | None
    as_of: datetime = Field(description="The moment the queue was judged at.")
    replayed: bool = REPLAYED


class ContactQueuePage(BaseModel):
    """A page of a helpline contact queue in its order; pass ``next_cursor`` back as
    ``cursor``."""

    items: list[ContactQueueItem]
    next_cursor: str | None
    as_of: datetime = Field(description="The moment the queue was judged at.")
    replayed: bool = REPLAYED


def _contact_queues_for(actor: Actor) -> tuple[tuple[ContactQueue, ...], str | None]:
    """The contact queues a reader works, and whose items they are limited to (None: all):
    whoever reads every contact works them all; whoever reads their own contacts works their
    own follow-ups and the feedback on their own contacts."""
    if permits(actor, Permission.CONTACT_READ_ALL):
        return tuple(ContactQueue), None
    if permits(actor, Permission.CONTACT_READ):
        return tuple(q for q in ContactQueue if q in OWN_ITEM_QUEUES), actor.username
    return (), None


class MemberQueuePage(BaseModel):
    """A page of members_awaiting_welcome, soonest due first (so the overdue lead); pass
    ``next_cursor`` back as ``cursor``."""

    items: list[MemberQueueItem]
    next_cursor: str | None
    as_of: datetime = Field(description="The moment the queue was judged at.")
    replayed: bool = REPLAYED


class QueuePage(BaseModel):
    """A page of one queue in due order; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[QueueItem]
    next_cursor: str | None
    as_of: datetime = Field(description="The moment overdue was judged at.")
    replayed: bool = REPLAYED


@router.get("/queues", responses=error_responses(*LIST_ERRORS))
def list_queues(
    vigil: VigilDep,
    queues: WorkQueuesDep,
    reader: Reader,
    moment: ReadAt,
    idle_days: IdleDays = DEFAULT_IDLE_DAYS,
    assignee: Assignee = None,
) -> QueueList:
    """List the work queues with how many items each holds and how many are overdue.

    Items on restricted cases count only for those who may see them (leads, auditors, the
    assignee, a break-glass holder). Safeguarding leads and auditors also have
    `break_glass_reviews` (GET /api/v1/queues/break_glass_reviews).

    With a past `as_of`, every count is replayed from the log: what each queue held, and how
    much of it was overdue, as Vigil knew it at that moment (recorded basis). The shift queues
    (`uncovered_shifts`, `missed_check_outs`, `handovers_unacknowledged`) are counted in
    `shift_queues`, the helpline contact queues in `contact_queues`, community intake's
    `members_awaiting_welcome` in `community_queues`."""
    return queue_list(
        vigil,
        queues,
        reader.actor,
        reader.visibility(),
        at=moment.at,
        now=moment.now,
        idle_days=idle_days,
        assignee=assignee,
    )


def queue_list(
    vigil: Vigil,
    queues: WorkQueues,
    actor: Actor,
    visibility: Visibility | None,
    *,
    at: datetime,
    now: datetime,
    idle_days: int = DEFAULT_IDLE_DAYS,
    assignee: str | None = None,
) -> QueueList:
    """Every queue the actor works with its size at ``at`` (replayed from the log for a past
    one), as ``visibility`` lets them see restricted cases: GET /api/v1/queues and the web
    UI's now page both answer from here."""
    past = at < now
    wait = vigil.settings.read_wait_seconds
    if past:
        queues.check_replay_query(idle_days=idle_days)
        counts = queues.replayed_counts(
            queues.replayed(at, wait_seconds=wait),
            as_of=at,
            idle_days=idle_days,
            assignee=assignee,
            visibility=visibility,
        )
    else:
        counts = queues.counts(
            as_of=at, idle_days=idle_days, assignee=assignee, visibility=visibility
        )
    shift_queues = []
    if permits(actor, Permission.ROTA_READ):  # shifts, read side (issue 13)
        shifts = vigil.shift_queues
        shift_queues = (shifts.replayed(at, wait_seconds=wait) if past else shifts).counts(as_of=at)
    contact_queues: list[ContactQueueCount] = []
    worked, mine = _contact_queues_for(actor)  # helpline contacts (issue 14)
    if worked:
        contacts = vigil.contact_queues
        contact_queues = (contacts.replayed(at, wait_seconds=wait) if past else contacts).counts(
            as_of=at, visibility=visibility, mine=mine, queues=worked
        )
    community_queues: list[MemberQueueCount] = []
    if permits(actor, Permission.MEMBERS_READ):  # community intake (issue 16)
        members = vigil.community_members
        community_queues = (members.replayed(at, wait_seconds=wait) if past else members).counts(
            as_of=at
        )
    return QueueList(
        items=counts,
        as_of=at,
        replayed=past,
        shift_queues=shift_queues,
        contact_queues=contact_queues,
        community_queues=community_queues,
    )


@router.get("/queues/{name}", responses=error_responses(401, 403, 404, 422))
def read_queue(
    name: Annotated[str, Path(description="The queue, e.g. unacknowledged_escalations.")],
    vigil: VigilDep,
    queues: WorkQueuesDep,
    reader: Reader,
    moment: ReadAt,
    idle_days: IdleDays = DEFAULT_IDLE_DAYS,
    assignee: Assignee = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> QueuePage | BreakGlassPage | ShiftQueuePage | ContactQueuePage | MemberQueuePage:
    """List one queue's items, soonest due first, each marked overdue or not (404: no queue).

    Items on restricted cases are listed only to those who may see the case.
    `break_glass_reviews` (safeguarding leads and auditors only, 403 for others): break-glass
    grants not yet reviewed, oldest first, due at the end of the next working day after the
    grant; a lead's review (POST /api/v1/break-glass/{grant_id}/reviews) takes one out.

    The shift queues: `uncovered_shifts` (started, not ended, nobody checked in),
    `missed_check_outs` (the person's part ended, still checked in) and
    `handovers_unacknowledged`.

    The helpline contact queues: `contacts_awaiting_review` (every contact not yet reviewed,
    due 5 working days after it by its service's calendar in force then; safeguarding
    concerns, referrals and contacts on an open high- or critical-risk case first),
    `follow_ups_due` (soonest due first), `feedback_unacknowledged`, `feedback_disputes`
    (awaiting a lead's resolution) and `qa_safeguarding_fails` (reviews that failed a
    safeguarding criterion, until a lead records their look). Whoever reads every contact
    works them all; volunteers and moderators see their own follow-ups and the feedback on
    their own contacts, and get 403 for the others.

    Community intake: `members_awaiting_welcome` (members who joined through intake and are not
    yet welcomed, due the SLA policy's new_member_welcomed target in force when they joined;
    overdue first, then soonest due), for those who read members.

    With a past `as_of`, a work queue, a shift queue, a contact queue or the community queue is
    replayed from the log as Vigil knew it then (recorded basis); `break_glass_reviews` is not
    replayed and refuses a past `as_of` (422)."""
    return queue_page(
        vigil,
        queues,
        reader.actor,
        reader.visibility(),
        name,
        at=moment.at,
        now=moment.now,
        idle_days=idle_days,
        assignee=assignee,
        limit=limit,
        cursor=cursor,
    )


AnyQueuePage = QueuePage | BreakGlassPage | ShiftQueuePage | ContactQueuePage | MemberQueuePage


def queue_page(
    vigil: Vigil,
    queues: WorkQueues,
    actor: Actor,
    visibility: Visibility | None,
    name: str,
    *,
    at: datetime,
    now: datetime,
    idle_days: int = DEFAULT_IDLE_DAYS,
    assignee: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> AnyQueuePage:
    """A page of one queue at ``at`` (replayed from the log for a past one), as ``actor`` may
    work it and ``visibility`` lets them see restricted cases: GET /api/v1/queues/{name} and
    the web UI's queue pages both answer from here. The caller has checked ``case.read``."""
    if name == BREAK_GLASS_QUEUE:
        check(actor, Permission.ACCESS_LOG_READ)
        if at < now:
            raise InvalidQuery(
                "break_glass_reviews answers for now or a later moment; it does not replay "
                "the past",
                errors={"as_of": "must not be in the past for break_glass_reviews"},
            )
        # Break-glass is the organisation's, not a service's: judged by the default service's
        # calendar in force at each grant.
        grants, next_grant = vigil.access_log.awaiting_review(
            vigil.services.history(DEFAULT_SERVICE), as_of=at, limit=limit, cursor=cursor
        )
        return BreakGlassPage(items=grants, next_cursor=next_grant, as_of=at)
    shift_queue = parse_shift_queue(name)
    if shift_queue is not None:  # shifts, read side (issue 13)
        check(actor, Permission.ROTA_READ)
        shifts = vigil.shift_queues
        if at < now:
            shifts.check_query(shift_queue, limit=limit, cursor=cursor)
            shifts = shifts.replayed(at, wait_seconds=vigil.settings.read_wait_seconds)
        found, next_found = shifts.items(
            shift_queue, as_of=at, limit=limit, cursor=cursor, visibility=visibility
        )
        return ShiftQueuePage(items=found, next_cursor=next_found, as_of=at, replayed=at < now)
    contact_queue = parse_contact_queue(name)
    if contact_queue is not None:  # helpline contacts, read side (issue 14)
        worked, mine = _contact_queues_for(actor)
        if contact_queue not in worked:
            check(actor, Permission.CONTACT_READ_ALL)
        contact_queues = vigil.contact_queues
        if at < now:
            contact_queues.check_query(contact_queue, limit=limit, cursor=cursor)
            contact_queues = contact_queues.replayed(
                at, wait_seconds=vigil.settings.read_wait_seconds
            )
        contacts, next_contact = contact_queues.items(
            contact_queue,
            as_of=at,
            limit=limit,
            cursor=cursor,
            visibility=visibility,
            mine=mine,
        )
        return ContactQueuePage(
            items=contacts, next_cursor=next_contact, as_of=at, replayed=at < now
        )
    member_queue = parse_member_queue(name)
    if member_queue is not None:  # community intake (issue 16)
        check(actor, Permission.MEMBERS_READ)
        members = vigil.community_members
        if at < now:
            members.check_query(member_queue, limit=limit, cursor=cursor)
            members = members.replayed(at, wait_seconds=vigil.settings.read_wait_seconds)
        welcomes, next_welcome = members.items(member_queue, as_of=at, limit=limit, cursor=cursor)
        return MemberQueuePage(
            items=welcomes, next_cursor=next_welcome, as_of=at, replayed=at < now
        )
    queue = parse_queue(name)
    if at < now:
        queues.check_replay_query(queue, idle_days=idle_days, limit=limit, cursor=cursor)
        items, next_cursor = queues.replayed_items(
            queues.replayed(at, wait_seconds=vigil.settings.read_wait_seconds),
            queue,
            as_of=at,
            idle_days=idle_days,
            assignee=assignee,
            limit=limit,
            cursor=cursor,
            visibility=visibility,
        )
        return QueuePage(items=items, next_cursor=next_cursor, as_of=at, replayed=True)
    items, next_cursor = queues.items(
        queue,
        as_of=at,
        idle_days=idle_days,
        assignee=assignee,
        limit=limit,
        cursor=cursor,
        visibility=visibility,
    )
    return QueuePage(items=items, next_cursor=next_cursor, as_of=at)
