"""How a read model reaches its view: through the shared ``Projector`` (as the composition root
wires it, so every view moves together), or, alone (tests, tools), with a ``ViewRunner``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from infrastructure.event_log import EventLog
from projections.runner import DEFAULT_BATCH_SIZE, View, ViewRunner
from projections.store import ViewStore

if TYPE_CHECKING:
    from projections.projector import Projector

V = TypeVar("V", bound=View)


class ReadModel(Generic[V]):
    """Catch-up, position and rebuild of one view, and the store its live tables are in."""

    def __init__(
        self,
        event_log: EventLog,
        kind: type[V],
        build: Callable[[], V],
        *,
        projector: Projector | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self._projector = projector
        if projector is not None:
            shared = projector.view(kind.name)
            if not isinstance(shared, kind):
                raise TypeError(f"the projector's {kind.name!r} view is a {type(shared)}")
            self.view: V = shared
        else:
            self.view = build()
        # The view's own runner: its tracking (positions, waits) whoever applies its events;
        # with a projector, catching up and rebuilding go through the projector instead.
        self.runner = ViewRunner(
            event_log,
            self.view,
            store=None if projector is None else projector.store,
            batch_size=batch_size,
        )
        self.store: ViewStore = self.runner.store

    def catch_up(self, max_events: int | None = None) -> int:
        """Apply every event recorded since the view's position (with a projector, every view
        moves together); returns how many events this view was handed (0: up to date)."""
        if self._projector is not None:
            return self._projector.catch_up_counts(max_events).get(self.view.name, 0)
        return self.runner.catch_up(max_events)

    def position(self) -> int:
        """The notification id of the last event the view reflects."""
        if self._projector is not None:
            return self._projector.position(self.view.name)
        return self.runner.position()

    def rebuild(self) -> int:
        """Rebuild the view from the start of the log (aside and swapped in, with a projector)."""
        if self._projector is not None:
            return self._projector.rebuild([self.view.name])
        return self.runner.rebuild()
