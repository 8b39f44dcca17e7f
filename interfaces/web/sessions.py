"""The web UI's sessions: a table of its own beside the event log.

A session is not a fact of the record (signing in decides nothing), so it is not an event: it
is the process's own state, like a view's table, and the application role creates it at start
(it has CREATE on Vigil's schema; ``vigil db init`` needs no change). Unlike the log it is
updated: ``last_seen_at`` on every request, ``ended_at`` at sign-out or expiry.

The cookie holds a random session id (``secrets.token_urlsafe(32)``); the table holds only its
SHA-256, so a reader of the table cannot take a session over. It also holds the user and the
id of the API token they signed in with (never the token), checked against the identity
service on every request, and the session's CSRF token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from projections.store import ViewStore

SESSIONS_TABLE = "vigil_ui_sessions"


def _digest(session_id: str) -> str:
    # The id is 256 random bits: a fast hash is enough (there is no dictionary to attack).
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class UiSession:
    """A live session as its row holds it."""

    session_hash: str
    username: str
    credential_id: UUID
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class NewSession:
    """A session just begun: ``session_id`` goes into the cookie and is kept nowhere else."""

    session_id: str
    session: UiSession


class SessionStore:
    """The sessions table: begin, find (live, unexpired), touch, end."""

    def __init__(self, db: ViewStore, *, idle: timedelta, max_age: timedelta) -> None:
        self._db = db
        self.idle = idle
        self.max_age = max_age
        self._table = db.table(SESSIONS_TABLE)

    def setup(self) -> None:
        """Create the table if it is missing (every start; idempotent)."""
        t = self._db.time_type
        with self._db.transaction(commit=True) as tx:
            self._db.setup_lock(tx)
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {self._table} ("
                "session_hash TEXT PRIMARY KEY, username TEXT NOT NULL, "
                "credential_id TEXT NOT NULL, csrf_token TEXT NOT NULL, "
                f"created_at {t} NOT NULL, last_seen_at {t} NOT NULL, ended_at {t}, "
                "end_reason TEXT)"
            )
            tx.execute(
                f"CREATE INDEX IF NOT EXISTS {self._db.index(SESSIONS_TABLE + '_user')} "
                f"ON {self._table} (username) WHERE ended_at IS NULL"
            )

    def begin(self, username: str, credential_id: UUID, at: datetime) -> NewSession:
        session_id = secrets.token_urlsafe(32)
        session = UiSession(
            session_hash=_digest(session_id),
            username=username,
            credential_id=credential_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=at,
            last_seen_at=at,
        )
        db = self._db
        with db.transaction(commit=True) as tx:
            tx.execute(
                f"INSERT INTO {self._table} (session_hash, username, credential_id, csrf_token, "  # noqa: S608
                "created_at, last_seen_at) VALUES (%(h)s, %(u)s, %(c)s, %(csrf)s, %(at)s, %(at)s)",
                {
                    "h": session.session_hash,
                    "u": username,
                    "c": str(credential_id),
                    "csrf": session.csrf_token,
                    "at": db.encode_time(at),
                },
            )
        return NewSession(session_id=session_id, session=session)

    def find(self, session_id: str, at: datetime) -> UiSession | None:
        """The live session with this id at ``at``; one past its idle or absolute expiry is
        ended here (and None)."""
        db = self._db
        digest = _digest(session_id)
        with db.transaction(commit=False) as tx:
            row = tx.fetchone(
                "SELECT session_hash, username, credential_id, csrf_token, created_at, "  # noqa: S608
                f"last_seen_at FROM {self._table} "
                "WHERE session_hash = %(h)s AND ended_at IS NULL",
                {"h": digest},
            )
        if row is None:
            return None
        created_at = db.decode_time(row["created_at"])
        last_seen_at = db.decode_time(row["last_seen_at"])
        assert created_at is not None
        assert last_seen_at is not None
        if at - last_seen_at >= self.idle:
            self.end(digest, at, reason="idle")
            return None
        if at - created_at >= self.max_age:
            self.end(digest, at, reason="expired")
            return None
        return UiSession(
            session_hash=digest,
            username=str(row["username"]),
            credential_id=UUID(str(row["credential_id"])),
            csrf_token=str(row["csrf_token"]),
            created_at=created_at,
            last_seen_at=last_seen_at,
        )

    def touch(self, session: UiSession, at: datetime) -> None:
        """The session was used at ``at``: its idle time starts again."""
        db = self._db
        with db.transaction(commit=True) as tx:
            tx.execute(
                f"UPDATE {self._table} SET last_seen_at = %(at)s "  # noqa: S608
                "WHERE session_hash = %(h)s AND ended_at IS NULL AND last_seen_at < %(at)s",
                {"h": session.session_hash, "at": db.encode_time(at)},
            )

    def end(self, session_hash: str, at: datetime, *, reason: str) -> None:
        """End a session (sign-out, expiry, or its credential no longer valid)."""
        db = self._db
        with db.transaction(commit=True) as tx:
            tx.execute(
                f"UPDATE {self._table} SET ended_at = %(at)s, end_reason = %(r)s "  # noqa: S608
                "WHERE session_hash = %(h)s AND ended_at IS NULL",
                {"h": session_hash, "at": db.encode_time(at), "r": reason},
            )
