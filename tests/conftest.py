"""Shared fixtures: every store-backed test runs on SQLite and on PostgreSQL.

PostgreSQL tests get a schema of their own in the `test` database, dropped
afterwards. Without a server they skip, unless VIGIL_REQUIRE_POSTGRES=1 (CI),
when they fail.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import structlog

from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap

# Log as production does (one JSON line per failure), not structlog's default console with rich
# tracebacks showing every local, which on a busy machine take longer to draw than a client
# waits for its 500. Tests of logging itself configure their own and put this back.
structlog.configure(
    processors=[structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
)

POSTGRES_URL = os.environ.get(
    "VIGIL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("VIGIL_REQUIRE_POSTGRES") == "1"


def postgres_available() -> bool:
    try:
        with psycopg.connect(POSTGRES_URL.split("?")[0], connect_timeout=3):
            return True
    except psycopg.Error:
        return False


class Clock:
    """A controllable server clock: tests say what time it is."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, now: datetime) -> None:
        with self._lock:
            self._now = now

    def advance(self, **kwargs: float) -> datetime:
        with self._lock:
            self._now += timedelta(**kwargs)
            return self._now


# Tuesday 17 November 2026, 09:30 in London (GMT): within operating hours.
TUESDAY_MORNING = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(TUESDAY_MORNING)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vigil.db'}"
        return
    if not postgres_available():
        if REQUIRE_POSTGRES:
            pytest.fail(
                f"PostgreSQL is required (VIGIL_REQUIRE_POSTGRES=1) but {POSTGRES_URL} "
                "is not reachable"
            )
        pytest.skip("PostgreSQL not reachable")
    schema = f"vigil_test_{uuid.uuid4().hex[:12]}"
    yield f"{POSTGRES_URL}?schema={schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        # Keys made at first use (the ledger's signing key) go here, never into the checkout.
        data_dir=tmp_path / "data",
        log_json=True,
        db_pool_size=10,
        db_max_overflow=30,
        # Most stories follow one case (often a self-harm risk) through every role, so they run
        # with no restricted categories; the restricted-case stories (test_restricted_cases.py,
        # test_access_log.py) override this fixture with the product default.
        restricted_categories="",
    )


@pytest.fixture
def vigil(settings: Settings, clock: Clock) -> Iterator[Vigil]:
    app = bootstrap(settings, clock=clock)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def other_process(settings: Settings, clock: Clock, vigil: Vigil) -> Iterator[Vigil]:
    """A second Vigil over the same store, standing for another server process: its own case
    cache, started after ``vigil`` (which prepared the store)."""
    app = bootstrap(settings, clock=clock)
    try:
        yield app
    finally:
        app.close()
