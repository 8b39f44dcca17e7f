"""The one write path every aggregate's service uses: load, decide, append; again after a lost race.

A write takes the aggregate's state (this process's cached state as it is, see below; else a
case from its latest snapshot onwards, or the cache brought up to date), asks whether this
request was written already (a retried Idempotency-Key answers as the first time and appends
nothing), decides on the state (a function the service passes in), and appends the decided
events in one transaction. Each version of an aggregate is stored once, so if another writer
got there first the append fails: the write reloads and decides again on the new state, unless
the client pinned a version with If-Match (then the race is the client's to resolve:
``VersionConflict``, 412). A write that loses every race it is allowed
(``Settings.write_retries``) raises ``Contention`` (503, retry later), the one answer to a race
that could not be won, whatever the aggregate.

A write first decides on this process's cached state of the aggregate, without asking the log
for newer events: its events go at the cached version's next, which the store refuses if any
writer got there first (the cache was behind), and then the write reloads from the log and
decides again at once. Whatever that proof cannot cover is decided again on the log's state
before it is answered: a refusal, an If-Match that does not match, a decision that appends
nothing of the aggregate's own. A retried request found answered in the cached state is
answered (events are never changed). Reads (``load``) always bring the cache up to date.

Within one process, writes to one aggregate queue for it (a lock per stripe of aggregate ids),
so only writers in other processes race: under a burst, a writer that kept losing would
otherwise back off longer and longer while newer ones went first, until it gave up.
"""

from __future__ import annotations

import random
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.errors import DomainError, ItemNotFound, VersionConflict
from infrastructure.event_log import EventLog
from infrastructure.logging import get_logger

log = get_logger(__name__)

S = TypeVar("S")  # an aggregate's state
R = TypeVar("R")  # a write's answer
R_co = TypeVar("R_co", covariant=True)
S_contra = TypeVar("S_contra", contravariant=True)

# Stripes of aggregate ids whose writes queue in one process (an aggregate's always in the same).
WRITE_STRIPES = 256


class Contention(DomainError):
    """A write kept losing races with writers in other processes; the client may retry."""

    title = "Too much contention on this case"


@dataclass(frozen=True)
class Written(Generic[S]):
    """A write as appended: the aggregate before and after it, its events, and the log position
    (notification id) of the last of them (0 when nothing needed appending)."""

    before: S | None
    after: S | None  # None only when nothing existed and nothing was appended
    events: list[Any]  # the aggregate's own events, in order
    position: int


class Recall(Protocol[S_contra, R_co]):
    """How a write carrying an Idempotency-Key is recognised when it is retried."""

    def answered(self, state: S_contra | None) -> R_co | None:
        """The first answer, if this request was written already (``IdempotencyKeyReused``
        if its key was used by another request); None for a new write."""

    def record(self, events: Sequence[Any]) -> list[Any]:
        """What to append with the aggregate's events so that a retry is recognised."""

    def answered_after_refusal(self) -> R_co | None:
        """The first answer after a refusal, if the request's own original has landed since it
        was looked for (and stood in its way); None to let the refusal stand."""


@dataclass(frozen=True)
class Snapshots(Generic[S]):
    """An aggregate that is snapshotted every ``every`` versions."""

    every: int
    take: Callable[[S], Any]  # the snapshot event of a state
    # A state from the latest snapshot and the events after it (it may build the state in place).
    project: Callable[[S | None, Iterable[Any]], S | None]


class StateCache(Generic[S]):
    """A small LRU of aggregate states, shared by the threads of one process.

    States are never mutated once built (the fold copies), so handing the same object to
    several readers is safe; a cached state is only a starting point: fast-forwarded for a
    read, and for a write proved current by the store accepting its next version.
    """

    def __init__(self, maxsize: int, version: Callable[[S], int]) -> None:
        self._maxsize = maxsize
        self._version = version
        self._states: OrderedDict[UUID, S] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, aggregate_id: UUID) -> S | None:
        with self._lock:
            state = self._states.get(aggregate_id)
            if state is not None:
                self._states.move_to_end(aggregate_id)
            return state

    def put(self, aggregate_id: UUID, state: S) -> None:
        if self._maxsize <= 0:
            return
        with self._lock:
            current = self._states.get(aggregate_id)
            if current is not None and self._version(current) > self._version(state):
                return  # another thread already cached a later version
            self._states[aggregate_id] = state
            self._states.move_to_end(aggregate_id)
            while len(self._states) > self._maxsize:
                self._states.popitem(last=False)


class AppendedVersions:
    """The latest version of each aggregate this process has appended, through any write path
    over one log (bounded: the least recently appended are forgotten).

    Several write paths can append to one aggregate: a contact logged against a case appends
    its ``ContactJoined`` to the case through the contacts' path, not the cases'. A write path
    trusts its cached state only if no write path of this process has appended past it since;
    otherwise its optimistic append would be refused for nothing (taking the log's lock, and
    a shared transaction's other appends with it, to be written again one by one)."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self._maxsize = maxsize
        self._versions: OrderedDict[UUID, int] = OrderedDict()
        self._lock = threading.Lock()

    def appended(self, events: Iterable[Any]) -> None:
        with self._lock:
            for event in events:
                aggregate_id, version = event.originator_id, event.originator_version
                if version > self._versions.get(aggregate_id, 0):
                    self._versions[aggregate_id] = version
                self._versions.move_to_end(aggregate_id)
            while len(self._versions) > self._maxsize:
                self._versions.popitem(last=False)

    def latest(self, aggregate_id: UUID) -> int:
        """The latest version appended here (0: none remembered)."""
        with self._lock:
            return self._versions.get(aggregate_id, 0)


# One record per log: every write path over it shares it.
_APPENDED: weakref.WeakKeyDictionary[EventLog, AppendedVersions] = weakref.WeakKeyDictionary()
_APPENDED_LOCK = threading.Lock()


def appended_versions(event_log: EventLog) -> AppendedVersions:
    with _APPENDED_LOCK:
        found = _APPENDED.get(event_log)
        if found is None:
            found = _APPENDED[event_log] = AppendedVersions()
        return found


class WritePath(Generic[S]):
    """Loads and writes one kind of aggregate (cases, users, subjects, break-glass streams)."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        name: str,
        fold: Callable[[S | None, Iterable[Any]], S | None],
        version: Callable[[S], int],
        retries: int,
        not_found: Callable[[], DomainError] | None = None,
        snapshots: Snapshots[S] | None = None,
        cache_size: int = 0,
    ) -> None:
        """``fold`` folds events onto a copy of a state (never changing the one given)."""
        self._event_log = event_log
        self._name = name
        self._fold = fold
        self._version = version
        self._retries = retries
        self._not_found = not_found or (lambda: ItemNotFound(f"no such {name}"))
        self._snapshots = snapshots
        self._cache: StateCache[S] | None = (
            StateCache(cache_size, version) if cache_size > 0 else None
        )
        self._queues = [threading.RLock() for _ in range(WRITE_STRIPES)]
        self._appended = appended_versions(event_log)

    # --- reads ----------------------------------------------------------------------------------

    def load(self, aggregate_id: UUID, *, version: int | None = None) -> S | None:
        """The aggregate as of its latest version (or a given one), or None if there is none.

        The latest version comes from this process's cache fast-forwarded with any newer events
        from the log (so other writers are always seen), else from the latest snapshot onwards.
        """
        if version is None and self._cache is not None:
            cached = self._cache.get(aggregate_id)
            if cached is not None:
                newer = list(self._event_log.events_of(aggregate_id, gt=self._version(cached)))
                if not newer:
                    return cached
                fresh = self._fold(cached, newer)
                assert fresh is not None  # folding onto an existing aggregate never loses it
                self._cache.put(aggregate_id, fresh)
                return fresh
        if self._snapshots is None:
            state = self._fold(None, self._event_log.events_of(aggregate_id, lte=version))
        else:
            try:
                project: Any = self._snapshots.project  # the library types states as its own
                state = self._event_log.repository.get(
                    aggregate_id, version=version, projector_func=project
                )
            except AggregateNotFoundError:
                return None
        if state is not None and version is None and self._cache is not None:
            self._cache.put(aggregate_id, state)
        return state

    # --- writes ---------------------------------------------------------------------------------

    def write(
        self,
        aggregate_id: UUID,
        decide: Callable[[S | None], Sequence[Any]],
        answer: Callable[[Written[S]], R],
        *,
        recall: Recall[S, R] | None = None,
        expected_version: int | None = None,
        admit: Callable[[S | None], None] | None = None,
    ) -> R:
        """Decide on the aggregate's state (the cached one first, proved current by the store
        accepting its next version) and append, again after each lost race.

        ``decide`` answers the events to append; those of other aggregates (a record on a
        shared stream that orders decisions about several) are appended in the same
        transaction but not folded. An empty decision appends nothing. ``answer`` turns the
        write into the service's answer; ``recall`` recognises a retried Idempotency-Key.
        ``admit`` refuses a writer who may not write to the aggregate in this state (a
        DomainError), before anything else is looked at; it is asked of every state a decision
        is made on, so an access check needs no read of its own, and a retried write is
        answered only once it has been asked of the log's state.
        """
        with self._queues[aggregate_id.int % WRITE_STRIPES]:
            try:
                return self._write(aggregate_id, decide, answer, recall, expected_version, admit)
            except DomainError:
                again = None if recall is None else recall.answered_after_refusal()
                if again is None:
                    raise
                return again

    def _write(
        self,
        aggregate_id: UUID,
        decide: Callable[[S | None], Sequence[Any]],
        answer: Callable[[Written[S]], R],
        recall: Recall[S, R] | None,
        expected_version: int | None,
        admit: Callable[[S | None], None] | None,
    ) -> R:
        attempt = 0
        trust_cache = True  # the first decision may be made on this process's cached state
        while attempt < self._retries:
            state = None
            if trust_cache and self._cache is not None:
                state = self._cache.get(aggregate_id)
                if state is not None and self._appended.latest(aggregate_id) > self._version(state):
                    state = None  # another write path of this process appended past it
            trust_cache = False
            verified = state is None  # a cached state may be behind another process's writes
            if verified:
                state = self.load(aggregate_id)
            if admit is not None:
                try:
                    admit(state)
                except DomainError:
                    if not verified:
                        continue  # a refusal must stand on the state the log holds
                    raise
            if recall is not None:
                # A request answered in a cached state was answered: its events are in the log.
                # But with an access check, the answer waits for the log's state too (the
                # writer's access may have gone since), as does a refusal.
                try:
                    first = recall.answered(state)
                except DomainError:
                    if not verified:
                        continue  # a refusal must stand on the state the log holds
                    raise
                if first is not None:
                    if admit is not None and not verified:
                        continue
                    return first
            if expected_version is not None:
                if state is None:
                    raise self._not_found()
                if self._version(state) != expected_version:
                    if not verified:
                        continue  # the cache may be behind: ask the log
                    raise VersionConflict(
                        f"the {self._name} is at version {self._version(state)}, "
                        f"not {expected_version}"
                    )
            try:
                events = list(decide(state))
            except DomainError:
                if not verified:
                    continue  # a refusal must stand on the state the log holds
                raise
            own = [e for e in events if e.originator_id == aggregate_id]
            if not verified and not self._appends_next(state, own):
                # Only an append at the cached state's next version would be refused if the
                # cache were behind: anything else (nothing to append, or only others'
                # events) is decided again on the log's state.
                continue
            if not events:
                return answer(Written(state, state, [], 0))
            try:
                saved = [*events, *(recall.record(own) if recall is not None else ())]
                recordings = self._event_log.save(*saved)
                self._appended.appended(saved)
            except IntegrityError:
                if not verified:
                    # The cache was behind (or a race was lost): reload and decide again, at
                    # once; a pinned version is checked against the log's.
                    continue
                if expected_version is not None:
                    raise VersionConflict(
                        f"the {self._name} changed while this write was decided"
                    ) from None
                # Lost a race: back off a little, reload and decide again.
                attempt += 1
                time.sleep(random.uniform(0, 0.002 * attempt))  # noqa: S311
                continue
            after = self._fold(state, own)
            if after is not None:
                if self._cache is not None:
                    self._cache.put(aggregate_id, after)
                self._maybe_snapshot(aggregate_id, after)
            ids = {id(e) for e in own}
            position = max(
                (r.notification.id for r in recordings if id(r.domain_event) in ids), default=0
            )
            return answer(Written(state, after, own, position))
        raise Contention(f"the write lost {self._retries} races in a row; try again")

    def _appends_next(self, state: S | None, own: Sequence[Any]) -> bool:
        """Whether ``own`` starts at the version after ``state``'s (the store refuses it if
        that version is taken: the proof that ``state`` was the latest)."""
        if state is None or not own:
            return False
        return bool(own[0].originator_version == self._version(state) + 1)

    # --- snapshots ------------------------------------------------------------------------------

    def _maybe_snapshot(self, aggregate_id: UUID, state: S) -> None:
        # After the commit: the write is done whatever happens here, and a snapshot is only a
        # cache (a row already at its place, planted or not, must not turn a write into a 500).
        if self._snapshots is None or self._version(state) % self._snapshots.every != 0:
            return
        try:
            self.snapshot(state)
        except Exception as error:  # logged below; the aggregate replays from its events
            log.error(
                "snapshot_not_taken",
                aggregate_id=str(aggregate_id),
                version=self._version(state),
                error=type(error).__name__,  # the type only: a message may quote stored data
                effect=f"the {self._name} loads from its events (or an earlier snapshot)",
            )

    def snapshot(self, state: S) -> None:
        """Store a snapshot of the state (if the store keeps snapshots)."""
        if self._snapshots is not None and self._event_log.snapshots is not None:
            self._event_log.snapshots.put([self._snapshots.take(state)])
