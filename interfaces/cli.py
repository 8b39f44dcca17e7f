"""The ``vigil`` command line: serve the API, run and inspect the projector, load the demo,
manage users and tokens.

Tokens go to stdout, one per line and last, as API.md promises; everything meant for
a person goes to stderr. So ``vigil users add NAME --role ROLE | tail -n 1`` is the
token, and a script reading ``vigil demo`` gets nothing but ``<username> <role> <token>``
lines. Tokens are printed, never logged.

This module and the HTTP app factory are the only places that read the environment
(through ``Settings``); refused commands end with a one-line message and exit code 1
(a rule refused it) or 2 (bad input or settings), never a traceback.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn
from urllib.parse import urlparse

import psycopg
import typer
from eventsourcing.persistence import PersistenceError
from pydantic import TypeAdapter, ValidationError

from application.bootstrap import Vigil, bootstrap
from application.demo import DEMO_USERS, load_demo, store_is_empty
from domain.errors import DomainError
from domain.shared import Role, Username
from infrastructure.logging import configure_logging, get_logger, scrub
from infrastructure.persistence import UnsupportedDatabaseURL
from infrastructure.settings import Settings
from projections.worker import UnknownView

CLI_ACTOR = "cli"  # who the events written from the command line are recorded as
EXIT_REFUSED = 1
EXIT_USAGE = 2

log = get_logger(__name__)

app = typer.Typer(
    name="vigil",
    help="Vigil: the system of record for safeguarding and escalation decisions.",
    no_args_is_help=True,
    add_completion=False,
    # Our own errors end in one line; anything else prints a plain traceback without locals
    # (locals can hold tokens and database passwords).
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="Users and their API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")

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
    except UnsupportedDatabaseURL as exc:
        fail(str(exc), EXIT_USAGE)
    except (psycopg.Error, PersistenceError, OSError) as exc:
        fail(f"cannot open the store ({_store_kind(settings)}): {exc}")
    try:
        yield vigil
    except DomainError as exc:
        fail(exc.detail)
    except (psycopg.Error, PersistenceError) as exc:
        fail(f"the store failed ({_store_kind(settings)}): {exc}")
    finally:
        vigil.close()


def _store_kind(settings: Settings) -> str:
    # Only the scheme and host: the URL itself may carry a password.
    parsed = urlparse(settings.resolved_database_url)
    return f"{parsed.scheme} at {parsed.hostname}" if parsed.hostname else parsed.scheme


def _username(value: str) -> str:
    try:
        return _USERNAME.validate_python(value)
    except ValidationError:
        fail(
            f"invalid username {value!r}: use 2 to 63 lower-case letters, digits, '.', '_' "
            "or '-', starting with a letter or a digit",
            EXIT_USAGE,
        )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Run the HTTP API (and the projector, unless a separate `vigil project` runs it)."""
    import uvicorn

    from interfaces.http.app import create_app

    settings = load_settings()
    with open_vigil(settings) as vigil:
        api = create_app(vigil)
        url = f"http://{host}:{port}"
        log.info(
            "serving",
            url=url,
            docs=f"{url}/docs",
            store=_store_kind(settings),
            projector="in-process" if vigil.follows_in_process else "separate worker",
        )
        # log_config=None keeps our logging; the app logs each request itself (with its request
        # id and without the client's address), so uvicorn's access log would only repeat it.
        uvicorn.run(api, host=host, port=port, log_config=None, access_log=False)


@app.command()
def project(
    report_every: Annotated[
        float, typer.Option(help="Seconds between progress log lines.", min=0.1)
    ] = 10.0,
) -> None:
    """Run the projector: catch every view up, then follow new events until SIGINT/SIGTERM."""
    with open_vigil() as vigil:
        stop = threading.Event()

        def request_stop(signum: int, _: object) -> None:
            log.info("projector_stopping", signal=signal.Signals(signum).name)
            stop.set()
            vigil.projector.wake()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        log.info(
            "projector_starting",
            store=_store_kind(vigil.settings),
            positions=vigil.projector.positions(),
            head=vigil.projector.head(),
        )
        vigil.projector.run_forever(stop, report_interval=report_every)


@app.command()
def rebuild(
    name: Annotated[
        str | None, typer.Argument(help="The view to rebuild (see `vigil status`); all if none.")
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")
    ] = True,
) -> None:
    """Rebuild views from the event log aside, then swap them in; reads go on meanwhile."""
    with open_vigil() as vigil:
        projector = vigil.projector
        names = None if name is None else [name]
        try:
            targets = (
                [v.name for v in projector.views] if name is None else [projector.view(name).name]
            )
        except UnknownView as exc:
            fail(str(exc), EXIT_USAGE)
        started = time.perf_counter()
        with typer.progressbar(
            length=max(1, projector.head()),
            label=f"Rebuilding {', '.join(targets)}",
            file=sys.stderr,
            hidden=not progress,
            show_pos=True,
        ) as bar:

            def advance(done: int, total: int) -> None:
                bar.length = max(1, total)
                bar.update(done - bar.pos)

            consumed = projector.rebuild(names, advance)
        seconds = time.perf_counter() - started
    rate = consumed / seconds if seconds > 0 else 0.0
    typer.echo(
        f"Rebuilt {', '.join(targets)} from {consumed} events in {seconds:.1f} s "
        f"({rate:,.0f} events/s) and swapped them in.",
        err=True,
    )


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per view.")] = False,
    sample: Annotated[
        float,
        typer.Option(
            help="Seconds to watch the positions move, to measure rates (0: no rate).", min=0
        ),
    ] = 1.0,
) -> None:
    """Show each view's position, the log's head, the lag in events and the rate."""
    with open_vigil() as vigil:
        statuses = vigil.projector.status()
        if sample > 0:
            time.sleep(sample)
            statuses = vigil.projector.status()
    if as_json:
        for s in statuses:
            typer.echo(
                json.dumps(
                    {
                        "view": s.name,
                        "position": s.position,
                        "head": s.head,
                        "lag_events": s.lag_events,
                        "rate": round(s.rate, 1),
                    }
                )
            )
        return
    width = max([len("VIEW"), *(len(s.name) for s in statuses)])
    typer.echo(f"{'VIEW':<{width}}  {'POSITION':>10}  {'HEAD':>10}  {'LAG':>8}  {'EVENTS/S':>9}")
    for s in statuses:
        typer.echo(
            f"{s.name:<{width}}  {s.position:>10}  {s.head:>10}  {s.lag_events:>8}  {s.rate:>9.1f}"
        )


@app.command()
def demo(
    if_empty: Annotated[
        bool,
        typer.Option(
            "--if-empty", help="If the store already holds data, say so and exit 0 (for scripts)."
        ),
    ] = False,
) -> None:
    """Fill an empty store with a realistic demo; print '<username> <role> <token>' per user."""
    with open_vigil() as vigil:
        if if_empty and not store_is_empty(vigil):
            present = [u.username for u in DEMO_USERS if vigil.identity.exists(u.username)]
            example = present[0] if present else "USERNAME"
            typer.echo(
                "The store already holds data, so the demo was not loaded. "
                f"Get a token with: vigil users token {example}",
                err=True,
            )
            if present:
                typer.echo(f"Demo users: {', '.join(present)}", err=True)
            return
        loaded = load_demo(vigil, actor=CLI_ACTOR)
    typer.echo(
        f"Loaded the demo: {len(loaded.case_ids)} cases and {len(loaded.tokens)} users. "
        "Their API tokens are shown once; get another with: vigil users token USERNAME",
        err=True,
    )
    if not loaded.out_of_hours:
        typer.echo(
            "The service calendar has no recent out-of-hours period, so the demo has no "
            "out-of-hours decision.",
            err=True,
        )
    for user, token in loaded.tokens:
        typer.echo(f"{user.username} {user.role.value} {token}")


@users_app.command("add")
def add_user(
    username: Annotated[str, typer.Argument(help="Lower-case letters, digits, '.', '_', '-'.")],
    role: Annotated[Role, typer.Option("--role", help="The user's role.", case_sensitive=False)],
) -> None:
    """Register a user and print a new API token (the last line)."""
    name = _username(username)
    with open_vigil() as vigil:
        vigil.identity.register(name, role, actor=CLI_ACTOR)
        token = vigil.identity.issue_token(name, actor=CLI_ACTOR)
    typer.echo(f"Registered {name} as {role.value}. API token (shown once):", err=True)
    typer.echo(token)


@users_app.command("token")
def issue_token(
    username: Annotated[str, typer.Argument(help="An existing user.")],
) -> None:
    """Issue another API token for an existing user (the last line)."""
    name = _username(username)
    with open_vigil() as vigil:
        token = vigil.identity.issue_token(name, actor=CLI_ACTOR)
    typer.echo(f"New API token for {name} (shown once):", err=True)
    typer.echo(token)


def main() -> None:
    app(prog_name="vigil")


if __name__ == "__main__":
    main()
