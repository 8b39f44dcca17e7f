"""The serious-incident register's sign-offs (issue 15): a trustee signs the register off for
a period, as it stood at a moment; the sign-offs are listed.

Every write goes through the one write path (``application.write_path``): the register's one
stream (``domain.compliance.events.REGISTER_ID``) is loaded, decided on by
``domain.compliance.register`` and appended; a write carrying an Idempotency-Key is recognised
when retried (``application.idempotency``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from application.idempotency import KeyedRequest, WriteKeys
from application.write_path import WritePath, Written
from domain.compliance.events import REGISTER_ID, RegisterEvent
from domain.compliance.register import RegisterState, SignOff, SignOffRegister, decide, evolve
from domain.idempotency import IdempotencyKeyUsed
from domain.shared import Actor, DecisionContext
from infrastructure.event_log import EventLog


@dataclass(frozen=True)
class RegisterWrite:
    """A sign-off as answered: the register after it, its event, its log position, and
    whether this answers a retried Idempotency-Key."""

    register: RegisterState
    events: Sequence[RegisterEvent]
    position: int = 0
    replayed: bool = False

    @property
    def sign_off(self) -> SignOff:
        return self.register.sign_offs[-1]


def _fold(state: RegisterState | None, events: Iterable[Any]) -> RegisterState | None:
    for event in events:
        if isinstance(event, RegisterEvent):
            state = evolve(state, event)
    return state


def _version(state: RegisterState) -> int:
    return state.version


class RegisterService:
    """The trustees' sign-offs of the serious-incident register."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        clock: Callable[[], datetime],
        write_retries: int,
        max_clock_skew_seconds: int,
    ) -> None:
        self._event_log = event_log
        self._clock = clock
        self._max_skew = timedelta(seconds=max_clock_skew_seconds)
        self._keys = WriteKeys(event_log)
        self._stream = WritePath[RegisterState](
            event_log,
            name="register",
            fold=_fold,
            version=_version,
            retries=write_retries,
            cache_size=1,
        )

    def sign_offs(self) -> list[SignOff]:
        """Every sign-off, in the order they were recorded."""
        state = self._stream.load(REGISTER_ID)
        return [] if state is None else list(state.sign_offs)

    def sign_off(
        self, command: SignOffRegister, actor: Actor, *, request: KeyedRequest | None = None
    ) -> RegisterWrite:
        """Sign the register off for a period, as it stood at ``as_of`` (default now)."""

        def decide_now(state: RegisterState | None) -> list[RegisterEvent]:
            context = DecisionContext(actor=actor, now=self._clock(), max_clock_skew=self._max_skew)
            return decide(state, command, context)

        return self._stream.write(
            REGISTER_ID,
            decide_now,
            self._answer,
            recall=self._keys.recall(actor.username, request, self._replay),
        )

    @staticmethod
    def _answer(written: Written[RegisterState]) -> RegisterWrite:
        assert written.after is not None
        return RegisterWrite(written.after, written.events, written.position)

    def _replay(self, earlier: IdempotencyKeyUsed) -> RegisterWrite:
        events = [
            e
            for e in self._event_log.events_of(earlier.target_id, lte=earlier.target_version)
            if isinstance(e, RegisterEvent)
        ]
        state = _fold(None, events)
        assert state is not None
        position = (
            self._event_log.notification_id_of(earlier.target_id, earlier.target_version) or 0
        )
        return RegisterWrite(state, events[-1:], position, replayed=True)
