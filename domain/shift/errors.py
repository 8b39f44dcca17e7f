"""What the shift context refuses. Each rule has its class; the one mapping gives each its
status by its base: ``InvalidCommand`` 422, ``RuleViolation`` 409, ``NotPermitted`` 403,
``ItemNotFound`` 404."""

from __future__ import annotations

from domain.errors import InvalidCommand, ItemNotFound, NotPermitted, RuleViolation

# --- planning (422: the times asked for cannot be a shift) ------------------------------------


class ShiftEndsBeforeStart(InvalidCommand):
    title = "A shift ends after it starts"


class ShiftTooLong(InvalidCommand):
    title = "Shift too long"


class ShiftStartInPast(InvalidCommand):
    """A shift starts now or later; only cover already happening may start up to 24 hours ago
    (and must still be running, with a reason)."""

    title = "Shift starts in the past"


class CoverWindowInvalid(InvalidCommand):
    title = "Cover must fall within the shift"


class RotaInvalid(InvalidCommand):
    """A weekly pattern that plans nothing, too much, overlapping shifts or shifts in the past."""

    title = "Rota cannot be planned"


# --- the shift's state (409) -------------------------------------------------------------------


class ShiftAlreadyPlanned(RuleViolation):
    title = "Shift already planned"


class ShiftIsCancelled(RuleViolation):
    title = "Shift cancelled"


class ShiftAlreadyStarted(RuleViolation):
    """What has started (its start has passed, or someone checked in) is never re-timed or
    re-assigned: only attendance is recorded against it."""

    title = "Shift already started"


class AlreadyAssigned(RuleViolation):
    title = "Already assigned"


class AlreadyCheckedIn(RuleViolation):
    title = "Already checked in"


class CheckedInElsewhere(RuleViolation):
    """One open check-in per person: check out of the other shift first."""

    title = "Checked in to another shift"


class CheckInOutsideShift(RuleViolation):
    """A check-in falls within the person's part of the shift, or at most the early check-in
    margin before it."""

    title = "Check-in outside the shift"


class NotCheckedIn(RuleViolation):
    title = "Not checked in"


class AlreadyCheckedOut(RuleViolation):
    title = "Already checked out"


class CheckOutBeforeCheckIn(InvalidCommand):
    title = "Check-out before check-in"


class HandoverAlreadyAcknowledged(RuleViolation):
    title = "Handover already acknowledged"


# --- who (403) and what (404) ------------------------------------------------------------------


class NotTheAssignee(NotPermitted):
    """Only the shift's assignee (for that part of it) checks in."""

    title = "Not the shift's assignee"


class NotALead(NotPermitted):
    """Only a coordinator or a safeguarding lead records a check-out for someone else."""

    title = "Only a coordinator or safeguarding lead may"


class NotTheRecipient(NotPermitted):
    """Only the person a handover is to (anyone but its giver, when it names nobody)
    acknowledges it."""

    title = "Not the handover's recipient"


class ShiftNotFound(ItemNotFound):
    title = "Shift not found"


class HandoverNotFound(ItemNotFound):
    title = "Handover not found"


class HandoverCaseNotFound(ItemNotFound):
    """A handover names a case that does not exist, or that the person handing over cannot see
    (a restricted case answers as a missing one): named in the body, so 422."""

    title = "No such case"
