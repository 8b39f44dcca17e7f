"""The shift service: the rota (shifts planned one by one or from a weekly pattern, reassigned,
cancelled) and the attendance against it (check-in, check-out, handovers and their
acknowledgement), every write on the one write path (``application.write_path``).

The rules are the domain's (``domain.shift.decide``); this service brings them what they read
from outside one shift, checked before anything is decided:

* the service named exists, and a weekly pattern is laid out in its time zone
  (``ServiceDirectory``: the services context's, ``RecordedServices``);
* the people named (an assignee, a handover's ``to``) are active users whose roles can be on a
  shift (volunteer, moderator, coordinator, safeguarding lead: ``Permission.SHIFT_ATTEND``);
* a handover's cases exist and the person handing over may see them (a restricted case they
  cannot see answers as a missing one, as everywhere);
* a check-in knows whether the person is checked in to another shift now (``open_check_ins``,
  the ``attendance`` view caught up first; ``projections.attendance`` says what race remains);
* a check-out recorded for someone else needs ``Permission.SHIFT_CHECK_OUT_OTHERS``.

A weekly pattern's shifts are planned in ONE append: the write path appends the events of other
aggregates decided with an aggregate's own in the same transaction, so the write is on the
pattern's first shift and carries the plan of every other (one ``ShiftPlanned`` per shift,
each its own stream): all of them or none.

Every write takes an Idempotency-Key (``application.idempotency``: a record beside the write's
events); a retry with the same request answers as the first time and appends nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from application.access import AccessService
from application.idempotency import KeyedRequest, WriteKeys
from application.services import ServiceService
from application.write_path import WritePath, Written
from domain.access.permissions import Permission, check, is_allowed
from domain.calendar import time_zone
from domain.case.errors import CaseNotFound
from domain.errors import InvalidCommand
from domain.idempotency import IdempotencyKeyUsed
from domain.identity.user import User
from domain.service.errors import ServiceNotFound
from domain.shared import Actor, DecisionContext
from domain.shift import commands as c
from domain.shift.decide import ShiftContext, ShiftPolicy, decide
from domain.shift.errors import HandoverCaseNotFound, ShiftAlreadyPlanned, ShiftNotFound
from domain.shift.events import ShiftEvent, ShiftPlanned
from domain.shift.rota import PlanRota, expand_weekly, plan_rota, rota_shift_id
from domain.shift.state import ShiftState, evolve
from infrastructure.event_log import EventLog


class ServiceDirectory(Protocol):
    """What shifts need to know of services: which exist, and the time zone of a service's
    calendar in force at a moment."""

    def service_exists(self, name: str) -> bool: ...

    def service_timezone(self, name: str, at: datetime) -> ZoneInfo: ...


@dataclass(frozen=True)
class RecordedServices:
    """Services as the services context records them: which exist, and the time zone of the
    calendar version in force at a moment (so a weekly pattern follows the service's hours)."""

    services: ServiceService

    def service_exists(self, name: str) -> bool:
        return self.services.exists(name)

    def service_timezone(self, name: str, at: datetime) -> ZoneInfo:
        if not self.services.exists(name):
            raise ServiceNotFound(f"no service {name!r}", errors={"service": "unknown service"})
        return time_zone(self.services.in_force(name, at).timezone)


class People(Protocol):
    """The users shifts name (``IdentityService`` is one)."""

    def get(self, username: str) -> User | None: ...


@dataclass(frozen=True)
class ShiftWrite:
    """A write to one shift as answered: the shift just after it, its events, the log position
    of the last of them, and whether this answers a retried Idempotency-Key."""

    state: ShiftState
    events: list[ShiftEvent]
    position: int
    replayed: bool = False


@dataclass(frozen=True)
class RotaWrite:
    """A weekly pattern as planned: each shift (in order of start), their events, the log
    position of the last, and whether this answers a retried Idempotency-Key."""

    shifts: list[ShiftState]
    events: list[ShiftPlanned]
    position: int
    replayed: bool = False


def _fold(state: ShiftState | None, events: Iterable[Any]) -> ShiftState | None:
    for event in events:
        if isinstance(event, ShiftEvent):
            state = evolve(state, event)
    return state


def _version(state: ShiftState) -> int:
    return state.version


def case_visibility(access: AccessService) -> Callable[[Actor, UUID], bool]:
    """Whether an actor may see a case at all (a restricted case they have no access to is as
    good as missing): what a handover may name."""

    def sees(actor: Actor, case_id: UUID) -> bool:
        try:
            access.gate(actor, case_id)
        except CaseNotFound:
            return False
        return True

    return sees


@dataclass
class _Decided:
    """What a decision found, for its answer (decide runs again after a lost race)."""

    events: list[ShiftPlanned] = field(default_factory=list)


class ShiftService:
    def __init__(
        self,
        event_log: EventLog,
        *,
        clock: Callable[[], datetime],
        services: ServiceDirectory,
        people: People,
        sees_case: Callable[[Actor, UUID], bool],
        open_check_ins: Callable[[str], Sequence[UUID]],
        policy: ShiftPolicy = ShiftPolicy(),  # noqa: B008 - frozen, shared safely
        max_clock_skew_seconds: int = 300,
        write_retries: int = 25,
        cache_size: int = 0,
    ) -> None:
        self._event_log = event_log
        self._clock = clock
        self._services = services
        self._people = people
        self._sees_case = sees_case
        self._open_check_ins = open_check_ins
        self.policy = policy
        self._max_skew = timedelta(seconds=max_clock_skew_seconds)
        self._keys = WriteKeys(event_log)
        self._shifts = WritePath[ShiftState](
            event_log,
            name="shift",
            fold=_fold,
            version=_version,
            retries=write_retries,
            not_found=lambda: ShiftNotFound("no such shift"),
            cache_size=cache_size,
        )

    def with_clock(self, clock: Callable[[], datetime]) -> ShiftService:
        """The same service recording on another clock (sharing its log and caches): for the
        demo (``application.demo_rota``), which records a week that has passed as it happened.
        Never for a user's write: their events carry the server's clock."""
        twin = copy.copy(self)
        twin._clock = clock
        return twin

    # --- reads ----------------------------------------------------------------------------------

    def load(self, shift_id: UUID, *, version: int | None = None) -> ShiftState | None:
        return self._shifts.load(shift_id, version=version)

    def get(self, shift_id: UUID) -> ShiftState:
        state = self.load(shift_id)
        if state is None:
            raise ShiftNotFound("no such shift")
        return state

    def events(self, shift_id: UUID) -> list[ShiftEvent]:
        """The shift's events in order (personal fields decrypted where not erased)."""
        return [e for e in self._event_log.events_of(shift_id) if isinstance(e, ShiftEvent)]

    def zone_of(self, service: str) -> ZoneInfo:
        """The service's time zone now (its calendar's in force)."""
        self._check_service(service)
        return self._services.service_timezone(service, self._clock())

    def planned(
        self,
        start: datetime,
        end: datetime,
        *,
        assignee: str | None = None,
        service: str | None = None,
    ) -> list[ShiftState]:
        """Every shift meeting [start, end) as it stands now (cancelled ones too), by start;
        with ``assignee``, those with a part of theirs. Read from the log (every plan, then
        each shift): for the command line; the rota's view answers the API."""
        found = []
        for shift_id in self._shift_ids():
            state = self.load(shift_id)
            if state is None or not (state.starts_at < end and state.ends_at > start):
                continue
            if service is not None and state.service != service:
                continue
            if assignee is not None and assignee not in state.assignees():
                continue
            found.append(state)
        return sorted(found, key=lambda s: (s.starts_at, str(s.id)))

    def _shift_ids(self) -> Iterable[UUID]:
        return self._event_log.originators_of(ShiftPlanned)

    # --- planning -------------------------------------------------------------------------------

    def plan(
        self, command: c.PlanShift, actor: Actor, *, request: KeyedRequest | None = None
    ) -> ShiftWrite:
        """Plan one shift (a start already passed only for cover happening now, with a reason)."""
        if command.pattern_id is not None:
            raise InvalidCommand(
                "a shift's pattern is set by POST /rota", errors={"pattern_id": "not accepted"}
            )
        self._check_service(command.service)
        self._check_person(command.assignee, "assignee")
        shift_id = uuid4()
        return self._shifts.write(
            shift_id,
            lambda state: decide(state, command, self._context(actor, shift_id=shift_id)),
            self._answer,
            recall=self._keys.recall(actor.username, request, lambda e: self._replay(e, 1)),
        )

    def plan_rota(
        self, command: PlanRota, actor: Actor, *, request: KeyedRequest | None = None
    ) -> RotaWrite:
        """Plan every shift of a weekly pattern between two dates (both included), in the
        service's time zone (that of its calendar in force now), in one append."""
        self._check_service(command.service)
        self._check_person(command.assignee, "assignee")
        zone = self._services.service_timezone(command.service, self._clock())
        pattern_id = uuid4()
        # The first shift's id (the write's own aggregate) derives from the pattern and its
        # start; deciding again after a lost race lays the same pattern out the same way.
        spans = expand_weekly(command.weekly, command.from_, command.until, zone)
        first = rota_shift_id(pattern_id, spans[0][0]) if spans else pattern_id
        decided = _Decided()

        def decide_rota(state: ShiftState | None) -> list[ShiftPlanned]:
            if state is not None:  # pragma: no cover - the pattern's ids are new
                raise ShiftAlreadyPlanned(f"shift {state.id} is already planned")
            decided.events = plan_rota(command, pattern_id, zone, self._context(actor))
            return decided.events

        def answer(written: Written[ShiftState]) -> RotaWrite:
            events = decided.events
            return RotaWrite(
                shifts=[_planned(e) for e in events],
                events=events,
                position=self._position_of(events[-1]),
            )

        return self._shifts.write(
            first,
            decide_rota,
            answer,
            recall=self._keys.recall(
                actor.username, request, lambda earlier: self._rota_replay(command, earlier)
            ),
        )

    # --- changes to one shift ------------------------------------------------------------------

    def execute(
        self,
        shift_id: UUID,
        command: c.ShiftCommand,
        actor: Actor,
        *,
        request: KeyedRequest | None = None,
    ) -> ShiftWrite:
        """Reassign, cancel, check in, check out (with a handover, or for someone else), hand
        over or acknowledge a handover; a retried keyed request answers the first time."""
        if isinstance(command, c.PlanShift):
            return self.plan(command, actor, request=request)
        if self.load(shift_id) is None:
            raise ShiftNotFound("no such shift")
        self._check_references(command, actor)
        count = 2 if isinstance(command, c.CheckOut) and command.handover is not None else 1

        def decide_now(state: ShiftState | None) -> list[ShiftEvent]:
            elsewhere = None
            if isinstance(command, c.CheckIn):
                elsewhere = next(
                    (s for s in self._open_check_ins(actor.username) if s != shift_id), None
                )
            return decide(state, command, self._context(actor, elsewhere=elsewhere))

        return self._shifts.write(
            shift_id,
            decide_now,
            self._answer,
            recall=self._keys.recall(actor.username, request, lambda e: self._replay(e, count)),
        )

    # --- checks ---------------------------------------------------------------------------------

    def _check_service(self, name: str) -> None:
        if not self._services.service_exists(name):
            raise ServiceNotFound(f"no service {name!r}", errors={"service": "unknown service"})

    def _check_person(self, username: str, where: str) -> None:
        """An active user whose roles can be on a shift, or 422 naming ``where``."""
        user = self._people.get(username)
        if user is None or not user.active:
            raise InvalidCommand(
                f"{username!r} is not an active Vigil user",
                errors={where: "unknown user" if user is None else "deactivated user"},
            )
        if not any(is_allowed(role, Permission.SHIFT_ATTEND) for role in user.roles):
            raise InvalidCommand(
                f"{username!r} cannot be on a shift: none of their roles attends one "
                "(volunteer, moderator, coordinator or safeguarding lead)",
                errors={where: "cannot be on a shift"},
            )

    def _check_references(self, command: c.ShiftCommand, actor: Actor) -> None:
        if isinstance(command, c.ReassignShift):
            self._check_person(command.assignee, "assignee")
        handover: c.HandoverNote | None = None
        where = ""
        if isinstance(command, c.RecordHandover):
            handover = command
        elif isinstance(command, c.CheckOut):
            handover, where = command.handover, "handover."
            if command.on_behalf_of is not None and command.on_behalf_of != actor.username:
                check(actor, Permission.SHIFT_CHECK_OUT_OTHERS)
        if handover is None:
            return
        if handover.to is not None and handover.to != actor.username:
            self._check_person(handover.to, f"{where}to")
        hidden = [str(i) for i in handover.case_ids if not self._sees_case(actor, i)]
        if hidden:
            # A case hidden from the person answers as a missing one: nothing tells them apart.
            raise HandoverCaseNotFound(
                f"no such case: {', '.join(hidden)}",
                errors={f"{where}case_ids": f"no such case: {', '.join(hidden)}"},
            )

    # --- answers --------------------------------------------------------------------------------

    def _context(
        self, actor: Actor, *, shift_id: UUID | None = None, elsewhere: UUID | None = None
    ) -> ShiftContext:
        return ShiftContext(
            decision=DecisionContext(actor=actor, now=self._clock(), max_clock_skew=self._max_skew),
            shift_id=shift_id,
            policy=self.policy,
            open_check_in_elsewhere=elsewhere,
        )

    @staticmethod
    def _answer(written: Written[ShiftState]) -> ShiftWrite:
        assert written.after is not None
        return ShiftWrite(written.after, list(written.events), written.position)

    def _position_of(self, event: ShiftEvent) -> int:
        found = self._event_log.notification_id_of(event.originator_id, event.originator_version)
        return found or 0

    def _replay(self, earlier: IdempotencyKeyUsed, count: int) -> ShiftWrite:
        """The first answer to a keyed write: the shift as it left it, and its ``count`` events
        (a check-out with a handover made two)."""
        events = [
            e
            for e in self._event_log.events_of(earlier.target_id, lte=earlier.target_version)
            if isinstance(e, ShiftEvent)
        ]
        state = _fold(None, events)
        assert state is not None  # it holds the keyed write's own event
        return ShiftWrite(state, events[-count:], self._position_of(events[-1]), replayed=True)

    def _rota_replay(self, command: PlanRota, earlier: IdempotencyKeyUsed) -> RotaWrite:
        """The first answer to a keyed weekly pattern: the same request, laid out in the zone
        in force when it was first planned, names the same shifts (ids from the pattern)."""
        [first] = [
            e
            for e in self._event_log.events_of(earlier.target_id, lte=1)
            if isinstance(e, ShiftPlanned)
        ]
        assert first.pattern_id is not None
        zone = self._services.service_timezone(command.service, earlier.recorded_at)
        events: list[ShiftPlanned] = []
        for start, _ in expand_weekly(command.weekly, command.from_, command.until, zone):
            shift_id = rota_shift_id(first.pattern_id, start)
            events += [
                e for e in self._event_log.events_of(shift_id, lte=1) if isinstance(e, ShiftPlanned)
            ]
        return RotaWrite(
            shifts=[_planned(e) for e in events],
            events=events,
            position=self._position_of(events[-1]),
            replayed=True,
        )


def _planned(event: ShiftPlanned) -> ShiftState:
    return evolve(None, event)
