"""The web UI's queue pages: every queue the person may read with its counts, one queue's items
a page at a time, and "save and next" through a queue.

Every read goes through the API's own functions (``interfaces.http.queues.queue_list`` for the
counts, ``queue_page`` for the items, as ``GET /api/v1/queues`` and ``/queues/{name}`` answer),
with the same permission checks and the same visibility of restricted cases, so a page lists
exactly what the API lists to the same person. Items show what they are in plain words, never a
case's or contact's content, so nothing here is access-logged (as with the API's queue reads).

A page shows one page of items (the API's page size, paged with its cursor) beside the queue's
totals: a person works a queue from its top, and 10,000 rows on one page would help nobody.

"Save and next": a case action form posted from a queue (``/ui/cases/{id}?from_queue=NAME``)
redirects to ``/ui/queues/NAME/next?after=CASE_ID``, which reads the queue again now and sends
the person on to the item after that case (the first item if the action took it out), or back
to the queue saying it is clear.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from pydantic import TypeAdapter, ValidationError
from starlette.responses import RedirectResponse, Response

from domain.access.permissions import Permission, check, permits
from domain.errors import DomainError
from domain.shared import Moment
from interfaces.composition import Vigil
from interfaces.http.dependencies import VigilDep
from interfaces.http.problems import domain_status
from interfaces.http.queues import AnyQueuePage, queue_list, queue_page
from interfaces.web.auth import Person, SignedIn, web_parts
from interfaces.web.render import plain
from projections.access_log import BREAK_GLASS_QUEUE, BreakGlassItem
from projections.community_members import MemberQueueCount, MemberQueueItem
from projections.contact_queues import ContactQueue, ContactQueueCount, ContactQueueItem
from projections.paging import DEFAULT_LIMIT, MAX_LIMIT
from projections.queue_rows import ItemKind, QueueCount, QueueItem
from projections.shift_queues import ShiftQueue, ShiftQueueCount, ShiftQueueItem

router = APIRouter(prefix="/ui", include_in_schema=False)

_MOMENT: TypeAdapter[datetime] = TypeAdapter(Moment)
# An "as of" moment as a browser's datetime-local field sends it (local time, no offset).
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
NOTICES = {
    "clear": "Queue clear: nothing is left in it.",
    "end": "End of the queue: nothing after the item you were on.",
}
QueueName = Annotated[str, Path(max_length=64, description="The queue's name.")]
Text = Annotated[str, Query(max_length=200)]
Cursor = Annotated[str, Query(max_length=1000)]

Item = QueueItem | ShiftQueueItem | ContactQueueItem | MemberQueueItem | BreakGlassItem


class BadMoment(ValueError):
    """An ``as_of`` the page cannot read: answered 422 with the form to correct it."""


def _base(person: SignedIn) -> dict[str, Any]:
    return {"person": person.actor, "csrf_token": person.csrf_token, "nav": "queues"}


def _refused(request: Request, person: SignedIn, exc: DomainError) -> Response:
    status = domain_status(exc, request)[0]
    title = {403: "Not allowed", 404: "No such queue"}.get(status, "Not shown")
    return web_parts(request).renderer.page(
        "queue_refused.html",
        {**_base(person), "title": title, "status": status, "detail": exc.detail},
        status_code=status,
    )


def read_moment(value: str, zone: ZoneInfo) -> datetime | None:
    """``as_of`` as the API reads it (RFC 3339 with an offset, in range), or as a
    datetime-local field sends it (the service's local time)."""
    text = value.strip()
    if not text:
        return None
    try:
        moment: datetime = _MOMENT.validate_python(text)
        return moment
    except ValidationError as invalid:
        problem = str(invalid.errors()[0]["msg"]).removeprefix("Value error, ")
    for layout in _LOCAL_FORMATS:
        try:
            local = datetime.strptime(text, layout).replace(tzinfo=zone)
        except ValueError:
            continue
        try:
            moment = _MOMENT.validate_python(local.isoformat())
            return moment
        except ValidationError as invalid:
            problem = str(invalid.errors()[0]["msg"]).removeprefix("Value error, ")
            break
    raise BadMoment(f"Give the moment as a date and time, e.g. 2026-11-17T09:00 ({problem}).")


# --- what an item is, in plain words ------------------------------------------------------------


def _describe(item: Item) -> dict[str, Any]:
    """An item's plain words, what it is about, where it leads, and the key ``next`` moves by
    (the case id for items on cases: what a case page's forms know)."""
    if isinstance(item, QueueItem):
        what = {
            ItemKind.OUT_OF_HOURS_DECISION: "Out-of-hours decision to review",
            ItemKind.ESCALATION: f"Escalation ({plain(item.urgency or '')}) to acknowledge",
            ItemKind.REFERRAL: f"Referral to {plain(item.agency_kind or 'an agency')}",
            ItemKind.CASE: "Case",
            ItemKind.APPROVAL: "Four-eyes approval awaiting a decision",
            ItemKind.FLAG: "Flag awaiting a first action",
        }[item.kind]
        about = [plain(item.category).capitalize()]
        if item.risk_level is not None:
            about.append(f"{plain(item.risk_level)} risk")
        about.append(f"assigned to {item.assignee}" if item.assignee else "unassigned")
        about.append(f"case {str(item.case_id)[:8]}")
        return {"what": what, "about": " · ".join(about), "key": str(item.case_id), "case": True}
    if isinstance(item, BreakGlassItem):
        return {
            "what": f"Break-glass access by {item.username} to review",
            "about": f"{plain(item.category).capitalize()} · {plain(item.role)}"
            + (" · still in force" if item.active else "")
            + f" · case {str(item.case_id)[:8]}",
            "key": str(item.case_id),
            "case": True,
        }
    if isinstance(item, ShiftQueueItem):
        role = plain(item.role or "shift")
        what = {
            ShiftQueue.UNCOVERED_SHIFTS: f"{role.capitalize()} shift with nobody checked in",
            ShiftQueue.MISSED_CHECK_OUTS: f"Still checked in after a {role} shift ended",
            ShiftQueue.HANDOVERS_UNACKNOWLEDGED: "Handover not yet acknowledged",
        }[item.queue]
        who = item.person or "whoever comes next"
        return {
            "what": what,
            "about": f"{item.service} · {who}",
            "key": str(item.item_id),
            "href": f"/ui/shifts/{item.shift_id}",
        }
    if isinstance(item, ContactQueueItem):
        if item.queue is ContactQueue.CONTACTS_AWAITING_REVIEW:
            what = "Contact awaiting a quality review"
            extra = f"outcome: {plain(item.outcome)}" if item.outcome else ""
        elif item.queue is ContactQueue.FOLLOW_UPS_DUE:
            what = f"{plain(item.kind or 'follow_up').capitalize()} follow-up due"
            extra = f"assigned to {item.assignee}" if item.assignee else ""
        else:
            what = f"Review by {item.reviewer or 'a reviewer'}: {plain(item.queue)}"
            extra = plain(item.feedback_status) if item.feedback_status else ""
        about = [item.service, f"handled by {item.handled_by}", extra]
        if item.first:
            about.append("first: safeguarding")
        return {
            "what": what,
            "about": " · ".join(a for a in about if a),
            "key": str(item.item_id),
            "href": f"/ui/contacts/{item.contact_id}",
        }
    return {  # MemberQueueItem: no page of its own yet
        "what": "New member awaiting a welcome",
        "about": f"{item.service} · member {item.ref}",
        "key": item.ref,
    }


def _overdue_by(due_at: datetime | None, at: datetime) -> str | None:
    if due_at is None or due_at >= at:
        return None
    minutes = int((at - due_at) / timedelta(minutes=1))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if not days and (minutes or not hours):
        parts.append(f"{minutes} min")
    return " ".join(parts)


def _row(item: Item, name: str, at: datetime) -> dict[str, Any]:
    row = _describe(item)
    if row.pop("case", False):
        row["href"] = f"/ui/cases/{row['key']}?{urlencode({'from_queue': name})}"
    row.setdefault("href", None)
    row["due_at"] = item.due_at
    row["overdue"] = item.overdue
    row["overdue_by"] = _overdue_by(item.due_at, at) if item.overdue else None
    return row


# --- reading --------------------------------------------------------------------------------------


def _read(
    vigil: Vigil,
    person: SignedIn,
    name: str,
    *,
    at: datetime,
    now: datetime,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> AnyQueuePage:
    """One page of the queue, as ``GET /api/v1/queues/{name}`` reads it for this person."""
    actor = person.actor
    check(actor, Permission.READ)  # the API's reader requires it of every queue read
    if at >= now:
        vigil.projector.catch_up()  # as the API's read of now does without min_position
    return queue_page(
        vigil,
        vigil.work_queues,
        actor,
        vigil.access.visibility(actor),
        name,
        at=at,
        now=now,
        limit=limit,
        cursor=cursor,
    )


def _break_glass_count(vigil: Vigil, person: SignedIn, now: datetime) -> dict[str, Any] | None:
    """break_glass_reviews, for those who read the access log (not replayed: now only)."""
    if not permits(person.actor, Permission.ACCESS_LOG_READ):
        return None
    total = overdue = 0
    cursor: str | None = None
    while True:
        page = _read(
            vigil, person, BREAK_GLASS_QUEUE, at=now, now=now, limit=MAX_LIMIT, cursor=cursor
        )
        total += len(page.items)
        overdue += sum(1 for item in page.items if item.overdue)
        cursor = page.next_cursor
        if cursor is None:
            return {"name": BREAK_GLASS_QUEUE, "total": total, "overdue": overdue}


def counts(
    vigil: Vigil,
    person: SignedIn,
    *,
    at: datetime,
    now: datetime,
    caught_up: bool = False,
    break_glass: bool = True,
) -> list[dict[str, Any]]:
    """Every queue the person works with its size at ``at``, as GET /api/v1/queues counts
    them (``break_glass_reviews`` too, unless ``break_glass`` is false); overdue first, then
    the fullest. ``caught_up``: the views were just brought up to date for this request."""
    actor = person.actor
    check(actor, Permission.READ)
    if at >= now and not caught_up:
        vigil.projector.catch_up()
    answer = queue_list(
        vigil, vigil.work_queues, actor, vigil.access.visibility(actor), at=at, now=now
    )
    sized: list[QueueCount | ShiftQueueCount | ContactQueueCount | MemberQueueCount] = [
        *answer.items,
        *answer.shift_queues,
        *answer.contact_queues,
        *answer.community_queues,
    ]
    rows = [{"name": r.name.value, "total": r.total, "overdue": r.overdue} for r in sized]
    if at >= now and break_glass:
        glass = _break_glass_count(vigil, person, now)
        if glass is not None:
            rows.append(glass)
    return sorted(rows, key=lambda r: (-(r["overdue"] or 0), -r["total"]))


def _walk(vigil: Vigil, person: SignedIn, name: str, now: datetime) -> Iterator[Item]:
    """The queue's items now, in its order, read a page at a time as they are wanted."""
    cursor: str | None = None
    while True:
        page = _read(vigil, person, name, at=now, now=now, limit=MAX_LIMIT, cursor=cursor)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


def _url(name: str, **query: str) -> str:
    kept = {k: v for k, v in query.items() if v}
    path = f"/ui/queues/{quote(name, safe='')}"
    return path + ("?" + urlencode(kept) if kept else "")


# --- the pages ------------------------------------------------------------------------------------


@router.get("/queues")
def queues_page(request: Request, vigil: VigilDep, person: Person, as_of: Text = "") -> Response:
    """Every queue the person may read, with how many items wait and how many are overdue."""
    renderer = web_parts(request).renderer
    now = vigil.clock()
    context: dict[str, Any] = {
        **_base(person),
        "title": "Queues",
        "form": {"as_of": as_of.strip()},
        "error": None,
        "queues": [],
        "as_of": None,
        "at": now,
        "replayed": False,
    }
    try:
        moment = read_moment(as_of, renderer.zone)
        at = moment or now
        context.update(at=at, as_of=moment, replayed=at < now)
        context["queues"] = counts(vigil, person, at=at, now=now)
    except BadMoment as exc:
        return renderer.page("queues.html", {**context, "error": str(exc)}, status_code=422)
    except DomainError as exc:
        if domain_status(exc, request)[0] in (403, 404):
            return _refused(request, person, exc)
        page = {**context, "error": exc.detail}
        return renderer.page("queues.html", page, status_code=domain_status(exc, request)[0])
    return renderer.page("queues.html", context)


@router.get("/queues/{name}")
def queue_items_page(
    request: Request,
    vigil: VigilDep,
    person: Person,
    name: QueueName,
    as_of: Text = "",
    cursor: Cursor = "",
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """One queue's items in its order (overdue first, then soonest due), a page at a time,
    with the queue's totals, now or as of a moment."""
    renderer = web_parts(request).renderer
    now = vigil.clock()
    form = {"as_of": as_of.strip()}
    try:
        moment = read_moment(as_of, renderer.zone)
    except BadMoment as exc:
        context = {**_base(person), "title": plain(name).capitalize(), "status": 422}
        return renderer.page("queue_refused.html", {**context, "detail": str(exc)}, status_code=422)
    at = moment or now
    try:
        page = _read(vigil, person, name, at=at, now=now, cursor=cursor or None)
        totals = next(
            (
                row
                for row in counts(
                    vigil,
                    person,
                    at=at,
                    now=now,
                    caught_up=True,
                    break_glass=name == BREAK_GLASS_QUEUE,
                )
                if row["name"] == name
            ),
            {"name": name, "total": len(page.items), "overdue": None},
        )
    except DomainError as exc:
        return _refused(request, person, exc)
    rows = [_row(item, name, at) for item in page.items]
    first = next((row["href"] for row in rows if row["href"]), None) if not cursor else None
    context = {
        **_base(person),
        "title": plain(name).capitalize(),
        "name": name,
        "rows": rows,
        "totals": totals,
        "at": at,
        "as_of": moment,
        "replayed": at < now,
        "form": form,
        "first_url": first,
        "next_url": _url(name, as_of=form["as_of"], cursor=page.next_cursor or "")
        if page.next_cursor
        else None,
        "top_url": _url(name, as_of=form["as_of"]) if cursor else None,
        "notice": NOTICES.get(done),
    }
    return renderer.page("queue.html", context)


@router.get("/queues/{name}/next")
def next_item(
    request: Request, vigil: VigilDep, person: Person, name: QueueName, after: Text = ""
) -> Response:
    """ "Save and next": the item after ``after`` (a case id, or the item key the queue page
    names), read again now; the first item if ``after`` has left the queue; the queue page
    saying it is clear when nothing is left."""
    now = vigil.clock()
    wanted = after.strip()
    try:
        seen_after = False
        first: dict[str, Any] | None = None
        for item in _walk(vigil, person, name, now):
            row = _row(item, name, now)
            if first is None:
                first = row
            if row["key"] == wanted:
                seen_after = True
            elif seen_after:
                return _go(name, row)
    except DomainError as exc:
        return _refused(request, person, exc)
    if first is None:
        return RedirectResponse(_url(name, done="clear"), status_code=303)
    if not seen_after:
        return _go(name, first)
    return RedirectResponse(_url(name, done="end"), status_code=303)


def _go(name: str, row: dict[str, Any]) -> RedirectResponse:
    # An item with no page of its own (a member awaiting a welcome): the queue itself.
    return RedirectResponse(row["href"] or _url(name), status_code=303)
