"""The SLA policy as the log held it at a position: what views judge due times by.

A view's due time is judged by the SLA policy version in force when its clock started (and the
calendar in force then: ``projections.service_calendars``). Views never read today's policy:
they take its versions from the policy events in the log **up to the position of the event being
folded** (the events are in the same log, in commit order), read here by topic and kept in
memory. So a row is a pure function of the log, the same on every rebuild, in every process.

A new version never changes a due time already judged: it may not take effect in the past
(``domain.policy.decide``), so every moment before it is judged by the versions before it,
whether the view knows of it yet or not.

Version 1 is recorded on first need (``application.sla_policies``), possibly after work judged
by it (a store older than policies): it is in force from the start of time, taken wherever it
stands in the log, and from ``default_first`` (the settings') while it is not there at all.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from typing import Any

from domain.policy.events import SlaPolicyVersioned
from domain.policy.sla import SlaPolicyHistory, SlaPolicyVersion
from domain.policy.state import SLA_POLICY_ID
from infrastructure.event_log import EventLog
from projections.topic_reader import TopicReader

TOPICS = (f"{SlaPolicyVersioned.__module__}:{SlaPolicyVersioned.__qualname__}",)


class SlaPolicies(TopicReader):
    """The SLA policy's history as of a log position (thread-safe; reads only the log)."""

    topics = TOPICS

    def __init__(self, event_log: EventLog, *, default_first: SlaPolicyVersion) -> None:
        super().__init__(event_log)
        self._default_first = default_first
        self._positions: list[int] = []  # of the policy events read, in log order
        self._versions: list[SlaPolicyVersion] = []
        self._recorded_first: SlaPolicyVersion | None = None
        self._first_looked_up = False
        self._histories: dict[int, SlaPolicyHistory] = {}

    def history(self, position: int) -> SlaPolicyHistory:
        """The policy's versions as the log held them at ``position`` (version 1 wherever it
        stands in the log, or the settings' while it is not recorded)."""
        with self._lock:
            self._read(position)
            count = bisect_right(self._positions, position)
            later = [v for v in self._versions[:count] if v.version > 1]
            key = len(later)
            kept = self._histories.get(key)
            if kept is None:
                kept = self._histories[key] = SlaPolicyHistory(versions=(self._first(), *later))
            return kept

    def in_force(self, position: int, at: datetime) -> SlaPolicyVersion:
        """The version in force at ``at``, as the log held the versions at ``position``."""
        return self.history(position).in_force(at)

    def _first(self) -> SlaPolicyVersion:
        # Looked up once, wherever it stands in the log; recorded later, it is read with the
        # policy events that reach it (``_read``).
        if not self._first_looked_up:
            self._first_looked_up = True
            stored = self._event_log.recorder.select_events(SLA_POLICY_ID, lte=1)
            if stored:
                first = self._decoder()(stored[0])
                if isinstance(first, SlaPolicyVersioned):
                    self._recorded_first = first.policy()
        return self._recorded_first or self._default_first

    def _take(self, position: int, event: Any) -> None:
        if isinstance(event, SlaPolicyVersioned) and event.originator_id == SLA_POLICY_ID:
            self._positions.append(position)
            self._versions.append(event.policy())
            if event.originator_version == 1:
                self._recorded_first = event.policy()
                # Histories kept before it was read named the settings' version 1.
                self._histories.clear()
