"""What the shift pages and the now page share: reading a handover or attendance form into the
API's own shift commands (``domain.shift.commands``: the same field rules, a refusal 422), and
the handovers awaiting the signed-in person's acknowledgement (the ``handovers_unacknowledged``
queue, as ``GET /api/v1/queues/handovers_unacknowledged`` lists it).

A handover's note is personal data the API never shows on a read (``GET /shifts/{id}`` and its
log give who, to whom, the cases and the acknowledgement, never the note): no page shows it
either, so there is nothing of it to access-log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from uuid import UUID

from pydantic import ValidationError

from domain.access.permissions import Permission, permits
from domain.errors import DomainError
from domain.shared import Actor
from domain.shift import commands as c
from interfaces.composition import Vigil
from projections.rota import HandoverEntry
from projections.shift_queues import ShiftQueue

# How many unacknowledged handovers the now page looks through for the person's own.
HANDOVERS_LOOKED_AT = 200
_SEPARATORS = re.compile(r"[\s,;]+")


class FormProblem(ValueError):
    """A form value that cannot make a command: shown on the page, answered 422."""


def local_moment(text: str, zone: tzinfo, label: str) -> datetime | None:
    """A datetime-local field (the service's local time, no offset) as a moment; empty: None."""
    value = text.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FormProblem(f"Give {label} as a date and time, e.g. 2026-11-17T23:05.") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def case_ids(text: str) -> list[UUID]:
    """Case ids typed into one field, separated by spaces, commas or new lines."""
    found = []
    for word in _SEPARATORS.split(text.strip()):
        if not word:
            continue
        try:
            found.append(UUID(word))
        except ValueError:
            raise FormProblem(f"'{word[:40]}' is not a case id.") from None
    return found


def _refusal(exc: ValidationError) -> FormProblem:
    """The command's own field rules in words (never the value typed: it may be personal)."""
    parts = []
    for error in exc.errors():
        where = " ".join(str(p) for p in error["loc"] if not isinstance(p, int)) or "the form"
        parts.append(f"{where.replace('_', ' ')}: {error['msg']}")
    return FormProblem("; ".join(parts) or "the form is not valid")


def handover_note(form: Mapping[str, str]) -> c.HandoverNote:
    note = form.get("note", "").strip()
    if not note:
        raise FormProblem("Write the handover note.")
    try:
        return c.HandoverNote(
            note=note,
            case_ids=case_ids(form.get("case_ids", "")),
            to=form.get("to", "").strip() or None,
        )
    except ValidationError as exc:
        raise _refusal(exc) from None


def record_handover(form: Mapping[str, str], zone: tzinfo) -> c.RecordHandover:
    """``POST /shifts/{id}/handovers``'s command from the hand-over form."""
    given = handover_note(form)
    occurred_at = local_moment(form.get("occurred_at", ""), zone, "when you handed over")
    try:
        return c.RecordHandover(**given.model_dump(), occurred_at=occurred_at)
    except ValidationError as exc:
        raise _refusal(exc) from None


def check_out(form: Mapping[str, str], zone: tzinfo, *, with_handover: bool) -> c.CheckOut:
    """``POST /shifts/{id}/check-out``'s command: your own check-out, with the form's handover
    when asked for (one write, as the API's ``handover``)."""
    handover = handover_note(form) if with_handover else None
    occurred_at = local_moment(form.get("occurred_at", ""), zone, "when you left")
    try:
        return c.CheckOut(handover=handover, occurred_at=occurred_at)
    except ValidationError as exc:
        raise _refusal(exc) from None


def check_in(form: Mapping[str, str], zone: tzinfo) -> c.CheckIn:
    occurred_at = local_moment(form.get("occurred_at", ""), zone, "when you started")
    try:
        return c.CheckIn(occurred_at=occurred_at)
    except ValidationError as exc:
        raise _refusal(exc) from None


def may_acknowledge(handover: HandoverEntry, username: str) -> bool:
    """The domain's rule, to decide whether to offer the button (the service decides): the
    person it is to, or anyone but its giver when it names nobody; once."""
    if handover.acknowledged_at is not None:
        return False
    if handover.given_to is None:
        return handover.given_by != username
    return handover.given_to == username


@dataclass(frozen=True)
class Waiting:
    """A handover awaiting this person's acknowledgement."""

    handover: HandoverEntry
    overdue: bool
    due_at: datetime | None


def handovers_for(vigil: Vigil, actor: Actor, now: datetime) -> list[Waiting]:
    """Unacknowledged handovers to this person, or to whoever comes next (not their own), as
    the ``handovers_unacknowledged`` queue lists them to them; each with the shift's record of
    it (who gave it), as ``GET /shifts/{id}`` reads it."""
    if not (permits(actor, Permission.ROTA_READ) and permits(actor, Permission.SHIFT_ATTEND)):
        return []
    visibility = vigil.access.visibility(actor)
    items, _ = vigil.shift_queues.items(
        ShiftQueue.HANDOVERS_UNACKNOWLEDGED,
        as_of=now,
        limit=HANDOVERS_LOOKED_AT,
        visibility=visibility,
    )
    shown: list[Waiting] = []
    given: dict[UUID, dict[UUID, HandoverEntry]] = {}
    for item in items:
        if item.person not in (None, actor.username):
            continue
        if item.shift_id not in given:
            try:
                detail = vigil.rota.shift(item.shift_id, visibility=visibility)
            except DomainError:
                continue
            given[item.shift_id] = {h.handover_id: h for h in detail.handovers_given}
        entry = given[item.shift_id].get(item.item_id)
        if entry is not None and may_acknowledge(entry, actor.username):
            shown.append(Waiting(entry, item.overdue, item.due_at))
    return shown
