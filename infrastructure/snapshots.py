"""Snapshots proven to come from the log.

A snapshot is a cache of a case's state at a version, so that a long case loads without
replaying every event; but whatever it says is what the case *is* once loaded (its category
decides who may read it). Anyone who may insert rows in the snapshot table (the application's
database role, whoever can write the SQLite file) could otherwise make a case say anything.
So each snapshot is stored as

    vsnap1:<mac>:<log hash>:<the snapshot's JSON, personal fields sealed as in events>

- the log hash chains the case's stored events 1..v as stored (version, topic, state bytes):
  SHA-256 of (previous hash, event), from 32 zero bytes. ``vigil verify`` recomputes it from
  the events table, so a snapshot is checked against exactly the events it folds;
- the MAC is HMAC-SHA-256, under a key derived from the master key (which the database never
  holds), of (aggregate id, version, topic, log hash, JSON).

Loading checks the MAC (one HMAC over a few kilobytes) and decodes the JSON with the strict
mapper (a personal field in plaintext is refused). A snapshot that fails either, was written
before snapshots had a MAC, or says it is outdated (its ``outdated()``: taken before the state
kept something the code now reads from it, e.g. a case's flags awaiting action), is treated as
absent: the case is replayed from its events, and a
warning names the aggregate id and version (never the content). Taking a snapshot at version v
continues the log hash from the latest verified snapshot below v, so it reads only the events
since then.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    AggregateRecorder,
    EventStore,
    Mapper,
    Recording,
    StoredEvent,
)
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg import sql

from infrastructure.keys import UnsealedValue
from infrastructure.logging import get_logger

PREFIX = b"vsnap1:"
GENESIS = bytes(32)
LOOKBACK = 4
"""How many older snapshots a load tries when the latest is refused, before replaying all."""

Mac = Callable[[bytes], bytes]

log = get_logger(__name__)


@dataclass(frozen=True)
class Sealed:
    """A stored snapshot's parts."""

    mac: bytes
    log_hash: bytes
    body: bytes


def chain(previous: bytes, version: int, topic: str, state: bytes) -> bytes:
    """The log hash after one more stored event (lengths first, so no two inputs collide)."""
    digest = hashlib.sha256(previous)
    name = topic.encode()
    digest.update(version.to_bytes(8, "big", signed=True))
    digest.update(len(name).to_bytes(4, "big") + name)
    digest.update(len(state).to_bytes(8, "big") + state)
    return digest.digest()


def log_hash_of(events: Iterable[StoredEvent], start: bytes = GENESIS, after: int = 0) -> bytes:
    """The log hash over events after version ``after`` (whose hash is ``start``), which must
    follow on without a gap. Raises ValueError on a gap."""
    value, last = start, after
    for event in events:
        if event.originator_version != last + 1:
            raise ValueError(f"the log has no version {last + 1} of {event.originator_id}")
        value = chain(value, event.originator_version, event.topic, bytes(event.state))
        last = event.originator_version
    return value


def mac_message(row: StoredEvent, log_hash: bytes, body: bytes) -> bytes:
    """What the MAC covers: the row's identity, its log hash and its JSON, unambiguously."""
    head = f"vigil-snapshot/v1\x1f{UUID(str(row.originator_id))}\x1f{row.originator_version}"
    return b"\x1f".join([head.encode(), row.topic.encode(), log_hash, body])


def unwrap(state: bytes) -> Sealed | None:
    """The parts of a stored snapshot, or None if it is not in the sealed form at all."""
    if not state.startswith(PREFIX):
        return None
    parts = state[len(PREFIX) :].split(b":", 2)
    if len(parts) != 3:
        return None
    try:
        mac, log_hash = bytes.fromhex(parts[0].decode()), bytes.fromhex(parts[1].decode())
    except (UnicodeDecodeError, ValueError):
        return None
    if len(mac) != 32 or len(log_hash) != 32:
        return None
    return Sealed(mac, log_hash, parts[2])


def check(row: StoredEvent, mac: Mac | None) -> Sealed | str:
    """The stored snapshot's parts if its MAC verifies, else why not."""
    sealed = unwrap(bytes(row.state))
    if sealed is None:
        return "it has no MAC"
    if mac is None:
        return "no key to check its MAC with"
    expected = mac(mac_message(row, sealed.log_hash, sealed.body))
    if not hmac.compare_digest(expected, sealed.mac):
        return "its MAC does not verify"
    return sealed


class SnapshotStore(EventStore[UUID]):
    """eventsourcing's snapshot store, writing snapshots with a MAC and their log hash, and
    handing back only those that verify (the repository then replays from the last one)."""

    def __init__(
        self, mapper: Mapper[UUID], recorder: AggregateRecorder, events: AggregateRecorder
    ) -> None:
        super().__init__(mapper, recorder)
        self.events = events
        self.mac: Mac | None = None
        """Set with the keyring (``infrastructure.persistence.attach_keyring``)."""

    def put(
        self, domain_events: Sequence[DomainEventProtocol[UUID]], **kwargs: Any
    ) -> list[Recording[UUID]]:
        """Store snapshots, each with its log hash and MAC."""
        mac = self.mac
        if mac is None:
            raise RuntimeError("no keyring attached: cannot MAC a snapshot")
        rows = []
        for snapshot in domain_events:
            plain = self.mapper.to_stored_event(snapshot)
            log_hash = self.log_hash(UUID(str(plain.originator_id)), plain.originator_version)
            tag = mac(mac_message(plain, log_hash, plain.state))
            rows.append(
                StoredEvent(
                    originator_id=plain.originator_id,
                    originator_version=plain.originator_version,
                    topic=plain.topic,
                    state=b"%s%s:%s:%s"
                    % (PREFIX, tag.hex().encode(), log_hash.hex().encode(), plain.state),
                )
            )
        self.recorder.insert_events(rows, **kwargs)
        return []  # snapshots are not in the log: no notifications

    def log_hash(self, originator_id: UUID, version: int) -> bytes:
        """The log hash of the aggregate's stored events up to ``version``, continued from the
        latest verified snapshot below it."""
        start, after = GENESIS, 0
        for row in self.recorder.select_events(
            originator_id, lte=version - 1, desc=True, limit=LOOKBACK
        ):
            found = check(row, self.mac)
            if isinstance(found, Sealed):
                start, after = found.log_hash, row.originator_version
                break
        events = self.events.select_events(originator_id, gt=after, lte=version)
        value = log_hash_of(events, start, after)
        if not events or events[-1].originator_version != version:
            raise ValueError(f"the log holds no version {version} of {originator_id} to snapshot")
        return value

    def get(
        self,
        originator_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Iterator[DomainEventProtocol[UUID]]:
        """The snapshots that verify; one that does not is passed over (and logged)."""
        if self.mac is None:
            return iter(())  # without the key nothing can be trusted: replay
        rows = self.recorder.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        found = [snapshot for row in rows if (snapshot := self.open(row)) is not None]
        if limit is not None and len(found) < limit and len(rows) == limit:
            # Some were refused: look a little further (a few forged rows cannot make every
            # load of the case a full replay), then replay from what verifies.
            further = self.recorder.select_events(
                originator_id, gt=gt, lte=lte, desc=desc, limit=limit + LOOKBACK
            )
            for row in further[len(rows) :]:
                if len(found) >= limit:
                    break
                snapshot = self.open(row)
                if snapshot is not None:
                    found.append(snapshot)
        return iter(found)

    def open(self, row: StoredEvent) -> DomainEventProtocol[UUID] | None:
        """The snapshot if it verifies and decodes strictly, else None (logged)."""
        found = check(row, self.mac)
        if isinstance(found, str):
            self._ignored(row, found)
            return None
        body = StoredEvent(row.originator_id, row.originator_version, row.topic, found.body)
        try:
            snapshot = self.mapper.to_domain_event(body)
        except UnsealedValue:
            self._ignored(row, "a personal field in it is not sealed")
            return None
        # A snapshot taken before its state kept something the code now reads (the snapshot says
        # why: ``outdated()``) is passed over as one that does not verify is.
        outdated = getattr(snapshot, "outdated", None)
        why = outdated() if callable(outdated) else None
        if why:
            self._ignored(row, str(why))
            return None
        return snapshot

    @staticmethod
    def _ignored(row: StoredEvent, reason: str) -> None:
        log.warning(
            "snapshot_ignored",
            aggregate_id=str(row.originator_id),
            version=row.originator_version,
            reason=reason,
            effect="replayed from the log instead",
        )

    def rows(self) -> Iterator[StoredEvent]:
        """Every stored snapshot, by aggregate id then version (for ``vigil verify``)."""
        recorder: Any = self.recorder
        if isinstance(recorder, PostgresAggregateRecorder):
            statement: Any = sql.SQL(
                "SELECT originator_id, originator_version, topic, state FROM {}.{} "
                "ORDER BY originator_id, originator_version"
            ).format(
                sql.Identifier(recorder.datastore.schema),
                sql.Identifier(recorder.events_table_name),
            )
        elif isinstance(recorder, SQLiteAggregateRecorder):
            statement = (
                "SELECT originator_id, originator_version, topic, state "  # noqa: S608 - a constant
                f'FROM "{recorder.events_table_name}" ORDER BY originator_id, originator_version'
            )
        else:
            raise TypeError(f"cannot list the snapshots of {type(recorder).__name__}")
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement)
            found = cursor.fetchall()
        for row in found:
            yield StoredEvent(
                originator_id=UUID(str(row["originator_id"])),
                originator_version=int(row["originator_version"]),
                topic=str(row["topic"]),
                state=bytes(row["state"]),
            )
