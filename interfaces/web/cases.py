"""The web UI's case pages (read-only): the case list and a case with its timeline.

Every read of a case's content goes through the API's own functions and reader
(``interfaces.http.cases.case_content`` and ``timeline_content`` with an
``interfaces.http.access.CaseReader``): the same access rule (a restricted case the person may
not see is 404, exactly as a missing one), the same access-log entries, written before the
page is answered. The list reads the same view as ``GET /api/v1/cases`` with the same
visibility, so it shows exactly what the API lists to the same person. Nothing here writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode, urlsplit
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from domain.access.permissions import Permission, check, permits
from domain.access.vocabulary import AccessPurpose
from domain.case.vocabulary import CaseStatus, Category, RiskLevel
from domain.errors import DomainError
from domain.shared import Basis, Role, within_moment_range
from interfaces.composition import Vigil
from interfaces.http.access import CaseReader, current_request_id
from interfaces.http.cases import case_content, timeline_content
from interfaces.http.dependencies import VigilDep
from interfaces.http.middleware import note_for_log
from interfaces.http.problems import domain_status
from interfaces.http.schemas import CaseRead, EventReadBase
from interfaces.web.actions import (
    ACTIONS,
    Failed,
    approval_words,
    case_forms,
    local_text,
    local_value,
    zone_label,
)
from interfaces.web.auth import Person, SignedIn, web_parts
from interfaces.web.forms import new_form_key
from projections.paging import DEFAULT_LIMIT

router = APIRouter(prefix="/ui", include_in_schema=False)

E = TypeVar("E", bound=Enum)
Text = Annotated[str, Query(max_length=500)]
# Fields not among an event's details: those every event has (shown as the row's heading and
# clocks), and the event a correction corrects (shown as a link).
_HIDDEN_FIELDS = frozenset(EventReadBase.model_fields) | {"corrects_event_id"}
# Events the case page shows at once (the latest, unless the person pages back).
TIMELINE_PAGE = 100
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
# An "as of" moment as a browser's datetime-local field sends it (local time, no offset).
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


class BadFilter(ValueError):
    """A query value the page cannot use: answered 422 with the form to correct it."""


def _base(person: SignedIn) -> dict[str, Any]:
    return {"person": person.actor, "csrf_token": person.csrf_token, "nav": "cases"}


def reading_purpose(person: SignedIn) -> AccessPurpose:
    """Why a page reads a case, for the access log: an auditor's reads are audit, everyone
    else's case work (the API's default; the API takes ``purpose`` for the rest)."""
    return AccessPurpose.AUDIT if person.actor.role is Role.AUDITOR else AccessPurpose.CASE_WORK


def _reader(person: SignedIn, vigil: Vigil) -> CaseReader:
    """The API's reader for this person, with the purpose their role reads for."""
    return CaseReader(vigil.access, person.actor, reading_purpose(person), current_request_id())


def _choice(kind: type[E], value: str, label: str) -> E | None:
    if not value.strip():
        return None
    try:
        return kind(value.strip())
    except ValueError:
        raise BadFilter(f"There is no {label} called '{value.strip()[:40]}'.") from None


def _not_found(person: SignedIn, case_id: UUID | None) -> dict[str, Any]:
    """A missing case and one the person may not see answer alike; whoever may break the glass
    is offered it for any such id (so the offer reveals nothing either)."""
    offer = case_id is not None and permits(person.actor, Permission.BREAK_GLASS)
    return {
        "detail": "No such case.",
        "break_glass_for": str(case_id) if offer else None,
        "reason": "",
        "reason_error": None,
        "key": new_form_key(),
    }


def _refused(
    request: Request, person: SignedIn, exc: DomainError, *, case_id: UUID | None = None
) -> Response:
    status = domain_status(exc, request)[0]
    title = "Not found" if status == 404 else "Not allowed" if status == 403 else "Not shown"
    extra = _not_found(person, case_id) if status == 404 else {"break_glass_for": None}
    return web_parts(request).renderer.page(
        "case_refused.html",
        {**_base(person), **extra, "title": title, "status": status, "detail": exc.detail},
        status_code=status,
    )


def _options(kind: type[Enum]) -> list[str]:
    return [member.value for member in kind]


# --- the list ------------------------------------------------------------------------------------


@router.get("/cases")
def case_list(
    request: Request,
    vigil: VigilDep,
    person: Person,
    status: Text = "",
    risk_level: Text = "",
    category: Text = "",
    assignee: Text = "",
    service: Text = "",
    subject_ref: Text = "",
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    """The cases the API lists to this person with the same filters, a page at a time."""
    try:
        check(person.actor, Permission.READ)
    except DomainError as exc:
        return _refused(request, person, exc)
    filters = {
        "status": status.strip(),
        "risk_level": risk_level.strip(),
        "category": category.strip(),
        "assignee": assignee.strip(),
        "service": service.strip(),
        "subject_ref": subject_ref.strip(),
    }
    context: dict[str, Any] = {
        **_base(person),
        "title": "Cases",
        "filters": filters,
        "statuses": _options(CaseStatus),
        "risks": _options(RiskLevel),
        "categories": _options(Category),
        "error": None,
        "items": [],
        "next_url": None,
    }
    try:
        chosen = {
            "status": _choice(CaseStatus, status, "status"),
            "risk_level": _choice(RiskLevel, risk_level, "risk level"),
            "category": _choice(Category, category, "category"),
        }
        vigil.projector.catch_up()  # as GET /api/v1/cases does without min_position
        items, next_cursor = vigil.case_summaries.query(
            visibility=vigil.access.visibility(person.actor),
            assignee=filters["assignee"] or None,
            subject_ref=filters["subject_ref"] or None,
            service=filters["service"] or None,
            opened_from=None,
            opened_to=None,
            limit=DEFAULT_LIMIT,
            cursor=cursor or None,
            **chosen,
        )
    except (BadFilter, DomainError) as exc:
        message = exc.detail if isinstance(exc, DomainError) else str(exc)
        page = {**context, "error": message}
        return web_parts(request).renderer.page("cases.html", page, status_code=422)
    if next_cursor:
        kept = {name: value for name, value in filters.items() if value}
        next_url = "/ui/cases?" + urlencode({**kept, "cursor": next_cursor})
    else:
        next_url = None
    page = {**context, "items": items, "next_url": next_url}
    return web_parts(request).renderer.page("cases.html", page)


@router.get("/cases/jump")
def jump(request: Request, vigil: VigilDep, person: Person, to: Text = "") -> Response:
    """The quick jump box: a case id goes to that case; a subject ref to its case when there is
    exactly one the person may see, else to the list filtered by it."""
    wanted = to.strip()
    try:
        return RedirectResponse(f"/ui/cases/{UUID(wanted)}", status_code=303)
    except ValueError:
        pass
    if not wanted:
        return RedirectResponse("/ui/cases", status_code=303)
    try:
        check(person.actor, Permission.READ)
    except DomainError as exc:
        return _refused(request, person, exc)
    vigil.projector.catch_up()
    items, _ = vigil.case_summaries.query(
        visibility=vigil.access.visibility(person.actor), subject_ref=wanted, limit=2
    )
    if len(items) == 1:
        return RedirectResponse(f"/ui/cases/{items[0]['case_id']}", status_code=303)
    return RedirectResponse("/ui/cases?" + urlencode({"subject_ref": wanted}), status_code=303)


# --- one case ------------------------------------------------------------------------------------


def _as_of(value: str, zone: Any) -> datetime | None:
    text = value.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadFilter("Give the moment as a date and time, e.g. 2026-11-16T23:00.") from None
    if moment.tzinfo is None:  # a datetime-local field: the service's local time
        moment = moment.replace(tzinfo=zone)
    try:
        return within_moment_range(moment)
    except ValueError as out_of_range:
        raise BadFilter(f"The moment {out_of_range}.") from None


def _upto(value: str) -> int | None:
    """The number of the last event a page of the timeline shows (None: the latest)."""
    text = value.strip()
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1:
        raise BadFilter("Give the last event to show as a number, e.g. 100.")
    return int(text)


def _event_name(kind: str) -> str:
    return _CAMEL.sub(" ", kind).lower().capitalize()


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        shown = ((str(k).replace("_", " "), _shown(v)) for k, v in value.items() if v is not None)
        return "; ".join(f"{name}: {text}" for name, text in shown)
    if isinstance(value, list | tuple):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class Window:
    """Which events of a timeline the case page shows: at most ``TIMELINE_PAGE`` of them, ending
    at event number ``end`` (counted from 1, in the timeline's order); the latest page unless the
    person paged back. Pages are counted back from the end the page shows, so "Show earlier
    events" from the latest of 1,050 shows 851-950, and the first page may be short (1-50); an
    ``upto`` names events by their place in the timeline, which only grows, so a link to a page
    shows the same events later (the latest page excepted)."""

    def __init__(self, total: int, upto: int | None) -> None:
        self.total = total
        self.end = total if upto is None else min(upto, total)
        self.start = max(0, self.end - TIMELINE_PAGE)  # index of the first event shown

    @property
    def latest(self) -> bool:
        return self.end >= self.total

    def end_for(self, index: int) -> int:
        """The end of the page, on this page's grid, that shows the event at ``index``."""
        return self.end - (self.end - 1 - index) // TIMELINE_PAGE * TIMELINE_PAGE

    def words(self) -> str:
        """What the page shows, in words: "Showing events 901-1,000 of 1,000" (an en dash)."""
        if self.total == 1:
            return "Showing the only event."
        if self.start == 0 and self.latest:
            return f"Showing all {self.total:,} events."
        return f"Showing events {self.start + 1:,}\u2013{self.end:,} of {self.total:,}."


class PageLinks:
    """Links to other pages of one case's timeline, keeping the as-of view, the queue the person
    came from and where "Save and next" goes."""

    def __init__(self, case_id: UUID, window: Window, kept: Mapping[str, str]) -> None:
        self.base = f"/ui/cases/{case_id}"
        self.window = window
        self.kept = {name: value for name, value in kept.items() if value}

    def page(self, end: int, anchor: str) -> str:
        """The page ending at ``end`` (the latest when ``end`` reaches the last event)."""
        query = dict(self.kept)
        if end < self.window.total:
            query["upto"] = str(end)
        return self.base + (f"?{urlencode(query)}" if query else "") + f"#{anchor}"

    def event(self, index: int, event_id: str) -> str:
        """A link to the event at ``index``: its anchor on this page, or the page showing it."""
        if self.window.start <= index < self.window.end:
            return f"#event-{event_id}"
        return self.page(self.window.end_for(index), f"event-{event_id}")

    def paging(self) -> dict[str, str | None]:
        window = self.window
        later_end = window.end + TIMELINE_PAGE
        return {
            "earlier": self.page(window.start, "timeline") if window.start > 0 else None,
            "later": None if window.latest else self.page(later_end, "timeline"),
            "latest": (self.page(window.total, "timeline") if later_end < window.total else None),
        }


def _timeline_rows(
    events: list[EventReadBase],
    late_after: timedelta,
    case: CaseRead | None,
    window: Window,
    links: PageLinks,
) -> list[dict[str, Any]]:
    """The rows of the events the page shows (only those: the others are only counted, and
    named by a correction's link)."""
    shown = events[window.start : window.end]
    shown_ids = {str(e.event_id) for e in shown}
    places: dict[str, int] = {}

    def link(event_id: str) -> str | None:
        """Where a correction's link goes: the event on this page, or the page showing it;
        None when the event is not in this timeline (not yet, or not the person's own)."""
        if event_id in shown_ids:
            return f"#event-{event_id}"
        if not places:  # only when a link leaves the page
            places.update((str(e.event_id), n) for n, e in enumerate(events))
        index = places.get(event_id)
        return None if index is None else links.event(index, event_id)

    corrections = case.corrections if case is not None else []
    corrected_by = {str(c.event_id): [str(i) for i in c.corrected_by] for c in corrections}
    rows = []
    for event in shown:
        data = event.model_dump(mode="json")
        details = [
            (name.replace("_", " "), _shown(value))
            for name, value in data.items()
            if name not in _HIDDEN_FIELDS and value not in (None, [], {}, "")
        ]
        corrects = data.get("corrects_event_id")
        late_by = event.recorded_at - event.occurred_at
        rows.append(
            {
                "event": event,
                "name": _event_name(event.type),
                "late": late_by > late_after,
                "late_by_minutes": int(late_by.total_seconds() // 60),
                "details": details,
                "corrects": corrects,
                "corrects_href": link(corrects) if corrects else None,
                "corrected_by": [link(i) for i in corrected_by.get(str(event.event_id), [])],
            }
        )
    return rows


def _open_items(case: CaseRead) -> dict[str, Any]:
    pending = set(case.pending_approvals)
    return {
        "escalations": [e for e in case.escalations if e.status.value != "resolved"],
        "referrals": [r for r in case.referrals if r.status.value != "closed"],
        "decisions": [
            d for d in case.out_of_hours_decisions if d.decision_id in set(case.pending_reviews)
        ],
        "approvals": [a for a in case.approvals if a.approval_id in pending],
    }


# What the notice after a write says (only these; anything else says nothing).
NOTICES = {
    "opened": "Saved: case opened.",
    "held": "Requested: this waits for a second safeguarding lead's approval before it takes "
    "effect (see Open items).",
    "break-glass": "Access granted: you broke the glass on this case. Safeguarding leads review "
    "every use.",
    **{action.name: f"Saved: {action.done}." for action in ACTIONS},
}
_QUEUE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a path of this UI (``/ui/...``) and nothing else: never another host,
    scheme or a way out of ``/ui/`` (no ``..``, no backslash, no control character)."""
    if not value or len(value) > 1000 or not value.startswith("/ui/"):
        return None
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    segments = parts.path.lower().replace("%2e", ".").split("/")
    if ".." in segments or "." in segments:
        return None
    return value


def queue_next(from_queue: str, case_id: UUID) -> str | None:
    """Where "Save and next" goes from a case opened from a queue page (None: no such queue
    name)."""
    if not _QUEUE_NAME.match(from_queue):
        return None
    return f"/ui/queues/{from_queue}/next?" + urlencode({"after": str(case_id)})


@router.get("/cases/{case_id}")
def case_page(
    request: Request,
    vigil: VigilDep,
    person: Person,
    case_id: str,
    as_of: Text = "",
    basis: Text = "",
    done: Annotated[str, Query(max_length=40)] = "",
    from_queue: Annotated[str, Query(max_length=64)] = "",
    next_page: Annotated[str, Query(alias="next", max_length=1000)] = "",
    upto: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    """A case's state and timeline, now or as of a moment on either basis, read through the
    API's reader (so access-logged as ``GET /cases/{id}`` and ``/timeline`` are), with a form for
    each action the person may take on it now. The timeline shows its latest ``TIMELINE_PAGE``
    events, or with ``upto`` those ending at that event number (paging back)."""
    renderer = web_parts(request).renderer
    try:
        check(person.actor, Permission.READ)
        wanted = UUID(case_id)
    except DomainError as exc:
        return _refused(request, person, exc)
    except ValueError:
        return renderer.page(
            "case_refused.html",
            {**_base(person), **_not_found(person, None), "title": "Not found", "status": 404},
            status_code=404,
        )
    return render_case(
        request,
        vigil,
        person,
        wanted,
        as_of=as_of,
        basis=basis,
        notice=NOTICES.get(done),
        from_queue=from_queue.strip(),
        next_url=safe_next(next_page) or "",
        upto=upto,
    )


def render_case(
    request: Request,
    vigil: Vigil,
    person: SignedIn,
    wanted: UUID,
    *,
    as_of: str = "",
    basis: str = "",
    notice: str | None = None,
    from_queue: str = "",
    next_url: str = "",
    failed: Failed | None = None,
    upto: str = "",
) -> Response:
    """The case page (``failed``: a refused form shown again, open, with the refusal's status)."""
    renderer = web_parts(request).renderer
    note_for_log(request, case_id=str(wanted))
    form = {"as_of": as_of.strip(), "basis": basis.strip() or Basis.RECORDED.value}
    try:
        moment = _as_of(as_of, renderer.zone)
        chosen = _choice(Basis, basis, "basis") or Basis.RECORDED
        last = _upto(upto)
    except BadFilter as exc:
        context = {
            **_base(person),
            "title": "Case",
            "status": 422,
            "detail": str(exc),
            "break_glass_for": None,
        }
        return renderer.page("case_refused.html", context, status_code=422)
    reader = _reader(person, vigil)
    try:
        answer = case_content(vigil, reader, wanted, as_of=moment, basis=chosen)
        timeline, _ = timeline_content(vigil, reader, wanted, as_of=moment, basis=chosen)
    except DomainError as exc:
        return _refused(request, person, exc, case_id=wanted)
    full = isinstance(answer.case, CaseRead)
    case = answer.case if isinstance(answer.case, CaseRead) else None
    late_after = vigil.shift_logs.late_after
    events = list(timeline.events)
    from_queue = from_queue if _QUEUE_NAME.match(from_queue) else ""
    window = Window(len(events), last)
    links = PageLinks(
        wanted,
        window,
        {
            "as_of": form["as_of"],
            "basis": basis.strip(),
            "from_queue": from_queue,
            "next": next_url,
        },
    )
    next_url = next_url or (queue_next(from_queue, wanted) if from_queue else None) or ""
    forms = (
        []
        if moment is not None
        else case_forms(
            person.actor,
            answer.case,
            full=full,
            events=events,
            now_value=local_value(vigil.clock(), renderer.zone),
            describe=lambda m: local_text(m, renderer.zone),
            new_key=new_form_key,
            failed=failed,
            permits=permits,
        )
    )
    context = {
        **_base(person),
        "title": f"Case {str(wanted)[:8]}",
        "case": answer.case,
        "full": full,
        "open": _open_items(case) if case is not None else None,
        "rows": _timeline_rows(events, late_after, case, window, links),
        "window": window,
        "paging": links.paging(),
        "late_minutes": int(late_after.total_seconds() // 60),
        "as_of": moment,
        "basis": chosen.value,
        "form": form,
        "bases": [b.value for b in Basis],
        "notice": notice,
        "failed": failed,
        "forms": forms,
        "next_url": next_url,
        "from_queue": from_queue,
        "zone": zone_label(vigil.clock(), renderer.zone),
        "may_export": full and permits(person.actor, Permission.CASE_EXPORT),
        "approval_words": approval_words,
    }
    status = failed.status if failed is not None else 200
    return renderer.page("case.html", context, status_code=status)
