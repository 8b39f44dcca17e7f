"""Group commit: appends that arrive together go to the log in one transaction.

Every append to the log takes the events table's EXCLUSIVE lock (PostgreSQL) or the single
writer's lock (SQLite) and ends with a commit of its own, so appends from many requests queue
for the lock and each pays a commit: under load the log's throughput is one commit at a time.
``GroupCommit`` gathers the appends that queue while one is being written and writes them all in
the next transaction, under one lock, with one commit (the way databases group their own log
flushes):

- the first append to arrive while none is being written is written at once, alone: a lone
  writer never waits for company;
- appends arriving while a transaction is in flight queue; when it ends, the oldest waiting
  becomes the leader and writes every waiting append (up to ``max_events`` events) in one
  transaction, on its own thread, then answers each of them;
- an append is answered only after the transaction holding it has committed (or failed): no
  request is told its events are recorded before they are;
- the log's order is the commit order, as before: one transaction inserts the batch's events
  in arrival order, under the same lock, and the log numbers them in that order;
- each append was decided on its own aggregate's state, and each stays all-or-nothing: if the
  batch is refused for one append's sake (another writer took a version it wanted: an
  ``IntegrityError``; or a value the store refuses: a ``DataError``), nothing of the batch was
  written, and each of its appends is written again in a transaction of its own, so only the
  one at fault is refused. Any other failure (the store unavailable) is every batched append's
  answer, as it would have been each one's alone (a commit whose outcome the connection lost
  stays as unknown as it was for a lone append). Followers raise the leader's exception object
  itself.

Only the event log's plain appends are gathered; an insert that carries more than its events
(a tracking record) goes straight through.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eventsourcing.persistence import DataError, IntegrityError, StoredEvent

# Events per gathered transaction at most (a request's own append is never split).
MAX_EVENTS = 1000

Insert = Callable[[Sequence[StoredEvent]], Sequence[int] | None]


@dataclass
class _Append:
    events: Sequence[StoredEvent]
    done: bool = False
    taken: bool = False  # gathered into a transaction being written
    ids: Sequence[int] | None = None
    error: BaseException | None = None


@dataclass
class GroupCommitStats:
    """Counted since start-up: appends answered, and transactions they took."""

    appends: int = 0
    transactions: int = 0
    regrouped: int = 0  # batches refused for one append's sake and written one by one
    largest: int = 0  # the most appends one transaction held
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class GroupCommit:
    """Writes concurrent appends through ``insert`` (one transaction per call), gathered."""

    def __init__(self, insert: Insert, *, max_events: int = MAX_EVENTS) -> None:
        self._insert = insert
        self._max_events = max_events
        self._queue: deque[_Append] = deque()
        self._changed = threading.Condition(threading.Lock())
        self.stats = GroupCommitStats()

    def insert(self, events: Sequence[StoredEvent]) -> Sequence[int] | None:
        """Append ``events`` in one transaction with whatever else is waiting; their log
        positions (notification ids), once committed."""
        if not events:
            return self._insert(events)
        mine = _Append(events)
        with self._changed:
            self._queue.append(mine)
            try:
                while not mine.done and self._queue[0] is not mine:
                    self._changed.wait()
            except BaseException:
                # Interrupted while waiting: leave the queue, unless a leader has taken it into
                # its transaction (then its outcome is that transaction's).
                if not mine.taken:
                    self._queue.remove(mine)
                    self._changed.notify_all()
                raise
            if mine.done:
                return self._answer(mine)
            batch = self._gather()
            for append in batch:
                append.taken = True
        try:
            self._write(batch)
        finally:
            with self._changed:
                for _ in batch:
                    self._queue.popleft()
                for append in batch:
                    append.done = True
                self._changed.notify_all()
        return self._answer(mine)

    def waiting(self) -> int:
        """Appends queued or being written now."""
        with self._changed:
            return len(self._queue)

    def _gather(self) -> list[_Append]:
        """The waiting appends from the front of the queue, up to ``max_events`` events (the
        leader's own always, however many it has)."""
        batch = [self._queue[0]]
        size = len(batch[0].events)
        for append in list(self._queue)[1:]:
            if size + len(append.events) > self._max_events:
                break
            batch.append(append)
            size += len(append.events)
        return batch

    def _write(self, batch: list[_Append]) -> None:
        if len(batch) == 1:
            self._write_alone(batch[0])
            self._count(batch, transactions=1)
            return
        events = [event for append in batch for event in append.events]
        try:
            ids = self._insert(events)
        except (IntegrityError, DataError):
            # Refused for one append's sake, and nothing of it written: each on its own now.
            for append in batch:
                self._write_alone(append)
            self._count(batch, transactions=1 + len(batch), regrouped=True)
            return
        except BaseException as error:
            for append in batch:
                append.error = error
            self._count(batch, transactions=1)
            return
        start = 0
        for append in batch:
            end = start + len(append.events)
            append.ids = None if ids is None else list(ids[start:end])
            start = end
        self._count(batch, transactions=1)

    def _write_alone(self, append: _Append) -> None:
        try:
            append.ids = self._insert(append.events)
        except BaseException as error:
            append.error = error

    def _count(self, batch: list[_Append], *, transactions: int, regrouped: bool = False) -> None:
        stats = self.stats
        with stats._lock:
            stats.appends += len(batch)
            stats.transactions += transactions
            stats.regrouped += int(regrouped)
            stats.largest = max(stats.largest, len(batch))

    @staticmethod
    def _answer(append: _Append) -> Sequence[int] | None:
        if append.error is not None:
            raise append.error
        return append.ids
