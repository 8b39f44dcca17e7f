"""What the benchmarks share (not a benchmark itself: ``make bench`` skips it).

A script imports it as a sibling module, after putting the checkout first on ``sys.path``::

    ROOT = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(ROOT))  # run from a checkout

    from support import pct  # noqa: E402  (bench/support.py)

``python bench/X.py`` puts bench/ on ``sys.path`` too, behind the checkout: ``support`` is
found there, while ``projections`` stays the package rather than bench/projections.py. That
script, and any other whose file name might shadow a package, is loaded by path (``script``).

Nothing here imports the web app until a ``Server`` is made: ``bench/soak.py``'s load
generator uses this module but serves nothing itself.
"""

from __future__ import annotations

import importlib.util
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlparse

import httpx
import psycopg
import uvicorn
from psycopg import sql

import interfaces.http
from infrastructure.logging import configure_logging
from infrastructure.persistence import postgres_conninfo
from infrastructure.settings import Settings

if TYPE_CHECKING:
    from interfaces.composition import Vigil

BENCH = Path(__file__).resolve().parent
# Small answers in one segment on both ends (as a client library over a LAN would send them):
# otherwise each request waits for a delayed ACK, ~40 ms on Linux, which is not Vigil's time.
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def script(name: str, file: str) -> Any:
    """``bench/<file>`` as the module ``name``, loaded once per process: by path, as an import
    by its name could find a package of that name instead (``projections``, for
    bench/projections.py)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / file)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# --- figures ---------------------------------------------------------------------------------


def pct(samples: list[float], q: float) -> float:
    """The sample at quantile ``q`` (0.5: the median, 0.99: p99) of ``samples``, not empty."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(read: Callable[[], Any], samples: int, warm_up: int) -> list[float]:
    """The milliseconds each of ``samples`` calls of ``read`` took, after ``warm_up`` calls
    not counted (plans cached, pages in memory)."""
    for _ in range(warm_up):
        read()
    found: list[float] = []
    for _ in range(samples):
        started = time.perf_counter()
        read()
        found.append((time.perf_counter() - started) * 1000)
    return found


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f} events/s ({count:,} events in {seconds:.1f} s)"


# --- the store -------------------------------------------------------------------------------


def bench_settings(url: str, **fields: Any) -> Settings:
    """The settings of a benchmark's throwaway store on ``url`` (``fields`` on top; no .env
    read), logging configured: the figures on stdout, warnings and errors on stderr."""
    settings = Settings(
        _env_file=None, database_url=url, log_level="WARNING", log_json=False, **fields
    )
    configure_logging(settings)
    return settings


def schema_of(url: str) -> str:
    """The schema a PostgreSQL URL names (``?schema=NAME``, as Vigil reads it); "" if none."""
    return parse_qs(urlparse(url).query).get("schema", [""])[0]


def drop_schemas(url: str, *schemas: str) -> None:
    """``DROP SCHEMA IF EXISTS ... CASCADE`` of each of ``schemas`` on ``url``'s database."""
    with psycopg.connect(postgres_conninfo(url), autocommit=True) as conn:
        for schema in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def drop_schema(url: str) -> None:
    """Drop the schema ``url`` names, if it names one (a SQLite URL names none)."""
    schema = schema_of(url)
    if schema:
        drop_schemas(url, schema)


def postgres_reachable(url: str) -> bool:
    """Whether ``url``'s PostgreSQL server answers (within 3 s)."""
    try:
        with psycopg.connect(postgres_conninfo(url), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


# --- serving and reading ---------------------------------------------------------------------


def exit_on_sigterm() -> None:
    """Make SIGTERM end the script as ``sys.exit`` does, so its ``finally`` blocks stop the
    servers it started and drop its schemas (a smoke test that ran out of time sends it)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """The app in a thread of this process, on a socket bound first (as the e2e tests serve
    it). ``lifespan="on"``: its start-up runs too, so the projector and the hash ledger's
    notary follow the log in this process, as under ``vigil serve``."""

    def __init__(self, vigil: Vigil, *, lifespan: Literal["on", "off"] = "off") -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(*NODELAY[0])  # accepted connections inherit it
        self.socket.bind(("127.0.0.1", 0))
        host, port = self.socket.getsockname()
        self.base_url = f"http://{host}:{port}"
        config = uvicorn.Config(
            interfaces.http.create_app(vigil),
            lifespan=lifespan,
            log_level="warning",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


def client(base_url: str, token: str | None = None, *, timeout: float) -> httpx.Client:
    """An HTTP client of ``base_url`` (TCP_NODELAY), with ``token`` as its bearer if given."""
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"} if token else {},
        transport=httpx.HTTPTransport(socket_options=NODELAY),
        timeout=timeout,
    )


def open_cases(http: httpx.Client, count: int) -> list[str]:
    """Open ``count`` harassment cases (each about another forum member) through ``http``, a
    client whose bearer may open cases; their ids."""
    cases = []
    for n in range(count):
        answer = http.post(
            "/api/v1/cases",
            json={
                "subject": {"kind": "member", "ref": f"forum-member-{n}"},
                "source": "flag",
                "category": "harassment",
                "summary": "Members report a pile-on in the evening thread.",
                "risk_level": "medium",
                "channel": "forum",
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if answer.status_code != 201:
            raise SystemExit(f"opening a case: {answer.status_code} {answer.text[:300]}")
        cases.append(answer.json()["case"]["id"])
    return cases
