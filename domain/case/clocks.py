"""A case's clocks: what its events' recorded and occurred times have done, kept in its state
(``CaseState.clocks``) so a read as of a moment can tell which versions it needs."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from domain.case.events import CaseEvent


class CaseClocks(BaseModel):
    """What a case's two clocks have done over its events, so an as-of read can tell which
    versions it needs without reading them all (``application.cases``).

    ``max_lateness`` and ``max_lead`` are signed: the largest ``recorded_at - occurred_at`` (an
    event logged late) and the largest ``occurred_at - recorded_at`` (an event put ahead of the
    server clock, within the allowed skew) over the case's events. So every event has
    ``recorded_at - max_lateness <= occurred_at <= recorded_at + max_lead``.
    """

    model_config = ConfigDict(frozen=True)

    first_recorded_at: datetime  # its first event's recorded_at
    last_recorded_at: datetime  # the latest recorded_at of its events
    recorded_in_order: bool  # each event recorded at or after every event before it
    max_lateness: timedelta
    max_lead: timedelta

    @staticmethod
    def of(event: CaseEvent) -> CaseClocks:
        late = event.recorded_at - event.occurred_at
        return CaseClocks(
            first_recorded_at=event.recorded_at,
            last_recorded_at=event.recorded_at,
            recorded_in_order=True,
            max_lateness=late,
            max_lead=-late,
        )

    def after(self, event: CaseEvent) -> CaseClocks:
        """The clocks with one more event (this object itself when it changes nothing)."""
        late = event.recorded_at - event.occurred_at
        in_order = self.recorded_in_order and event.recorded_at >= self.last_recorded_at
        if (
            event.recorded_at <= self.last_recorded_at
            and in_order == self.recorded_in_order
            and self.max_lateness >= late
            and self.max_lead >= -late
        ):
            return self
        return CaseClocks.model_construct(
            first_recorded_at=self.first_recorded_at,
            last_recorded_at=max(self.last_recorded_at, event.recorded_at),
            recorded_in_order=in_order,
            max_lateness=max(self.max_lateness, late),
            max_lead=max(self.max_lead, -late),
        )
