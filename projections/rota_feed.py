"""A person's shifts as an iCalendar feed (RFC 5545), built with the ``icalendar`` package.

One event per shift, its UID stable (the shift's id), its times in UTC (the person's part of
the shift: the whole shift, or the part they cover), its summary the role and the service only
(no names, no free text), ``STATUS:CANCELLED`` for a cancelled shift so that calendars drop it,
and ``SEQUENCE`` growing with the shift's version so that they take each change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from icalendar import Calendar, Event

from domain.shift.vocabulary import ShiftRole
from projections.rota import RotaShift
from projections.shift_board import CANCELLED

PRODID = "-//Vigil//Rota//EN"
UID_DOMAIN = "shifts.vigil"
ROLE_LABELS = {
    ShiftRole.MODERATOR: "Moderator",
    ShiftRole.HOST: "Host",
    ShiftRole.COORDINATOR: "Coordinator",
    ShiftRole.HELPLINE: "Helpline",
    ShiftRole.ON_CALL: "On call",
}
MEDIA_TYPE = "text/calendar; charset=utf-8"


def summary(shift: RotaShift) -> str:
    return f"{ROLE_LABELS[shift.role]} shift ({shift.service})"


def rota_calendar(person: str, shifts: Sequence[RotaShift]) -> bytes:
    """The feed of ``person``'s shifts (each shift with a part that is theirs)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    for shift in shifts:
        theirs = [part for part in shift.parts if part.assignee == person] or shift.parts
        starts = min(part.starts_at for part in theirs)
        ends = max(part.ends_at for part in theirs)
        # Stable across requests: when the plan (or its cancellation) was recorded.
        recorded = [t for t in (shift.planned_at, shift.cancelled_at) if t is not None]
        changed = max(recorded) if recorded else starts
        event = Event()
        event.add("uid", f"{shift.id}@{UID_DOMAIN}")
        event.add("dtstamp", changed.astimezone(UTC))
        event.add("dtstart", starts.astimezone(UTC))
        event.add("dtend", ends.astimezone(UTC))
        event.add("summary", summary(shift))
        event.add("sequence", shift.version - 1)
        event.add("status", "CANCELLED" if shift.status == CANCELLED else "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    feed: bytes = calendar.to_ical()
    return feed
