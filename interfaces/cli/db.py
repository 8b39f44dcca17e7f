"""``vigil db``: set the database up as its owner."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

import psycopg
import typer
from eventsourcing.persistence import PersistenceError

from infrastructure.availability import StoreUnavailable, postgres_reason
from infrastructure.db_admin import InitRefused, init_store
from infrastructure.event_log import EventLog
from infrastructure.keys import DESTROY_FUNCTION, KEYS_TABLE
from infrastructure.persistence import UnsupportedDatabaseURL
from interfaces.cli.common import EXIT_USAGE, fail, load_settings
from interfaces.composition import setup_owner_tables
from projections.notary import GUARDED_TABLES

db_app = typer.Typer(help="The database: set it up as its owner.", no_args_is_help=True)


@db_app.command("init")
def db_init(
    owner_url: Annotated[
        str | None,
        typer.Option(
            help="Connect as this owner (default VIGIL_DB_OWNER_URL, else VIGIL_DATABASE_URL). "
            "Prefer the setting: a password on the command line shows in the process list."
        ),
    ] = None,
    app_role: Annotated[
        str | None,
        typer.Option(
            help="The role Vigil runs as (default VIGIL_DB_APP_ROLE, else VIGIL_DATABASE_URL's "
            "user when it is not the owner). Its password: VIGIL_DB_APP_PASSWORD or that URL's."
        ),
    ] = None,
) -> None:
    """Create the event log and the hash ledger's tables append-only (triggers) and the role
    Vigil runs as; idempotent."""
    settings = load_settings()
    try:
        report = init_store(
            settings,
            log_name=EventLog.name,
            owner_url=owner_url,
            app_role=app_role,
            # The hash ledger's tables too, as the owner: the app role only appends to them.
            append_only_tables=GUARDED_TABLES,
            create_tables=setup_owner_tables,
            # The subject keys: the app role reads and adds them, and destroys them only
            # through the owner's function, which wants the erasure in the log first.
            owner_tables=[KEYS_TABLE],
            owner_functions=[f"{DESTROY_FUNCTION}(text, timestamptz)"],
        )
    except InitRefused as exc:
        fail(str(exc))
    except UnsupportedDatabaseURL as exc:
        fail(str(exc), EXIT_USAGE)
    except StoreUnavailable as exc:
        fail(f"db init failed: {exc.reason}")
    except psycopg.OperationalError as exc:
        if not str(exc).startswith("connection failed"):
            fail(f"db init failed: {exc}")
        # Not connected at all: say why in one line, as every other command does.
        parsed = urlparse(owner_url or settings.db_owner_url or settings.resolved_database_url)
        reason = postgres_reason(exc, host=parsed.hostname or "127.0.0.1", port=parsed.port or 5432)
        fail(f"db init failed: {reason}")
    except (psycopg.Error, PersistenceError, OSError) as exc:
        fail(f"db init failed: {exc}")
    for line in report.lines():
        typer.echo(line, err=True)
