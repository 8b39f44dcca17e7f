"""Community intake's errors (mapped to problems by the one handler table)."""

from __future__ import annotations

from domain.errors import DomainError, InvalidCommand, ItemNotFound, RuleViolation


class MemberNotFound(ItemNotFound):
    title = "No such member"


class AlreadyWelcomed(RuleViolation):
    title = "Already welcomed"


class IntakeNotConfigured(ItemNotFound):
    title = "No intake for this service"


class InvalidDelivery(InvalidCommand):
    """A signed delivery whose body is not what its event type promises (nothing written)."""

    title = "Invalid delivery"


class DeliveryNotAuthenticated(DomainError):
    """A delivery without a valid signature under the service's webhook secret (or for a
    service with no intake): nothing is read from it and nothing is written."""

    title = "Delivery not authenticated"


class DeliveryReplayed(RuleViolation):
    """A delivery under an event id already taken, with other content: refused."""

    title = "Delivery id already used"
