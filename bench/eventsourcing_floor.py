"""THE FLOOR, not part of Vigil: the cheapest append Vigil's event store library can make, behind
the naive peer's web app and token check; ``bench/write_path.py`` measures it beside Vigil and
the peer (issue 18), to show how much of the gap between them is the stack itself rather than
Vigil's own work.

The app, its ``POST /cases/{case_id}/notes`` with ``{"text": "..."}`` and its token check are
the naive peer's (``bench/naive_peer.py``: FastAPI, plain ``def`` endpoints, the SHA-256 of a
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

from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from naive_peer import Write, create_schema, postgres_target, serve  # bench/, beside this


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
    params, schema = postgres_target(database_url)
    create_schema(params, schema)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        **{f"POSTGRES_{key.upper()}": value for key, value in params.items()},
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": str(pool_size),
        "CREATE_TABLE": "y",
    }


def saver(database_url: str, pool_size: int) -> Write:
    """The floor's write: one new aggregate saved."""
    notes: Application[UUID] = Application(env=store_env(database_url, pool_size))

    def write(case_id: UUID, text: str) -> str:
        note = CaseNote(str(case_id), text)
        notes.save(note)
        return str(note.id)

    return write


def main() -> None:
    serve(saver, "The floor of bench/write_path.py", 8002)


if __name__ == "__main__":
    main()
