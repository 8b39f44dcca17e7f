"""What every ``vigil`` command shares: settings, opening the store, and how a refusal
ends.

Tokens go to stdout, one per line and last, so that a script can take them with ``tail -n 1``;
everything meant for a person goes to stderr. So ``vigil users add NAME --role ROLE | tail -n 1``
is the token, and a script reading ``vigil demo`` gets nothing but
``<username> <role> <token>`` lines. Tokens are printed, never logged.

The command line and the HTTP app factory are the only places that read the environment
(through ``Settings``); refused commands end with a one-line message and exit code 1
(a rule refused it) or 2 (bad input or settings), never a traceback.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn
from urllib.parse import urlparse

import psycopg
import typer
from eventsourcing.persistence import PersistenceError
from pydantic import TypeAdapter, ValidationError

from domain.errors import DomainError
from domain.shared import Username
from infrastructure.availability import StoreUnavailable
from infrastructure.logging import configure_logging, scrub
from infrastructure.master_key import MasterKeyError
from infrastructure.persistence import UnsupportedDatabaseURL
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap

CLI_ACTOR = "cli"  # who the events written from the command line are recorded as
EXIT_REFUSED = 1
EXIT_USAGE = 2

_USERNAME = TypeAdapter(Username)


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    typer.echo(f"vigil: {scrub(message)}", err=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    """Settings from VIGIL_* variables and .env, or a one-line account of what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            "VIGIL_" + "_".join(str(part) for part in error["loc"]).upper() + f": {error['msg']}"
            for error in exc.errors()
        )
        fail(f"invalid settings: {problems}", EXIT_USAGE)


@contextmanager
def open_vigil(settings: Settings | None = None) -> Iterator[Vigil]:
    """Configure logging, bootstrap Vigil, close it afterwards; turn refusals into exits."""
    settings = settings or load_settings()
    try:
        configure_logging(settings)
    except ValueError as exc:
        fail(f"invalid settings: VIGIL_LOG_LEVEL: {exc}", EXIT_USAGE)
    try:
        vigil = bootstrap(settings)
    except (UnsupportedDatabaseURL, MasterKeyError) as exc:
        fail(str(exc), EXIT_USAGE)
    except StoreUnavailable as exc:
        fail(f"cannot open the store: {exc.reason}")
    except (psycopg.Error, PersistenceError, sqlite3.Error, OSError) as exc:
        fail(f"cannot open the store ({store_kind(settings)}): {exc}")
    try:
        yield vigil
    except DomainError as exc:
        fail(exc.detail)
    except StoreUnavailable as exc:
        fail(f"the store does not answer: {exc.reason}")
    except (psycopg.Error, PersistenceError, sqlite3.Error) as exc:
        fail(f"the store failed ({store_kind(settings)}): {exc}")
    finally:
        vigil.close()


def store_kind(settings: Settings) -> str:
    # Only the scheme and host: the URL itself may carry a password.
    parsed = urlparse(settings.resolved_database_url)
    return f"{parsed.scheme} at {parsed.hostname}" if parsed.hostname else parsed.scheme


def parse_username(value: str) -> str:
    try:
        return _USERNAME.validate_python(value)
    except ValidationError:
        fail(
            f"invalid username {value!r}: use 2 to 63 lower-case letters, digits, '.', '_' "
            "or '-', starting with a letter or a digit",
            EXIT_USAGE,
        )
