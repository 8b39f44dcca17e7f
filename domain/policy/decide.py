"""The SLA policy's decisions: give it a new version, record the default.

Pure: the actor and the clock come in on the ``DecisionContext``. The rules, each with its
error (``domain.policy.errors``), as a service calendar's (``domain.service.decide``):

* A new version takes effect now or later, never in the past (``SlaPolicyVersionInPast``,
  422): work whose clock has started keeps the due time the version in force then gave it.
* Never at the moment another version takes effect (``SlaPolicyVersionClash``, 409). It may take
  effect before a version scheduled for later, which still takes effect when it said.
* It says why (a ``Reason``, checked when the command is built); every target is given and
  well formed (checked when the command is built too).

The default (the settings' targets) is recorded by Vigil itself as version 1, in force from the
start of time, only on a stream with no version yet (otherwise the decision is empty).
"""

from __future__ import annotations

from typing import Any

from domain.case.ids import event_id_for
from domain.policy.commands import RecordDefaultSlaPolicy, SlaPolicyCommand, VersionSlaPolicy
from domain.policy.errors import SlaPolicyVersionClash, SlaPolicyVersionInPast
from domain.policy.events import SlaPolicyEvent, SlaPolicyVersioned
from domain.policy.state import SLA_POLICY_ID, SlaPolicyState
from domain.shared import DecisionContext


def decide(
    state: SlaPolicyState | None, command: SlaPolicyCommand, ctx: DecisionContext
) -> list[SlaPolicyEvent]:
    """The events ``command`` makes of the SLA policy, or a DomainError."""
    effective_from = command.effective_from or ctx.now
    if isinstance(command, RecordDefaultSlaPolicy):
        if state is not None and state.versions:
            return []  # recorded already (by whoever got there first)
    elif isinstance(command, VersionSlaPolicy):
        if effective_from < ctx.now:
            raise SlaPolicyVersionInPast(
                "a new SLA policy version takes effect now or later, never in the past: work "
                "whose clock has started keeps the due time the version in force then gave it",
                errors={"effective_from": f"earlier than now ({ctx.now.isoformat()})"},
            )
        if state is not None and any(v.effective_from == effective_from for v in state.versions):
            raise SlaPolicyVersionClash(
                "another version of the SLA policy takes effect at that moment",
                errors={"effective_from": effective_from.isoformat()},
            )
    else:  # pragma: no cover - every command is handled
        raise TypeError(f"not an SLA policy command: {type(command).__name__}")
    stream_version = 1 if state is None else state.version + 1
    return [
        SlaPolicyVersioned(
            **_envelope(stream_version, ctx),
            targets=command.targets(),
            effective_from=effective_from,
            rationale=command.rationale,
        )
    ]


def _envelope(stream_version: int, ctx: DecisionContext) -> dict[str, Any]:
    return {
        "originator_id": SLA_POLICY_ID,
        "originator_version": stream_version,
        "event_id": event_id_for(SLA_POLICY_ID, stream_version),
        "occurred_at": ctx.now,
        "recorded_at": ctx.now,
        "actor": ctx.actor.username,
        "actor_role": ctx.actor.role,
    }
