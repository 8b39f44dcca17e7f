"""THE FLOOR, not part of Vigil: the cheapest append Vigil's event store library can make, behind
the same web framework and token check as the naive peer; ``bench/write_path.py`` measures it
beside Vigil and the peer (issue 18), to show how much of the gap between them is the stack
itself rather than Vigil's own work.

``POST /cases/{case_id}/notes`` with ``{"text": "..."}`` is exactly the naive peer's request
(``bench/naive_peer.py``: a FastAPI app with plain ``def`` endpoints checking the SHA-256 of a
bearer token). Where the peer does one INSERT, this one saves one new eventsourcing aggregate
(``CaseNote``): one event at version 1, so there is nothing to read before the write, through
``eventsourcing.application.Application.save`` with the library's defaults (its JSON
transcoder; no cipher, no compression, no snapshots, no followers): on PostgreSQL its insert
takes the events table's EXCLUSIVE lock and commits, as each of Vigil's transactions does; on
SQLite it is the library's single writer. No sealing, idempotency, access log, hash ledger,
views or group commit.

    python bench/eventsourcing_floor.py --database-url URL --token-sha256 HEX [--port P]

PostgreSQL: the tables in the URL's ``?schema=NAME`` (created if missing), a pool of
``--pool`` connections (default 8, as the peer's). SQLite: a file.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs, urlparse
from uuid import UUID

import psycopg
import uvicorn
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from fastapi import FastAPI, Header, HTTPException
from psycopg import sql
from pydantic import BaseModel


class Note(BaseModel):
    text: str


class CaseNote(Aggregate):
    """A note as an aggregate of its own: its one event is all a write appends."""

    @event("Written")
    def __init__(self, case_id: str, text: str) -> None:
        self.case_id = case_id
        self.text = text


def store_env(database_url: str, pool_size: int) -> dict[str, str]:
    """The library's own settings for the store at ``database_url``."""
    if database_url.startswith("sqlite:///"):
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": database_url.removeprefix("sqlite:///"),
            "CREATE_TABLE": "y",
        }
    if not database_url.startswith("postgres"):
        raise SystemExit("eventsourcing_floor: a postgresql:// or sqlite:/// URL")
    parsed = urlparse(database_url)
    schema = parse_qs(parsed.query).get("schema", ["public"])[0]
    conninfo = (
        f"host={parsed.hostname or '127.0.0.1'} port={parsed.port or 5432} "
        f"dbname={parsed.path.lstrip('/') or 'postgres'} user={parsed.username or 'postgres'}"
        + (f" password={parsed.password}" if parsed.password else "")
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parsed.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parsed.port or 5432),
        "POSTGRES_USER": parsed.username or "postgres",
        "POSTGRES_PASSWORD": parsed.password or "",
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": str(pool_size),
        "CREATE_TABLE": "y",
    }


def create_app(database_url: str, token_sha256: str, pool_size: int = 8) -> FastAPI:
    notes: Application[UUID] = Application(env=store_env(database_url, pool_size))
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
        written = CaseNote(str(case_id), note.text)
        notes.save(written)
        return {"id": str(written.id)}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="The floor of bench/write_path.py")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--token-sha256", required=True, help="hex SHA-256 of the bearer token")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--pool", type=int, default=8, help="PostgreSQL connections")
    args = parser.parse_args()
    app = create_app(args.database_url, args.token_sha256, args.pool)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
