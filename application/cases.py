"""The case service: every case write and read goes through here.

Writes go through the one write path (``application.write_path``): the case is loaded from its
latest snapshot onwards (or this process's cache), decided on, and appended, again after a lost
race unless the client pinned a version with If-Match (412). Writes carrying an Idempotency-Key
are recognised from the case's own events: each records the key and a hash of the request, so
a retry returns the first answer and appends nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from application.services import ServiceService
from application.sla_policies import SlaPolicyService
from application.write_path import Contention as Contention  # its home before the write path
from application.write_path import Snapshots, WritePath, Written
from domain.case.approvals import DEFAULT_FOUR_EYES, FourEyesPolicy
from domain.case.commands import AssignCase, CaseCommand, OpenCase
from domain.case.decide import CaseContext, decide
from domain.case.errors import CaseNotFound
from domain.case.events import CaseEvent
from domain.case.snapshot import CaseSnapshot, project_case
from domain.case.state import CaseState, fold, write_key
from domain.errors import IdempotencyKeyReused, InvalidCommand
from domain.service.commands import DEFAULT_SERVICE
from domain.service.errors import ServiceNotFound
from domain.shared import Actor, Basis, DecisionContext
from infrastructure.event_log import EventLog

CASES_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/cases")


@dataclass(frozen=True)
class CaseChanges:
    """What changed in a case between two moments, on one basis."""

    before: CaseState | None  # None: the case did not exist yet at ``from_``
    after: CaseState
    events: list[CaseEvent]  # recorded (or occurred) after ``from_`` and by ``to``, in order


@dataclass(frozen=True)
class TimelinePage:
    """A page of a case's timeline (as of a moment, on a basis): the events after a version."""

    events: list[CaseEvent]  # at most the limit, in order
    total: int  # how many events the whole timeline holds (at that moment)
    version: int | None  # the version of its last event (None: it has none)
    more: bool  # whether events follow this page

    @classmethod
    def of(
        cls, events: Sequence[CaseEvent], *, after: int, limit: int | None, version: int | None
    ) -> TimelinePage:
        """The page of ``events`` (a whole timeline, in order) after version ``after``, at most
        ``limit`` of them (None: all); ``version`` is the timeline's, which a reader who sees
        only some of its events is still told."""
        rest = [e for e in events if e.originator_version > after]
        return cls(
            events=rest if limit is None else rest[:limit],
            total=len(events),
            version=version,
            more=limit is not None and len(rest) > limit,
        )


@dataclass(frozen=True)
class _Span:
    """Which of a case's versions an as-of read includes, told from its clocks: every version
    up to ``prefix``, none after ``last``, and those between only if they occurred by T."""

    prefix: int
    last: int


# How many events' times a search for the last event recorded by T reads in one query.
_WINDOW = 32


@dataclass(frozen=True)
class WriteResult:
    state: CaseState
    events: Sequence[CaseEvent]
    replayed: bool  # True when this answers a retried Idempotency-Key
    # The log position (notification id) of the write's last event: a reader passing it as
    # min_position sees the write in every view. A replay answers the original position.
    position: int = 0


def _version(state: CaseState) -> int:
    return state.version


@dataclass(frozen=True)
class _KeyedCaseWrite:
    """A case write's Idempotency-Key, recognised from the case's own events: each records the
    key and the request's hash (``CaseState.writes``), so a retry answers as the first time."""

    event_log: EventLog
    load: Callable[..., CaseState | None]
    actor: Actor
    key: str
    request_hash: str | None

    def answered(self, state: CaseState | None) -> WriteResult | None:
        write = (
            None if state is None else state.writes.get(write_key(self.actor.username, self.key))
        )
        if state is None or write is None:
            return None
        if write.request_hash != self.request_hash:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different request; use a new key"
            )
        events = cast(
            list[CaseEvent],
            list(
                self.event_log.events_of(
                    state.id, gt=write.first_version - 1, lte=write.last_version
                )
            ),
        )
        then = (
            state
            if state.version == write.last_version
            else self.load(state.id, version=write.last_version)
        )
        assert then is not None
        position = self.event_log.notification_id_of(state.id, write.last_version) or 0
        return WriteResult(state=then, events=events, replayed=True, position=position)

    def record(self, events: Sequence[Any]) -> list[Any]:
        return []  # each event carries the key already: it was decided with it

    def answered_after_refusal(self) -> WriteResult | None:
        return None  # the key was looked for in the very state the refusal was decided on


class CaseService:
    def __init__(
        self,
        event_log: EventLog,
        *,
        services: ServiceService,
        clock: Callable[[], datetime],
        snapshot_interval: int,
        max_clock_skew_seconds: int,
        write_retries: int,
        user_exists: Callable[[str], bool],
        case_cache_size: int = 0,
        four_eyes: FourEyesPolicy = DEFAULT_FOUR_EYES,
        sla_policies: SlaPolicyService | None = None,
    ) -> None:
        self._event_log = event_log
        # The SLA policy (issue 15): its default recorded with the first case opened, and the
        # targets in force at a moment for the due times a decision sets.
        self._policies = sla_policies
        self._four_eyes = four_eyes
        self._services = services
        self._clock = clock
        self._max_skew = timedelta(seconds=max_clock_skew_seconds)
        self._user_exists = user_exists
        self._cases = WritePath[CaseState](
            event_log,
            name="case",
            fold=fold,
            version=_version,
            retries=write_retries,
            not_found=lambda: CaseNotFound("no such case"),
            snapshots=Snapshots(every=snapshot_interval, take=self._snapshot, project=project_case),
            cache_size=case_cache_size,
        )

    def with_clock(self, clock: Callable[[], datetime]) -> CaseService:
        """The same service recording on another clock (sharing its log and caches): for the
        demo (``application.demo_rota``), which records a week that has passed as it happened.
        Never for a user's write: their events carry the server's clock."""
        twin = copy.copy(self)
        twin._clock = clock
        return twin

    # --- writes ---------------------------------------------------------------------------------

    def execute(
        self,
        case_id: UUID | None,
        command: CaseCommand,
        actor: Actor,
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        admit: Callable[[CaseState | None], None] | None = None,
    ) -> WriteResult:
        """Decide and append one command's events, or answer a retried write from the log.

        ``admit`` is the writer's access check (``AccessService.admit_write``), made on the
        state the decision is made on, first: before the command's references (an assignee)
        are looked at, a retried key is answered or If-Match is compared."""
        if isinstance(command, OpenCase):
            case_id = self.case_id_for(actor, idempotency_key) if idempotency_key else uuid4()
        assert case_id is not None
        opened = case_id

        def admit_then_check(state: CaseState | None) -> None:
            if admit is not None:
                admit(state)
            self._check_references(command)

        def decide_now(state: CaseState | None) -> list[Any]:
            return self._decide_on(
                state,
                command,
                actor,
                case_id=opened,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )

        def answer(written: Written[CaseState]) -> WriteResult:
            assert written.after is not None
            return WriteResult(
                state=written.after,
                events=written.events,
                replayed=False,
                position=written.position,
            )

        return self._cases.write(
            case_id,
            decide_now,
            answer,
            recall=(
                None
                if idempotency_key is None
                else _KeyedCaseWrite(
                    self._event_log, self.load, actor, idempotency_key, request_hash
                )
            ),
            expected_version=expected_version,
            admit=admit_then_check,
        )

    def decided(self, case_id: UUID, command: CaseCommand, actor: Actor) -> list[Any]:
        """The events ``command`` makes of the case now (its rules applied to its current
        state, a first opening's default service included), decided but NOT appended: for a
        write on another aggregate that appends them in its own transaction (a helpline
        contact opening or joining a case: ``application.contacts``). That write's append
        fails if the case moved on meanwhile, and it decides again."""
        state = self.load(case_id)
        return self._decide_on(state, command, actor, case_id=case_id)

    def _decide_on(
        self,
        state: CaseState | None,
        command: CaseCommand,
        actor: Actor,
        *,
        case_id: UUID,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> list[Any]:
        # The case's service judges it: the calendar version in force at each moment asked
        # about (looked up only if the decision asks). A case opened on the default service
        # before that service is in the log records it first, in the same transaction.
        service = command.service if isinstance(command, OpenCase) else None
        if state is not None:
            service = state.service
        first: list[Any] = []
        if isinstance(command, OpenCase) and state is None:
            first = self._services_for_opening(command.service)
            if self._policies is not None:
                first += self._policies.default_recording()
        context = CaseContext(
            decision=DecisionContext(
                actor=actor,
                now=self._clock(),
                max_clock_skew=self._max_skew,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            ),
            calendar=self._services.calendars_of(service or DEFAULT_SERVICE),
            case_id=case_id,
            four_eyes=self._four_eyes,
            sla=None if self._policies is None else self._policies.targets_at,
        )
        return [*first, *decide(state, command, context)]

    @staticmethod
    def case_id_for(actor: Actor, idempotency_key: str) -> UUID:
        """A new case's id derives from the key, so a retried open finds the case it opened."""
        return uuid5(CASES_NAMESPACE, write_key(actor.username, idempotency_key))

    def _services_for_opening(self, service: str) -> list[Any]:
        """What opening a case on ``service`` must record first: the default service's
        registration, the first time (``application.services``); an unknown service refused."""
        if service == DEFAULT_SERVICE:
            return list(self._services.default_registration())
        if not self._services.is_recorded(service):
            raise ServiceNotFound(
                f"no service named {service!r}: GET /api/v1/services lists them",
                errors={"service": "unknown service"},
            )
        return []

    def _check_references(self, command: CaseCommand) -> None:
        if isinstance(command, AssignCase) and not self._user_exists(command.assignee):
            raise InvalidCommand(
                "the assignee is not a Vigil user", errors={"assignee": "unknown user"}
            )

    def _snapshot(self, state: CaseState) -> CaseSnapshot:
        return CaseSnapshot(
            originator_id=state.id,
            originator_version=state.version,
            recorded_at=self._clock(),
            state=state,
        )

    def take_snapshot(self, case_id: UUID, *, version: int | None = None) -> None:
        """Snapshot a case at its current version, or a given one (for cases that grew before
        snapshots, or were written to the log without this service: a benchmark's)."""
        state = self.load(case_id, version=version)
        if state is None or (version is not None and state.version != version):
            raise CaseNotFound("no such case")
        assert self._event_log.snapshots is not None
        self._cases.snapshot(state)

    # --- reads ----------------------------------------------------------------------------------

    def load(self, case_id: UUID, *, version: int | None = None) -> CaseState | None:
        """The case as of its latest version (or a given one), or None if there is no such case.

        The latest version comes from this process's cache fast-forwarded with any newer events
        from the log (so other writers are always seen), else from the latest snapshot onwards.
        """
        return self._cases.load(case_id, version=version)

    def get(
        self,
        case_id: UUID,
        *,
        as_of: datetime | None = None,
        basis: Basis = Basis.RECORDED,
        current: CaseState | None = None,
    ) -> CaseState:
        """Current state, or the state as known (recorded basis) / as happened (occurred) at T.
        ``current``: for a read as of T, the case now as just loaded by the caller (an access
        check), spared a second load."""
        state = self.load(case_id) if as_of is None else self._as_of(case_id, as_of, basis, current)
        if state is None:
            raise CaseNotFound("no such case" if as_of is None else "no such case at that time")
        return state

    def _as_of(
        self, case_id: UUID, as_of: datetime, basis: Basis, current: CaseState | None
    ) -> CaseState | None:
        """The fold of the case's events recorded (occurred) by T. Where the case's clocks tell
        which versions those are, from the latest snapshot at or before the last version all
        of whose predecessors are in, plus the few in doubt; else from every event."""
        if current is None:
            current = self.load(case_id)
        span = None if current is None else self._span(current, as_of, basis)
        if current is None or span is None:
            return fold(None, self.timeline(case_id, as_of=as_of, basis=basis))
        if span.prefix == 0:
            before = None
        elif span.prefix == current.version:
            before = current
        else:
            before = self.load(case_id, version=span.prefix)
        included = self._occurred_by(case_id, span, as_of)
        if not included:
            return before
        later = self._event_log.events_of(case_id, gt=included[0] - 1, lte=included[-1])
        keep = set(included)
        return fold(before, [e for e in later if e.originator_version in keep])

    def _span(self, current: CaseState, as_of: datetime, basis: Basis) -> _Span | None:
        """Which versions of the case (as of ``current``) a read as of T includes, or None if
        its clocks do not tell (unknown, or events recorded out of order): read them all then.

        Recorded basis: the events were recorded in order, so those by T are versions 1..K.
        Occurred basis: each event occurred within [recorded_at - max_lateness, recorded_at +
        max_lead], so every one recorded by T - max_lead occurred by T, and none recorded after
        T + max_lateness did."""
        clocks = current.clocks
        if clocks is None or not clocks.recorded_in_order:
            return None
        try:
            if basis is Basis.RECORDED:
                first = last = as_of
            else:
                first, last = as_of - clocks.max_lead, as_of + clocks.max_lateness
        except OverflowError:
            return None
        prefix = self._last_recorded_by(current, first)
        end = prefix if last == first else self._last_recorded_by(current, last)
        if prefix is None or end is None:
            return None
        return _Span(prefix=prefix, last=end)

    def _last_recorded_by(self, current: CaseState, moment: datetime) -> int | None:
        """The last version of a case recorded in order that was recorded by ``moment`` (0:
        none), read from a few windows of its events' times (nothing unsealed): each window
        placed where the moment falls between the known times (the case's events come at a
        fairly steady pace), every other one halving the range (so never more than about
        twice log2 of the versions). None if the log lacks a version it should hold."""
        clocks = current.clocks
        assert clocks is not None
        if clocks.last_recorded_at <= moment:
            return current.version
        if clocks.first_recorded_at > moment:
            return 0
        # Version ``low`` was recorded by the moment (at ``low_at``), version ``high`` after it.
        low, low_at = 1, clocks.first_recorded_at
        high, high_at = current.version, clocks.last_recorded_at
        halve = False
        while high - low > 1:
            if high - low - 1 <= _WINDOW:
                start, end = low + 1, high - 1
            else:
                if halve:
                    guess = (low + high) // 2
                else:
                    share = (moment - low_at) / (high_at - low_at)
                    guess = low + int((high - low) * share)
                halve = not halve
                start = min(max(low + 1, guess - _WINDOW // 2), high - _WINDOW)
                end = start + _WINDOW - 1
            times = self._event_log.clocks_of(current.id, gt=start - 1, lte=end)
            if [version for version, _, _ in times] != list(range(start, end + 1)):
                return None
            for version, recorded_at, _ in times:
                if recorded_at <= moment:
                    low, low_at = version, recorded_at
                else:
                    high, high_at = version, recorded_at
                    break
        return low

    def _occurred_by(self, case_id: UUID, span: _Span, as_of: datetime) -> list[int]:
        """The versions between a span's prefix and its last that occurred by T."""
        if span.last <= span.prefix:
            return []
        times = self._event_log.clocks_of(case_id, gt=span.prefix, lte=span.last)
        return [version for version, _, occurred_at in times if occurred_at <= as_of]

    def timeline(
        self, case_id: UUID, *, as_of: datetime | None = None, basis: Basis = Basis.RECORDED
    ) -> list[CaseEvent]:
        """The case's events in order; with ``as_of``, only those recorded (or occurred) by T."""
        events = [e for e in self._event_log.events_of(case_id) if isinstance(e, CaseEvent)]
        if not events:
            raise CaseNotFound("no such case")
        if as_of is None:
            return events
        if basis is Basis.RECORDED:
            return [e for e in events if e.recorded_at <= as_of]
        return [e for e in events if e.occurred_at <= as_of]

    def timeline_page(
        self,
        case_id: UUID,
        *,
        after: int,
        limit: int,
        as_of: datetime | None = None,
        basis: Basis = Basis.RECORDED,
        current: CaseState | None = None,
    ) -> TimelinePage:
        """The events of the case's timeline (``timeline``) after version ``after``, at most
        ``limit`` of them, with the timeline's total and last version. Where the case's clocks
        tell which versions the timeline holds, only the page's events are read (and the few
        in doubt on the occurred basis, without unsealing them); else every event.
        ``current``: the case as just loaded by the caller (an access check), spared a load."""
        if current is None:
            current = self.load(case_id)
        span: _Span | None = None
        if current is not None:
            span = (
                _Span(prefix=current.version, last=current.version)
                if as_of is None
                else self._span(current, as_of, basis)
            )
        if current is None or span is None:
            whole = self.timeline(case_id, as_of=as_of, basis=basis)
            last = whole[-1].originator_version if whole else None
            return TimelinePage.of(whole, after=after, limit=limit, version=last)
        doubtful = [] if as_of is None else self._occurred_by(case_id, span, as_of)
        start = max(after, 0)
        wanted = list(range(start + 1, min(span.prefix, start + limit + 1) + 1))
        wanted += [v for v in doubtful if v > after][: limit + 1 - len(wanted)]
        page = wanted[:limit]
        events: list[CaseEvent] = []
        if page:
            keep = set(page)
            events = [
                e
                for e in self._event_log.events_of(case_id, gt=page[0] - 1, lte=page[-1])
                if isinstance(e, CaseEvent) and e.originator_version in keep
            ]
        last = doubtful[-1] if doubtful else span.prefix
        return TimelinePage(
            events=events,
            total=span.prefix + len(doubtful),
            version=last or None,
            more=len(wanted) > limit,
        )

    def changes(
        self, case_id: UUID, from_: datetime, to: datetime, basis: Basis = Basis.RECORDED
    ) -> CaseChanges:
        """The events recorded (or occurred) in (from_, to], and the case as of both moments."""
        if from_ > to:
            raise InvalidCommand(
                "from must not be later than to",
                errors={"from": "must be at or before to", "to": "must be at or after from"},
            )
        by_to = self.timeline(case_id, as_of=to, basis=basis)
        after = fold(None, by_to)
        if after is None:
            raise CaseNotFound("no such case at that time")

        def when(event: CaseEvent) -> datetime:
            return event.recorded_at if basis is Basis.RECORDED else event.occurred_at

        before = fold(None, [e for e in by_to if when(e) <= from_])
        return CaseChanges(before=before, after=after, events=[e for e in by_to if when(e) > from_])
