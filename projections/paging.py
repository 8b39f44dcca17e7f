"""Opaque keyset cursors and small SQL helpers shared by the list views.

A cursor is the listing key of the last item of a page, tagged with what was listed (a queue,
a subject, an actor), base64url-encoded JSON. A cursor from one listing is refused by another.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.errors import InvalidCommand
from domain.shared import within_moment_range


class InvalidQuery(InvalidCommand, ValueError):
    """A list query a view cannot answer (bad filter value, limit or cursor): HTTP 422."""

    title = "Invalid query"


class InvalidCursor(InvalidQuery):
    """The cursor was not one this API issued (or was altered): HTTP 422."""

    title = "Invalid cursor"


MAX_LIMIT = 200
DEFAULT_LIMIT = 50
# The largest position or id a cursor may carry: a signed 64-bit integer (BIGINT, SQLite INTEGER).
MAX_POSITION = 2**63 - 1


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(
            f"limit must be between 1 and {MAX_LIMIT}",
            errors={"limit": f"must be between 1 and {MAX_LIMIT}"},
        )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def encode_cursor(tag: str, key: Sequence[Any]) -> str:
    raw = json.dumps([tag, *(_plain(v) for v in key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _invalid() -> InvalidCursor:
    return InvalidCursor(
        "the cursor is not valid; use next_cursor from a previous page of the same listing",
        errors={"cursor": "invalid cursor"},
    )


def decode_cursor(tag: str, cursor: str, types: Sequence[type]) -> list[Any]:
    """The key in ``cursor``, each part read as the given type (datetime, UUID, int, str)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise _invalid() from None
    if not isinstance(parts, list) or len(parts) != len(types) + 1 or parts[0] != tag:
        raise _invalid()
    key: list[Any] = []
    for value, kind in zip(parts[1:], types, strict=True):
        try:
            if kind is datetime:
                key.append(within_moment_range(datetime.fromisoformat(value)))
            elif kind is UUID:
                key.append(UUID(value))
            elif kind is int:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError("not an integer")
                if not 0 <= value <= MAX_POSITION:  # a log position or a BIGINT id
                    raise ValueError("out of range")
                key.append(value)
            else:
                if not isinstance(value, str):
                    raise ValueError("not a string")
                key.append(value)
        except (ValueError, TypeError, AttributeError):
            raise _invalid() from None
    return key


def enum_value(enum: type[StrEnum], value: str | None, field: str) -> str | None:
    """The plain value of an enum member named by ``value``, or InvalidQuery."""
    if value is None:
        return None
    try:
        return str(enum(value).value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidQuery(
            f"{field} must be one of: {allowed}", errors={field: f"must be one of: {allowed}"}
        ) from None
