"""Following the log: catch up, then sleep until woken, for as long as asked; the views' projector
and the notary follow the same way.

A follower catches up in chunks (so a stop request is seen within one chunk even on a long
log), then waits on its wake event: set by ``wake()`` (a reader waiting for a position, in the
same process), or on PostgreSQL by a ``Listener``: the ledger's recorder issues ``NOTIFY
<events table>`` inside every insert (eventsourcing 9.5.6 does so even without its database
functions), so a thread on a connection of its own (not the pool's) ``LISTEN``s on that
channel and wakes the follower on commit. A poll every ``interval`` seconds covers a lost
connection or a missed notification (on SQLite, which cannot notify, it is the only wake-up).
The recorder's ``subscribe`` is not used: it iterates one notification at a time and takes a
pooled connection for as long as it runs. A batch that fails committed nothing: it is tried
again, backing off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import structlog
from psycopg import sql

logger = structlog.get_logger(__name__)

MAX_BACKOFF_SECONDS = 30.0


class Follower:
    """Something following the log in a background thread (``run(stop)`` until ``stop`` is
    set; ``wake`` cuts a wait short)."""

    def __init__(
        self, run: Callable[[threading.Event], None], wake: Callable[[], None], name: str
    ) -> None:
        self.stop_event = threading.Event()
        self._wake = wake
        self._thread = threading.Thread(target=run, args=(self.stop_event,), name=name, daemon=True)

    def start(self) -> Follower:
        self._thread.start()
        return self

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following (after the batch in hand, if any) and wait for the thread."""
        self.stop_event.set()
        self._wake()
        if self._thread.is_alive():
            self._thread.join(timeout)


def follow(
    catch_up: Callable[[int], int],
    stop: threading.Event,
    wake: threading.Event,
    *,
    chunk: int,
    interval: float,
    failed: str,
    report: Callable[[int, float], None] | None = None,
    report_interval: float = 0.0,
) -> None:
    """Call ``catch_up(chunk)`` until ``stop`` is set, waiting on ``wake`` (at most
    ``interval`` seconds) whenever it read less than a chunk. A failure is logged as the event
    ``failed`` and retried after a growing pause. ``report(events, seconds)``: called about
    every ``report_interval`` seconds with the events read since the last call, if any."""
    failures = 0
    last_report = time.monotonic()
    since_report = 0
    while not stop.is_set():
        wake.clear()
        try:
            read = catch_up(chunk)
            failures = 0
        except Exception:
            failures += 1
            # Nothing of a failed batch was committed; try again, backing off.
            logger.exception(failed, attempt=failures)
            stop.wait(min(MAX_BACKOFF_SECONDS, interval * 2**failures))
            continue
        wait = interval
        if report is not None:
            since_report += read
            now = time.monotonic()
            if now - last_report >= report_interval:
                if since_report:
                    report(since_report, now - last_report)
                last_report, since_report = now, 0
            if since_report:
                # Wake for the next report too, if there is progress to report.
                wait = min(interval, report_interval - (now - last_report))
        if read < chunk:
            wake.wait(wait)


class Listener(threading.Thread):
    """LISTENs on the ledger's channel on a connection of its own; every NOTIFY wakes the
    follower. Reconnects after a failure (the follower polls meanwhile)."""

    def __init__(
        self,
        kwargs: dict[str, Any],
        channel: str,
        wake: threading.Event,
        stop: threading.Event,
    ) -> None:
        super().__init__(name="vigil-projector-listen", daemon=True)
        self._kwargs = kwargs
        self._channel = channel
        self._wake = wake
        self._stopping = stop

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(**self._kwargs, autocommit=True) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    # Anything committed before LISTEN took effect is found by this catch-up.
                    self._wake.set()
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=0.25, stop_after=1):
                            self._wake.set()
            except psycopg.Error as exc:
                logger.warning("projection_listen_failed", error=type(exc).__name__)
                self._stopping.wait(2.0)
