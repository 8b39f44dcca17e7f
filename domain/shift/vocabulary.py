"""The shift context's vocabulary."""

from __future__ import annotations

from enum import StrEnum


class ShiftRole(StrEnum):
    """What a shift's person does (not a user's role: a volunteer may host, a lead be on call)."""

    MODERATOR = "moderator"
    HOST = "host"
    COORDINATOR = "coordinator"
    HELPLINE = "helpline"
    ON_CALL = "on_call"
