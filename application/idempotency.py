"""Idempotency-Key on writes outside cases: users, subjects (legal holds, erasure), break-glass.

A keyed write saves, with its own event and in the same transaction, an ``IdempotencyKeyUsed``
whose aggregate id derives from (username, key). Before deciding, the write path looks that id
up (``KeyedWrite``): nothing there, a new write; the same request hash, the first answer again,
rebuilt from the log at the version the first write made (nothing appended); another hash, 422.
A retry racing its original may pass that look-up and then be refused by the rules (the
original's event now stands in its way: "already on hold") or lose the insert: the write path
looks again before answering either way (after a refusal, and at the top of each attempt after a
lost race), so it gets the first answer.

Keys are per user across these writes (a key used on a legal hold cannot then grant a role) and
are kept for good (case writes keep theirs for 24 hours at least).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.case.state import write_key
from domain.errors import IdempotencyKeyReused
from domain.idempotency import IdempotencyKeyUsed
from infrastructure.event_log import EventLog

WRITES_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/writes")

R = TypeVar("R")


@dataclass(frozen=True)
class KeyedRequest:
    """A write's Idempotency-Key and the fingerprint (method, path, body) of its request."""

    key: str
    request_hash: str


class WriteKeys:
    """Finds and records the writes made with an Idempotency-Key."""

    def __init__(self, event_log: EventLog) -> None:
        self._event_log = event_log

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
                for e in self._event_log.events_of(self.key_id(username, request.key))
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

    def recall(
        self,
        username: str,
        request: KeyedRequest | None,
        replay: Callable[[IdempotencyKeyUsed], R],
    ) -> KeyedWrite[R] | None:
        """How the write path recognises this request when it is retried (None without a key):
        ``replay`` rebuilds the first answer from the key's record."""
        return None if request is None else KeyedWrite(self, username, request, replay)

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


@dataclass(frozen=True)
class KeyedWrite(Generic[R]):
    """A keyed write outside cases, for the write path: its key is recorded beside its event."""

    keys: WriteKeys
    username: str
    request: KeyedRequest
    replay: Callable[[IdempotencyKeyUsed], R]

    def answered(self, state: object) -> R | None:
        earlier = self.keys.earlier(self.username, self.request)
        return None if earlier is None else self.replay(earlier)

    def record(self, events: Sequence[Any]) -> list[Any]:
        if not events:
            return []
        last = events[-1]
        return list(
            self.keys.record(
                self.username,
                self.request,
                target_id=last.originator_id,
                target_version=last.originator_version,
                at=last.recorded_at,
            )
        )

    def answered_after_refusal(self) -> R | None:
        return self.answered(None)
