"""Community intake's errors (mapped to problems by the one handler table)."""

from __future__ import annotations

from domain.errors import InvalidCommand, ItemNotFound, RuleViolation


class MemberNotFound(ItemNotFound):
    title = "No such member"


class AlreadyWelcomed(RuleViolation):
    title = "Already welcomed"


class IntakeNotConfigured(ItemNotFound):
    title = "No intake for this service"


class InvalidDelivery(InvalidCommand):
    """A signed delivery whose body is not what its event type promises (nothing written)."""

    title = "Invalid delivery"
