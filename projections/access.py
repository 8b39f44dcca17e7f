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


class ViewAccess(Generic[V]):
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
        self.runner: ViewRunner | None = None
        if projector is not None:
            shared = projector.view(kind.name)
            if not isinstance(shared, kind):
                raise TypeError(f"the projector's {kind.name!r} view is a {type(shared)}")
            self.view: V = shared
            self.store: ViewStore = projector.store
        else:
            self.view = build()
            self.runner = ViewRunner(event_log, self.view, batch_size=batch_size)
            self.store = self.runner.store

    def catch_up(self, max_events: int | None = None) -> int:
        """Apply every event recorded since the view's position (with a projector: every view's);
        returns how many events of the log were read."""
        if self._projector is not None:
            return self._projector.catch_up(max_events)
        assert self.runner is not None
        return self.runner.catch_up(max_events)

    def position(self) -> int:
        """The notification id of the last event the view reflects."""
        if self._projector is not None:
            return self._projector.position(self.view.name)
        assert self.runner is not None
        return self.runner.position()

    def rebuild(self) -> int:
        """Rebuild the view from the start of the log (aside and swapped in, with a projector)."""
        if self._projector is not None:
            return self._projector.rebuild([self.view.name])
        assert self.runner is not None
        return self.runner.rebuild()
