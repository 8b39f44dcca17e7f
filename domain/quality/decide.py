"""The scorecard's decisions: give it a new version, record the default.

Pure: the actor and the clock come in on the ``DecisionContext``. The rules, each with its
error (``domain.quality.errors``):

* A version can be scored by: at least one criterion, keys unique, each weight above 0 (at most
  100) and each maximum score from 1 to 100, a pass mark from 0 to 100, and a safeguarding
  criterion critical (its 0 is what makes a safeguarding fail). Every field at fault is named at
  once (``ScorecardInvalid``, 422).
* A new version takes effect now or later, never in the past (``ScorecardVersionInPast``, 409),
  as a service's calendar does: a contact already judged by the version in force at it keeps
  its judgement.
* It takes effect after the latest version's ``effective_from`` (``ScorecardVersionOutOfOrder``,
  409): versions take effect in the order they are numbered, and never two at one moment. (A
  calendar version may come before one scheduled later; a scorecard's may not, so the number a
  review records always reads as "the latest in force then".)
* It says why (a ``Reason``, checked when the command is built).

The default scorecard is recorded by Vigil itself as version 1, in force from the start of time,
only on a stream with no version yet (otherwise the decision is empty).
"""

from __future__ import annotations

import math
from typing import Any

from domain.case.ids import event_id_for
from domain.quality.commands import (
    CriterionSpec,
    RecordDefaultScorecard,
    ScorecardCommand,
    VersionScorecard,
)
from domain.quality.errors import (
    ScorecardInvalid,
    ScorecardVersionInPast,
    ScorecardVersionOutOfOrder,
)
from domain.quality.events import ScorecardEvent, ScorecardVersioned
from domain.quality.scoring import Criterion
from domain.quality.state import SCORECARD_ID, ScorecardState
from domain.shared import DecisionContext

MAX_WEIGHT = 100.0
MAX_SCORE = 100


def decide(
    state: ScorecardState | None, command: ScorecardCommand, ctx: DecisionContext
) -> list[ScorecardEvent]:
    """The events ``command`` makes of the scorecard, or a DomainError."""
    problems = scorecard_problems(command)
    if problems:
        raise ScorecardInvalid(
            "this scorecard cannot be scored by: "
            + "; ".join(f"{field}: {message}" for field, message in problems.items()),
            errors=problems,
        )
    latest = None if state is None else state.latest
    effective_from = command.effective_from or ctx.now
    if isinstance(command, RecordDefaultScorecard):
        if latest is not None:
            return []  # recorded already (by whoever got there first)
    elif isinstance(command, VersionScorecard):
        if effective_from < ctx.now:
            raise ScorecardVersionInPast(
                "a new scorecard version takes effect now or later, never in the past: a "
                "contact already judged by the version in force then stays judged by it",
                errors={"effective_from": f"earlier than now ({ctx.now.isoformat()})"},
            )
        if latest is not None and effective_from <= latest.effective_from:
            raise ScorecardVersionOutOfOrder(
                f"a new scorecard version takes effect after the latest one (version "
                f"{latest.version}, from {latest.effective_from.isoformat()})",
                errors={
                    "effective_from": f"not after {latest.effective_from.isoformat()}, when "
                    f"version {latest.version} takes effect"
                },
            )
    else:  # pragma: no cover - every command is handled
        raise TypeError(f"not a scorecard command: {type(command).__name__}")
    stream_version = 1 if state is None else state.version + 1
    return [
        ScorecardVersioned(
            **_envelope(stream_version, ctx),
            version=1 if latest is None else latest.version + 1,
            name=command.name,
            criteria=[_criterion(spec) for spec in command.criteria],
            pass_mark=float(command.pass_mark),
            effective_from=effective_from,
            rationale=command.rationale,
        )
    ]


def scorecard_problems(command: ScorecardCommand) -> dict[str, str]:
    """Every field of the version that could not be scored by, with why (empty: none)."""
    problems: dict[str, str] = {}
    if not command.criteria:
        problems["criteria"] = "at least one criterion"
    seen: dict[str, int] = {}
    for index, spec in enumerate(command.criteria):
        at = f"criteria.{index}"
        if spec.key in seen:
            problems[f"{at}.key"] = f"{spec.key!r} is the key of criterion {seen[spec.key]} too"
        seen.setdefault(spec.key, index)
        if not (math.isfinite(spec.weight) and 0 < spec.weight <= MAX_WEIGHT):
            problems[f"{at}.weight"] = f"above 0 and at most {MAX_WEIGHT:g}"
        if not 1 <= spec.max_score <= MAX_SCORE:
            problems[f"{at}.max_score"] = f"from 1 to {MAX_SCORE}"
        if spec.safeguarding and not spec.critical:
            problems[f"{at}.safeguarding"] = (
                "a safeguarding criterion is critical: its 0 is what makes a safeguarding fail"
            )
    if not (math.isfinite(command.pass_mark) and 0 <= command.pass_mark <= 100):
        problems["pass_mark"] = "from 0 to 100"  # noqa: S105 - a field name, not a secret
    return problems


def _criterion(spec: CriterionSpec) -> Criterion:
    return Criterion(
        key=spec.key,
        label=spec.label,
        weight=spec.weight,
        max_score=spec.max_score,
        critical=spec.critical,
        safeguarding=spec.safeguarding,
    )


def _envelope(stream_version: int, ctx: DecisionContext) -> dict[str, Any]:
    return {
        "originator_id": SCORECARD_ID,
        "originator_version": stream_version,
        "event_id": event_id_for(SCORECARD_ID, stream_version),
        "occurred_at": ctx.now,
        "recorded_at": ctx.now,
        "actor": ctx.actor.username,
        "actor_role": ctx.actor.role,
    }
