"""Idempotency-Key on writes outside cases: users, subjects (legal holds, erasure), break-glass.

A keyed write saves, with its own event and in the same transaction, an ``IdempotencyKeyUsed``
whose aggregate id derives from (username, key). Before deciding, the service looks that id
up: nothing there, a new write; the same request hash, the first answer again, rebuilt from the
log at the version the first write made (nothing appended); another hash, 422. A retry racing
its original may pass that look-up and then be refused by the rules (the original's event now
stands in its way: "already on hold") or lose the insert: services look again before answering
either way (``unless_written`` and the top of their retry loops), so it gets the first answer.

Keys are per user across these writes (a key used on a legal hold cannot then grant a role) and
are kept for good (case writes keep theirs for 24 hours at least).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from application.ledger import Ledger
from domain.case.state import write_key
from domain.errors import DomainError, IdempotencyKeyReused
from domain.idempotency import IdempotencyKeyUsed

WRITES_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/writes")

R = TypeVar("R")


@dataclass(frozen=True)
class KeyedRequest:
    """A write's Idempotency-Key and the fingerprint (method, path, body) of its request."""

    key: str
    request_hash: str


class WriteKeys:
    """Finds and records the writes made with an Idempotency-Key."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    @staticmethod
    def key_id(username: str, key: str) -> UUID:
        return uuid5(WRITES_NAMESPACE, write_key(username, key))

    def earlier(self, username: str, request: KeyedRequest | None) -> IdempotencyKeyUsed | None:
        """The write this key already made, or None; IdempotencyKeyReused (422) if that write
        came from another request."""
        if request is None:
            return None
        used = next(
            (
                e
                for e in self._ledger.events_of(self.key_id(username, request.key))
                if isinstance(e, IdempotencyKeyUsed)
            ),
            None,
        )
        if used is None:
            return None
        if used.request_hash != request.request_hash:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different request; use a new key"
            )
        return used

    def unless_written(
        self,
        username: str,
        request: KeyedRequest | None,
        write: Callable[[], R],
        replay: Callable[[IdempotencyKeyUsed], R],
    ) -> R:
        """``write()``; if the rules refuse it and the key has been written meanwhile (this
        request's own retry won a race with it), the answer to that write instead."""
        try:
            return write()
        except DomainError:
            earlier = None if request is None else self.earlier(username, request)
            if earlier is None:
                raise
            return replay(earlier)

    def record(
        self,
        username: str,
        request: KeyedRequest | None,
        *,
        target_id: UUID,
        target_version: int,
        at: datetime,
    ) -> list[IdempotencyKeyUsed]:
        """The event to save with the write (none without a key)."""
        if request is None:
            return []
        key_id = self.key_id(username, request.key)
        return [
            IdempotencyKeyUsed(
                originator_id=key_id,
                originator_version=1,
                event_id=uuid5(key_id, "1"),
                recorded_at=at,
                username=username,
                request_hash=request.request_hash,
                target_id=target_id,
                target_version=target_version,
            )
        ]
