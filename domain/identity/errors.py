"""What the identity context refuses: users, their roles and their API tokens."""

from __future__ import annotations

from domain.errors import ItemNotFound, RuleViolation


class UserNotFound(ItemNotFound):
    """No user by that name (404 when the name is in the URL)."""

    title = "User not found"


class UserRuleViolation(RuleViolation):
    """The user's record does not allow the change (409 ``rule-violation``, as ever): the
    domain's refusal, titled for a user rather than a case."""

    title = "Not allowed in the user's current state"


class TokenAlreadyIssued(RuleViolation):
    """A retried token request: its token was issued, and a secret is never shown twice."""

    title = "A token was already issued for this Idempotency-Key"
