"""When the store cannot be reached: one exception for every route and command, and a reason a
person can act on, in one line.

Connection failures are translated here, next to the store, into ``StoreUnavailable``: the HTTP
layer maps that one class to 503 ``store-unavailable`` and the command line to exit 1. It is a
``PersistenceError`` but not eventsourcing's ``OperationalError``, so the recorders' retry (ten
attempts, each waiting for a connection) does not multiply the wait: a request meets an
unreachable store once, for at most ``VIGIL_STORE_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import os
import re
import select
import sqlite3
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg_pool import ConnectionPool, PoolTimeout

from infrastructure.files import make_private_dir

# What SQLite says when the file cannot be opened, written or locked in time: the store is
# unavailable, 503 (a corrupt file is not: that is a fault to look at, not to retry). A read-only
# file is unavailable too (SQLite refuses before changing anything, so a retry once it is
# writable is safe) but does not pass by itself: it is logged as an error. A disk I/O error is
# not here: it may strike during a commit, so nothing can be said of the write; it is a 500
# ("nothing can be assumed written: read the case to check"), logged with its traceback.
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "unable to open database file",
    "attempt to write a readonly database",
)
_SQLITE_NOT_PASSING = ("attempt to write a readonly database",)
RETRY_INTERVAL_SECONDS = 0.5
_LIBPQ_PREFIXES = re.compile(
    r'^(connection failed: )?(connection to server at "[^"]*"( \([^)]*\))?, port \d+ failed: )?'
)


class StoreUnavailable(PersistenceError):
    """The store does not answer (nothing listening, refused, locked, unwritable) in time."""

    def __init__(self, reason: str, *, transient: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        """False when it will not pass without an operator (a read-only file): logged as an
        error, not a warning."""


def postgres_reason(exc: BaseException, *, host: str, port: int | str) -> str:
    """libpq's account of a failed connection, in one line that names what is wrong and where.

    libpq sets no SQLSTATE on a connection refused at start-up, so its message is all there is:
    ``connection failed: connection to server at "h", port p failed: FATAL:  database "x" does
    not exist``, or ``...failed: Connection refused\\n\\tIs the server running...``.
    """
    where = f"{host}:{port}"
    text = _LIBPQ_PREFIXES.sub("", str(exc).strip()).split("\n", 1)[0].strip()
    text = re.sub(r"^(FATAL|ERROR):\s+", "", text)
    lowered = text.lower()
    if "connection refused" in lowered:
        return f"nothing is listening at {where} (connection refused)"
    if "timeout expired" in lowered or "timed out" in lowered:
        return f"no answer from {where} in time ({text})"
    if not text:
        return f"no connection to {where}"
    return f"{text} on {where}"


def is_sqlite_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) says the SQLite file is out of reach."""
    seen: BaseException | None = exc
    while seen is not None:
        message = str(seen).lower()
        if isinstance(seen, sqlite3.Error | PersistenceError) and any(
            text in message for text in _SQLITE_UNAVAILABLE
        ):
            return True
        seen = seen.__cause__
    return False


def is_sqlite_not_passing(exc: BaseException) -> bool:
    """Whether an unavailable SQLite store needs an operator (a file it may not write)."""
    message = str(exc).lower()
    return any(text in message for text in _SQLITE_NOT_PASSING)


def is_pool_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is the pool giving up on a connection."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PoolTimeout):
            return True
        seen = seen.__cause__
    return False


def check_postgres(
    conninfo: str, *, host: str, port: int | str, attempt_timeout: int, within: float
) -> None:
    """Connect directly, trying again for ``within`` seconds (a server starting up, or out of
    connection slots, may answer a moment later), and say in one line why the last attempt
    failed: the pool would only say that it got no connection in time."""
    deadline = time.monotonic() + within
    while True:
        try:
            with psycopg.connect(conninfo, connect_timeout=attempt_timeout):
                return
        except psycopg.Error as exc:
            if time.monotonic() + RETRY_INTERVAL_SECONDS >= deadline:
                raise StoreUnavailable(postgres_reason(exc, host=host, port=port)) from exc
        time.sleep(RETRY_INTERVAL_SECONDS)


def check_sqlite_directory(database: Path) -> None:
    """Make the SQLite file's directory if missing (owner-only), and check it can be written
    (SQLite keeps its write-ahead log beside the file): else say which directory and why, in
    one line."""
    directory = database.parent
    try:
        make_private_dir(directory)
    except OSError as exc:
        raise StoreUnavailable(
            f"cannot create the data directory {directory}: {_strerror(exc)}"
        ) from exc
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise StoreUnavailable(
            f"cannot write to the data directory {directory}: {_strerror(exc)}"
        ) from exc
    if database.exists() and not os.access(database, os.R_OK | os.W_OK):
        raise StoreUnavailable(f"cannot read and write the database file {database}")


def _strerror(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def check_idle_connection(conn: psycopg.Connection[Any], pool: ConnectionPool[Any]) -> None:
    """The pool's check of a connection it is about to hand out, with no round trip unless the
    connection has something to say: an idle connection the server has since closed (its
    backend terminated, the server shutting down or restarting) has the server's goodbye
    waiting on its socket, or is closed already. Only then is it asked (an empty statement).

    A failed check makes the pool discard it and hand out another, before anything was sent,
    so no statement is ever run twice. As what ended one has likely ended the others (a
    restart), the pool's idle connections are checked then too (``ConnectionPool.check``):
    the pool waits longer after each failed check (1 s, 2 s, ...), so a pool of dead
    connections would otherwise outlast the caller's timeout. A connection lost silently (no
    goodbye) fails on use, as it would a moment after a ping: ``StoreUnavailable``."""
    if conn.closed or conn.broken:
        pool.check()
        raise psycopg.OperationalError("the connection is closed")
    poll = select.poll()
    poll.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if poll.poll(0):
        try:
            ConnectionPool.check_connection(conn)
        except psycopg.Error:
            pool.check()
            raise


def check_idle_connections(datastore: Any) -> None:
    """Make the PostgreSQL pool of ``datastore`` check connections it hands out by
    ``check_idle_connection`` (``POSTGRES_PRE_PING`` is off: eventsourcing's pre-ping costs a
    round trip for every checkout). The pool takes its check only when built, by eventsourcing,
    so it is set on the built pool (psycopg_pool 3.3 keeps it in ``_check``)."""
    pool = getattr(datastore, "pool", None)
    if isinstance(pool, ConnectionPool):
        assert hasattr(pool, "_check"), "psycopg_pool keeps its check elsewhere now"
        pool._check = partial(check_idle_connection, pool=pool)  # private: see the docstring
