"""What the data-subject context refuses beyond a subject's own rules (``LegalHoldInForce``
is raised by the subject itself, in ``domain.subject.subject``)."""

from __future__ import annotations

from domain.errors import DomainError


class SubjectNotFound(DomainError):
    """Vigil holds nothing about this subject (no case, no key, no hold)."""

    title = "Subject not found"
