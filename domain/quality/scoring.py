"""Scoring a review against a scorecard version: pure, and the one place it is computed.

A scorecard version lists its criteria, each with a weight, a maximum score, whether it is
critical and whether it is about safeguarding. A review scores every criterion of the version in
force at the contact (``in_force``), from 0 to its maximum. ``score_review`` answers:

* the **weighted score**, 0-100: ``sum(weight * score / max_score) / sum(weight) * 100``,
  computed exactly (weights read as the decimals they were written as) and rounded half up to
  one decimal, so the same scores give the same number on every machine and a score exactly
  half-way (62.25) goes up (62.3), as a person rounding by hand would;
* the **result**: ``fail`` when the rounded score is below the pass mark (the number recorded
  and shown is the one judged: 70.0 passes a pass mark of 70) **or** a critical criterion is
  scored 0, whatever the total;
* the **critical failures**: the keys of the critical criteria scored 0, in the scorecard's
  order;
* a **safeguarding fail**: one of them is a safeguarding criterion. A missed safeguarding
  question is a safeguarding matter, not only a quality one: such a review goes to a lead.

Scores that do not fit the version are refused with a typed error naming the keys at fault
(``domain.quality.errors``): an unknown criterion, one left unscored, one out of its range.

``Criterion`` is also stored, inside ``ScorecardVersioned`` (``domain.quality.events``): add
fields only with defaults. These values carry no rules of their own (they are read back from
the log); a new version's rules are ``domain.quality.decide``'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.quality.errors import (
    CriteriaNotScored,
    ScorecardInvalid,
    ScoreOutOfRange,
    UnknownCriteria,
)


class Criterion(BaseModel):
    """One thing a reviewer scores, from 0 to ``max_score``."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="Stable key the scores name, e.g. risk_asked.")
    label: str = Field(description="What the reviewer looks for.")
    weight: float = Field(description="Its share of the weighted score (> 0).")
    max_score: int = Field(description="The top of its scale (>= 1); 0 is the bottom.")
    critical: bool = Field(description="Scored 0, the review fails whatever the total.")
    safeguarding: bool = Field(
        default=False,
        description="A critical criterion about safeguarding: scored 0, the review is a "
        "safeguarding fail (a lead's review), not only a quality one.",
    )


class ScorecardVersion(BaseModel):
    """One version of the scorecard, in force from ``effective_from`` until the next one's."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(description="1, 2, ...: the number a review records.")
    name: str
    criteria: list[Criterion]
    pass_mark: float = Field(description="0-100: a weighted score below it fails.")
    effective_from: AwareDatetime
    rationale: str | None = Field(default=None, description="Why this version was made.")

    def criterion(self, key: str) -> Criterion | None:
        return next((c for c in self.criteria if c.key == key), None)


class ReviewResult(StrEnum):
    PASS = "pass"  # noqa: S105 - a review's result, not a password
    FAIL = "fail"


class ReviewScore(BaseModel):
    """What a review's scores come to under its scorecard version."""

    model_config = ConfigDict(frozen=True)

    score: float = Field(ge=0, le=100, description="Weighted, 0-100, one decimal.")
    result: ReviewResult
    critical_failures: list[str] = Field(description="Critical criteria scored 0 (their keys).")
    safeguarding_fail: bool = Field(description="A critical failure on a safeguarding criterion.")


def in_force(history: Sequence[ScorecardVersion], at: datetime) -> ScorecardVersion | None:
    """The version in force at ``at``: the latest to take effect at or before it; None before
    the first (a review of a contact then has no scorecard to be judged by)."""
    taken_effect = [v for v in history if v.effective_from <= at]
    if not taken_effect:
        return None
    return max(taken_effect, key=lambda v: (v.effective_from, v.version))


def score_review(version: ScorecardVersion, scores: Mapping[str, int]) -> ReviewScore:
    """The weighted score, result, critical failures and safeguarding fail of ``scores`` under
    ``version``; ``UnknownCriteria``, ``CriteriaNotScored`` or ``ScoreOutOfRange`` (each 422,
    naming the keys at fault as ``scores.<key>``) when the scores do not fit it."""
    if not version.criteria or not all(
        math.isfinite(c.weight) and c.weight > 0 and c.max_score >= 1 for c in version.criteria
    ):
        # Never a version from the log (``decide`` refuses it): one built by hand.
        raise ScorecardInvalid(
            f"scorecard version {version.version} cannot be scored by: it needs at least one "
            "criterion, each weighted above 0 with a maximum score of at least 1"
        )
    keys = [c.key for c in version.criteria]
    unknown = [k for k in scores if k not in keys]
    if unknown:
        raise UnknownCriteria(
            f"not criteria of scorecard version {version.version}: {', '.join(unknown)}",
            errors={
                f"scores.{k}": f"not a criterion of scorecard version {version.version}"
                for k in unknown
            },
        )
    missing = [k for k in keys if k not in scores]
    if missing:
        raise CriteriaNotScored(
            f"every criterion of scorecard version {version.version} is scored; not scored: "
            f"{', '.join(missing)}",
            errors={f"scores.{k}": "not scored" for k in missing},
        )
    out_of_range = {
        c.key: f"a whole number from 0 to {c.max_score}"
        for c in version.criteria
        if not _within(scores[c.key], c.max_score)
    }
    if out_of_range:
        raise ScoreOutOfRange(
            "each score is a whole number from 0 to its criterion's maximum: "
            + ", ".join(f"{k} ({rule})" for k, rule in out_of_range.items()),
            errors={f"scores.{k}": rule for k, rule in out_of_range.items()},
        )
    weighted = sum(
        (_exact(c.weight) * Fraction(scores[c.key], c.max_score) for c in version.criteria),
        Fraction(0),
    )
    total = sum((_exact(c.weight) for c in version.criteria), Fraction(0))
    score = _one_decimal(weighted / total * 100)
    critical_failures = [c.key for c in version.criteria if c.critical and scores[c.key] == 0]
    failed = score < version.pass_mark or bool(critical_failures)
    return ReviewScore(
        score=score,
        result=ReviewResult.FAIL if failed else ReviewResult.PASS,
        critical_failures=critical_failures,
        safeguarding_fail=any(
            c.safeguarding for c in version.criteria if c.key in critical_failures
        ),
    )


def _within(score: object, max_score: int) -> bool:
    # A bool is an int to Python, but True is not a score.
    return isinstance(score, int) and not isinstance(score, bool) and 0 <= score <= max_score


def _exact(weight: float) -> Fraction:
    """A weight as the decimal it was written as (0.1 is a tenth, not the float nearest it)."""
    return Fraction(Decimal(repr(float(weight))))


def _one_decimal(value: Fraction) -> float:
    """Rounded half up to one decimal (values here are never negative)."""
    tenths = (value * 10 + Fraction(1, 2)).__floor__()
    return float(Fraction(tenths, 10))
