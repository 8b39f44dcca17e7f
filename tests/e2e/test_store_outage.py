"""A store that stops answering: every route says 503 store-unavailable, with Retry-After,
within the configured bound, and answers normally once the store is back.

On PostgreSQL the outage is this test's own: Vigil reaches the shared server through a TCP
forwarder in the test process, which the test cuts (every connection closed, new ones
refused) and restores. On SQLite the store "stops answering" when another process holds
its write lock for longer than the bound.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from infrastructure.availability import StoreUnavailable
from infrastructure.recorders import VigilSQLiteDatastore
from infrastructure.settings import Settings
from tests.e2e.support import SELF_HARM_POST, Api, assert_problem, created, open_case

STORE_TIMEOUT_SECONDS = 3
# Generous: the bound is the setting; three times it cannot be reached by a busy machine alone,
# while the retries this guards against took ten times it (52 s at the default of 5 s).
WITHIN = 3 * STORE_TIMEOUT_SECONDS
# psycopg's pool reconnects with a backoff: after a short outage, within seconds.
RECOVERY_DEADLINE_SECONDS = 90


class Forwarder:
    """A TCP forwarder to PostgreSQL that the test can cut and restore."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._open.is_set():
                client.close()  # what a stopped server looks like to libpq: closed at once
                continue
            try:
                server = socket.create_connection(self._upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and drop every open one, as a stopped server would."""
        self._open.clear()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for end in sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self.cut()
        self._closed.set()
        self._listener.close()
        self._thread.join(timeout=5)


@pytest.fixture
def forwarder(database_url: str) -> Iterator[Forwarder | None]:
    if not database_url.startswith("postgresql"):
        yield None
        return
    parsed = urlparse(database_url)
    proxy = Forwarder((parsed.hostname or "127.0.0.1", parsed.port or 5432))
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, forwarder: Forwarder | None) -> Settings:
    if forwarder is not None:
        parsed = urlparse(database_url)
        netloc = parsed.netloc.replace(f":{parsed.port or 5432}", f":{forwarder.port}")
        database_url = parsed._replace(netloc=netloc).geturl()
    return Settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        data_dir=tmp_path / "data",
        log_json=True,
        db_pool_size=2,
        db_max_overflow=8,
        db_connect_timeout_seconds=2,
        store_timeout_seconds=STORE_TIMEOUT_SECONDS,
        restricted_categories="",
    )


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_store_unavailable(response: httpx.Response, seconds: float) -> None:
    assert_problem(response, 503, "store-unavailable")
    assert int(response.headers["retry-after"]) > 0
    assert seconds < WITHIN, f"answered after {seconds:.1f} s, beyond {WITHIN} s"


def wait_for_health(client: httpx.Client) -> None:
    deadline = time.monotonic() + RECOVERY_DEADLINE_SECONDS
    while client.get("/health").status_code != 200:
        assert time.monotonic() < deadline, "the API did not recover once the store was back"
        time.sleep(0.5)


def test_every_route_answers_503_store_unavailable_while_the_store_is_away_then_recovers(
    api: Api, forwarder: Forwarder | None
) -> None:
    if forwarder is None:
        pytest.skip("SQLite has no server to lose: see the held-lock story below")
    # Given a coordinator with a case, and the views caught up
    cora = api.user("cora", "coordinator")
    case = open_case(cora)
    api.vigil.projector.catch_up()
    anonymous = api.client()
    position = api.log_position()

    # When the store goes away
    forwarder.cut()

    # Then every kind of route says so within the bound: a write, lists, a read, health
    requests: dict[str, Callable[[], httpx.Response]] = {
        "open a case": lambda: cora.post(
            "/api/v1/cases", json=SELF_HARM_POST, headers={"Idempotency-Key": "during-outage"}
        ),
        "list cases": lambda: cora.get("/api/v1/cases"),
        "queues": lambda: cora.get("/api/v1/queues"),
        "read a case": lambda: cora.get(f"/api/v1/cases/{case['id']}"),
        "health": lambda: anonymous.get("/health"),
        "ready": lambda: anonymous.get("/ready"),
    }
    for name, request in requests.items():
        response, seconds = timed(request)
        try:
            assert_store_unavailable(response, seconds)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc

    # When it comes back, the API answers again, and nothing was written meanwhile
    forwarder.restore()
    wait_for_health(anonymous)
    assert api.log_position() == position
    assert cora.get(f"/api/v1/cases/{case['id']}").status_code == 200
    assert cora.get("/api/v1/cases").status_code == 200
    assert cora.get("/api/v1/queues").status_code == 200
    # and the refused write, retried with its key, is recorded once
    retried = created(
        cora.post(
            "/api/v1/cases", json=SELF_HARM_POST, headers={"Idempotency-Key": "during-outage"}
        )
    )
    assert retried["position"] > position


def test_a_write_held_behind_another_process_lock_is_503_within_the_bound(
    api: Api, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL: the outage story above")
    # Given a coordinator, and another process holding the SQLite file's write lock
    cora = api.user("cora", "coordinator")
    holder = sqlite3.connect(urlparse(database_url).path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # When the coordinator opens a case, then it is refused within the bound
        with api.writes_nothing():
            response, seconds = timed(
                lambda: cora.post(
                    "/api/v1/cases", json=SELF_HARM_POST, headers={"Idempotency-Key": "held"}
                )
            )
        assert_store_unavailable(response, seconds)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # and once the lock is released, the same request is recorded
    created(cora.post("/api/v1/cases", json=SELF_HARM_POST, headers={"Idempotency-Key": "held"}))


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """The file made unwritable for everyone, root too (chattr +i), then restored."""
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a file immutable here (no chattr +i)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_disk_io_error_is_a_500_to_look_at_not_a_503_to_retry(
    api: Api, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite: the file's own I/O")
    # Given a coordinator's case written to the SQLite store (its write-ahead log in use)
    cora = api.user("cora", "coordinator")
    open_case(cora)
    wal = Path(urlparse(database_url).path + "-wal")
    assert wal.exists()

    # When the write-ahead log can no longer be written (as a failing disk would refuse it)
    with immutable(wal):
        response = cora.post("/api/v1/cases", json=SELF_HARM_POST)

    # Then the write is a fault for an operator, said as one: a 500 that claims nothing was
    # written, not a 503 that invites the client to retry as if the store were only busy.
    assert_problem(response, 500, "internal-error")
    assert "retry-after" not in response.headers


def test_a_read_only_store_file_is_503_and_not_taken_for_a_passing_lock(tmp_path: Path) -> None:
    # Given a SQLite store with a table, made read-only (chattr +i) before Vigil opens it
    path = tmp_path / "vigil.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    datastore = VigilSQLiteDatastore(db_name=str(path), lock_timeout=1)
    try:
        # When Vigil writes to it
        with (
            immutable(path),
            pytest.raises(StoreUnavailable) as refused,
            datastore.transaction(commit=True) as curs,
        ):
            curs.execute("INSERT INTO t VALUES (1)")
    finally:
        datastore.close()

    # Then the store is unavailable (nothing was written: a retry once it is writable is safe),
    # and it is marked as not passing by itself, so it is logged as an error.
    assert "readonly" in refused.value.reason
    assert refused.value.transient is False
