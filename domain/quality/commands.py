"""Commands to the scorecard stream. The shape of each field (a key's spelling, a label's
characters, a reason that gives a reason) is checked when a command is built (422); the
scorecard's own rules (keys unique, weights, maxima, the pass mark, the moment it takes effect)
in ``decide``, each with its error."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from domain.calendar import EARLIEST_VERSION
from domain.shared import Line, Moment, Reason

MAX_CRITERIA = 50
CRITERION_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
_CRITERION_KEY = re.compile(CRITERION_KEY_PATTERN)


def _criterion_key(value: Any) -> Any:
    if isinstance(value, str) and not _CRITERION_KEY.match(value.strip()):
        raise ValueError(
            "a criterion's key is lower-case Latin letters, digits and underscores, starting "
            "with a letter, at most 40 characters (e.g. risk_asked): reviews' scores name it"
        )
    return value.strip() if isinstance(value, str) else value


CriterionKey = Annotated[
    str,
    BeforeValidator(_criterion_key),
    Field(json_schema_extra={"pattern": CRITERION_KEY_PATTERN}),
]


class CriterionSpec(BaseModel):
    """A criterion as a new version gives it."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    key: CriterionKey = Field(description="Stable key reviews' scores name, e.g. risk_asked.")
    label: Annotated[Line, StringConstraints(min_length=1, max_length=200)] = Field(
        description="What the reviewer looks for."
    )
    weight: float = Field(description="Its share of the weighted score: above 0, at most 100.")
    max_score: int = Field(description="The top of its scale, 1 to 100 (0 is the bottom).")
    critical: bool = Field(description="Scored 0, the review fails whatever the total.")
    safeguarding: bool = Field(
        default=False,
        description="About safeguarding (must be critical): scored 0, the review is a "
        "safeguarding fail and goes to a lead.",
    )


class ScorecardCommand(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: Annotated[Line, StringConstraints(min_length=1, max_length=120)] = Field(
        description="The scorecard's name, e.g. Helpline quality review."
    )
    criteria: list[CriterionSpec] = Field(
        max_length=MAX_CRITERIA, description="At least one; keys unique."
    )
    pass_mark: float = Field(description="0 to 100: a weighted score below it fails.")
    effective_from: Moment | None = Field(
        default=None,
        description="When this version takes effect (default now): now or later, and after "
        "the latest version's.",
    )


class VersionScorecard(ScorecardCommand):
    """Give the scorecard a new version, from ``effective_from`` (now or later)."""

    rationale: Reason = Field(description="Why the organisation reviews differently from then.")


class RecordDefaultScorecard(ScorecardCommand):
    """Record the default scorecard as the first version, in force from the start of time
    (only on a stream with no version yet: Vigil itself records it, on first need)."""

    rationale: str


# The default: a helpline's quality review as safeguarding organisations run it. Scales are
# small (0 not done, up to fully done); the two safeguarding questions are critical: a contact
# where risk was not asked about, or a safeguarding procedure not followed, fails however well
# the rest went. Where no safeguarding step was needed, the reviewer scores it in full.
DEFAULT_SCORECARD_NAME = "Helpline quality review"
DEFAULT_PASS_MARK = 70.0
DEFAULT_CRITERIA: tuple[CriterionSpec, ...] = (
    CriterionSpec(
        key="greeting_rapport",
        label="Greeting and rapport: welcomed the caller, introduced the service, built trust",
        weight=1,
        max_score=4,
        critical=False,
    ),
    CriterionSpec(
        key="listening_empathy",
        label="Listening and empathy: let the caller lead, reflected back, no judgement",
        weight=2,
        max_score=4,
        critical=False,
    ),
    CriterionSpec(
        key="risk_asked",
        label="Risk asked about directly (suicide, self-harm, harm from or to others)",
        weight=3,
        max_score=2,
        critical=True,
        safeguarding=True,
    ),
    CriterionSpec(
        key="safeguarding_escalation",
        label="Safeguarding procedure followed: escalated or referred where needed "
        "(full marks when none was needed)",
        weight=3,
        max_score=2,
        critical=True,
        safeguarding=True,
    ),
    CriterionSpec(
        key="accurate_information",
        label="Accurate information given, within the service's remit",
        weight=2,
        max_score=4,
        critical=False,
    ),
    CriterionSpec(
        key="signposting",
        label="Signposting: suitable services offered, with how to reach them",
        weight=1,
        max_score=4,
        critical=False,
    ),
    CriterionSpec(
        key="record_keeping",
        label="Record keeping: accurate, timely, factual, no more personal data than needed",
        weight=1,
        max_score=4,
        critical=False,
    ),
)


def record_default_scorecard() -> RecordDefaultScorecard:
    """The command recording the default scorecard: in force from the start of time
    (``domain.calendar.EARLIEST_VERSION``), so every contact has a scorecard to be judged by."""
    return RecordDefaultScorecard(
        name=DEFAULT_SCORECARD_NAME,
        criteria=list(DEFAULT_CRITERIA),
        pass_mark=DEFAULT_PASS_MARK,
        effective_from=EARLIEST_VERSION,
        rationale="The default helpline quality scorecard, recorded when a scorecard was first "
        "needed; in force until the organisation versions its own.",
    )
