"""The SLA policy: its versions, the one in force at a moment, and a new version.

Every write goes through the one write path (``application.write_path``): the policy's one
stream (``domain.policy.state.SLA_POLICY_ID``) is loaded from its events, decided on by
``domain.policy.decide`` and appended; a write carrying an Idempotency-Key is recognised when
retried (``application.idempotency``).

**The default policy** exists from the start: the settings' targets (``VIGIL_SLA_*``, with hard
defaults for the rest: ``Settings.sla_targets``) as version 1, in force from the start of time.
As the default service and the default scorecard are (``application.services``,
``application.quality``), it is recorded in the log *on first need*, once, by the system actor
``vigil``: in the same transaction as the first case opened or contact logged
(``default_recording``: that write appends it before its own events), or just before the
first new version (once that version is known to be allowed: a refusal writes nothing). Until
then it is read from the settings; from then on only from the log, so a later change of the
settings changes nothing it judged: new versions come from ``POST /api/v1/policies/sla``, never
from the settings.
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
from domain.policy.commands import VersionSlaPolicy, record_default_policy
from domain.policy.decide import decide
from domain.policy.events import SlaPolicyEvent
from domain.policy.sla import (
    DEFAULT_RATIONALE,
    SlaPolicyHistory,
    SlaPolicyVersion,
    SlaTargets,
)
from domain.policy.state import SLA_POLICY_ID, SlaPolicyState, evolve
from domain.shared import Actor, DecisionContext
from infrastructure.event_log import EventLog


@dataclass(frozen=True)
class SlaPolicyWrite:
    """A write to the SLA policy as answered: the policy just after it, the event it appended,
    its log position, and whether this answers a retried Idempotency-Key."""

    policy: SlaPolicyState
    events: Sequence[SlaPolicyEvent]
    position: int = 0
    replayed: bool = False


def _version(state: SlaPolicyState) -> int:
    return state.version


def _fold(state: SlaPolicyState | None, events: Iterable[Any]) -> SlaPolicyState | None:
    for event in events:
        if isinstance(event, SlaPolicyEvent):
            state = evolve(state, event)
    return state


class SlaPolicyService:
    """The organisation's SLA policy in versions, and the version in force at a moment."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        clock: Callable[[], datetime],
        write_retries: int,
        default_targets: SlaTargets,
    ) -> None:
        self._event_log = event_log
        self._clock = clock
        self._default_targets = default_targets
        self._keys = WriteKeys(event_log)
        self._stream = WritePath[SlaPolicyState](
            event_log,
            name="sla_policy",
            fold=_fold,
            version=_version,
            retries=write_retries,
            # One stream, read by many decisions: kept, and only its newer events read.
            cache_size=1,
        )
        self._default_recorded = False  # once seen in the log, it stays there

    def with_clock(self, clock: Callable[[], datetime]) -> SlaPolicyService:
        """The same service recording on another clock (sharing its log): for the demo."""
        twin = copy.copy(self)
        twin._clock = clock
        return twin

    # --- reads ----------------------------------------------------------------------------------

    def current(self) -> SlaPolicyState:
        """The policy as recorded, or the default as the settings give it while it is not (stream
        version 0: its recording comes with the first write that needs it)."""
        state = self._stream.load(SLA_POLICY_ID)
        if state is not None and state.versions:
            self._default_recorded = True
            return state
        return self._unrecorded_default()

    def history(self) -> SlaPolicyHistory:
        """Every version, in the order they were numbered."""
        return self.current().history()

    def in_force(self, at: datetime) -> SlaPolicyVersion:
        """The version in force at ``at`` (the first from the start of time)."""
        return self.history().in_force(at)

    def targets_at(self, at: datetime) -> SlaTargets:
        """The targets of the version in force at ``at``: what a due time whose clock started
        then is judged by."""
        return self.in_force(at).targets

    def is_recorded(self) -> bool:
        """Whether the policy's first version is in the log (the default may not be yet)."""
        if not self._default_recorded:
            state = self._stream.load(SLA_POLICY_ID)
            self._default_recorded = state is not None and bool(state.versions)
        return self._default_recorded

    # --- writes ---------------------------------------------------------------------------------

    def add_version(
        self, command: VersionSlaPolicy, actor: Actor, *, request: KeyedRequest | None = None
    ) -> SlaPolicyWrite:
        """Give the policy a new version from ``effective_from`` (now or later: a due time already
        set stays what the version in force when its clock started gave it)."""
        recall = self._keys.recall(actor.username, request, self._replay)
        if not self.is_recorded():
            # Recorded first, in a write of its own, once this version is known to be allowed
            # (a refusal writes nothing): decided on the default as the settings give it.
            decide(self._unrecorded_default(), command, self._context(actor))
            self.record_default()

        def decide_now(state: SlaPolicyState | None) -> list[SlaPolicyEvent]:
            return decide(state, command, self._context(actor))

        return self._stream.write(SLA_POLICY_ID, decide_now, self._answer, recall=recall)

    def default_recording(self) -> list[SlaPolicyEvent]:
        """The default policy's recording if it is not yet in the log (else nothing): a write
        judged by it (a case's opening) appends these with its own events, in the same
        transaction. Two racing writes both carrying it cannot both land (only one version 1 of
        the stream can be stored): the loser decides again, and by then it is recorded."""
        if self.is_recorded():
            return []
        return self._default_events()

    def record_default(self) -> SlaPolicyState:
        """Record the default policy now if it is not yet (idempotent)."""

        def decide_now(state: SlaPolicyState | None) -> list[SlaPolicyEvent]:
            return decide(state, self._default_command(), self._system_context())

        def answer(written: Written[SlaPolicyState]) -> SlaPolicyState:
            assert written.after is not None
            return written.after

        recorded = self._stream.write(SLA_POLICY_ID, decide_now, answer)
        self._default_recorded = True
        return recorded

    # --- internals ------------------------------------------------------------------------------

    def _default_command(self) -> Any:
        return record_default_policy(self._default_targets, DEFAULT_RATIONALE)

    def _context(self, actor: Actor) -> DecisionContext:
        return DecisionContext(actor=actor, now=self._clock())

    def _system_context(self) -> DecisionContext:
        return DecisionContext(actor=SYSTEM_ACTOR, now=self._clock())

    def _default_events(self) -> list[SlaPolicyEvent]:
        """Version 1 by the system actor, on the fixed stream (recorded once, whoever races)."""
        return decide(None, self._default_command(), self._system_context())

    def _unrecorded_default(self) -> SlaPolicyState:
        state = _fold(None, self._default_events())
        assert state is not None
        # Not in the log: stream version 0 (its recording comes with the first write needing it).
        return state.model_copy(update={"version": 0})

    @staticmethod
    def _answer(written: Written[SlaPolicyState]) -> SlaPolicyWrite:
        assert written.after is not None
        return SlaPolicyWrite(written.after, written.events, written.position)

    def _replay(self, earlier: IdempotencyKeyUsed) -> SlaPolicyWrite:
        """The first answer to a keyed write: the policy as that write left it, and its event."""
        events = [
            e
            for e in self._event_log.events_of(earlier.target_id, lte=earlier.target_version)
            if isinstance(e, SlaPolicyEvent)
        ]
        state = _fold(None, events)
        assert state is not None
        position = (
            self._event_log.notification_id_of(earlier.target_id, earlier.target_version) or 0
        )
        # Each policy write appends one event: the last.
        return SlaPolicyWrite(state, events[-1:], position, replayed=True)
