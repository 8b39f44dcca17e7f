"""Services and their calendars: register a service, give its calendar a new version, read them.

Every write goes through the one write path (``application.write_path``): the service is
loaded from its events (ids derive from names, so a second registration of a name races for the
same first version and loses), decided on by ``domain.service.decide`` and appended; a write
carrying an Idempotency-Key is recognised when retried (``application.idempotency``).

**The ``default`` service** exists from the start, with the settings' calendar as its first
version, in force from the start of time (``domain.calendar.EARLIEST_VERSION``): every moment
judged by the settings before services existed is judged the same way after. It is recorded in
the log *on first need*, once, by the system actor ``vigil``: in the same transaction as the
first case opened on it (before its ``CaseOpened``), or just before the first new version of its
calendar (once that version is known to be allowed: a refusal writes nothing). Until then it is
read from the settings; from then on only from the log, so a later change of the settings
changes nothing it judged. (Recorded on first need rather than at start-up: a read-only command,
a fresh store the demo fills, or a store that only ever holds users writes nothing it did not
ask for. A store older than services is judged by the settings until then, as it always was.)

Bank holidays come from the infrastructure (``infrastructure.calendar.bank_holidays``), by the
region a version names; the regions it can supply are checked when a version is decided.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.idempotency import KeyedRequest, WriteKeys
from application.write_path import WritePath, Written
from domain.calendar import CalendarHistory, CalendarVersion, HolidayLookup, ServiceCalendar
from domain.idempotency import IdempotencyKeyUsed
from domain.service.commands import (
    DEFAULT_SERVICE,
    RegisterService,
    VersionCalendar,
    register_default_service,
)
from domain.service.decide import ServiceContext, decide
from domain.service.errors import ServiceAlreadyExists, ServiceNotFound
from domain.service.events import ServiceEvent, ServiceRegistered
from domain.service.state import ServiceState, evolve, service_id_for
from domain.shared import Actor, DecisionContext, Role
from infrastructure.event_log import EventLog

SYSTEM_ACTOR = Actor(username="vigil", role=Role.ADMIN)
"""Who records the ``default`` service: Vigil itself, not a person."""
_HISTORIES_KEPT = 256


@dataclass(frozen=True)
class ServiceWrite:
    """A write to a service as answered: the service just after it, the event it appended, its
    log position, and whether this answers a retried Idempotency-Key."""

    service: ServiceState
    events: Sequence[ServiceEvent]
    position: int = 0
    replayed: bool = False


def _version(state: ServiceState) -> int:
    return state.version


def _fold(state: ServiceState | None, events: Iterable[Any]) -> ServiceState | None:
    for event in events:
        if isinstance(event, ServiceEvent):
            state = evolve(state, event)
    return state


class ServiceService:
    """Services, their calendar versions, and the calendar history a case is judged by."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        clock: Callable[[], datetime],
        write_retries: int,
        default_calendar: CalendarVersion,
        holidays: HolidayLookup,
        bank_holiday_regions: Container[str] | None = None,
    ) -> None:
        """``default_calendar``: the settings' calendar, the default service's first version
        until that service is recorded (``infrastructure.calendar.default_service_calendar``)."""
        self._event_log = event_log
        self._clock = clock
        self._default_calendar = default_calendar
        self._holidays = holidays
        self._regions = bank_holiday_regions
        self._keys = WriteKeys(event_log)
        self._services = WritePath[ServiceState](
            event_log,
            name="service",
            fold=_fold,
            version=_version,
            retries=write_retries,
            not_found=lambda: ServiceNotFound("no such service"),
        )
        # Histories by (service, version): a version, once stored, never changes.
        self._histories: OrderedDict[tuple[UUID, int], CalendarHistory] = OrderedDict()
        self._lock = threading.Lock()
        self._default_recorded = False  # once seen in the log, it stays there

    def with_clock(self, clock: Callable[[], datetime]) -> ServiceService:
        """The same service recording on another clock (sharing its log and caches): for the
        demo (``application.demo_rota``), which records a week that has passed as it happened.
        Never for a user's write: their events carry the server's clock."""
        twin = copy.copy(self)
        twin._clock = clock
        return twin

    # --- reads ----------------------------------------------------------------------------------

    def get(self, name: str) -> ServiceState:
        """The service by name (the ``default`` one from the settings while it is not recorded),
        or ``ServiceNotFound``."""
        found = self.find(name)
        if found is None:
            raise ServiceNotFound(f"no service named {name!r}", errors={"name": "unknown service"})
        return found

    def find(self, name: str) -> ServiceState | None:
        key = name.strip().lower() if isinstance(name, str) else ""
        state = self._services.load(service_id_for(key)) if key else None
        if state is None and key == DEFAULT_SERVICE:
            return self._unrecorded_default()
        return state

    def exists(self, name: str) -> bool:
        return self.find(name) is not None

    def list_services(self) -> list[ServiceState]:
        """Every service, by name (``default`` among them, recorded or not)."""
        found = {s.name: s for s in (self._services.load(i) for i in self._ids()) if s is not None}
        if DEFAULT_SERVICE not in found:
            found[DEFAULT_SERVICE] = self._unrecorded_default()
        return [found[name] for name in sorted(found)]

    def history(self, name: str) -> CalendarHistory:
        """The service's calendars over time: judge a moment by the version in force at it."""
        state = self.get(name)
        key = (state.id, state.version)
        with self._lock:
            kept = self._histories.get(key)
            if kept is not None:
                self._histories.move_to_end(key)
                return kept
        history = state.history(self._holidays)
        with self._lock:
            self._histories[key] = history
            while len(self._histories) > _HISTORIES_KEPT:
                self._histories.popitem(last=False)
        return history

    def calendars_of(self, name: str) -> LazyHistory:
        """The service's history, looked up only when a decision asks for a calendar."""
        return LazyHistory(lambda: self.history(name))

    def in_force(self, name: str, at: datetime) -> CalendarVersion:
        """The version of the service's calendar in force at ``at``."""
        return self.get(name).version_in_force(at)

    def is_recorded(self, name: str) -> bool:
        """Whether the service's registration is in the log (``default`` may not be yet)."""
        key = name.strip().lower()
        if key == DEFAULT_SERVICE and self._default_recorded:
            return True
        recorded = self._services.load(service_id_for(key)) is not None
        if recorded and key == DEFAULT_SERVICE:
            self._default_recorded = True
        return recorded

    # --- writes ---------------------------------------------------------------------------------

    def register(
        self, command: RegisterService, actor: Actor, *, request: KeyedRequest | None = None
    ) -> ServiceWrite:
        """Register a service with its first calendar version (a name is never registered twice;
        ``default`` exists from the start)."""
        if command.name == DEFAULT_SERVICE:
            raise ServiceAlreadyExists(
                "the default service exists from the start: give it a new calendar version "
                "with POST /services/default/calendars",
                errors={"name": "already exists"},
            )

        def decide_now(state: ServiceState | None) -> list[ServiceEvent]:
            return decide(state, command, self._context(actor, self._clock()))

        return self._services.write(
            service_id_for(command.name),
            decide_now,
            self._answer,
            recall=self._keys.recall(actor.username, request, self._replay),
        )

    def add_version(
        self,
        name: str,
        command: VersionCalendar,
        actor: Actor,
        *,
        request: KeyedRequest | None = None,
    ) -> ServiceWrite:
        """Give the service's calendar a new version from ``effective_from`` (now or later: what
        was judged before it stays judged by the version in force then)."""
        key = name.strip().lower()
        if key == DEFAULT_SERVICE and not self.is_recorded(DEFAULT_SERVICE):
            # Recorded first, in a write of its own, once this version is known to be allowed
            # (a refusal writes nothing): decided on the default as the settings give it.
            decide(self._unrecorded_default(), command, self._context(actor, self._clock()))
            self.record_default()

        def decide_now(state: ServiceState | None) -> list[ServiceEvent]:
            if state is None:
                raise ServiceNotFound(f"no service named {name!r}", errors={"name": "unknown"})
            return decide(state, command, self._context(actor, self._clock()))

        return self._services.write(
            service_id_for(key),
            decide_now,
            self._answer,
            recall=self._keys.recall(actor.username, request, self._replay),
        )

    def default_registration(self) -> list[ServiceEvent]:
        """The default service's registration if it is not yet in the log (else nothing): a
        write that needs it appends it with its own events, in the same transaction."""
        if self.is_recorded(DEFAULT_SERVICE):
            return []
        return self._default_registration(self._clock())

    def record_default(self) -> ServiceState:
        """Record the default service now if it is not yet (idempotent)."""

        def decide_now(state: ServiceState | None) -> list[ServiceEvent]:
            return [] if state is not None else self._default_registration(self._clock())

        def answer(written: Written[ServiceState]) -> ServiceState:
            assert written.after is not None
            return written.after

        return self._services.write(service_id_for(DEFAULT_SERVICE), decide_now, answer)

    # --- internals ------------------------------------------------------------------------------

    def _context(self, actor: Actor, now: datetime) -> ServiceContext:
        return ServiceContext(
            decision=DecisionContext(actor=actor, now=now), bank_holiday_regions=self._regions
        )

    def _default_registration(self, now: datetime) -> list[ServiceEvent]:
        """The default service's registration: the settings' calendar as its first version, by
        the system actor, with the id its name gives (so it is recorded once, whoever races)."""
        return decide(
            None,
            register_default_service(self._default_calendar),
            ServiceContext(decision=DecisionContext(actor=SYSTEM_ACTOR, now=now)),
        )

    def _unrecorded_default(self) -> ServiceState:
        registered = self._default_registration(self._clock())
        state = _fold(None, registered)
        assert state is not None
        # Not in the log: version 0 (its registration comes with the first write that needs it).
        return state.model_copy(update={"version": 0})

    @staticmethod
    def _answer(written: Written[ServiceState]) -> ServiceWrite:
        assert written.after is not None
        return ServiceWrite(written.after, written.events, written.position)

    def _replay(self, earlier: IdempotencyKeyUsed) -> ServiceWrite:
        """The first answer to a keyed write: the service as that write left it, and its events."""
        events = [
            e
            for e in self._event_log.events_of(earlier.target_id, lte=earlier.target_version)
            if isinstance(e, ServiceEvent)
        ]
        state = _fold(None, events)
        assert state is not None
        position = (
            self._event_log.notification_id_of(earlier.target_id, earlier.target_version) or 0
        )
        # Each service write appends one event: the last.
        return ServiceWrite(state, events[-1:], position, replayed=True)

    def _ids(self) -> Iterator[UUID]:
        return self._event_log.originators_of(ServiceRegistered)


class LazyHistory:
    """A service's calendar history, found only when a decision asks for a calendar (most case
    decisions never do), then kept for that decision."""

    def __init__(self, find: Callable[[], CalendarHistory]) -> None:
        self._find = find
        self._history: CalendarHistory | None = None

    def in_force(self, at: datetime) -> ServiceCalendar:
        if self._history is None:
            self._history = self._find()
        return self._history.in_force(at)
