"""Services' calendars as the log held them at a position: what views judge due times by.

A view's due time is judged by the calendar version of the case's service in force when its
clock started. Views never read today's services: they take each service's versions from the
service events in the log **up to the position of the case event being folded** (the events are
in the same log, in commit order), read here by topic and kept in memory. So a row is a pure
function of the log, the same on every rebuild, in every process (a rebuild's worker process,
which folds only its share of the aggregates, reads them from the log too).

A new version never changes a due time already judged: it may not take effect in the past
(``domain.service.decide``), so every moment before it is judged by the versions before it,
whether the view knows of it yet or not.

The ``default`` service is recorded on first need (``application.services``), possibly after
cases judged by it (a store older than services): its first version, in force from the start of
time, is taken wherever it stands in the log, and from ``default_first`` (the settings') while
it is not there at all. Every other service is registered before any case names it.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any
from uuid import UUID

from domain.calendar import CalendarHistory, CalendarVersion, HolidayLookup
from domain.service.commands import DEFAULT_SERVICE
from domain.service.events import ServiceCalendarVersioned, ServiceRegistered
from domain.service.state import service_id_for
from infrastructure.event_log import EventLog
from projections.topic_reader import TopicReader

TOPICS = tuple(
    f"{cls.__module__}:{cls.__qualname__}" for cls in (ServiceRegistered, ServiceCalendarVersioned)
)
_DEFAULT_ID = service_id_for(DEFAULT_SERVICE)


class ServiceCalendars(TopicReader):
    """Each service's calendar history as of a log position (thread-safe; reads only the log)."""

    topics = TOPICS

    def __init__(
        self,
        event_log: EventLog,
        *,
        default_first: CalendarVersion,
        holidays: HolidayLookup,
    ) -> None:
        super().__init__(event_log)
        self._default_first = default_first
        self._holidays = holidays
        self._positions: list[int] = []  # of the service events read, in log order
        self._events: list[ServiceRegistered | ServiceCalendarVersioned] = []
        self._recorded_default: CalendarVersion | None = None
        self._default_looked_up = False
        self._histories: dict[tuple[UUID, int], CalendarHistory] = {}

    def history(self, service: str, position: int) -> CalendarHistory:
        """The calendar history of ``service`` as the log held it at ``position`` (the default
        service's, for a service the log did not hold then: never the case for a case's own)."""
        with self._lock:
            self._read(position)
            count = bisect_right(self._positions, position)
            service_id = service_id_for(service)
            versions = [e.version() for e in self._events[:count] if e.originator_id == service_id]
            if service_id == _DEFAULT_ID or not versions:
                service_id = _DEFAULT_ID
                versions = [
                    self._default_version(),
                    *(
                        e.version()
                        for e in self._events[:count]
                        if e.originator_id == _DEFAULT_ID
                        and isinstance(e, ServiceCalendarVersioned)
                    ),
                ]
            key = (service_id, len(versions))
            kept = self._histories.get(key)
            if kept is None:
                kept = self._histories[key] = CalendarHistory.of(versions, self._holidays)
            return kept

    def _default_version(self) -> CalendarVersion:
        # Looked up once, wherever it stands in the log; recorded later, it is read with the
        # service events that reach it (``_read``).
        if not self._default_looked_up:
            self._default_looked_up = True
            stored = self._event_log.recorder.select_events(_DEFAULT_ID, lte=1)
            if stored:
                registered = self._decoder()(stored[0])
                if isinstance(registered, ServiceRegistered):
                    self._recorded_default = registered.version()
        return self._recorded_default or self._default_first

    def _take(self, position: int, event: Any) -> None:
        if isinstance(event, ServiceRegistered | ServiceCalendarVersioned):
            self._positions.append(position)
            self._events.append(event)
            if isinstance(event, ServiceRegistered) and event.originator_id == _DEFAULT_ID:
                self._recorded_default = event.version()
