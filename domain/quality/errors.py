"""What the quality context refuses. Each rule has its class; the one mapping
(``interfaces/http/problems.py``) gives each its status by its base: ``InvalidCommand`` 422,
``RuleViolation`` 409."""

from __future__ import annotations

from domain.errors import InvalidCommand, RuleViolation

# --- a new scorecard version ------------------------------------------------------------------


class ScorecardInvalid(InvalidCommand):
    """A version that cannot be scored by (422): no criteria, a key twice, a weight not above
    0, a maximum score below 1, a pass mark outside 0-100, a safeguarding criterion that is not
    critical. ``errors`` names every field at fault at once."""

    title = "Scorecard cannot be used"


class ScorecardVersionInPast(RuleViolation):
    """A new version takes effect now or later (409): a contact already judged by the version
    in force at it keeps its judgement."""

    title = "A scorecard version may not take effect in the past"


class ScorecardVersionOutOfOrder(RuleViolation):
    """A new version takes effect after the latest one's ``effective_from`` (409): versions take
    effect in the order they are numbered, so the version in force at a moment is never in
    doubt."""

    title = "A scorecard version takes effect after the one before it"


# --- a review's scores (422: they do not fit the version) -------------------------------------


class ScoresInvalid(InvalidCommand):
    """Scores that do not fit the scorecard version the review is judged by."""

    title = "Scores do not fit the scorecard"


class UnknownCriteria(ScoresInvalid):
    title = "Scores name criteria the scorecard does not have"


class CriteriaNotScored(ScoresInvalid):
    title = "Every criterion of the scorecard is scored"


class ScoreOutOfRange(ScoresInvalid):
    title = "A score is outside its criterion's range"


class NoScorecardInForce(RuleViolation):
    """No scorecard version was in force at the contact's moment (409): there is nothing to
    judge it by (a store always has the default from the start of time, so only a moment before
    1900 meets this)."""

    title = "No scorecard in force"
