"""The case service: every case write and read goes through here.

A write loads the case (from its latest snapshot onwards), decides, and appends.
If another writer got there first (the version is taken), it reloads and decides
again, unless the client pinned a version with If-Match, in which case the race
is the client's to resolve (412). Within one process, writes to one case queue for
it (a lock per stripe of case ids), so only writers in other processes race: under
a burst, a writer that kept losing would otherwise back off longer and longer while
newer ones went first, until it gave up. Writes carrying an Idempotency-Key are
recognised from the events themselves: each event records the key and a hash of
the request, so a retry returns the first answer and appends nothing.
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.ledger import Ledger
from domain.calendar import ServiceCalendar
from domain.case.approvals import DEFAULT_FOUR_EYES, FourEyesPolicy
from domain.case.commands import AssignCase, CaseCommand, OpenCase
from domain.case.decide import CaseContext, decide
from domain.case.errors import CaseNotFound
from domain.case.events import CaseEvent
from domain.case.snapshot import CaseSnapshot
from domain.case.state import CaseState, apply_in_place, fold, write_key
from domain.errors import (
    DomainError,
    IdempotencyKeyReused,
    InvalidCommand,
    VersionConflict,
)
from domain.shared import Actor, DecisionContext

CASES_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/cases")


class Basis(StrEnum):
    """What "as of T" means: what we had recorded by T, or what had happened by T."""

    RECORDED = "recorded"
    OCCURRED = "occurred"


@dataclass(frozen=True)
class CaseChanges:
    """What changed in a case between two moments, on one basis."""

    before: CaseState | None  # None: the case did not exist yet at ``from_``
    after: CaseState
    events: list[CaseEvent]  # recorded (or occurred) after ``from_`` and by ``to``, in order


# Stripes of case ids whose writes queue in one process (a case's writes always in the same one).
_WRITE_STRIPES = 256


class Contention(DomainError):
    """A write kept losing races; the client may retry."""

    title = "Too much contention on this case"


@dataclass(frozen=True)
class WriteResult:
    state: CaseState
    events: Sequence[CaseEvent]
    replayed: bool  # True when this answers a retried Idempotency-Key
    # The log position (notification id) of the write's last event: a reader passing it as
    # min_position sees the write in every view. A replay answers the original position.
    position: int = 0


class StateCache:
    """A small LRU of case states, shared by the threads of one process.

    States are never mutated once built (``fold`` copies), so handing the same object to
    several readers is safe; a cached state is only a starting point, always fast-forwarded.
    """

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._states: OrderedDict[UUID, CaseState] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, case_id: UUID) -> CaseState | None:
        with self._lock:
            state = self._states.get(case_id)
            if state is not None:
                self._states.move_to_end(case_id)
            return state

    def put(self, state: CaseState) -> None:
        if self._maxsize <= 0:
            return
        with self._lock:
            current = self._states.get(state.id)
            if current is not None and current.version > state.version:
                return  # another thread already cached a later version
            self._states[state.id] = state
            self._states.move_to_end(state.id)
            while len(self._states) > self._maxsize:
                self._states.popitem(last=False)


def project_case(state: CaseState | None, events: Any) -> CaseState | None:
    """Projector for the repository: a snapshot, then the events after it."""
    for event in events:
        state = event.state if isinstance(event, CaseSnapshot) else apply_in_place(state, event)
    return state


class CaseService:
    def __init__(
        self,
        ledger: Ledger,
        *,
        calendar: ServiceCalendar,
        clock: Callable[[], datetime],
        snapshot_interval: int,
        max_clock_skew_seconds: int,
        write_retries: int,
        user_exists: Callable[[str], bool],
        case_cache_size: int = 0,
        four_eyes: FourEyesPolicy = DEFAULT_FOUR_EYES,
    ) -> None:
        self._ledger = ledger
        self._four_eyes = four_eyes
        self._calendar = calendar
        self._clock = clock
        self._snapshot_interval = snapshot_interval
        self._max_skew = timedelta(seconds=max_clock_skew_seconds)
        self._retries = write_retries
        self._user_exists = user_exists
        self._cache = StateCache(case_cache_size)
        self._queues = [threading.RLock() for _ in range(_WRITE_STRIPES)]

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
    ) -> WriteResult:
        """Decide and append one command's events, or answer a retried write from the log."""
        if isinstance(command, OpenCase):
            case_id = self.case_id_for(actor, idempotency_key) if idempotency_key else uuid4()
        assert case_id is not None
        self._check_references(command)
        with self._queues[case_id.int % _WRITE_STRIPES]:
            return self._write(
                case_id, command, actor, expected_version, idempotency_key, request_hash
            )

    def _write(
        self,
        case_id: UUID,
        command: CaseCommand,
        actor: Actor,
        expected_version: int | None,
        idempotency_key: str | None,
        request_hash: str | None,
    ) -> WriteResult:
        for attempt in range(self._retries):
            state = self.load(case_id)
            if idempotency_key is not None and state is not None:
                replay = self._replay(state, actor, idempotency_key, request_hash)
                if replay is not None:
                    return replay
            if expected_version is not None:
                if state is None:
                    raise CaseNotFound("no such case")
                if state.version != expected_version:
                    raise VersionConflict(
                        f"the case is at version {state.version}, not {expected_version}"
                    )
            context = CaseContext(
                decision=DecisionContext(
                    actor=actor,
                    now=self._clock(),
                    max_clock_skew=self._max_skew,
                    idempotency_key=idempotency_key,
                    request_hash=request_hash,
                ),
                calendar=self._calendar,
                case_id=case_id,
                four_eyes=self._four_eyes,
            )
            events = decide(state, command, context)
            try:
                recordings = self._ledger.save(*events)
            except IntegrityError:
                if expected_version is not None:
                    raise VersionConflict("the case changed while this write was decided") from None
                # Lost a race: back off a little, reload and decide again.
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # noqa: S311
                continue
            new_state = fold(state, events)
            assert new_state is not None
            self._cache.put(new_state)
            self._maybe_snapshot(new_state)
            position = max((r.notification.id for r in recordings), default=0)
            return WriteResult(state=new_state, events=events, replayed=False, position=position)
        raise Contention(f"the write lost {self._retries} races in a row; try again")

    @staticmethod
    def case_id_for(actor: Actor, idempotency_key: str) -> UUID:
        """A new case's id derives from the key, so a retried open finds the case it opened."""
        return uuid5(CASES_NAMESPACE, write_key(actor.username, idempotency_key))

    def _check_references(self, command: CaseCommand) -> None:
        if isinstance(command, AssignCase) and not self._user_exists(command.assignee):
            raise InvalidCommand(
                "the assignee is not a Vigil user", errors={"assignee": "unknown user"}
            )

    def _replay(
        self, state: CaseState, actor: Actor, key: str, request_hash: str | None
    ) -> WriteResult | None:
        write = state.writes.get(write_key(actor.username, key))
        if write is None:
            return None
        if write.request_hash != request_hash:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different request; use a new key"
            )
        events = cast(
            list[CaseEvent],
            list(
                self._ledger.events_of(state.id, gt=write.first_version - 1, lte=write.last_version)
            ),
        )
        then = (
            state
            if state.version == write.last_version
            else self.load(state.id, version=write.last_version)
        )
        assert then is not None
        position = self._ledger.notification_id_of(state.id, write.last_version) or 0
        return WriteResult(state=then, events=events, replayed=True, position=position)

    def _maybe_snapshot(self, state: CaseState) -> None:
        if state.version % self._snapshot_interval == 0 and self._ledger.snapshots is not None:
            self._ledger.snapshots.put(
                [
                    CaseSnapshot(
                        originator_id=state.id,
                        originator_version=state.version,
                        recorded_at=self._clock(),
                        state=state,
                    )
                ]
            )

    def take_snapshot(self, case_id: UUID) -> None:
        """Snapshot a case at its current version (for cases that grew before snapshots)."""
        state = self.load(case_id)
        if state is None:
            raise CaseNotFound("no such case")
        assert self._ledger.snapshots is not None
        self._ledger.snapshots.put(
            [
                CaseSnapshot(
                    originator_id=state.id,
                    originator_version=state.version,
                    recorded_at=self._clock(),
                    state=state,
                )
            ]
        )

    # --- reads ----------------------------------------------------------------------------------

    def load(self, case_id: UUID, *, version: int | None = None) -> CaseState | None:
        """The case as of its latest version (or a given one), or None if there is no such case.

        The latest version comes from this process's cache fast-forwarded with any newer events
        from the log (so other writers are always seen), else from the latest snapshot onwards.
        """
        if version is None:
            cached = self._cache.get(case_id)
            if cached is not None:
                newer = list(self._ledger.events_of(case_id, gt=cached.version))
                if not newer:
                    return cached
                fresh = fold(cached, newer)
                assert fresh is not None  # folding onto an existing case never loses it
                self._cache.put(fresh)
                return fresh
        try:
            state = self._ledger.repository.get(
                case_id, version=version, projector_func=project_case
            )
        except AggregateNotFoundError:
            return None
        if state is not None and version is None:
            self._cache.put(state)
        return state

    def get(
        self, case_id: UUID, *, as_of: datetime | None = None, basis: Basis = Basis.RECORDED
    ) -> CaseState:
        """Current state, or the state as known (recorded basis) / as happened (occurred) at T."""
        if as_of is None:
            state = self.load(case_id)
        else:
            state = fold(None, self.timeline(case_id, as_of=as_of, basis=basis))
        if state is None:
            raise CaseNotFound("no such case" if as_of is None else "no such case at that time")
        return state

    def timeline(
        self, case_id: UUID, *, as_of: datetime | None = None, basis: Basis = Basis.RECORDED
    ) -> list[CaseEvent]:
        """The case's events in order; with ``as_of``, only those recorded (or occurred) by T."""
        events = [e for e in self._ledger.events_of(case_id) if isinstance(e, CaseEvent)]
        if not events:
            raise CaseNotFound("no such case")
        if as_of is None:
            return events
        if basis is Basis.RECORDED:
            return [e for e in events if e.recorded_at <= as_of]
        return [e for e in events if e.occurred_at <= as_of]

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
