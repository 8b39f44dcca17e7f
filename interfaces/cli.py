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
import re
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, NoReturn
from urllib.parse import urlparse
from uuid import UUID

import psycopg
import typer
from eventsourcing.persistence import PersistenceError
from pydantic import TypeAdapter, ValidationError

from application.bootstrap import Vigil, bootstrap, setup_owner_tables
from application.demo import DEMO_USERS, load_demo, store_is_empty
from application.ledger import Ledger
from application.permissions import (
    ALLOWED_ROLES,
    Permission,
    permission_table_markdown,
    reads_case_content,
)
from domain.errors import DomainError
from domain.identity.user import roles_given_alone
from domain.shared import ROLE_PRECEDENCE, Role, Username
from infrastructure.availability import StoreUnavailable, postgres_reason
from infrastructure.db_admin import InitRefused, init_store
from infrastructure.keys import DESTROY_FUNCTION, KEYS_TABLE, MasterKeyError
from infrastructure.logging import configure_logging, get_logger, scrub
from infrastructure.persistence import UnsupportedDatabaseURL
from infrastructure.settings import Settings
from projections.hash_ledger import GUARDED_TABLES
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
db_app = typer.Typer(help="The database: set it up as its owner.", no_args_is_help=True)
app.add_typer(db_app, name="db")

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
        fail(f"cannot open the store ({_store_kind(settings)}): {exc}")
    try:
        yield vigil
    except DomainError as exc:
        fail(exc.detail)
    except StoreUnavailable as exc:
        fail(f"the store does not answer: {exc.reason}")
    except (psycopg.Error, PersistenceError, sqlite3.Error) as exc:
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
    from interfaces.http.security import forwarded_header_options

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
        uvicorn.run(
            api,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            **forwarded_header_options(settings.trusted_proxy_list),
        )


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
        # The hash ledger's notary follows the log beside the projector (never rebuilt).
        vigil.integrity.notary.start_in_thread()
        try:
            vigil.projector.run_forever(stop, report_interval=report_every)
        finally:
            vigil.integrity.notary.stop_following()


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
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in",
            help="Expire after this long: e.g. 90d, 12h, 30m (default: never).",
        ),
    ] = None,
) -> None:
    """Issue another API token for an existing user (the last line)."""
    name = _username(username)
    lifetime = None if expires_in is None else _duration(expires_in)
    with open_vigil() as vigil:
        issued = vigil.identity.issue(name, actor=CLI_ACTOR, expires_in=lifetime)
    expires_at = issued.expires_at
    until = "never expires" if expires_at is None else f"expires {expires_at.isoformat()}"
    typer.echo(f"New API token for {name} (id {issued.token_id}, {until}; shown once):", err=True)
    typer.echo(issued.token)


_DURATION = re.compile(r"^(\d{1,6})([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        fail(f"invalid duration {text!r}: use a number and d, h or m, e.g. 90d", EXIT_USAGE)
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@users_app.command("grant")
def grant_role(
    username: Annotated[str, typer.Argument(help="An existing user.")],
    role: Annotated[Role, typer.Argument(help="The role to add.", case_sensitive=False)],
) -> None:
    """Grant a user one more role."""
    name = _username(username)
    with open_vigil() as vigil:
        user = vigil.identity.grant_role(name, role, actor=CLI_ACTOR)
    typer.echo(f"{name} now holds: {_roles(user.roles)}.", err=True)


@users_app.command("revoke")
def revoke_role(
    username: Annotated[str, typer.Argument(help="An existing user.")],
    role: Annotated[Role, typer.Argument(help="The role to take away.", case_sensitive=False)],
) -> None:
    """Revoke a role (never a user's only role, nor the last active admin's)."""
    name = _username(username)
    with open_vigil() as vigil:
        user = vigil.identity.revoke_role(name, role, actor=CLI_ACTOR)
    typer.echo(f"{name} now holds: {_roles(user.roles)}.", err=True)


@users_app.command("revoke-token")
def revoke_token(
    username: Annotated[str, typer.Argument(help="The token's user.")],
    token_id: Annotated[str, typer.Argument(help="The token's id (see `vigil users list`).")],
) -> None:
    """Revoke one token by its id: it stops working at once."""
    name = _username(username)
    try:
        parsed = UUID(token_id)
    except ValueError:
        fail(f"invalid token id {token_id!r}: a UUID, as `vigil users list` shows", EXIT_USAGE)
    with open_vigil() as vigil:
        vigil.identity.revoke_token(name, parsed, actor=CLI_ACTOR)
    typer.echo(f"Revoked token {parsed} of {name}.", err=True)


@users_app.command("deactivate")
def deactivate_user(username: Annotated[str, typer.Argument(help="An existing user.")]) -> None:
    """Deactivate a user: all their tokens stop working at once, for good."""
    name = _username(username)
    with open_vigil() as vigil:
        vigil.identity.deactivate(name, actor=CLI_ACTOR)
    typer.echo(f"Deactivated {name}; their tokens no longer work.", err=True)


@users_app.command("reactivate")
def reactivate_user(username: Annotated[str, typer.Argument(help="A deactivated user.")]) -> None:
    """Reactivate a user (issue them a new token: the old ones stay revoked)."""
    name = _username(username)
    with open_vigil() as vigil:
        vigil.identity.reactivate(name, actor=CLI_ACTOR)
    typer.echo(f"Reactivated {name}. Issue a token with: vigil users token {name}", err=True)


@users_app.command("list")
def list_users(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per user.")] = False,
) -> None:
    """List users: roles, whether active, live tokens (ids and expiry, never the secret), and
    roles one person gave alone where a second person is now needed."""
    with open_vigil() as vigil:
        now = vigil.clock()
        found = vigil.identity.list_users()
    persons = {user.username for user in found}
    for user in found:
        live = [t for t in user.tokens if t.live_at(now)]
        # Given before a second person was needed: in force until revoked (docs/access.md).
        alone = roles_given_alone(user, persons.__contains__, reads_case_content)
        if as_json:
            record = {
                "username": user.username,
                "roles": sorted(r.value for r in user.roles),
                "awaiting_approval": sorted(g.role.value for g in user.pending_grants.values()),
                "active": user.active,
                "live_tokens": [
                    {
                        "token_id": str(t.token_id),
                        "expires_at": None if t.expires_at is None else t.expires_at.isoformat(),
                    }
                    for t in live
                ],
                "granted_alone": [{"role": r.value, "by": by} for r, by in alone],
            }
            typer.echo(json.dumps(record))
            continue
        state = "active" if user.active else "deactivated"
        tokens = ", ".join(
            f"{t.token_id}" + ("" if t.expires_at is None else f" (until {t.expires_at:%Y-%m-%d})")
            for t in live
        )
        waiting = _roles(frozenset(g.role for g in user.pending_grants.values()))
        awaiting = f"  awaiting approval: {waiting}" if waiting else ""
        flagged = "".join(
            f"  {role.value} granted alone by {'themselves' if by == user.username else by}"
            for role, by in alone
        )
        typer.echo(
            f"{user.username}  {_roles(user.roles)}{awaiting}{flagged}  {state}  "
            f"tokens: {tokens or 'none'}"
        )


def _roles(roles: frozenset[Role]) -> str:
    return ",".join(role.value for role in ROLE_PRECEDENCE if role in roles)


@app.command()
def permissions(
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown/--plain", help="A Markdown table (for the README) or plain lines."
        ),
    ] = True,
) -> None:
    """Print the permission matrix: which roles hold which permission."""
    if markdown:
        typer.echo(permission_table_markdown(), nl=False)
        return
    for permission in Permission:
        allowed = ", ".join(role.value for role in ALLOWED_ROLES[permission]) or "-"
        typer.echo(f"{permission.value}  {allowed}")


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
            ledger_name=Ledger.name,
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


@app.command()
def verify(
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--public-key",
            help="The ledger's public key (PEM or base64), repeatable; default: the "
            "configured signing key's.",
        ),
    ] = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint", help="A checkpoint you kept (JSON, or an export): check it too."
        ),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="The verdict as JSON.")] = False,
    views: Annotated[
        bool,
        typer.Option(
            "--views/--no-views",
            help="Also rebuild every view aside and compare its rows with the live view's "
            "(timed on its own). View positions and subject keys are checked either way.",
        ),
    ] = True,
) -> None:
    """Check the whole event log against the hash ledger: every leaf, root, signature and
    consistency proof; then the views and subject keys against the log. Exits 1 naming the
    first position that does not match; before the first checkpoint, says that nothing is signed
    yet and checks the events (exit 0 if they match)."""
    from infrastructure.integrity_keys import SigningKeyError
    from interfaces.integrity_cli import read_checkpoints, read_keys, run_verify

    try:
        keys = read_keys(public_key or [])
        trusted = read_checkpoints(checkpoint or [])
    except SigningKeyError as exc:
        fail(str(exc), EXIT_USAGE)
    with open_vigil() as vigil:
        try:
            keys = keys or [vigil.integrity.configured_public_key()]
        except SigningKeyError as exc:
            # Before the first checkpoint no key need exist: nothing is signed yet, and the
            # events are checked all the same. A stored checkpoint without its key is a fault.
            if trusted or vigil.integrity.checkpoints(limit=1, cursor=None)[0]:
                fail(str(exc), EXIT_USAGE)
        code = run_verify(vigil, keys, trusted, progress=progress, as_json=as_json, views=views)
    raise typer.Exit(code)


@app.command("verify-export")
def verify_export(
    file: Annotated[Path, typer.Argument(help="A case export (GET /api/v1/cases/{id}/export).")],
    public_key: Annotated[
        list[Path],
        typer.Option("--public-key", help="The ledger's public key (PEM or base64), repeatable."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="The verdict as JSON.")] = False,
) -> None:
    """Check a case export offline (no database): every stored event, inclusion proof and the
    checkpoint's signature. Exits 1 naming the first event that does not verify."""
    from infrastructure.integrity_keys import SigningKeyError
    from interfaces.integrity_cli import read_keys, run_verify_export

    try:
        keys = read_keys(public_key)
    except SigningKeyError as exc:
        fail(str(exc), EXIT_USAGE)
    raise typer.Exit(run_verify_export(file, keys, as_json=as_json))


@app.command()
def retention(
    apply: Annotated[
        bool,
        typer.Option("--apply", help="Erase what is due (default: a dry run that only lists)."),
    ] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every subject, not only due and held ones.")
    ] = False,
) -> None:
    """List the subjects whose retention period has run out; with --apply, erase them.

    A subject is due once every one of its cases has been closed for its category's period
    (VIGIL_RETENTION_YEARS, VIGIL_RETENTION_DEFAULT_YEARS), counted from the closure's
    occurred_at. Subjects under a legal hold are listed as held and skipped. Each erasure is
    recorded (SubjectErased, and PersonalDataErased on each case) as made by vigil-retention.
    """
    with open_vigil() as vigil:
        items = vigil.data_protection.retention_review()
        shown = [i for i in items if show_all or i.status in ("due", "held")]
        typer.echo(f"{'STATUS':<8}  {'KIND':<8}  {'CASES':>5}  {'DUE':<10}  REF")
        for item in shown:
            due = item.due_at.date().isoformat() if item.due_at else "-"
            typer.echo(
                f"{item.status:<8}  {item.subject.kind.value:<8}  {len(item.case_ids):>5}  "
                f"{due:<10}  {item.subject.ref}"
            )
        due_count = sum(1 for i in items if i.status == "due")
        held = sum(1 for i in items if i.status == "held")
        if held:
            typer.echo(f"{held} due but under a legal hold: skipped.", err=True)
        if not apply:
            typer.echo(
                f"{due_count} due; dry run, nothing erased (vigil retention --apply erases).",
                err=True,
            )
            return
        for result in vigil.data_protection.apply_retention():
            typer.echo(
                f"erased {result.subject.kind.value} {result.subject.ref}: "
                f"{len(result.case_ids)} case(s), {len(result.key_ids)} key(s) destroyed",
                err=True,
            )
        typer.echo(f"{due_count} erased.", err=True)


def main() -> None:
    app(prog_name="vigil")


if __name__ == "__main__":
    main()
