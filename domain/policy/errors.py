"""What the SLA policy context refuses. The one mapping (``interfaces/http/problems.py``) gives
each its status by its base: ``InvalidCommand`` 422, ``RuleViolation`` 409."""

from __future__ import annotations

from domain.errors import InvalidCommand, RuleViolation


class SlaPolicyVersionInPast(InvalidCommand):
    """A new version takes effect now or later (422, naming ``effective_from``): work whose
    clock has started keeps the due time the version in force then gave it."""

    title = "An SLA policy version may not take effect in the past"


class SlaPolicyVersionClash(RuleViolation):
    """Another version takes effect at that very moment (409): the version in force at a moment
    is never in doubt."""

    title = "An SLA policy version already takes effect then"
