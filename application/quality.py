"""The scorecard: its versions, the one in force at a moment, and a new version.

Every write goes through the one write path (``application.write_path``): the scorecard's one
stream (``domain.quality.state.SCORECARD_ID``) is loaded from its events, decided on by
``domain.quality.decide`` and appended; a write carrying an Idempotency-Key is recognised when
retried (``application.idempotency``).

**The default scorecard** exists from the start (``domain.quality.commands``: a helpline's
quality review, pass mark 70, in force from the start of time), so every contact has a version
to be judged by. As the default service is (``application.services``), it is recorded in the log
*on first need*, once, by the system actor ``vigil``: in the same transaction as the first
review that needs it (``default_recording``: the review's write appends it with its own events,
before them), or just before the first new version (once that version is known to be allowed:
a refusal writes nothing). Until then it is read from the code; from then on only from the log,
so a later change of the code's default changes nothing it judged. (On first need rather than at
start-up: a read-only command, or a store that never reviews, writes nothing it did not ask for.)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from application.idempotency import KeyedRequest, WriteKeys
from application.services import SYSTEM_ACTOR
from application.write_path import WritePath, Written
from domain.idempotency import IdempotencyKeyUsed
from domain.quality.commands import VersionScorecard, record_default_scorecard
from domain.quality.decide import decide
from domain.quality.events import ScorecardEvent
from domain.quality.scoring import ScorecardVersion
from domain.quality.state import SCORECARD_ID, ScorecardState, evolve
from domain.shared import Actor, DecisionContext
from infrastructure.event_log import EventLog


@dataclass(frozen=True)
class ScorecardWrite:
    """A write to the scorecard as answered: the scorecard just after it, the event it
    appended, its log position, and whether this answers a retried Idempotency-Key."""

    scorecard: ScorecardState
    events: Sequence[ScorecardEvent]
    position: int = 0
    replayed: bool = False


def _version(state: ScorecardState) -> int:
    return state.version


def _fold(state: ScorecardState | None, events: Iterable[Any]) -> ScorecardState | None:
    for event in events:
        if isinstance(event, ScorecardEvent):
            state = evolve(state, event)
    return state


class ScorecardService:
    """The organisation's quality scorecard in versions, and the version a review is judged by."""

    def __init__(
        self, event_log: EventLog, *, clock: Callable[[], datetime], write_retries: int
    ) -> None:
        self._event_log = event_log
        self._clock = clock
        self._keys = WriteKeys(event_log)
        self._stream = WritePath[ScorecardState](
            event_log,
            name="scorecard",
            fold=_fold,
            version=_version,
            retries=write_retries,
            # One stream, read by every review: kept, and only its newer events read.
            cache_size=1,
        )
        self._default_recorded = False  # once seen in the log, it stays there

    def with_clock(self, clock: Callable[[], datetime]) -> ScorecardService:
        """The same service recording on another clock (sharing its log): for the demo, which
        records a day that has passed as it happened. Never for a user's write."""
        twin = copy.copy(self)
        twin._clock = clock
        return twin

    # --- reads ----------------------------------------------------------------------------------

    def current(self) -> ScorecardState:
        """The scorecard as recorded, or the default as the code gives it while it is not
        (stream version 0: its recording comes with the first write that needs it)."""
        state = self._stream.load(SCORECARD_ID)
        if state is not None and state.versions:
            self._default_recorded = True
            return state
        return self._unrecorded_default()

    def history(self) -> list[ScorecardVersion]:
        """Every version, in the order they were numbered (and take effect)."""
        return list(self.current().versions)

    def in_force(self, at: datetime) -> ScorecardVersion | None:
        """The version a review of a contact that occurred at ``at`` is judged by (None only
        before the default's start of time)."""
        return self.current().in_force(at)

    def is_recorded(self) -> bool:
        """Whether the scorecard's first version is in the log (the default may not be yet)."""
        if not self._default_recorded:
            state = self._stream.load(SCORECARD_ID)
            self._default_recorded = state is not None and bool(state.versions)
        return self._default_recorded

    # --- writes ---------------------------------------------------------------------------------

    def add_version(
        self, command: VersionScorecard, actor: Actor, *, request: KeyedRequest | None = None
    ) -> ScorecardWrite:
        """Give the scorecard a new version from ``effective_from`` (now or later, after the
        latest version's: what was judged before it stays judged by the version in force then)."""
        if not self.is_recorded():
            # Recorded first, in a write of its own, once this version is known to be allowed
            # (a refusal writes nothing): decided on the default as the code gives it.
            decide(self._unrecorded_default(), command, self._context(actor))
            self.record_default()

        def decide_now(state: ScorecardState | None) -> list[ScorecardEvent]:
            return decide(state, command, self._context(actor))

        return self._stream.write(
            SCORECARD_ID,
            decide_now,
            self._answer,
            recall=self._keys.recall(actor.username, request, self._replay),
        )

    def default_recording(self) -> list[ScorecardEvent]:
        """The default scorecard's recording if it is not yet in the log (else nothing): a
        review that is judged by it appends these with its own events, in the same transaction,
        so the version it names is in the log beside it. Two racing writes both carrying it
        cannot both land (only one version 1 of the stream can be stored): the loser decides
        again, and by then it is recorded."""
        if self.is_recorded():
            return []
        return self._default_events()

    def record_default(self) -> ScorecardState:
        """Record the default scorecard now if it is not yet (idempotent)."""

        def decide_now(state: ScorecardState | None) -> list[ScorecardEvent]:
            return decide(state, record_default_scorecard(), self._system_context())

        def answer(written: Written[ScorecardState]) -> ScorecardState:
            assert written.after is not None
            return written.after

        recorded = self._stream.write(SCORECARD_ID, decide_now, answer)
        self._default_recorded = True
        return recorded

    # --- internals ------------------------------------------------------------------------------

    def _context(self, actor: Actor) -> DecisionContext:
        return DecisionContext(actor=actor, now=self._clock())

    def _system_context(self) -> DecisionContext:
        return DecisionContext(actor=SYSTEM_ACTOR, now=self._clock())

    def _default_events(self) -> list[ScorecardEvent]:
        """The default's recording: version 1 by the system actor, on the fixed stream (so it is
        recorded once, whoever races)."""
        return decide(None, record_default_scorecard(), self._system_context())

    def _unrecorded_default(self) -> ScorecardState:
        state = _fold(None, self._default_events())
        assert state is not None
        # Not in the log: stream version 0 (its recording comes with the first write needing it).
        return state.model_copy(update={"version": 0})

    @staticmethod
    def _answer(written: Written[ScorecardState]) -> ScorecardWrite:
        assert written.after is not None
        return ScorecardWrite(written.after, written.events, written.position)

    def _replay(self, earlier: IdempotencyKeyUsed) -> ScorecardWrite:
        """The first answer to a keyed write: the scorecard as that write left it, and its
        event."""
        events = [
            e
            for e in self._event_log.events_of(earlier.target_id, lte=earlier.target_version)
            if isinstance(e, ScorecardEvent)
        ]
        state = _fold(None, events)
        assert state is not None
        position = (
            self._event_log.notification_id_of(earlier.target_id, earlier.target_version) or 0
        )
        # Each scorecard write appends one event: the last.
        return ScorecardWrite(state, events[-1:], position, replayed=True)
