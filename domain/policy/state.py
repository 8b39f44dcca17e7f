"""The SLA policy's state: its versions, folded from its events (``evolve`` never raises: it
runs on every replay)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict

from domain.policy.events import SlaPolicyEvent, SlaPolicyVersioned
from domain.policy.sla import SlaPolicyHistory, SlaPolicyVersion

POLICY_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/policy")
SLA_POLICY_ID: UUID = uuid5(POLICY_NAMESPACE, "sla")
"""The one SLA policy stream's id: the organisation has one SLA policy, in versions."""


class SlaPolicyState(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    version: int  # the stream's version (how many events it holds)
    versions: tuple[SlaPolicyVersion, ...] = ()  # in the order they were numbered

    def history(self) -> SlaPolicyHistory:
        return SlaPolicyHistory(versions=self.versions)


def evolve(state: SlaPolicyState | None, event: SlaPolicyEvent) -> SlaPolicyState:
    """Fold one event (never raises on a stored event)."""
    if state is None:
        state = SlaPolicyState(id=event.originator_id, version=0)
    update: dict[str, object] = {"version": event.originator_version}
    if isinstance(event, SlaPolicyVersioned):
        update["versions"] = (*state.versions, event.policy())
    return state.model_copy(update=update)


def fold(events: Iterable[SlaPolicyEvent]) -> SlaPolicyState | None:
    state: SlaPolicyState | None = None
    for event in events:
        state = evolve(state, event)
    return state
