"""Filling a rebuild's side tables fast (PostgreSQL): a threaded fill, and shares of the
aggregates filled by several processes at once.

**Threaded fill** (``fill_pipelined``). One thread reads the log ahead, one decodes and folds,
one commits; each view writes through a ``WriteBuffer`` (``projections.bulk_write``), so a row
replaced or deleted by later batches (a case's summary, its queue items) is written once, by
``COPY``, at the end, and append-only rows go by ``COPY`` with their batch; secondary indexes
of tables filled at the end are built after their rows (``build_indexes``); the garbage
collector is paused for the fill (``tuned_for_bulk``).

**Shares** (``fill_parallel``). With ``rebuild_processes`` > 1 and a log of at least
``parallel_min_events`` events, the fill runs in that many processes, each reading, decoding,
folding and writing the events of its share of the aggregates (the last byte of the
aggregate's id, chosen in the query); the rebuilding process moves the side tracking rows once
every share is done. Measured by ``bench/projections.py``.
"""

# SQL here names only the tracking table and the ledger's events table (quoted); every value is
# a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from psycopg import sql

from infrastructure.persistence import view_decoder
from projections.batches import Slot, ViewSet, Work
from projections.bulk_write import COPY_ROWS
from projections.catch_up import Raced
from projections.runner import Positioned, View
from projections.status import Metrics
from projections.store import ViewStore, view_store_for

logger = structlog.get_logger(__name__)

DEFAULT_PARALLEL_MIN_EVENTS = 50_000  # smaller logs: one process (starting another costs ~1 s)
DEFAULT_PARALLEL_HEAD_START = 20_000  # events the rebuilding process applies as workers start
# How long the rebuilding process, its own share done, waits for its worker processes.
DEFAULT_REBUILD_WORKER_TIMEOUT = 1800.0
INDEX_BUILD_THREADS = 2
INDEX_BUILD_MEMORY = "256MB"  # maintenance_work_mem for a side table's index build
BULK_SWITCH_INTERVAL = 0.001  # seconds (see tuned_for_bulk)

RebuildParts = Callable[[], tuple[Application[Any], list[View]]]
"""Makes a ledger and the views anew, in a rebuild's worker process: a picklable callable (a
module-level function, or a ``functools.partial`` of one), e.g. from the settings."""


@dataclass(frozen=True)
class Parallelism:
    """How many processes fill a rebuild's side tables, and from what size of log.

    ``processes`` > 1 (PostgreSQL, with ``parts``): a rebuild of a log of at least
    ``min_events`` events fills the side tables in that many processes (``head_start``: see
    ``share_bounds``); once its own share is done, the rebuilding process waits at most
    ``worker_timeout`` seconds for the others, then fails the rebuild."""

    processes: int = 1
    parts: RebuildParts | None = None
    min_events: int = DEFAULT_PARALLEL_MIN_EVENTS
    head_start: int = DEFAULT_PARALLEL_HEAD_START
    worker_timeout: float = DEFAULT_REBUILD_WORKER_TIMEOUT

    def __post_init__(self) -> None:
        if self.processes < 1:
            raise ValueError("rebuild_processes must be at least 1")
        if not self.worker_timeout > 0:
            raise ValueError("rebuild_worker_timeout must be positive")

    def applies_to(self, events: int) -> bool:
        """Whether a log of ``events`` events is filled by several processes."""
        return self.processes > 1 and self.parts is not None and events >= max(1, self.min_events)


@contextmanager
def tuned_for_bulk() -> Iterator[None]:
    """The interpreter tuned for a rebuild's fill, for as long as it runs.

    The cyclic garbage collector off: a fill allocates millions of objects that reference
    counting frees (decoded events, rows), and the collector's passes over them (and over
    everything else alive) took most of the time spent decoding. Nothing in the fill makes
    reference cycles to speak of (a 100,000-event rebuild leaves a few dozen objects for the
    collector). And a shorter switch interval: the reading and writing threads mostly wait on
    PostgreSQL, and with the default 5 ms each of their round trips could wait that long for
    the decoding thread to let go of the interpreter.
    """
    enabled = gc.isenabled()
    interval = sys.getswitchinterval()
    gc.disable()
    sys.setswitchinterval(BULK_SWITCH_INTERVAL)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        if enabled:
            gc.enable()


class Share(NamedTuple):
    """The aggregates one process of a parallel rebuild applies the events of: those whose id's
    last byte is from ``low`` to ``high`` (stable, and even for random or name-based UUIDs)."""

    low: int
    high: int

    def holds(self, aggregate_id: Any) -> bool:
        return bool(self.low <= (aggregate_id.int & 0xFF) <= self.high)


# ``Share.holds`` in SQL (PostgreSQL).
_SHARE_CONDITION = "get_byte(uuid_send(originator_id), 15) BETWEEN %s AND %s"


def share_bounds(count: int, events: int, head_start: int) -> list[Share]:
    """``count`` shares of the aggregates for a rebuild of ``events`` events. The first (the
    rebuilding process's) is larger by what it can do while the worker processes start
    (``head_start`` events' worth, spread over them), so all finish together; the others are
    even."""
    first = 1 / count + (count - 1) * head_start / (count * max(1, events))
    cut = min(256 - (count - 1), max(1, round(256 * min(first, 0.9))))
    rest = 256 - cut
    shares = [Share(0, cut - 1)]
    low = cut
    for n in range(count - 1):
        size = rest // (count - 1) + (1 if n < rest % (count - 1) else 0)
        shares.append(Share(low, low + size - 1))
        low += size
    return shares


def _fill_share(
    parts: RebuildParts,
    versions: dict[str, int],
    suffix: str,
    part: Share,
    until: int,
    batch_size: int,
    report: Any,
) -> None:
    """A rebuild's worker process: fill the side tables (named with ``suffix``) with one
    share of the aggregates' events (``fill_parallel``), then report ("ok", events read) or
    ("error", what) through the pipe ``report``; exits non-zero on failure."""
    try:
        event_log, views = parts()
        try:
            chosen = [view for view in views if view.name in versions]
            found = {view.name: view.stored_version() for view in chosen}
            if found != versions:
                raise RuntimeError(
                    f"the worker's views are not the rebuilding process's: {found} != {versions}"
                )
            # The rebuilding process made the side tables: nothing here sets anything up.
            store = view_store_for(event_log.recorder)
            views_set = ViewSet(event_log, store, Metrics(view.name for view in chosen))
            aside = store.with_suffix(suffix)
            slots = [Slot(view.name + suffix, view, aside) for view in chosen]
            with tuned_for_bulk():
                read = fill_pipelined(
                    views_set,
                    slots,
                    batch_size,
                    lambda _: None,
                    {slot.tracking_name: [] for slot in slots},
                    part=part,
                    until=until,
                )
        finally:
            close = getattr(event_log, "close", None)
            if close is not None:
                close()
        report.send(("ok", read))
    except BaseException as exc:
        logger.exception("rebuild_share_failed", share=part.low)
        report.send(("error", f"{type(exc).__name__}: {exc}"))
        report.close()
        raise SystemExit(1) from None
    report.close()
    # Done: leave without freeing the fill's millions of objects one by one (seconds, while
    # the rebuilding process waits); everything was committed and the ledger closed.
    os._exit(0)


class _Workers:
    """A parallel rebuild's worker processes, as the rebuilding process sees them: each reports
    ("ok", events read) or ("error", what) through its pipe (``_fill_share``)."""

    def __init__(self) -> None:
        self._children: list[tuple[int, Share, Any, Any]] = []  # index, share, process, pipe
        self._read: dict[int, int] = {}  # the events each worker that is done read

    def add(self, index: int, share: Share, process: Any, receiving: Any) -> None:
        self._children.append((index, share, process, receiving))

    def _pending(self) -> list[tuple[int, Share, Any, Any]]:
        return [child for child in self._children if child[0] not in self._read]

    def check(self) -> None:
        """Raise if a worker reported a failure or died without a report; note those done.
        Cheap (a poll of each pipe and of each process's exit, no waiting): called between
        the rebuilding process's batches."""
        for index, share, process, receiving in self._pending():
            if receiving.poll(0):
                try:
                    outcome, detail = receiving.recv()
                except EOFError:
                    outcome, detail = (
                        "error",
                        f"exited with code {process.exitcode} without a report",
                    )
                if outcome != "ok":
                    raise _worker_failed(index, share, detail)
                self._read[index] = int(detail)
            elif process.exitcode is not None and not receiving.poll(0):
                raise _worker_failed(
                    index, share, f"exited with code {process.exitcode} without a report"
                )

    def wait(self, timeout: float) -> int:
        """Wait for every worker, at most ``timeout`` seconds: the events they read together;
        raise if one failed, died or is not done in time (hung)."""
        deadline = time.monotonic() + timeout
        while True:
            self.check()
            pending = self._pending()
            if not pending:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                index, share, _, _ = pending[0]
                raise _worker_failed(
                    index,
                    share,
                    f"not done {timeout:g} s after the rebuilding process's share "
                    "(VIGIL_REBUILD_WORKER_TIMEOUT_SECONDS)",
                )
            waiting = [c[3] for c in pending] + [c[2].sentinel for c in pending]
            multiprocessing.connection.wait(waiting, timeout=remaining)
        return sum(self._read.values())

    def stop(self) -> None:
        """End every worker still running (a rebuild that failed) and release them."""
        for index, _, process, receiving in self._children:
            if index in self._read:
                process.join(5.0)  # done: it is leaving on its own
            if process.is_alive():
                process.terminate()
                process.join(5.0)
                if process.is_alive():
                    process.kill()
            process.join()
            receiving.close()


def _worker_failed(index: int, share: Share, detail: str) -> RuntimeError:
    return RuntimeError(
        f"rebuild worker process {index} failed: {detail} (its share: the aggregates whose "
        f"id ends in a byte from {share.low} to {share.high})"
    )


class ReadAhead:
    """The log from its start, in batches, read one or two batches ahead in a thread of its
    own: PostgreSQL runs the next query while this process decodes and folds the last one.
    Iterate for the batches; ``close()`` when done (also after a failure)."""

    def __init__(
        self,
        recorder: Any,
        batch_size: int,
        until: int | None = None,
        part: Share | None = None,
    ) -> None:
        self._recorder = recorder
        self._batch_size = batch_size
        self._until = until
        self._part = part
        self._queue: queue.Queue[Sequence[Notification] | BaseException] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vigil-rebuild-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        position = 0
        try:
            while not self._stop.is_set():
                if self._part is not None:
                    # A share: windows of positions holding about a batch of its events.
                    assert self._until is not None
                    if position >= self._until:
                        self._put([])
                        return
                    span = self._part.high - self._part.low + 1
                    upto = min(self._until, position + self._batch_size * 256 // span)
                    notifications = self._select_share(position + 1, upto, self._part)
                    position = upto
                    if notifications:
                        self._put(notifications)
                    continue
                notifications = self._recorder.select_notifications(
                    start=position + 1, limit=self._batch_size, stop=self._until
                )
                self._put(notifications)
                if not notifications:
                    return
                position = notifications[-1].id
        except BaseException as exc:  # handed to the iterating thread
            self._put(exc)

    def _select_share(self, start: int, stop: int, part: Share) -> Sequence[Notification]:
        """``select_notifications(start, stop=stop)`` (eventsourcing 9.5.6, PostgreSQL: the same
        statement and rows), for the events of one share of the aggregates only (``Share``).
        A range of positions, not a LIMIT: with a LIMIT, PostgreSQL would sort every row of
        the share up to ``stop`` for each batch."""
        recorder = self._recorder
        statement = sql.SQL(
            "SELECT * FROM {schema}.{table} WHERE notification_id>=%s AND notification_id <= %s"
            f" AND {_SHARE_CONDITION} ORDER BY notification_id"
        ).format(
            schema=sql.Identifier(recorder.datastore.schema),
            table=sql.Identifier(recorder.events_table_name),
        )
        params = [start, stop, part.low, part.high]
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return [
                Notification(
                    id=row["notification_id"],
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    def _put(self, item: Sequence[Notification] | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Sequence[Notification]]:
        while True:
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def fill_pipelined(
    views: ViewSet,
    slots: list[Slot],
    batch_size: int,
    progress: Callable[[int], None],
    deferred: dict[str, list[str]],
    *,
    part: Share | None = None,
    until: int | None = None,
    watch: Callable[[], None] | None = None,
) -> int:
    """Fill freshly reset side tables from the log, writing one batch while the next is
    read, decoded and folded: PostgreSQL executes on one core while Python works on the
    other (psycopg releases the GIL while it waits). Batches still commit in log order, each
    with its compare-and-set on the side tracking rows.

    Each view writes through a ``WriteBuffer`` (the side tables start empty): rows that a
    later batch would replace or delete (a case's summary, its queue items) are held in
    memory and written once, by ``COPY``, in a last transaction; append-only rows go by
    ``COPY`` with their batch. So until the fill ends the side tables lag their tracking
    rows; nothing reads them meanwhile, and a rebuild that fails leaves them to be reset
    by the next one.

    ``deferred`` holds each slot's ``CREATE INDEX`` statements not yet run: those of tables
    written at every batch are run before their first rows (PostgreSQL then keeps them up to
    date on its own core while this thread decodes); the others are left for after the
    fill (one sort each, instead of an entry per row). Returns events read.

    ``part``: only the events of the aggregates of that share (``Share``)
    are read (chosen by the query, so before decoding), and the tracking rows are left
    alone (the rebuilding process moves them once every share is done; see
    ``fill_parallel``). ``until``: read no further than that position. ``watch``: called
    before each batch is decoded; what it raises stops the fill at once (nothing more is
    committed) and is raised."""
    pending: queue.Queue[tuple[list[Work], int] | None] = queue.Queue(maxsize=2)
    failure: list[BaseException] = []
    buffered = {slot.tracking_name: slot.store.buffered() for slot in slots}
    ordered = sorted(slots, key=lambda slot: slot.tracking_name)  # the lock order

    def commit_in_order() -> None:
        try:
            with views.store.session() as transaction:
                while (item := pending.get()) is not None:
                    if failure:
                        continue  # drain: the reader is about to see the failure and stop
                    work, end = item
                    started = time.perf_counter()
                    try:
                        # Side tables are thrown away if the rebuild does not finish: their
                        # batches need not wait for the disk (the swap's transaction does).
                        views.commit(
                            work,
                            end,
                            durable=False,
                            transaction=transaction,
                            track=part is None,
                        )
                    except Raced:
                        raise RuntimeError(
                            "side tables moved during the rebuild: only one rebuild at a time"
                        ) from None
                    views.batch_applied(work, end, time.perf_counter() - started)
                    progress(end)
        except BaseException as exc:  # reported to the reading thread
            failure.append(exc)
            while pending.get() is not None:
                pass  # drain, so the reading thread never blocks on a full queue

    committer = threading.Thread(target=commit_in_order, name="vigil-rebuild-writer")
    committer.start()
    consumed, position = 0, 0
    reader = ReadAhead(views.event_log.recorder, batch_size, until, part)
    try:
        for notifications in reader:
            if failure:
                break
            if watch is not None:
                watch()
            decode = view_decoder(views.event_log)
            batch = [Positioned(n.id, decode(n)) for n in notifications]
            if part is None:
                # Every event of the log in (position, end]; a share's batch holds only its
                # aggregates' events, so its views read the others from the log.
                for slot in ordered:
                    slot.view.saw(position, batch)
            end = notifications[-1].id
            work: list[Work] = []
            for slot in ordered:
                store = buffered[slot.tracking_name]
                assert store.buffer is not None
                statements = store.buffer.route(slot.view.changes(store, batch))
                streamed = store.buffer.flush_streaming()
                waiting = deferred[slot.tracking_name]
                if streamed and waiting:
                    tables = {params["table"] for sql, params in streamed if sql == COPY_ROWS}
                    now = [s for s in waiting if any(f" ON {t} " in s for t in tables)]
                    deferred[slot.tracking_name] = [s for s in waiting if s not in now]
                    statements = [(s, {}) for s in now] + statements
                work.append((slot, position, statements + streamed, len(batch)))
            pending.put((work, end))
            consumed += len(notifications)
            position = end
        if not failure:
            # What the buffers still hold, in a last transaction (its compare-and-set
            # moves nothing: every slot is at the end already).
            final: list[Work] = []
            for slot in ordered:
                held = buffered[slot.tracking_name].buffer
                assert held is not None
                final.append((slot, position, held.flush(), 0))
            if any(statements for _, _, statements, _ in final):
                pending.put((final, position))
    except BaseException as exc:
        failure.append(exc)  # the writing thread commits nothing more
        raise
    finally:
        reader.close()
        pending.put(None)
        committer.join()
    if failure:
        raise failure[0]
    return consumed


def fill_parallel(
    views: ViewSet,
    slots: list[Slot],
    progress: Callable[[int], None],
    until: int,
    deferred: dict[str, list[str]],
    *,
    parallelism: Parallelism,
    batch_size: int,
    suffix: str,
    discard: Callable[[], None],
) -> int:
    """Fill freshly reset side tables (named with ``suffix``) up to position ``until`` in
    ``parallelism.processes`` processes: each reads (the query picks them), decodes, folds and
    writes only the events of its share of the aggregates (``share_bounds``); this process
    does the first, worker processes (``spawn``ed, each with its own connections, ledger and
    views made by ``parallelism.parts``) the others. Every view's rows are those of one
    aggregate (a case's summary, queue items and history from the case's own events; a
    break-glass grant and its review in one stream) or of one event (actor activity, access
    log entries), so the shares write disjoint rows and together exactly what one process
    would. Once every share is done, the side tracking rows move from 0 to ``until`` in one
    transaction; the swap (``projections.rebuild``) catches up from there. Any failure ends
    the other processes and drops the side tables (``discard``): a worker's failure is
    noticed between this process's batches (its own share is abandoned at once), and a
    worker not done ``parallelism.worker_timeout`` seconds after this process's share is
    taken as hung. Returns events read (every share together)."""
    count = parallelism.processes
    shares = share_bounds(count, until, parallelism.head_start)
    parts = parallelism.parts
    assert parts is not None
    versions = {slot.view.name: slot.view.stored_version() for slot in slots}
    context = multiprocessing.get_context("spawn")
    workers = _Workers()
    started = time.perf_counter()
    try:
        for index in range(1, count):
            receiving, sending = context.Pipe(duplex=False)
            process = context.Process(
                target=_fill_share,
                args=(
                    parts,
                    versions,
                    suffix,
                    shares[index],
                    until,
                    batch_size,
                    sending,
                ),
                name=f"vigil-rebuild-{index}",
                daemon=True,
            )
            process.start()
            sending.close()
            workers.add(index, shares[index], process, receiving)
        with tuned_for_bulk():
            consumed = fill_pipelined(
                views,
                slots,
                batch_size,
                progress,
                deferred,  # this process creates those of streamed tables early
                part=shares[0],
                until=until,
                watch=workers.check,
            )
        consumed += workers.wait(parallelism.worker_timeout)
        with views.store.transaction(commit=True) as tx:
            # The shares hold disjoint events that together are the log up to ``until``.
            moved = tx.fetchall(
                f"UPDATE {views.tracking} SET notification_id = %(until)s, "
                "applied_events = %(count)s "
                "WHERE view_name = ANY(%(names)s) AND notification_id = 0 "
                "RETURNING view_name",
                {
                    "until": until,
                    "count": consumed,
                    "names": [slot.tracking_name for slot in slots],
                },
            )
            if len(moved) != len(slots):
                raise RuntimeError(
                    "side tables moved during the rebuild: only one rebuild at a time"
                )
    except BaseException as exc:
        workers.stop()
        discard()
        logger.warning("rebuild_failed", error=type(exc).__name__)
        raise
    workers.stop()
    logger.info(
        "rebuild_filled_in_parallel",
        processes=count,
        position=until,
        seconds=round(time.perf_counter() - started, 3),
    )
    return consumed


def build_indexes(store: ViewStore, statements: list[str]) -> None:
    """Create the side tables' deferred indexes, two at a time (PostgreSQL sorts each
    table once; two connections keep both cores busy)."""
    if not statements:
        return
    started = time.perf_counter()

    def build(statement: str) -> None:
        with store.transaction(commit=True) as tx:
            tx.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
            tx.execute(statement)

    with ThreadPoolExecutor(max_workers=INDEX_BUILD_THREADS) as pool:
        # list(): re-raise the first failure here.
        list(pool.map(build, statements))
    logger.info(
        "rebuild_indexes_built",
        indexes=len(statements),
        seconds=round(time.perf_counter() - started, 3),
    )
