"""A service's state: its name and calendar versions, folded from its events (``evolve`` never
raises: it runs on every replay)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict

from domain.calendar import CalendarHistory, CalendarVersion, HolidayLookup
from domain.service.events import ServiceCalendarVersioned, ServiceEvent, ServiceRegistered

SERVICES_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/services")


def service_id_for(name: str) -> UUID:
    """A service's id, from its name (a slug, already lower-case)."""
    return uuid5(SERVICES_NAMESPACE, name.strip().lower())


class ServiceState(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    version: int
    name: str
    registered_at: datetime
    versions: tuple[CalendarVersion, ...] = ()  # in the order they take effect

    def history(self, holidays: HolidayLookup) -> CalendarHistory:
        """The service's calendars over time (judge a moment by the version in force at it)."""
        return CalendarHistory.of(self.versions, holidays)

    def version_in_force(self, at: datetime) -> CalendarVersion:
        """The version in force at ``at`` (the first one, before every version)."""
        earlier = [v for v in self.versions if v.effective_from <= at]
        return earlier[-1] if earlier else self.versions[0]


def evolve(state: ServiceState | None, event: ServiceEvent) -> ServiceState:
    """Fold one event (never raises on a stored event)."""
    if isinstance(event, ServiceRegistered) or state is None:
        name = event.name if isinstance(event, ServiceRegistered) else str(event.originator_id)
        state = ServiceState(
            id=event.originator_id, version=0, name=name, registered_at=event.recorded_at
        )
    update: dict[str, object] = {"version": event.originator_version}
    if isinstance(event, ServiceRegistered | ServiceCalendarVersioned):
        versions = [*state.versions, event.version()]
        update["versions"] = tuple(sorted(versions, key=lambda v: v.effective_from))
    return state.model_copy(update=update)


def fold(events: Iterable[ServiceEvent]) -> ServiceState | None:
    state: ServiceState | None = None
    for event in events:
        state = evolve(state, event)
    return state
