"""The notary: follows the event log in commit order into an RFC 6962 Merkle tree (the hash
ledger), with signed checkpoints, in tables of its own beside the log.

**Not a view.** Checkpoints are history (each is a signed statement made at a moment), so the
ledger is never rebuilt: ``vigil rebuild`` does not know it, and nothing here drops or re-signs
anything. It keeps its own position, like a view's tracking row, in ``vigil_hash_ledger``.

**Tables** (in the ledger's database: the SQLite file, or the PostgreSQL schema):

* ``vigil_hash_ledger``: one row: tree size, the notification id of the last event in the tree,
  the compact range (frontier: one 32-byte hash per set bit of the size, so appending and the
  root are O(log n)), and the last checkpoint's size and time. Moved by compare-and-set in
  the same transaction as the leaves, so each event becomes exactly one leaf even with several
  notaries running (``vigil serve`` and ``vigil project``).
* ``vigil_hash_leaves``: leaf ``tree_index`` -> the event's notification id, originator id and
  version (to find a case's leaves) and its leaf hash (``domain.integrity.ledger``).
* ``vigil_hash_nodes``: every perfect subtree of height >= ``TILE_HEIGHT`` (8: 256 leaves), so an
  inclusion or consistency proof needs O(log n) node rows and at most two tiles of leaves.
* ``vigil_checkpoints``: tree size, root, time (ms), key id, Ed25519 signature, and the
  notification id of the last event covered.

**Following.** The notary reads raw stored events with the recorder's ``select_notifications``
(never the mapper: leaves hash the stored bytes, so encrypting or erasing personal fields never
changes a leaf), with the compare-and-set catch-up every follower of the log shares
(``projections.catch_up``: the state row is its position), and follows the log as the views'
projector does (``projections.follow``), polling every ``poll_interval`` seconds.

**Checkpoints** are signed when the tree has grown by ``every_events`` since the last one (batches
are cut so that this lands exactly on multiples while catching up), or when it has grown at all
and ``every_seconds`` have passed since the last one, and on demand (``ensure_checkpoint``: an
export needs one covering its case).
"""

# SQL here names only this module's own tables and the ledger's events table (constants, quoted
# by the store); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import Notification, PersistenceError
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from domain.integrity.ledger import (
    Checkpoint,
    checkpoint_message,
    event_leaf_hash,
    originator_bytes,
)
from domain.integrity.merkle import CompactRange, node_hash
from infrastructure.integrity_keys import SigningKey
from infrastructure.recorders import (
    SETUP_LOCK_KEY,
    StoreNotInitialised,
    ensure_append_only,
    lacks_privilege,
    qualified,
    sqlite_trigger_statements,
)
from projections.catch_up import Raced, Tracked, catch_up
from projections.follow import Follower, follow
from projections.store import Tx, ViewStore, quote, view_store_for

logger = structlog.get_logger(__name__)

TILE_HEIGHT = 8
TILE_SIZE = 1 << TILE_HEIGHT
STATE_TABLE = "vigil_hash_ledger"
LEAVES_TABLE = "vigil_hash_leaves"
NODES_TABLE = "vigil_hash_nodes"
CHECKPOINTS_TABLE = "vigil_checkpoints"
LEAVES_INDEX = "vigil_hash_leaves_originator"
# Append-only in the database, like the log (refuse UPDATE, DELETE, TRUNCATE): the notary only
# ever inserts into them. The state row's table is updated by compare-and-set, so it is not.
GUARDED_TABLES = (LEAVES_TABLE, NODES_TABLE, CHECKPOINTS_TABLE)
LEDGER_NAME = "log"  # the state row's key (one tree per log)


class LedgerCorrupt(RuntimeError):
    """The ledger's own tables lack something they must hold (a node, a leaf)."""


@dataclass(frozen=True)
class LedgerState:
    tree_size: int
    position: int
    """Notification id of the last event in the tree (0: none)."""
    frontier: CompactRange
    checkpoint_size: int
    checkpoint_ms: int | None


@dataclass(frozen=True)
class CaseLeaf:
    tree_index: int
    notification_id: int
    originator_version: int
    leaf_hash: bytes


@dataclass(frozen=True)
class StoredRow:
    """One event as stored in the events table."""

    notification_id: int
    originator_id: UUID | str
    originator_version: int
    topic: str
    state: bytes


class HashLedger:
    """The notary: follows the log into the Merkle tree and signs checkpoints."""

    def __init__(
        self,
        event_log: Application[Any],
        *,
        signing_key: SigningKey,
        clock: Callable[[], datetime],
        every_events: int = 1000,
        every_seconds: float = 60.0,
        batch_size: int = 5000,
        poll_interval: float = 1.0,
        store: ViewStore | None = None,
    ) -> None:
        if every_events < 1 or batch_size < 1:
            raise ValueError("checkpoint interval and batch size must be at least 1")
        self._event_log = event_log
        self._key = signing_key
        self._clock = clock
        self._every_events = every_events
        self._every_seconds = every_seconds
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self.store = store if store is not None else view_store_for(event_log.recorder)
        self._state = self.store.table(STATE_TABLE)
        self._leaves = self.store.table(LEAVES_TABLE)
        self._nodes = self.store.table(NODES_TABLE)
        self._checkpoints = self.store.table(CHECKPOINTS_TABLE)
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._started_ms = self._now_ms()
        self._follower: Follower | None = None
        self.setup()

    # --- set-up ---------------------------------------------------------------------------

    def setup(self) -> None:
        """Create the ledger's tables, their append-only guard and its state row if absent
        (never drops anything)."""
        setup_ledger_tables(self._event_log.recorder, self.store)

    # --- state and reads ------------------------------------------------------------------

    def state(self) -> LedgerState:
        with self.store.transaction(commit=False) as tx:
            return self._read_state(tx)

    def _read_state(self, tx: Tx) -> LedgerState:
        row = tx.fetchone(
            f"SELECT tree_size, notification_id, frontier, checkpoint_size, checkpoint_ms "
            f"FROM {self._state} WHERE name = %(name)s",
            {"name": LEDGER_NAME},
        )
        if row is None:
            raise LedgerCorrupt("the hash ledger's state row is missing")
        size = int(row["tree_size"])
        return LedgerState(
            tree_size=size,
            position=int(row["notification_id"]),
            frontier=CompactRange.from_bytes(size, bytes(row["frontier"])),
            checkpoint_size=int(row["checkpoint_size"]),
            checkpoint_ms=None if row["checkpoint_ms"] is None else int(row["checkpoint_ms"]),
        )

    def head(self) -> int:
        return int(self._event_log.recorder.max_notification_id() or 0)

    def latest_checkpoint(self) -> Checkpoint | None:
        found = self.checkpoints(limit=1)
        return found[0] if found else None

    def checkpoints(self, *, limit: int, before_size: int | None = None) -> list[Checkpoint]:
        """Checkpoints, newest (largest) first; ``before_size`` pages back."""
        where = "" if before_size is None else "WHERE tree_size < %(before)s "
        with self.store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT tree_size, root_hash, timestamp_ms, key_id, signature "
                f"FROM {self._checkpoints} {where}ORDER BY tree_size DESC LIMIT %(limit)s",
                {"before": before_size, "limit": limit},
            )
        return [_checkpoint(row) for row in rows]

    def checkpoint_covering(self, position: int) -> Checkpoint | None:
        """The first (smallest) checkpoint whose tree holds every event up to log ``position``,
        signed now if none does yet; once one exists it stays the first, so a report names the
        same checkpoint whenever it is asked. None for an empty log."""
        self.catch_up()
        with self.store.transaction(commit=False) as tx:
            leaf = tx.fetchone(
                f"SELECT tree_index FROM {self._leaves} WHERE notification_id <= %(p)s "
                "ORDER BY notification_id DESC LIMIT 1",
                {"p": position},
            )
            size = 0 if leaf is None else int(leaf["tree_index"]) + 1
            row = tx.fetchone(
                f"SELECT tree_size, root_hash, timestamp_ms, key_id, signature "
                f"FROM {self._checkpoints} WHERE tree_size >= %(size)s "
                "ORDER BY tree_size LIMIT 1",
                {"size": max(size, 1)},
            )
        if row is not None:
            return _checkpoint(row)
        return None if size == 0 else self.ensure_checkpoint(size)

    def case_leaves(self, case_id: UUID) -> list[CaseLeaf]:
        """Every leaf of one aggregate (a case), in log order."""
        with self.store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT tree_index, notification_id, originator_version, leaf_hash "
                f"FROM {self._leaves} WHERE originator_id = %(id)s ORDER BY tree_index",
                {"id": self.store.encode_uuid(case_id)},
            )
        return [
            CaseLeaf(
                int(r["tree_index"]),
                int(r["notification_id"]),
                int(r["originator_version"]),
                bytes(r["leaf_hash"]),
            )
            for r in rows
        ]

    def stored_rows(self, originator_id: UUID) -> list[StoredRow]:
        """One aggregate's events exactly as the events table holds them, in version order."""
        recorder: Any = self._event_log.recorder
        if isinstance(recorder, PostgresApplicationRecorder):
            table = f"{quote(recorder.datastore.schema)}.{quote(recorder.events_table_name)}"
            statement = (
                "SELECT notification_id, originator_id, originator_version, topic, state "
                f"FROM {table} WHERE originator_id = %(id)s ORDER BY originator_version"
            )
            key: Any = originator_id
        elif isinstance(recorder, SQLiteApplicationRecorder):
            statement = (
                "SELECT rowid AS notification_id, originator_id, originator_version, topic, "
                f"state FROM {quote(recorder.events_table_name)} WHERE originator_id = %(id)s "
                "ORDER BY originator_version"
            )
            key = originator_id.hex
        else:
            raise TypeError(f"no stored rows on {type(recorder).__name__}")
        with self.store.transaction(commit=False) as tx:
            rows = tx.fetchall(statement, {"id": key})
        return [
            StoredRow(
                int(r["notification_id"]),
                r["originator_id"],
                int(r["originator_version"]),
                str(r["topic"]),
                bytes(r["state"]),
            )
            for r in rows
        ]

    # --- following the log ----------------------------------------------------------------

    def catch_up(self, max_events: int | None = None) -> int:
        """Append every event recorded since the ledger's position (at most ``max_events``),
        signing the checkpoints that fall due; returns how many events were appended."""
        with self._lock:
            appending = _Appending(self.state, self._every_events, self._append)
            appended = catch_up(appending, self._event_log.recorder, self._batch_size, max_events)
            self.checkpoint_if_due()
        return appended

    def _append(self, state: LedgerState, notifications: Sequence[Notification]) -> None:
        """Append one batch to the tree (``_Appending``)."""
        frontier = state.frontier.copy()
        leaves: list[tuple[int, int, Any, int, bytes]] = []
        nodes: list[tuple[int, int, bytes]] = []
        for n in notifications:
            index = frontier.size
            leaf = event_leaf_hash(
                n.id,
                originator_bytes(n.originator_id),
                n.originator_version,
                n.topic,
                bytes(n.state),
            )
            nodes.extend(c for c in frontier.append(leaf) if c[0] >= TILE_HEIGHT)
            leaves.append((index, n.id, n.originator_id, n.originator_version, leaf))
        end = notifications[-1].id
        checkpoint = None
        if frontier.size - state.checkpoint_size >= self._every_events:
            checkpoint = self._sign(frontier)
        with self.store.transaction(commit=True) as tx:
            self._move(tx, state, frontier, end, checkpoint)
            self._insert_leaves(tx, leaves)
            self._insert_nodes(tx, nodes)
            if checkpoint is not None:
                self._insert_checkpoint(tx, checkpoint, end)

    def _move(
        self,
        tx: Tx,
        state: LedgerState,
        frontier: CompactRange,
        end: int,
        checkpoint: Checkpoint | None,
    ) -> None:
        """Compare-and-set the state row from ``state`` to the new tree (first statement of the
        transaction: it takes the row's lock, or SQLite's write lock, before anything else)."""
        moved = tx.fetchone(
            f"UPDATE {self._state} SET tree_size = %(size)s, notification_id = %(end)s, "
            "frontier = %(frontier)s, checkpoint_size = %(cp_size)s, checkpoint_ms = %(cp_ms)s "
            "WHERE name = %(name)s AND tree_size = %(old_size)s "
            "AND checkpoint_size = %(old_cp)s RETURNING tree_size",
            {
                "name": LEDGER_NAME,
                "size": frontier.size,
                "end": end,
                "frontier": frontier.to_bytes(),
                "cp_size": state.checkpoint_size if checkpoint is None else checkpoint.tree_size,
                "cp_ms": state.checkpoint_ms if checkpoint is None else checkpoint.timestamp_ms,
                "old_size": state.tree_size,
                "old_cp": state.checkpoint_size,
            },
        )
        if moved is None:
            raise Raced

    def _insert_leaves(self, tx: Tx, leaves: Sequence[tuple[int, int, Any, int, bytes]]) -> None:
        if self.store.dialect == "postgresql":
            tx.execute(
                f"INSERT INTO {self._leaves} (tree_index, notification_id, originator_id, "
                "originator_version, leaf_hash) SELECT * FROM unnest(%(i)s::bigint[], "
                "%(n)s::bigint[], %(o)s::uuid[], %(v)s::bigint[], %(h)s::bytea[])",
                {
                    "i": [leaf[0] for leaf in leaves],
                    "n": [leaf[1] for leaf in leaves],
                    "o": [leaf[2] for leaf in leaves],
                    "v": [leaf[3] for leaf in leaves],
                    "h": [leaf[4] for leaf in leaves],
                },
            )
            return
        tx.executemany(
            f"INSERT INTO {self._leaves} (tree_index, notification_id, originator_id, "
            "originator_version, leaf_hash) VALUES (%(i)s, %(n)s, %(o)s, %(v)s, %(h)s)",
            [
                {"i": i, "n": n, "o": self.store.encode_uuid(o), "v": v, "h": h}
                for i, n, o, v, h in leaves
            ],
        )

    def _insert_nodes(self, tx: Tx, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        if nodes:
            tx.executemany(
                f"INSERT INTO {self._nodes} (level, node_index, hash) "
                "VALUES (%(level)s, %(index)s, %(hash)s)",
                [{"level": lv, "index": ix, "hash": h} for lv, ix, h in nodes],
            )

    def _insert_checkpoint(self, tx: Tx, checkpoint: Checkpoint, end: int) -> None:
        tx.execute(
            f"INSERT INTO {self._checkpoints} (tree_size, root_hash, timestamp_ms, key_id, "
            "signature, notification_id) VALUES (%(size)s, %(root)s, %(ms)s, %(key)s, %(sig)s, "
            "%(end)s)",
            {
                "size": checkpoint.tree_size,
                "root": checkpoint.root_hash,
                "ms": checkpoint.timestamp_ms,
                "key": checkpoint.key_id,
                "sig": checkpoint.signature,
                "end": end,
            },
        )

    # --- checkpoints ----------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self._clock().timestamp() * 1000)

    def _sign(self, frontier: CompactRange) -> Checkpoint:
        public = self._key.public
        root = frontier.root()
        timestamp = self._now_ms()
        message = checkpoint_message(frontier.size, root, timestamp, public.key_id)
        return Checkpoint(frontier.size, root, timestamp, public.key_id, self._key.sign(message))

    def checkpoint_if_due(self) -> Checkpoint | None:
        """Sign a checkpoint if the tree grew since the last one and ``every_seconds`` passed."""
        state = self.state()
        if state.tree_size <= state.checkpoint_size:
            return None
        since = state.checkpoint_ms if state.checkpoint_ms is not None else self._started_ms
        if self._now_ms() - since < self._every_seconds * 1000:
            return None
        return self._checkpoint_state(state)

    def ensure_checkpoint(self, tree_size: int) -> Checkpoint:
        """A checkpoint covering at least the first ``tree_size`` leaves: the latest if it
        does, else one signed now over the whole tree (after catching up)."""
        with self._lock:
            while True:
                state = self.state()
                if state.tree_size < tree_size:
                    self.catch_up()
                    state = self.state()
                    if state.tree_size < tree_size:
                        raise LedgerCorrupt(
                            f"the ledger holds {state.tree_size} leaves, not {tree_size}"
                        )
                if state.checkpoint_size >= tree_size:
                    latest = self.latest_checkpoint()
                    if latest is not None and latest.tree_size >= tree_size:
                        return latest
                signed = self._checkpoint_state(state)
                if signed is not None:
                    return signed

    def _checkpoint_state(self, state: LedgerState) -> Checkpoint | None:
        """Sign the tree as ``state`` has it (None if another notary moved it meanwhile)."""
        if state.tree_size == 0:
            return None
        checkpoint = self._sign(state.frontier)
        try:
            with self.store.transaction(commit=True) as tx:
                self._move(tx, state, state.frontier, state.position, checkpoint)
                self._insert_checkpoint(tx, checkpoint, state.position)
        except Raced:
            return None
        logger.info("checkpoint_signed", tree_size=checkpoint.tree_size, key_id=checkpoint.key_id)
        return checkpoint

    # --- proofs from the stored tree ------------------------------------------------------

    def tree(self) -> StoredTree:
        return StoredTree(self)

    # --- running in the background --------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    @property
    def follower(self) -> Follower | None:
        return self._follower if self._follower is not None and self._follower.is_alive() else None

    def start_in_thread(self) -> Follower:
        if self.follower is not None:
            raise RuntimeError("the notary is already following the log")
        self._follower = Follower(self.run_forever, self.wake, "vigil-notary").start()
        return self._follower

    def stop_following(self, timeout: float = 10.0) -> None:
        if self._follower is not None:
            self._follower.stop(timeout)
            self._follower = None

    def run_forever(self, stop: threading.Event) -> None:
        """Catch up, sign what falls due, then poll until ``stop`` is set."""
        logger.info(
            "notary_following",
            every_events=self._every_events,
            every_seconds=self._every_seconds,
            poll_seconds=self._poll_interval,
        )
        follow(
            lambda chunk: self.catch_up(max_events=chunk),
            stop,
            self._wake,
            chunk=self._batch_size * 10,
            interval=self._poll_interval,
            failed="notary_failed",
        )
        logger.info("notary_stopped")


class _Appending(Tracked[LedgerState]):
    """The notary's side of the catch-up: its position is the state row's, and a batch is cut
    where the next checkpoint by count falls due."""

    def __init__(
        self,
        state: Callable[[], LedgerState],
        every_events: int,
        append: Callable[[LedgerState, Sequence[Notification]], None],
    ) -> None:
        self._state = state
        self._every_events = every_events
        self._append = append

    def where(self) -> tuple[int, LedgerState]:
        state = self._state()
        return state.position, state

    def limit(self, state: LedgerState, limit: int) -> int:
        until_due = self._every_events - (state.tree_size - state.checkpoint_size)
        return max(1, min(limit, until_due))

    def apply(self, state: LedgerState, notifications: Sequence[Notification]) -> None:
        self._append(state, notifications)


def _ledger_ddl(store: ViewStore) -> list[str]:
    pg = store.dialect == "postgresql"
    blob = "BYTEA" if pg else "BLOB"
    return [
        f"CREATE TABLE IF NOT EXISTS {store.table(STATE_TABLE)} (name TEXT PRIMARY KEY, "
        "tree_size BIGINT NOT NULL, notification_id BIGINT NOT NULL, "
        f"frontier {blob} NOT NULL, checkpoint_size BIGINT NOT NULL, checkpoint_ms BIGINT)",
        f"CREATE TABLE IF NOT EXISTS {store.table(LEAVES_TABLE)} (tree_index BIGINT PRIMARY KEY, "
        "notification_id BIGINT NOT NULL UNIQUE, "
        f"originator_id {store.uuid_type} NOT NULL, "
        f"originator_version BIGINT NOT NULL, leaf_hash {blob} NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {store.index(LEAVES_INDEX)} "
        f"ON {store.table(LEAVES_TABLE)} (originator_id, originator_version)",
        f"CREATE TABLE IF NOT EXISTS {store.table(NODES_TABLE)} (level SMALLINT NOT NULL, "
        f"node_index BIGINT NOT NULL, hash {blob} NOT NULL, PRIMARY KEY (level, node_index))",
        f"CREATE TABLE IF NOT EXISTS {store.table(CHECKPOINTS_TABLE)} "
        f"(tree_size BIGINT PRIMARY KEY, root_hash {blob} NOT NULL, "
        f"timestamp_ms BIGINT NOT NULL, key_id TEXT NOT NULL, "
        f"signature {blob} NOT NULL, notification_id BIGINT NOT NULL)",
    ]


_INSERT_STATE = (
    "INSERT INTO {state} (name, tree_size, notification_id, frontier, checkpoint_size, "
    "checkpoint_ms) VALUES (%(name)s, 0, 0, %(empty)s, 0, NULL) ON CONFLICT (name) DO NOTHING"
)


def setup_ledger_tables(recorder: Any, store: ViewStore | None = None) -> None:
    """Create what is missing of the ledger's tables beside ``recorder``'s log: the four tables,
    the append-only guard on the three that only ever grow (``GUARDED_TABLES``: the log's
    triggers and refusing function, ``infrastructure.recorders``) and the state row.

    Run by the notary at every start, and by ``vigil db init`` as the store's owner. On
    PostgreSQL a role that does not own the tables (the application role after ``db init``)
    finds them made and guarded and creates nothing (it may not even run ``CREATE INDEX IF NOT
    EXISTS`` on a table it does not own); if they are missing or unguarded and it may not fix
    that, ``StoreNotInitialised`` says to run ``vigil db init``."""
    store = store if store is not None else view_store_for(recorder)
    state = {"name": LEDGER_NAME, "empty": b""}
    if isinstance(recorder, PostgresApplicationRecorder):
        schema = recorder.datastore.schema
        names = [*(qualified(schema, t) for t in (STATE_TABLE, *GUARDED_TABLES, LEAVES_INDEX))]
        try:
            with recorder.datastore.transaction(commit=True) as curs:
                conn = curs.connection
                # The recorders' set-up lock: the guard's function is the log's.
                conn.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (SETUP_LOCK_KEY, schema)
                )
                found = curs.execute(
                    "SELECT bool_and(to_regclass(n) IS NOT NULL) AS ok FROM unnest(%s::text[]) n",
                    (names,),
                ).fetchone()
                if not (found and found["ok"]):
                    for statement in _ledger_ddl(store):
                        curs.execute(statement)
                ensure_append_only(conn, schema, GUARDED_TABLES)
                curs.execute(_INSERT_STATE.format(state=store.table(STATE_TABLE)), state)
        except (psycopg.Error, PersistenceError) as exc:
            if lacks_privilege(exc):
                raise StoreNotInitialised(
                    f"the hash ledger's tables in {schema} are missing or lack their "
                    "append-only guard, and this role may not create them: run `vigil db "
                    f"init` as the owner of the store first ({exc})"
                ) from exc
            raise
        return
    with store.transaction(commit=True) as tx:
        store.setup_lock(tx)
        for statement in _ledger_ddl(store):
            tx.execute(statement)
        for table in GUARDED_TABLES:
            for statement in sqlite_trigger_statements(table):
                tx.execute(statement)
        tx.execute(_INSERT_STATE.format(state=store.table(STATE_TABLE)), state)


def _checkpoint(row: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        tree_size=int(row["tree_size"]),
        root_hash=bytes(row["root_hash"]),
        timestamp_ms=int(row["timestamp_ms"]),
        key_id=str(row["key_id"]),
        signature=bytes(row["signature"]),
    )


class StoredTree:
    """Perfect subtree hashes from the ledger's tables, for proofs: stored nodes for heights
    >= TILE_HEIGHT, a tile of leaves (read once, cached) for lower ones."""

    def __init__(self, hash_ledger: HashLedger) -> None:
        self._hash_ledger = hash_ledger
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._tiles: dict[int, list[bytes]] = {}

    def perfect(self, level: int, index: int) -> bytes:
        if level >= TILE_HEIGHT:
            key = (level, index)
            found = self._nodes.get(key)
            if found is None:
                found = self._read_node(level, index)
                self._nodes[key] = found
            return found
        start = index << level
        tile = self._tile(start >> TILE_HEIGHT)
        offset = start - ((start >> TILE_HEIGHT) << TILE_HEIGHT)
        hashes = tile[offset : offset + (1 << level)]
        if len(hashes) != 1 << level:
            raise LedgerCorrupt(f"the ledger lacks leaves {start}..{start + (1 << level) - 1}")
        while len(hashes) > 1:
            hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]

    def _read_node(self, level: int, index: int) -> bytes:
        hash_ledger = self._hash_ledger
        with hash_ledger.store.transaction(commit=False) as tx:
            row = tx.fetchone(
                f"SELECT hash FROM {hash_ledger.store.table(NODES_TABLE)} "
                "WHERE level = %(level)s AND node_index = %(index)s",
                {"level": level, "index": index},
            )
        if row is None:
            raise LedgerCorrupt(f"the ledger lacks node {index} at level {level}")
        return bytes(row["hash"])

    def _tile(self, tile: int) -> list[bytes]:
        found = self._tiles.get(tile)
        if found is None:
            hash_ledger = self._hash_ledger
            with hash_ledger.store.transaction(commit=False) as tx:
                rows = tx.fetchall(
                    f"SELECT tree_index, leaf_hash FROM {hash_ledger.store.table(LEAVES_TABLE)} "
                    "WHERE tree_index >= %(lo)s AND tree_index < %(hi)s ORDER BY tree_index",
                    {"lo": tile * TILE_SIZE, "hi": (tile + 1) * TILE_SIZE},
                )
            found = []
            for expected, row in enumerate(rows, start=tile * TILE_SIZE):
                if int(row["tree_index"]) != expected:
                    break
                found.append(bytes(row["leaf_hash"]))
            self._tiles[tile] = found
        return found
