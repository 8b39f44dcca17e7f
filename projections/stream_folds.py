"""Records for views: a batch's events of one aggregate type folded onto the record before
them, a stream at a time (the shift board's ``ShiftRecord``, the contact view's
``ContactRecord``).

The record before a batch comes from one remembered from an earlier batch (the most recent
``cache_size`` streams), else from the stream's events in the log, read without decrypting:
views never see personal fields. A record at version v is the fold of the log up to v, whatever
any view holds, so a rolled-back batch leaves only correct records behind. (Case states have
their own, ``projections/case_folds.py``: they start from verified snapshots.)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import Repository

from infrastructure.event_log import EventLog
from infrastructure.persistence import view_repository
from projections.runner import Positioned


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


E = TypeVar("E")
R = TypeVar("R", bound=Versioned)


@dataclass(frozen=True)
class Folded(Generic[R]):
    """A stream's record after a batch's events, and the position of its last event there."""

    record: R
    position: int


class StreamFolds(Generic[E, R]):
    """Folds batches of ``event_type`` events into records with ``fold`` (which never raises:
    it runs on every replay), remembering recent ones."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        event_type: type[E],
        fold: Callable[[R | None, E], R],
        originator: Callable[[E], UUID],
        version: Callable[[E], int],
        cache_size: int = 20_000,
    ) -> None:
        self._event_log = event_log
        self._event_type = event_type
        self._fold = fold
        self._originator = originator
        self._version = version
        self._cache_size = cache_size
        self._records: OrderedDict[UUID, R] = OrderedDict()
        self._lock = threading.Lock()
        self._loader: Repository[UUID] | None = None

    def fold_batch(self, batch: Sequence[Positioned]) -> list[Folded[R]]:
        by_stream: dict[UUID, list[tuple[E, int]]] = {}
        for item in batch:
            if isinstance(item.event, self._event_type):
                event = item.event
                by_stream.setdefault(self._originator(event), []).append((event, item.position))
        if not by_stream:
            return []
        result: list[Folded[R]] = []
        with self._lock:
            for stream_id, items in by_stream.items():
                record = self._before(stream_id, self._version(items[0][0]))
                for event, _ in items:
                    record = self._fold(record, event)
                if record is None or record.version != self._version(items[-1][0]):
                    continue  # only a log that lost a stream's earlier events gets here
                self._remember(stream_id, record)
                result.append(Folded(record, items[-1][1]))
        return result

    def forget(self) -> None:
        with self._lock:
            self._records.clear()

    def _before(self, stream_id: UUID, version: int) -> R | None:
        if version <= 1:
            return None
        cached = self._records.get(stream_id)
        if cached is not None and cached.version == version - 1:
            return cached
        if self._loader is None:
            self._loader = view_repository(self._event_log)
        record: R | None = None
        for event in self._loader.event_store.get(stream_id, lte=version - 1):
            if isinstance(event, self._event_type):
                record = self._fold(record, event)
        return record

    def _remember(self, stream_id: UUID, record: R) -> None:
        if self._cache_size <= 0:
            return
        self._records[stream_id] = record
        self._records.move_to_end(stream_id)
        while len(self._records) > self._cache_size:
            self._records.popitem(last=False)
