"""Events of a few topics read from the log up to a position, kept in memory, and fed from the
batches a projector reads anyway: what ``projections.sla_policies`` and
``projections.service_calendars`` build their histories from.

A subclass names its ``topics`` and takes each event in ``_take`` (called in log order, under
the reader's lock). ``_read(position)`` brings it up to a position from the log, by topic, a
page at a time; ``saw(after, batch)`` takes the events of a batch a projector has read (every
event of the log past ``after`` up to the batch's last), so a busy log is not read again for
them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from infrastructure.event_log import EventLog
from infrastructure.persistence import view_decoder

if TYPE_CHECKING:
    from projections.runner import Positioned

_PAGE = 1000


class TopicReader:
    """The log's events of ``topics`` up to a position (thread-safe; reads only the log)."""

    topics: tuple[str, ...] = ()

    def __init__(self, event_log: EventLog) -> None:
        self._event_log = event_log
        self._decode: Callable[[Any], Any] | None = None
        self._read_to = 0  # every event of the topics up to here is taken
        self._lock = threading.Lock()

    def _take(self, position: int, event: Any) -> None:
        raise NotImplementedError

    def saw(self, after: int, batch: Sequence[Positioned]) -> None:
        """A projector read every event of the log past ``after`` up to the batch's last, in
        log order: the events of the topics among them are taken from the batch, so the
        positions up to its end are known without reading the log again (at most once, the
        part between what was read before and ``after``)."""
        if not batch:
            return
        with self._lock:
            end = batch[-1].position
            if end <= self._read_to:
                return
            self._read(after)
            for item in batch:
                if item.position > self._read_to:
                    self._take(item.position, item.event)
            self._read_to = end

    def _read(self, position: int) -> None:
        """Take the events of the topics up to ``position`` from the log (under the lock)."""
        if position <= self._read_to:
            return
        recorder = self._event_log.recorder
        decode = self._decoder()
        start = self._read_to + 1
        while True:
            page = recorder.select_notifications(
                start, _PAGE, stop=position, topics=list(self.topics)
            )
            for notification in page:
                self._take(notification.id, decode(notification))
            if len(page) < _PAGE:
                break
            start = page[-1].id + 1
        self._read_to = position

    def _decoder(self) -> Callable[[Any], Any]:
        if self._decode is None:
            self._decode = view_decoder(self._event_log)
        return self._decode
