"""Ids of case events, derived from the case id and the event's version.

An event id names its case and its place in it, so "does this id name an event of
this case?" needs no index in the case's state (which must stay small for long
cases to load fast). Layout (RFC 9562 version 8, custom): 74 bits of
SHA-256(case id), then the version in the last 48 bits.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

_VERSION_BYTES = 6


def _case_prefix(case_id: UUID) -> bytearray:
    prefix = bytearray(hashlib.sha256(b"vigil.case-event:" + case_id.bytes).digest()[:10])
    prefix[6] = (prefix[6] & 0x0F) | 0x80  # UUID version 8
    prefix[8] = (prefix[8] & 0x3F) | 0x80  # RFC 9562 variant
    return prefix


def event_id_for(case_id: UUID, version: int) -> UUID:
    return UUID(bytes=bytes(_case_prefix(case_id)) + version.to_bytes(_VERSION_BYTES, "big"))


def version_in(case_id: UUID, event_id: UUID) -> int | None:
    """The version of the event ``event_id`` names in this case, or None if it is not one."""
    raw = event_id.bytes
    if raw[:10] != bytes(_case_prefix(case_id)):
        return None
    version = int.from_bytes(raw[10:], "big")
    return version if version >= 1 else None
