"""Where each view stands against the log, and how fast it moves: what ``vigil status``,
``/ready`` and the metrics show, as observed by this process."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

RATE_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class ViewStatus:
    """Where one view stands against the log."""

    name: str
    position: int
    """Notification id of the last event applied to the view."""
    head: int
    """The log's last notification id."""
    lag_events: int
    """head - position."""
    lag_seconds: float
    """How long the oldest event the view has not applied has been in the log, as observed by
    this process (0 when up to date; observed at each ``status()`` and batch)."""
    events_applied_total: int
    """Events this process applied to the view (since it started)."""
    rate: float
    """Log positions per second the view advanced over the last minute (as observed here)."""
    last_batch_seconds: float | None
    """How long this process's last batch for the view took (None: none yet)."""


@dataclass
class _Stats:
    applied_total: int = 0
    last_batch_seconds: float | None = None
    samples: deque[tuple[float, int]] = field(default_factory=deque)

    def sample(self, now: float, position: int) -> None:
        self.samples.append((now, position))
        while self.samples and now - self.samples[0][0] > RATE_WINDOW_SECONDS:
            self.samples.popleft()

    def rate(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        (t0, p0), (t1, p1) = self.samples[0], self.samples[-1]
        return (p1 - p0) / (t1 - t0) if t1 > t0 else 0.0


class Metrics:
    """What this process saw of its views: events applied, batch times, positions over time
    (rates), and the log's head over time (lag in seconds). Thread-safe."""

    def __init__(self, names: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._stats: dict[str, _Stats] = {name: _Stats() for name in names}
        self._heads: deque[tuple[float, int]] = deque()  # (when, head) as observed, ascending

    def batch_applied(self, counts: Iterable[tuple[str, int]], end: int, seconds: float) -> None:
        """A batch moved the tracking rows named in ``counts`` (with the events each was
        handed) to ``end`` in ``seconds``."""
        now = time.monotonic()
        with self._lock:
            for name, count in counts:
                stats = self._stats.setdefault(name, _Stats())
                stats.applied_total += count
                stats.last_batch_seconds = seconds
                stats.sample(now, end)

    def status(self, positions: dict[str, int], head: int) -> list[ViewStatus]:
        """Each view's status at ``positions``, the log's head being ``head``."""
        now = time.monotonic()
        self._observe(now, head, positions)
        with self._lock:
            return [
                ViewStatus(
                    name=name,
                    position=position,
                    head=max(head, position),
                    lag_events=max(0, head - position),
                    lag_seconds=self._lag_seconds(now, position),
                    events_applied_total=self._stats[name].applied_total,
                    rate=self._stats[name].rate(),
                    last_batch_seconds=self._stats[name].last_batch_seconds,
                )
                for name, position in positions.items()
            ]

    def _observe(self, now: float, head: int, positions: dict[str, int]) -> None:
        with self._lock:
            if not self._heads or head > self._heads[-1][1]:
                self._heads.append((now, head))
            lowest = min(positions.values(), default=head)
            # Observations every view has passed tell nothing more about lag.
            while len(self._heads) > 1 and self._heads[1][1] <= lowest:
                self._heads.popleft()
            for name, position in positions.items():
                stats = self._stats.get(name)
                if stats is not None:
                    stats.sample(now, position)

    def _lag_seconds(self, now: float, position: int) -> float:
        # The earliest moment a head beyond the position was seen: an event the view has not
        # applied has been in the log at least since then.
        for seen_at, head in self._heads:
            if head > position:
                return round(now - seen_at, 3)
        return 0.0
