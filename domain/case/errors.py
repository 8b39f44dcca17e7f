"""What the case context refuses beyond the shared kinds of refusal in ``domain.errors``."""

from __future__ import annotations

from domain.errors import DomainError


class CaseNotFound(DomainError):
    title = "Case not found"
