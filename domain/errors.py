"""Typed domain errors: the kinds of refusal every context shares. Each context declares its
own beside its rules (``domain/case/errors.py``, ``domain/identity/errors.py``,
``domain/subject/errors.py``); the interfaces map each class to one HTTP status, in one place."""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """A command was refused by a rule of the domain; nothing was written."""

    title = "Refused by a domain rule"

    def __init__(self, detail: str, *, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: dict[str, str] = dict(errors or {})


class InvalidCommand(DomainError):
    """The command is malformed for the domain: a field is missing, empty or inconsistent."""

    title = "Invalid input"


class RuleViolation(DomainError):
    """The command is well formed but the case's current state does not allow it."""

    title = "Not allowed in the case's current state"


class NotPermitted(DomainError):
    """The actor's role may not take this decision."""

    title = "Not permitted for this role"


class ItemNotFound(DomainError):
    """A referral, escalation, decision or event named by the command does not exist in the case."""

    title = "Not found in this case"


class VersionConflict(DomainError):
    """The case has moved on since the version the client expected (If-Match)."""

    title = "Case has changed"


class IdempotencyKeyReused(DomainError):
    """The Idempotency-Key was already used for a different request."""

    title = "Idempotency key reused with a different request"
