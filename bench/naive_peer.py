"""THE BASELINE, not part of Vigil: a naive note-writing service that ``bench/write_path.py``
measures Vigil's note write against (issue 18).

What a small team would write first: a FastAPI app with plain ``def`` endpoints that checks a
bearer token (the SHA-256 of the token compared with a stored hash) and does ONE INSERT and one
commit per request into a ``notes`` table (case id, text, created_at). Nothing else: no sealing,
no idempotency, no concurrency control, no hash ledger, no access log, no views.

- PostgreSQL: psycopg with a small connection pool (``--pool``, default 8), the table in a
  schema of its own (``?schema=NAME`` in the URL, created if missing);
- SQLite: one connection per request thread, WAL journal (as Vigil's store), a busy timeout.

Served by uvicorn in its own process, as ``vigil serve`` serves Vigil:

    python bench/naive_peer.py --database-url URL --token-sha256 HEX [--host H] [--port P]

``POST /cases/{case_id}/notes`` with ``{"text": "..."}`` answers 201 ``{"id": N}``;
``GET /health`` answers 200.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse
from uuid import UUID

import uvicorn
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

CREATE_POSTGRES = (
    "CREATE TABLE IF NOT EXISTS notes (id BIGSERIAL PRIMARY KEY, case_id UUID NOT NULL, "
    "text TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL)"
)
CREATE_SQLITE = (
    "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, case_id TEXT NOT NULL, "
    "text TEXT NOT NULL, created_at TEXT NOT NULL)"
)


class Note(BaseModel):
    text: str


# One note written: the answer's id.
Write = Callable[[UUID, str], int | str]


def postgres_target(url: str) -> tuple[dict[str, str], str]:
    """The connection parameters and the schema (``?schema=NAME``, default public) of a URL."""
    parsed = urlparse(url)
    params = {
        "host": parsed.hostname or "127.0.0.1",
        "port": str(parsed.port or 5432),
        "dbname": parsed.path.lstrip("/") or "postgres",
        "user": parsed.username or "postgres",
        "password": parsed.password or "",
    }
    return params, parse_qs(parsed.query).get("schema", ["public"])[0]


def conninfo_of(params: dict[str, str]) -> str:
    return " ".join(f"{key}={value}" for key, value in params.items() if value)


def create_schema(params: dict[str, str], schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(conninfo_of(params), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def postgres_inserter(url: str, pool_size: int) -> Write:
    import psycopg
    from psycopg import sql
    from psycopg_pool import ConnectionPool

    params, schema = postgres_target(url)
    create_schema(params, schema)
    conninfo = conninfo_of(params)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(CREATE_POSTGRES)
    pool = ConnectionPool(
        conninfo,
        min_size=pool_size,
        max_size=pool_size,
        kwargs={"options": f"-c search_path={schema}"},
        open=True,
    )
    pool.wait()

    def insert(case_id: UUID, text: str) -> int:
        with pool.connection() as conn:  # commits on leaving the block
            row = conn.execute(
                "INSERT INTO notes (case_id, text, created_at) VALUES (%s, %s, %s) RETURNING id",
                (case_id, text, datetime.now(UTC)),
            ).fetchone()
        assert row is not None
        return int(row[0])

    return insert


def sqlite_inserter(url: str) -> Write:
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(CREATE_SQLITE)
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(path, timeout=30, check_same_thread=True)
            local.conn = conn
        return conn

    def insert(case_id: UUID, text: str) -> int:
        conn = connection()
        with conn:  # one transaction, committed on leaving the block
            cursor = conn.execute(
                "INSERT INTO notes (case_id, text, created_at) VALUES (?, ?, ?)",
                (str(case_id), text, datetime.now(UTC).isoformat()),
            )
        return int(cursor.lastrowid or 0)

    return insert


def inserter(database_url: str, pool_size: int) -> Write:
    """The peer's write: one INSERT and one commit."""
    if database_url.startswith("postgres"):
        return postgres_inserter(database_url, pool_size)
    if database_url.startswith("sqlite:///"):
        return sqlite_inserter(database_url)
    raise SystemExit("naive_peer: a postgresql:// or sqlite:/// URL")


def create_app(write: Write, token_sha256: str) -> FastAPI:
    """The note service around ``write``: the token check, the note route and /health."""
    stored = bytes.fromhex(token_sha256)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    def check(authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        digest = hashlib.sha256(token.encode()).digest()
        if scheme.lower() != "bearer" or not hmac.compare_digest(digest, stored):
            raise HTTPException(status_code=401, detail="unauthenticated")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/cases/{case_id}/notes", status_code=201)
    def add_note(
        case_id: UUID, note: Note, authorization: str | None = Header(default=None)
    ) -> dict[str, Any]:
        check(authorization)
        return {"id": write(case_id, note.text)}

    return app


def serve(make_write: Callable[[str, int], Write], description: str, port: int) -> None:
    """Parse the command line and serve ``make_write(database_url, pool)`` under uvicorn."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--token-sha256", required=True, help="hex SHA-256 of the bearer token")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--pool", type=int, default=8, help="PostgreSQL connections")
    args = parser.parse_args()
    app = create_app(make_write(args.database_url, args.pool), args.token_sha256)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


def main() -> None:
    serve(inserter, "The naive peer (baseline) of bench/write_path.py", 8001)


if __name__ == "__main__":
    main()
