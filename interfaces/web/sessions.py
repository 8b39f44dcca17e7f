"""The web UI's sessions: a table of its own beside the event log.

A session is not a fact of the record (signing in decides nothing), so it is not an event: it
is the process's own state, like a view's table, and the application role creates it at start
(it has CREATE on Vigil's schema; ``vigil db init`` needs no change). Unlike the log it is
updated: ``last_seen_at`` on every request, ``ended_at`` at sign-out or expiry.

The cookie holds a random session id (``secrets.token_urlsafe(32)``); the table holds only an
HMAC of it under a key derived from the master key, so a reader of the table cannot take a
session over. It also holds the user and the id of the API token they signed in with (never the
token), checked against the identity service on every request, and the session's CSRF token.

The application role can write this table, so each row also carries a MAC, under the same key,
of what it grants (its id's HMAC, the user, the token's id, the CSRF token, when it began): a
row planted or edited by anyone without the master key (a leaked database URL) is refused as no
session at all. ``last_seen_at`` is not covered: editing it can only keep a session alive until
its absolute expiry, counted from the covered ``created_at``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from projections.store import ViewStore

SESSIONS_TABLE = "vigil_ui_sessions"
TOUCH_EVERY = timedelta(minutes=1)


def _mac(key: bytes, *parts: str) -> str:
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


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

    def __init__(self, db: ViewStore, *, key: bytes, idle: timedelta, max_age: timedelta) -> None:
        self._db = db
        self._key = key
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
                "end_reason TEXT, row_mac TEXT NOT NULL)"
            )
            tx.execute(
                f"CREATE INDEX IF NOT EXISTS {self._db.index(SESSIONS_TABLE + '_user')} "
                f"ON {self._table} (username) WHERE ended_at IS NULL"
            )

    def _digest(self, session_id: str) -> str:
        return _mac(self._key, "session", session_id)

    def _row_mac(
        self, session_hash: str, username: str, credential: str, csrf: str, at: str
    ) -> str:
        return _mac(self._key, "row", session_hash, username, credential, csrf, at)

    def begin(self, username: str, credential_id: UUID, at: datetime) -> NewSession:
        session_id = secrets.token_urlsafe(32)
        session = UiSession(
            session_hash=self._digest(session_id),
            username=username,
            credential_id=credential_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=at,
            last_seen_at=at,
        )
        db = self._db
        encoded = db.encode_time(at)
        with db.transaction(commit=True) as tx:
            tx.execute(
                f"INSERT INTO {self._table} (session_hash, username, credential_id, csrf_token, "  # noqa: S608
                "created_at, last_seen_at, row_mac) "
                "VALUES (%(h)s, %(u)s, %(c)s, %(csrf)s, %(at)s, %(at)s, %(mac)s)",
                {
                    "h": session.session_hash,
                    "u": username,
                    "c": str(credential_id),
                    "csrf": session.csrf_token,
                    "at": encoded,
                    "mac": self._row_mac(
                        session.session_hash,
                        username,
                        str(credential_id),
                        session.csrf_token,
                        at.isoformat(),
                    ),
                },
            )
        return NewSession(session_id=session_id, session=session)

    def find(self, session_id: str, at: datetime) -> UiSession | None:
        """The live session with this id at ``at``; one past its idle or absolute expiry is
        ended here (and None)."""
        db = self._db
        digest = self._digest(session_id)
        with db.transaction(commit=False) as tx:
            row = tx.fetchone(
                "SELECT session_hash, username, credential_id, csrf_token, created_at, "  # noqa: S608
                f"last_seen_at, row_mac FROM {self._table} "
                "WHERE session_hash = %(h)s AND ended_at IS NULL",
                {"h": digest},
            )
        if row is None:
            return None
        created_at = db.decode_time(row["created_at"])
        last_seen_at = db.decode_time(row["last_seen_at"])
        assert created_at is not None
        assert last_seen_at is not None
        expected = self._row_mac(
            digest,
            str(row["username"]),
            str(row["credential_id"]),
            str(row["csrf_token"]),
            created_at.isoformat(),
        )
        if not hmac.compare_digest(expected, str(row["row_mac"])):
            return None  # not a row Vigil wrote (or one edited since): no session
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
        """The session was used at ``at``: its idle time starts again (written at most once a
        minute: every page view need not take the store's write lock)."""
        if at - session.last_seen_at < TOUCH_EVERY:
            return
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

    def purge_expired(self, at: datetime) -> None:
        """Delete the rows of sessions begun longer ago than the absolute expiry: whatever else
        happened to them, they are over (the table is process state, not the record). Called
        at each sign-in, so the table stays as small as the sessions of the last hours."""
        db = self._db
        with db.transaction(commit=True) as tx:
            tx.execute(
                f"DELETE FROM {self._table} WHERE created_at <= %(before)s",  # noqa: S608
                {"before": db.encode_time(at - self.max_age)},
            )
