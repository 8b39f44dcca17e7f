"""Keys for crypto-shredding: one data key per data subject, wrapped by a master key.

Personal fields are encrypted before they are stored (``infrastructure.persistence``) with
the key of the case's data subject. Erasing a subject destroys its keys, so every copy of its
personal data (events, snapshots, backups of either) becomes unreadable at once, while the
event log itself is never changed and its hashes still verify.

The master key (32 bytes) comes from settings: ``VIGIL_MASTER_KEY`` (base64) or
``VIGIL_MASTER_KEY_FILE``; outside production, if neither is set, a key file
``<VIGIL_DATA_DIR>/master.key`` is made at first use (mode 0600). It is never logged. Keys
are derived from it with HKDF-SHA256: one wraps data keys (AES key wrap, RFC 3394), one
names subjects (HMAC-SHA256 of ``kind:ref``, so a subject's ref cannot be read back from the
key table), one makes a check value kept in the store, so a wrong master key is refused at
start instead of looking like erased data; others key request fingerprints and the MACs of
snapshots (``infrastructure.snapshots``).

Tables, in the ledger's own database (SQLite file or PostgreSQL schema), beside the log:

- ``vigil_subject_keys``: ``key_id``, ``subject_hash``, ``wrapped_key`` (NULL once
  destroyed), ``created_at``, ``destroyed_at``. At most one live key per subject; a subject
  erased and then met again gets a new key (a new generation), so what is recorded after an
  erasure stays readable until the next one.
- ``vigil_subject_cases``: ``case_id`` -> ``subject_hash``, written when a case's first event
  is encrypted: which key a case's later events use, and which cases an erasure touches.
- ``vigil_subject_links``: ``case_id``, ``subject_hash``, ``originator_id``,
  ``originator_version``: a key of its own (a stream's, e.g. a shift handover's) that seals text
  naming the case, and the event that does; written when that event's personal fields are
  sealed, so erasing the case's subject finds the key (and a subject access export the text).
  A link whose event was never stored (a lost race) names a key that seals nothing, or an event
  that does not name the case: both are harmless, and readers check the event.
- ``vigil_subject_contacts``: ``contact_id`` -> ``subject_hash``, written when a helpline
  contact's logging is encrypted: its caller's subject (or, for an anonymous caller, the
  contact's own), which the contact's later events use, and which contacts an erasure or a
  subject access export of the caller reaches.
- ``vigil_key_meta``: the master key's check value.

Caching: unwrapped keys are kept in memory. Destroying a key takes effect at once in the
process that destroys it; another process notices within ``VIGIL_KEY_CACHE_SECONDS`` (a key
read for decryption is re-checked against the table once it is older than that). Encrypting
always asks the table for the subject's live key, so nothing is ever written under a key that
is already destroyed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar
from uuid import UUID, uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from infrastructure.master_key import MasterKeyError, derive_key
from infrastructure.recorders import events_table

KEYS_TABLE = "vigil_subject_keys"
CASES_TABLE = "vigil_subject_cases"
LINKS_TABLE = "vigil_subject_links"
CONTACTS_TABLE = "vigil_subject_contacts"
META_TABLE = "vigil_key_meta"


DESTROY_FUNCTION = "vigil_destroy_subject_keys"


def key_tables_ddl(db: KeyDatabase) -> list[str]:
    """The key tables and their indexes, created if absent."""
    blob = "bytea" if db.dialect == "postgresql" else "BLOB"
    time_type = "timestamptz" if db.dialect == "postgresql" else "TEXT"
    keys, cases, meta = db.table(KEYS_TABLE), db.table(CASES_TABLE), db.table(META_TABLE)
    return [
        f"CREATE TABLE IF NOT EXISTS {keys} (key_id TEXT PRIMARY KEY, "
        f"subject_hash TEXT NOT NULL, wrapped_key {blob}, created_at {time_type} NOT NULL, "
        f"destroyed_at {time_type})",
        f"CREATE UNIQUE INDEX IF NOT EXISTS {db.index(KEYS_TABLE + '_live')} ON {keys} "
        "(subject_hash) WHERE destroyed_at IS NULL",
        f"CREATE INDEX IF NOT EXISTS {db.index(KEYS_TABLE + '_subject')} ON {keys} (subject_hash)",
        f"CREATE TABLE IF NOT EXISTS {cases} (case_id TEXT PRIMARY KEY, "
        "subject_hash TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {db.index(CASES_TABLE + '_subject')} ON {cases} "
        "(subject_hash)",
        f"CREATE TABLE IF NOT EXISTS {meta} (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        *links_table_ddl(db),
        *contacts_table_ddl(db),
    ]


def links_table_ddl(db: KeyDatabase) -> list[str]:
    """The links from cases to the keys of their own that seal text naming them (added after
    the other key tables: a store made before it gets it at start)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {db.table(LINKS_TABLE)} (case_id TEXT NOT NULL, "
        "subject_hash TEXT NOT NULL, originator_id TEXT NOT NULL, "
        "originator_version INTEGER NOT NULL, "
        "PRIMARY KEY (case_id, subject_hash, originator_id, originator_version))"
    ]


def contacts_table_ddl(db: KeyDatabase) -> list[str]:
    """The helpline contacts' subjects (added after the other key tables: a store made before
    it gets it at start)."""
    contacts = db.table(CONTACTS_TABLE)
    return [
        f"CREATE TABLE IF NOT EXISTS {contacts} (contact_id TEXT PRIMARY KEY, "
        "subject_hash TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {db.index(CONTACTS_TABLE + '_subject')} ON {contacts} "
        "(subject_hash)",
    ]


def create_key_tables(db: KeyDatabase, recorder: Any, *, erasure_topic: str) -> None:
    """Create the key tables beside ``recorder``'s log and, on PostgreSQL, the owner's function
    through which the application role destroys keys (only those an erasure names)."""
    with db.transaction(commit=True) as tx:
        for statement in key_tables_ddl(db):
            tx.execute(statement)
        if db.dialect == "postgresql":
            events, _ = events_table(recorder)
            tx.execute(destroy_function_ddl(db, events, erasure_topic))


def destroy_function_ddl(db: KeyDatabase, events_table: str, erasure_topic: str) -> str:
    """PostgreSQL: the owner's function through which the application role destroys a subject's
    live keys (it may not UPDATE the key table): only keys whose id a stored event of the
    erasure's topic names in its ``key_ids`` (the JSON state parsed: an id quoted in its free
    text does not count), so no key is destroyed without its erasure in the log. A stored
    erasure that is not JSON makes the call fail, never pass. SECURITY DEFINER, with a fixed
    search path; ``events_table`` is quoted SQL."""
    keys = db.table(KEYS_TABLE)
    topic = "'" + erasure_topic.replace("'", "''") + "'"
    return (
        f"CREATE OR REPLACE FUNCTION {db.table(DESTROY_FUNCTION)}"  # noqa: S608
        "(p_subject_hash text, p_at timestamptz) RETURNS SETOF text "
        "LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$ "
        f"UPDATE {keys} AS k SET wrapped_key = NULL, destroyed_at = p_at "
        "WHERE k.subject_hash = p_subject_hash AND k.destroyed_at IS NULL "
        f"AND EXISTS (SELECT 1 FROM {events_table} AS e WHERE e.topic = {topic} "
        # The substring test first (CASE keeps the order): only the erasures that could name
        # the key are parsed.
        "AND CASE WHEN position(convert_to(k.key_id, 'UTF8') IN e.state) > 0 "
        "THEN (convert_from(e.state, 'UTF8')::jsonb -> 'key_ids') ? k.key_id ELSE false END) "
        "RETURNING k.key_id $fn$"
    )


class UnsealedValue(ValueError):
    """A personal field read back without its seal, where Vigil only ever stores a sealed
    value (or the erased marker): the row was written by something other than Vigil."""


class KeyTransaction(Protocol):
    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> None: ...

    def fetchall(
        self, statement: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...

    def fetchone(
        self, statement: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None: ...


class KeyDatabase(Protocol):
    """The log's database (a ``projections.store.ViewStore`` fits)."""

    dialect: Literal["sqlite", "postgresql"]

    def table(self, name: str) -> str: ...

    def index(self, name: str) -> str: ...

    def transaction(self, *, commit: bool) -> AbstractContextManager[KeyTransaction]: ...


# --- subject keys --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataKey:
    """A live data subject key, ready to encrypt with."""

    key_id: str
    aead: AESGCM


_K = TypeVar("_K")
_V = TypeVar("_V")

# Subjects (and cases) whose keys one process keeps in memory. Every entry can be read again
# from the key table, so forgetting one costs a query, never correctness; without a bound a
# long-running server would keep one entry per subject it ever touched.
MEMORY_ENTRIES = 10_000


class _Recent(Generic[_K, _V]):
    """A map that forgets its least recently used entries beyond ``maxsize``.

    Not thread-safe on its own: the keyring holds its lock around every call.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[_K, _V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: _K) -> _V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: _K, value: _V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def pop(self, key: _K) -> None:
        self._items.pop(key, None)


@dataclass(frozen=True)
class CaseLink:
    """A key of its own that seals text naming a case, and the event holding that text."""

    case_id: UUID
    subject_hash: str
    originator_id: UUID
    originator_version: int


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    subject_hash: str
    created_at: datetime
    destroyed_at: datetime | None


class SubjectKeyring:
    """Data subject keys in the store's key table, wrapped by the master key."""

    def __init__(
        self,
        master_key: bytes,
        *,
        clock: Callable[[], datetime],
        cache_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        memory_entries: int = MEMORY_ENTRIES,
    ) -> None:
        self._wrap_key = derive_key(master_key, b"vigil/subject-key-wrap/v1")
        self._name_key = derive_key(master_key, b"vigil/subject-name/v1")
        self._fingerprint_key = derive_key(master_key, b"vigil/request-fingerprint/v1")
        self._snapshot_key = derive_key(master_key, b"vigil/snapshot-mac/v1")
        self._check = hmac.new(
            derive_key(master_key, b"vigil/master-key-check/v1"), b"vigil", hashlib.sha256
        ).hexdigest()
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._db: KeyDatabase | None = None
        # Whether keys are destroyed through the owner's function (``vigil db init``, PostgreSQL).
        self._destroy_function = False
        self._lock = threading.Lock()
        # key_id -> (AESGCM or None when destroyed, monotonic time it was read)
        self._keys: _Recent[str, tuple[AESGCM | None, float]] = _Recent(memory_entries)
        self._case_subjects: _Recent[UUID, str] = _Recent(memory_entries)
        self._contact_subjects: _Recent[UUID, str] = _Recent(memory_entries)
        # subject_hash -> (its live key, monotonic time it was read): a writer reuses the key for
        # cache_seconds, the same bound readers have, instead of asking the table per event.
        self._write_keys: _Recent[str, tuple[DataKey, float]] = _Recent(memory_entries)

    def entries_in_memory(self) -> int:
        """How many keys and case subjects this process holds in memory (for its bound)."""
        with self._lock:
            return (
                len(self._keys)
                + len(self._write_keys)
                + len(self._case_subjects)
                + len(self._contact_subjects)
            )

    # --- set-up ---------------------------------------------------------------------------------

    def attach(self, db: KeyDatabase) -> None:
        """Use ``db`` (the ledger's database): create the tables if missing, check the key."""
        self._db = db
        meta = db.table(META_TABLE)
        with db.transaction(commit=True) as tx:
            if not self._tables_exist(db, tx, (KEYS_TABLE, CASES_TABLE, META_TABLE)):
                for statement in key_tables_ddl(db):
                    tx.execute(statement)
            else:
                for later, ddl in (
                    (LINKS_TABLE, links_table_ddl),
                    (CONTACTS_TABLE, contacts_table_ddl),
                ):
                    if not self._tables_exist(db, tx, (later,)):
                        for statement in ddl(db):
                            tx.execute(statement)
            if db.dialect == "postgresql":
                found = tx.fetchone(
                    "SELECT to_regprocedure(%(name)s) IS NOT NULL AS ok",
                    {"name": f"{db.table(DESTROY_FUNCTION)}(text, timestamptz)"},
                )
                self._destroy_function = bool(found and found["ok"])
            tx.execute(
                f"INSERT INTO {meta} (name, value) VALUES ('master_key_check', %(check)s) "  # noqa: S608
                "ON CONFLICT DO NOTHING",
                {"check": self._check},
            )
            row = tx.fetchone(
                f"SELECT value FROM {meta} WHERE name = 'master_key_check'"  # noqa: S608
            )
        if row is None or not hmac.compare_digest(str(row["value"]), self._check):
            raise MasterKeyError(
                "the master key is not the one this store's subject keys were made with "
                "(check VIGIL_MASTER_KEY / VIGIL_MASTER_KEY_FILE)"
            )

    @staticmethod
    def _tables_exist(db: KeyDatabase, tx: KeyTransaction, tables: Sequence[str]) -> bool:
        # Look before creating: CREATE ... IF NOT EXISTS needs CREATE on the schema even when the
        # table exists, which an application role without DDL rights lacks.
        if db.dialect == "postgresql":
            found = [
                tx.fetchone("SELECT to_regclass(%(name)s) AS oid", {"name": db.table(t)})
                for t in tables
            ]
            return all(row is not None and row["oid"] is not None for row in found)
        rows = tx.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
        return set(tables) <= {row["name"] for row in rows}

    def _database(self) -> KeyDatabase:
        if self._db is None:
            raise MasterKeyError("the keyring is not attached to a store")
        return self._db

    # --- naming subjects -------------------------------------------------------------------------

    def subject_hash(self, kind: str, ref: str) -> str:
        """A data subject's name in the key table: HMAC of ``kind:ref`` (not reversible)."""
        mac = hmac.new(self._name_key, f"{kind}\x1f{ref}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def aggregate_subject_hash(self, aggregate_id: UUID) -> str:
        """The 'subject' of personal data in an aggregate that is not a case (its own key)."""
        mac = hmac.new(self._name_key, f"aggregate\x1f{aggregate_id}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def fingerprint(self, message: bytes) -> str:
        """A keyed hash (HMAC-SHA-256) of a request, for idempotency: a request body holds
        personal text, and a plain hash stored in the log would let anyone holding a copy of
        the log confirm a guessed text, even after the subject's key was destroyed."""
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).hexdigest()

    def snapshot_mac(self, message: bytes) -> bytes:
        """A MAC (HMAC-SHA-256) over a snapshot as stored: only a process holding the master
        key can make one, so a snapshot inserted by anyone else is recognised and ignored."""
        return hmac.new(self._snapshot_key, message, hashlib.sha256).digest()

    # --- cases -----------------------------------------------------------------------------------

    def bind_case(self, case_id: UUID, subject_hash: str) -> None:
        """Remember the case's subject (its first event is being stored); first binding wins."""
        self._bind(CASES_TABLE, "case_id", self._case_subjects, case_id, subject_hash)

    def subject_of_case(self, case_id: UUID) -> str | None:
        return self._subject_of(CASES_TABLE, "case_id", self._case_subjects, case_id)

    def cases_of(self, subject_hashes: Iterable[str]) -> list[UUID]:
        """Every case bound to one of the subjects, in no particular order."""
        return self._bound_to(CASES_TABLE, "case_id", subject_hashes)

    def subjects_with_live_keys(self) -> dict[str, list[UUID]]:
        """Each subject that still has a live key, with its cases (for retention)."""
        db = self._database()
        with db.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT k.subject_hash AS subject_hash, c.case_id AS case_id "  # noqa: S608
                f"FROM {db.table(KEYS_TABLE)} k JOIN {db.table(CASES_TABLE)} c "
                "ON c.subject_hash = k.subject_hash WHERE k.destroyed_at IS NULL "
                "ORDER BY k.subject_hash, c.case_id"
            )
        subjects: dict[str, list[UUID]] = {}
        for row in rows:
            subjects.setdefault(str(row["subject_hash"]), []).append(UUID(str(row["case_id"])))
        return subjects

    def contact_subjects_with_live_keys(self) -> dict[str, list[UUID]]:
        """Each subject that still has a live key, with the helpline contacts bound to it (for
        retention: a named caller's, or an anonymous contact's own)."""
        db = self._database()
        with db.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT DISTINCT k.subject_hash AS subject_hash, "  # noqa: S608
                f"c.contact_id AS contact_id FROM {db.table(KEYS_TABLE)} k "
                f"JOIN {db.table(CONTACTS_TABLE)} c ON c.subject_hash = k.subject_hash "
                "WHERE k.destroyed_at IS NULL ORDER BY k.subject_hash, c.contact_id"
            )
        subjects: dict[str, list[UUID]] = {}
        for row in rows:
            subjects.setdefault(str(row["subject_hash"]), []).append(UUID(str(row["contact_id"])))
        return subjects

    # --- helpline contacts ----------------------------------------------------------------------

    def bind_contact(self, contact_id: UUID, subject_hash: str) -> None:
        """Remember the contact's subject (its logging is being stored): its caller's, or its
        own for an anonymous caller. First binding wins."""
        self._bind(CONTACTS_TABLE, "contact_id", self._contact_subjects, contact_id, subject_hash)

    def subject_of_contact(self, contact_id: UUID) -> str | None:
        return self._subject_of(CONTACTS_TABLE, "contact_id", self._contact_subjects, contact_id)

    def contacts_of(self, subject_hashes: Iterable[str]) -> list[UUID]:
        """Every contact bound to one of the subjects, in no particular order."""
        return self._bound_to(CONTACTS_TABLE, "contact_id", subject_hashes)

    # --- the bindings of cases and contacts to their subjects (tables and columns are this
    # module's constants; every value is a bound parameter) ----------------------------------

    def _bind(
        self, table: str, column: str, cache: _Recent[UUID, str], record_id: UUID, subject_hash: str
    ) -> None:
        with self._lock:
            if record_id in cache:
                return
        db = self._database()
        with db.transaction(commit=True) as tx:
            tx.execute(
                f"INSERT INTO {db.table(table)} ({column}, subject_hash) "  # noqa: S608
                "VALUES (%(id)s, %(subject_hash)s) ON CONFLICT DO NOTHING",
                {"id": str(record_id), "subject_hash": subject_hash},
            )
            row = tx.fetchone(
                f"SELECT subject_hash FROM {db.table(table)} WHERE {column} = %(id)s",  # noqa: S608
                {"id": str(record_id)},
            )
        assert row is not None
        with self._lock:
            cache.put(record_id, str(row["subject_hash"]))

    def _subject_of(
        self, table: str, column: str, cache: _Recent[UUID, str], record_id: UUID
    ) -> str | None:
        with self._lock:
            known = cache.get(record_id)
        if known is not None:
            return str(known)
        db = self._database()
        with db.transaction(commit=False) as tx:
            row = tx.fetchone(
                f"SELECT subject_hash FROM {db.table(table)} WHERE {column} = %(id)s",  # noqa: S608
                {"id": str(record_id)},
            )
        if row is None:
            return None
        with self._lock:
            cache.put(record_id, str(row["subject_hash"]))
        return str(row["subject_hash"])

    def _bound_to(self, table: str, column: str, subject_hashes: Iterable[str]) -> list[UUID]:
        hashes = sorted(set(subject_hashes))
        if not hashes:
            return []
        db = self._database()
        with db.transaction(commit=False) as tx:
            rows = [
                row
                for subject_hash in hashes
                for row in tx.fetchall(
                    f"SELECT {column} FROM {db.table(table)} "  # noqa: S608
                    "WHERE subject_hash = %(subject_hash)s",
                    {"subject_hash": subject_hash},
                )
            ]
        return sorted(UUID(str(row[column])) for row in rows)

    # --- keys of their own that name cases -----------------------------------------------------

    def link_cases(
        self,
        case_ids: Iterable[UUID],
        subject_hash: str,
        *,
        originator_id: UUID,
        originator_version: int,
    ) -> None:
        """Remember that the key of ``subject_hash`` seals text naming each case, in the event
        ``originator_id`` v``originator_version`` (being stored now); before it is stored, so
        an erasure never misses a stored event's key."""
        rows = [
            {
                "case_id": str(case_id),
                "subject_hash": subject_hash,
                "originator_id": str(originator_id),
                "originator_version": originator_version,
            }
            for case_id in dict.fromkeys(case_ids)
        ]
        if not rows:
            return
        db = self._database()
        with db.transaction(commit=True) as tx:
            for row in rows:
                tx.execute(
                    f"INSERT INTO {db.table(LINKS_TABLE)} (case_id, subject_hash, "  # noqa: S608
                    "originator_id, originator_version) VALUES (%(case_id)s, %(subject_hash)s, "
                    "%(originator_id)s, %(originator_version)s) ON CONFLICT DO NOTHING",
                    row,
                )

    def links_of(self, case_ids: Iterable[UUID]) -> list[CaseLink]:
        """Every link from one of the cases to a key of its own, in no particular order."""
        found: list[CaseLink] = []
        db = self._database()
        with db.transaction(commit=False) as tx:
            for case_id in sorted(set(case_ids)):
                for row in tx.fetchall(
                    "SELECT case_id, subject_hash, originator_id, originator_version "  # noqa: S608
                    f"FROM {db.table(LINKS_TABLE)} WHERE case_id = %(case_id)s",
                    {"case_id": str(case_id)},
                ):
                    found.append(
                        CaseLink(
                            case_id=UUID(str(row["case_id"])),
                            subject_hash=str(row["subject_hash"]),
                            originator_id=UUID(str(row["originator_id"])),
                            originator_version=int(row["originator_version"]),
                        )
                    )
        return found

    # --- keys ------------------------------------------------------------------------------------

    def key_for_writing(self, subject_hash: str) -> DataKey:
        """The subject's live key, made now if it has none (first record, or after erasure).

        Reused from memory for ``cache_seconds``: a key destroyed by another process may be
        written under for at most that long (what is written then reads as erased), the same
        bound within which that process's readers may still decrypt. Destruction in this
        process takes effect at once.
        """
        with self._lock:
            cached = self._write_keys.get(subject_hash)
        if cached is not None and self._monotonic() - cached[1] < self._cache_seconds:
            return cached[0]
        db = self._database()
        keys = db.table(KEYS_TABLE)
        select = (
            f"SELECT key_id, wrapped_key FROM {keys} "  # noqa: S608
            "WHERE subject_hash = %(subject_hash)s AND destroyed_at IS NULL"
        )
        params = {"subject_hash": subject_hash}
        with db.transaction(commit=False) as tx:
            row = tx.fetchone(select, params)
        if row is None:
            new_key = AESGCM.generate_key(bit_length=256)
            with db.transaction(commit=True) as tx:
                # The unique index on live keys settles a race between two first writers.
                tx.execute(
                    f"INSERT INTO {keys} (key_id, subject_hash, wrapped_key, created_at) "  # noqa: S608
                    "VALUES (%(key_id)s, %(subject_hash)s, %(wrapped)s, %(now)s) "
                    "ON CONFLICT DO NOTHING",
                    {
                        "key_id": uuid4().hex,
                        "subject_hash": subject_hash,
                        "wrapped": aes_key_wrap(self._wrap_key, new_key),
                        "now": self._encode_time(self._clock()),
                    },
                )
                row = tx.fetchone(select, params)
            assert row is not None
        key_id = str(row["key_id"])
        aead = self._cached(key_id, fresh_only=False)
        if aead is None:
            aead = self._unwrap(key_id, row["wrapped_key"])
        live = DataKey(key_id=key_id, aead=aead)
        with self._lock:
            self._write_keys.put(subject_hash, (live, self._monotonic()))
        return live

    def key_for_reading(self, key_id: str) -> AESGCM | None:
        """The key to decrypt with, or None if it has been destroyed (the data is erased)."""
        with self._lock:
            cached = self._keys.get(key_id)
        if cached is not None and (
            cached[0] is None or self._monotonic() - cached[1] < self._cache_seconds
        ):
            return cached[0]
        db = self._database()
        with db.transaction(commit=False) as tx:
            row = tx.fetchone(
                f"SELECT wrapped_key, destroyed_at FROM {db.table(KEYS_TABLE)} "  # noqa: S608
                "WHERE key_id = %(key_id)s",
                {"key_id": key_id},
            )
        if row is None or row["wrapped_key"] is None or row["destroyed_at"] is not None:
            with self._lock:
                self._keys.put(key_id, (None, self._monotonic()))
            return None
        if cached is not None and cached[0] is not None:
            with self._lock:
                self._keys.put(key_id, (cached[0], self._monotonic()))
            return cached[0]
        return self._unwrap(key_id, row["wrapped_key"])

    def _cached(self, key_id: str, *, fresh_only: bool) -> AESGCM | None:
        with self._lock:
            cached = self._keys.get(key_id)
        if cached is None or cached[0] is None:
            return None
        if fresh_only and self._monotonic() - cached[1] >= self._cache_seconds:
            return None
        return cached[0]

    def _unwrap(self, key_id: str, wrapped: Any) -> AESGCM:
        try:
            data_key = aes_key_unwrap(self._wrap_key, bytes(wrapped))
        except InvalidUnwrap:
            raise MasterKeyError(
                f"subject key {key_id} does not unwrap under this master key"
            ) from None
        aead = AESGCM(data_key)
        with self._lock:
            self._keys.put(key_id, (aead, self._monotonic()))
        return aead

    def keys_of(self, subject_hashes: Iterable[str]) -> list[KeyRecord]:
        """Every key the subjects ever had, live or destroyed, oldest first."""
        db = self._database()
        records: list[KeyRecord] = []
        with db.transaction(commit=False) as tx:
            for subject_hash in sorted(set(subject_hashes)):
                for row in tx.fetchall(
                    f"SELECT key_id, subject_hash, created_at, destroyed_at "  # noqa: S608
                    f"FROM {db.table(KEYS_TABLE)} WHERE subject_hash = %(subject_hash)s",
                    {"subject_hash": subject_hash},
                ):
                    records.append(
                        KeyRecord(
                            key_id=str(row["key_id"]),
                            subject_hash=str(row["subject_hash"]),
                            created_at=self._decode_time(row["created_at"]),
                            destroyed_at=None
                            if row["destroyed_at"] is None
                            else self._decode_time(row["destroyed_at"]),
                        )
                    )
        return sorted(records, key=lambda r: (r.created_at, r.key_id))

    def destroyed_key_ids(self) -> list[str]:
        """Every key that reads as destroyed (its wrapped key gone, or a destruction time set),
        however it came to be so: ``vigil verify`` holds each against a recorded erasure."""
        db = self._database()
        with db.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT key_id FROM {db.table(KEYS_TABLE)} "  # noqa: S608
                "WHERE wrapped_key IS NULL OR destroyed_at IS NOT NULL ORDER BY key_id"
            )
        return [str(row["key_id"]) for row in rows]

    def destroy(self, subject_hashes: Sequence[str]) -> list[str]:
        """Destroy the subjects' live keys (crypto-shredding): their ids, oldest first.

        The wrapped key is overwritten with NULL, the row kept with ``destroyed_at`` so the
        store can tell erased data from a missing key. Effective at once in this process.
        """
        db = self._database()
        keys = db.table(KEYS_TABLE)
        destroyed: list[str] = []
        now = self._encode_time(self._clock())
        with db.transaction(commit=True) as tx:
            if db.dialect == "sqlite":
                # Zero freed space so the old wrapped key does not linger in the file's pages.
                tx.execute("PRAGMA secure_delete = ON")
            for subject_hash in sorted(set(subject_hashes)):
                if self._destroy_function:
                    # The application role may not update the key table: the owner's function
                    # destroys only keys an erasure recorded in the log names.
                    rows = tx.fetchall(
                        f"SELECT key_id FROM {db.table(DESTROY_FUNCTION)}"  # noqa: S608
                        "(%(subject_hash)s, %(now)s) AS key_id",
                        {"subject_hash": subject_hash, "now": now},
                    )
                    destroyed.extend(str(row["key_id"]) for row in rows)
                    continue
                rows = tx.fetchall(
                    f"SELECT key_id FROM {keys} WHERE subject_hash = %(subject_hash)s "  # noqa: S608
                    "AND destroyed_at IS NULL",
                    {"subject_hash": subject_hash},
                )
                tx.execute(
                    f"UPDATE {keys} SET wrapped_key = NULL, destroyed_at = %(now)s "  # noqa: S608
                    "WHERE subject_hash = %(subject_hash)s AND destroyed_at IS NULL",
                    {"subject_hash": subject_hash, "now": now},
                )
                destroyed.extend(str(row["key_id"]) for row in rows)
        with self._lock:
            for key_id in destroyed:
                self._keys.put(key_id, (None, self._monotonic()))
            for subject_hash in subject_hashes:
                self._write_keys.pop(subject_hash)
        return destroyed

    def _encode_time(self, value: datetime) -> Any:
        db = self._database()
        return value if db.dialect == "postgresql" else value.isoformat(timespec="microseconds")

    @staticmethod
    def _decode_time(value: Any) -> datetime:
        return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


# --- sealing values ----------------------------------------------------------------------------

ENVELOPE_PREFIX = "vgl1:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(key: DataKey, plaintext: bytes, associated: bytes) -> str:
    """``vgl1:<key id>:<nonce>:<ciphertext and tag>`` (AES-256-GCM, base64url)."""
    nonce = secrets.token_bytes(12)
    sealed = key.aead.encrypt(nonce, plaintext, associated)
    return f"{ENVELOPE_PREFIX}{key.key_id}:{_b64(nonce)}:{_b64(sealed)}"


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(ENVELOPE_PREFIX)


def envelope_key_id(envelope: str) -> str:
    return envelope[len(ENVELOPE_PREFIX) :].split(":", 1)[0]


def open_sealed(aead: AESGCM, envelope: str, associated: bytes) -> bytes:
    try:
        _, nonce, sealed = envelope[len(ENVELOPE_PREFIX) :].split(":")
        return aead.decrypt(_unb64(nonce), _unb64(sealed), associated)
    except (ValueError, InvalidTag):
        raise MasterKeyError("a sealed personal field does not decrypt (tampered?)") from None
