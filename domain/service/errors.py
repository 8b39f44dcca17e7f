"""What the service context refuses, beyond the shared kinds in ``domain.errors``."""

from __future__ import annotations

from domain.errors import InvalidCommand, ItemNotFound, RuleViolation


class ServiceNotFound(ItemNotFound):
    """No service by that name (404)."""

    title = "Service not found"


class ServiceAlreadyExists(RuleViolation):
    """A service by that name exists already (409): names are unique, ids derive from them."""

    title = "A service by that name already exists"


class CalendarVersionInPast(RuleViolation):
    """A new calendar version may not take effect before now (409): moments already judged by
    the calendar in force at them would be judged again."""

    title = "A calendar version may not take effect in the past"


class CalendarVersionClash(RuleViolation):
    """Another version of the calendar takes effect at that very moment (409)."""

    title = "A calendar version already takes effect then"


class UnknownBankHolidays(InvalidCommand):
    """No bank-holiday dates are known for that region (422)."""

    title = "Unknown bank holidays"
