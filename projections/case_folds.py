"""Case states for views: a batch's case events folded onto the state before them, once.

Views that derive rows from a case's state (work queues, subject history) fold with the
domain's own ``evolve``, so their rows follow exactly the rules of ``CaseState``. The state
before a batch comes from a state remembered from an earlier batch, else from the event log
(its latest verified snapshot onwards), read without decrypting: personal fields are WITHHELD
there as in every event a view is handed. Views of one log share one ``CaseFolds``: when they
are fed the same batch (one worker feeding every view), the batch is folded once and reused.

A state at version v is the fold of the log up to v whatever any view holds, so nothing here
can make a view wrong; a rolled-back batch leaves only correct states behind.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository

from domain.case.events import CaseEvent
from domain.case.snapshot import project_case
from domain.case.state import CaseState, fold
from infrastructure.event_log import EventLog
from infrastructure.persistence import view_repository
from projections.runner import Positioned


@dataclass(frozen=True)
class Folded:
    """A case's state after a batch's events, the position of its last event in the batch, and
    its state before the batch (None for a case the batch opens): a view that needs the case as
    it stood at each event walks the batch's events from ``before``."""

    state: CaseState
    position: int
    before: CaseState | None = None


class CaseFolds:
    """Folds batches of case events into case states, remembering recent ones."""

    def __init__(self, event_log: EventLog, *, cache_size: int = 20_000) -> None:
        self._event_log = event_log
        self._cache_size = cache_size
        self._states: OrderedDict[UUID, CaseState] = OrderedDict()
        self._last: tuple[tuple[int, int, int], list[Folded]] | None = None
        self._lock = threading.Lock()
        self._loader: Repository[UUID] | None = None

    def _repository(self) -> Repository[UUID]:
        # Built on first use, once the keyring (and its snapshot MAC key) is attached; it never
        # decrypts: a state loaded for a view has its personal fields WITHHELD, like the events
        # the views are handed.
        if self._loader is None:
            self._loader = view_repository(self._event_log)
        return self._loader

    def fold_batch(self, batch: Sequence[Positioned]) -> list[Folded]:
        """Each case with events in ``batch``, in order of first appearance, folded to its last
        event in the batch. Events of other aggregates are skipped."""
        if not batch:
            return []
        key = (batch[0].position, batch[-1].position, len(batch))
        with self._lock:
            if self._last is not None and self._last[0] == key:
                return self._last[1]
            by_case: dict[UUID, list[Positioned]] = {}
            for item in batch:
                if isinstance(item.event, CaseEvent):
                    by_case.setdefault(item.event.originator_id, []).append(item)
            result: list[Folded] = []
            for case_id, items in by_case.items():
                events = [item.event for item in items]
                before = self._state_before(case_id, events[0].originator_version)
                state = fold(before, events)
                if state is None or state.version != events[-1].originator_version:
                    # Only a log that lost a case's earlier events gets here; skip, never raise.
                    continue
                self._remember(state)
                result.append(Folded(state, items[-1].position, before))
            self._last = (key, result)
            return result

    def forget(self) -> None:
        """Drop every remembered state (before a rebuild, to start from the log)."""
        with self._lock:
            self._states.clear()
            self._last = None

    def _state_before(self, case_id: UUID, version: int) -> CaseState | None:
        if version <= 1:
            return None
        cached = self._states.get(case_id)
        if cached is not None and cached.version == version - 1:
            return cached
        try:
            state: CaseState | None = self._repository().get(
                case_id, version=version - 1, projector_func=project_case
            )
        except AggregateNotFoundError:
            return None
        return state

    def _remember(self, state: CaseState) -> None:
        if self._cache_size <= 0:
            return
        self._states[state.id] = state
        self._states.move_to_end(state.id)
        while len(self._states) > self._cache_size:
            self._states.popitem(last=False)


_SHARED: weakref.WeakKeyDictionary[EventLog, CaseFolds] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def case_folds_for(event_log: EventLog) -> CaseFolds:
    """The ``CaseFolds`` shared by the views of this ledger in this process."""
    with _SHARED_LOCK:
        folds = _SHARED.get(event_log)
        if folds is None:
            folds = _SHARED[event_log] = CaseFolds(event_log)
        return folds
