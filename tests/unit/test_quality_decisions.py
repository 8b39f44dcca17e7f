"""The quality scorecard as stories: given the scorecard's versions, when a new one, then this
event (or this refusal); and reviews' scores under a version, worked by hand.

Every rule of a new version has its refusal, named by its error type and the field at fault.
Scoring: weighted 0-100, one decimal rounded half up; a critical criterion at 0 fails whatever
the total; a safeguarding one makes the fail a safeguarding matter.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.calendar import EARLIEST_VERSION
from domain.case.ids import event_id_for
from domain.errors import DomainError, InvalidCommand, RuleViolation
from domain.personal import plan_for
from domain.quality.commands import (
    DEFAULT_CRITERIA,
    MAX_CRITERIA,
    ScorecardCommand,
    VersionScorecard,
    record_default_scorecard,
)
from domain.quality.decide import decide
from domain.quality.errors import (
    CriteriaNotScored,
    ScorecardInvalid,
    ScorecardVersionInPast,
    ScorecardVersionOutOfOrder,
    ScoreOutOfRange,
    ScoresInvalid,
    UnknownCriteria,
)
from domain.quality.events import ScorecardEvent, ScorecardVersioned
from domain.quality.scoring import (
    Criterion,
    ReviewResult,
    ReviewScore,
    ScorecardVersion,
    in_force,
    score_review,
)
from domain.quality.state import QUALITY_NAMESPACE, SCORECARD_ID, ScorecardState, evolve, fold
from domain.shared import Actor, DecisionContext, Role

NOW = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)
NEXT_MONTH = datetime(2026, 12, 1, tzinfo=UTC)
LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
VIGIL = Actor(username="vigil", role=Role.ADMIN)
REASON = "Chat contacts now outnumber calls: written tone is reviewed too."

RISK = {
    "key": "risk_asked",
    "label": "Risk asked about directly",
    "weight": 3,
    "max_score": 2,
    "critical": True,
    "safeguarding": True,
}
TONE = {
    "key": "written_tone",
    "label": "Written tone: plain words",
    "weight": 1,
    "max_score": 4,
    "critical": False,
}


def new_version(**fields: Any) -> VersionScorecard:
    body = {
        "name": "Chat review",
        "criteria": [RISK, TONE],
        "pass_mark": 75,
        "effective_from": NEXT_MONTH,
        "rationale": REASON,
        **fields,
    }
    return VersionScorecard.model_validate(body)


def ctx(by: Actor = LEE, now: datetime = NOW) -> DecisionContext:
    return DecisionContext(actor=by, now=now)


class Story:
    """The scorecard's history, built by deciding commands with the real ``decide``."""

    def __init__(self) -> None:
        self.events: list[ScorecardEvent] = []

    @property
    def state(self) -> ScorecardState | None:
        return fold(self.events)

    def given(self, command: ScorecardCommand, by: Actor = LEE, now: datetime = NOW) -> Story:
        self.events += decide(self.state, command, ctx(by, now))
        return self

    def when(
        self, command: ScorecardCommand, by: Actor = LEE, now: datetime = NOW
    ) -> list[ScorecardEvent]:
        return decide(self.state, command, ctx(by, now))

    def refused(
        self, error: type[DomainError], command: ScorecardCommand, now: datetime = NOW
    ) -> DomainError:
        with pytest.raises(error) as refused:
            self.when(command, now=now)
        return refused.value


def with_default() -> Story:
    return Story().given(record_default_scorecard(), by=VIGIL)


# --- the default scorecard ---------------------------------------------------------------------


def test_the_default_scorecard_is_version_one_in_force_from_the_start_of_time() -> None:
    [event] = Story().when(record_default_scorecard(), by=VIGIL)

    assert event == ScorecardVersioned(
        originator_id=SCORECARD_ID,
        originator_version=1,
        event_id=event_id_for(SCORECARD_ID, 1),
        occurred_at=NOW,
        recorded_at=NOW,
        actor="vigil",
        actor_role=Role.ADMIN,
        version=1,
        name="Helpline quality review",
        criteria=[Criterion(**spec.model_dump()) for spec in DEFAULT_CRITERIA],
        pass_mark=70.0,
        effective_from=EARLIEST_VERSION,
        rationale=record_default_scorecard().rationale,
    )
    default = event.scorecard()
    assert [c.key for c in default.criteria] == [
        "greeting_rapport",
        "listening_empathy",
        "risk_asked",
        "safeguarding_escalation",
        "accurate_information",
        "signposting",
        "record_keeping",
    ]
    # The two safeguarding questions are the critical ones.
    assert {c.key for c in default.criteria if c.critical} == {
        "risk_asked",
        "safeguarding_escalation",
    }
    assert all(c.safeguarding == c.critical for c in default.criteria)
    # In force for every moment Vigil takes (from 1900).
    assert in_force([default], EARLIEST_VERSION) == default


def test_the_default_is_recorded_once_a_second_recording_decides_nothing() -> None:
    story = with_default()
    assert story.when(record_default_scorecard(), by=VIGIL) == []
    story.given(new_version())
    assert story.when(record_default_scorecard(), by=VIGIL) == []


def test_the_scorecard_stream_has_one_fixed_id() -> None:
    assert uuid5(NAMESPACE_URL, "https://vigil.invalid/quality") == QUALITY_NAMESPACE
    assert uuid5(QUALITY_NAMESPACE, "scorecard") == SCORECARD_ID


def test_nothing_on_the_scorecard_is_personal_data() -> None:
    assert not plan_for(ScorecardVersioned)


# --- a new version ------------------------------------------------------------------------------


def test_a_new_version_is_numbered_after_the_latest_and_takes_effect_from_its_moment() -> None:
    story = with_default()

    [event] = story.when(new_version())

    assert event == ScorecardVersioned(
        originator_id=SCORECARD_ID,
        originator_version=2,
        event_id=event_id_for(SCORECARD_ID, 2),
        occurred_at=NOW,
        recorded_at=NOW,
        actor="lee",
        actor_role=Role.SAFEGUARDING_LEAD,
        version=2,
        name="Chat review",
        criteria=[Criterion(**RISK), Criterion(**TONE)],
        pass_mark=75.0,
        effective_from=NEXT_MONTH,
        rationale=REASON,
    )
    state = fold([*story.events, event])
    assert state is not None
    assert [v.version for v in state.versions] == [1, 2]
    # Until it takes effect the default is in force; from its moment on, it is.
    assert state.in_force(NEXT_MONTH - timedelta(microseconds=1)) == state.versions[0]
    assert state.in_force(NEXT_MONTH) == state.versions[1]
    assert state.in_force(NEXT_MONTH + timedelta(days=365)) == state.versions[1]


def test_a_new_version_takes_effect_now_by_default() -> None:
    later = NOW + timedelta(hours=2)
    [event] = with_default().when(new_version(effective_from=None), now=later)
    assert isinstance(event, ScorecardVersioned)
    assert event.effective_from == later


def test_a_new_version_may_not_take_effect_in_the_past() -> None:
    refusal = with_default().refused(
        ScorecardVersionInPast, new_version(effective_from=NOW - timedelta(seconds=1))
    )
    assert isinstance(refusal, RuleViolation)  # 409
    assert "never in the past" in refusal.detail
    assert list(refusal.errors) == ["effective_from"]


def test_a_new_version_takes_effect_after_the_latest_never_at_or_before_it() -> None:
    # Given a version scheduled for next month
    story = with_default().given(new_version())
    # a version at the same moment, or before it (though after now), is refused
    for moment in (NEXT_MONTH, NEXT_MONTH - timedelta(days=7)):
        refusal = story.refused(ScorecardVersionOutOfOrder, new_version(effective_from=moment))
        assert isinstance(refusal, RuleViolation)  # 409
        assert "version 2" in refusal.detail
        assert list(refusal.errors) == ["effective_from"]
    # and one after it is version 3
    [event] = story.when(new_version(effective_from=NEXT_MONTH + timedelta(seconds=1)))
    assert isinstance(event, ScorecardVersioned)
    assert (event.version, event.originator_version) == (3, 3)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"criteria": []}, "criteria", "at least one criterion"),
        ({"criteria": [RISK, {**TONE, "key": "risk_asked"}]}, "criteria.1.key", "criterion 0"),
        ({"criteria": [{**TONE, "weight": 0}]}, "criteria.0.weight", "above 0"),
        ({"criteria": [{**TONE, "weight": -1}]}, "criteria.0.weight", "above 0"),
        ({"criteria": [{**TONE, "weight": math.inf}]}, "criteria.0.weight", "above 0"),
        ({"criteria": [{**TONE, "weight": math.nan}]}, "criteria.0.weight", "above 0"),
        ({"criteria": [{**TONE, "weight": 100.5}]}, "criteria.0.weight", "at most 100"),
        ({"criteria": [{**TONE, "max_score": 0}]}, "criteria.0.max_score", "from 1 to 100"),
        ({"criteria": [{**TONE, "max_score": 101}]}, "criteria.0.max_score", "from 1 to 100"),
        ({"pass_mark": -0.1}, "pass_mark", "from 0 to 100"),
        ({"pass_mark": 100.1}, "pass_mark", "from 0 to 100"),
        ({"pass_mark": math.nan}, "pass_mark", "from 0 to 100"),
        (
            {"criteria": [{**RISK, "critical": False}]},
            "criteria.0.safeguarding",
            "a safeguarding criterion is critical",
        ),
    ],
)
def test_a_version_that_cannot_be_scored_by_is_refused_naming_the_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    refusal = with_default().refused(ScorecardInvalid, new_version(**change))
    assert isinstance(refusal, InvalidCommand)  # 422
    assert list(refusal.errors) == [field]
    assert message in refusal.errors[field]
    assert field in refusal.detail


def test_every_field_at_fault_is_named_at_once() -> None:
    command = new_version(criteria=[{**TONE, "weight": 0}, {**TONE, "max_score": 0}], pass_mark=120)
    refusal = with_default().refused(ScorecardInvalid, command)
    assert set(refusal.errors) == {
        "criteria.0.weight",
        "criteria.1.key",
        "criteria.1.max_score",
        "pass_mark",
    }


def test_the_bounds_themselves_are_allowed() -> None:
    edges = new_version(
        criteria=[
            {**TONE, "key": "lightest", "weight": 0.01, "max_score": 1},
            {**TONE, "key": "heaviest", "weight": 100, "max_score": 100},
        ],
        pass_mark=0,
    )
    assert with_default().when(edges)
    assert with_default().when(new_version(pass_mark=100))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"criteria": [{**TONE, "key": "Written Tone"}]}, "criteria"),
        ({"criteria": [{**TONE, "key": "1st"}]}, "criteria"),
        ({"criteria": [{**TONE, "key": "k" * 41}]}, "criteria"),
        ({"criteria": [{**TONE, "label": ""}]}, "criteria"),
        ({"criteria": [{**TONE, "label": "tone\u202e"}]}, "criteria"),
        ({"criteria": [{**TONE, "colour": "red"}]}, "criteria"),
        ({"criteria": [{**TONE, "max_score": 2.5}]}, "criteria"),
        ({"criteria": [TONE] * (MAX_CRITERIA + 1)}, "criteria"),
        ({"name": ""}, "name"),
        ({"pass_mark": "high"}, "pass_mark"),
        ({"effective_from": "next month"}, "effective_from"),
        ({"effective_from": "2026-12-01T00:00:00"}, "effective_from"),
        ({"rationale": "n/a"}, "rationale"),
        ({"rationale": None}, "rationale"),
        ({"author": "lee"}, "author"),
    ],
)
def test_a_command_it_cannot_read_is_refused_field_by_field(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        new_version(**change)
    assert {str(e["loc"][0]) for e in refused.value.errors()} == {field}


def test_a_new_version_needs_a_reason() -> None:
    body = new_version().model_dump()
    del body["rationale"]
    with pytest.raises(ValidationError, match="rationale"):
        VersionScorecard.model_validate(body)


# --- the version in force ----------------------------------------------------------------------


def version(number: int, effective_from: datetime, **fields: Any) -> ScorecardVersion:
    return ScorecardVersion(
        version=number,
        name=f"Version {number}",
        criteria=fields.pop("criteria", [Criterion(**TONE)]),
        pass_mark=fields.pop("pass_mark", 70),
        effective_from=effective_from,
        **fields,
    )


def test_the_version_in_force_is_the_latest_to_have_taken_effect() -> None:
    first = version(1, EARLIEST_VERSION)
    second = version(2, NEXT_MONTH)
    third = version(3, NEXT_MONTH + timedelta(days=31))
    history = [first, second, third]

    assert in_force(history, NOW) == first
    assert in_force(history, NEXT_MONTH) == second
    assert in_force(history, NEXT_MONTH + timedelta(days=30)) == second
    assert in_force(history, datetime(2999, 1, 1, tzinfo=UTC)) == third


def test_before_the_first_version_none_is_in_force() -> None:
    assert in_force([version(1, NEXT_MONTH)], NOW) is None
    assert in_force([], NOW) is None


# --- scoring a review ---------------------------------------------------------------------------


def criterion(key: str, weight: float, max_score: int, **flags: bool) -> Criterion:
    return Criterion(
        key=key,
        label=key.replace("_", " "),
        weight=weight,
        max_score=max_score,
        critical=flags.get("critical", False),
        safeguarding=flags.get("safeguarding", False),
    )


DEFAULT = fold(decide(None, record_default_scorecard(), ctx(VIGIL)))
assert DEFAULT is not None
HELPLINE = DEFAULT.versions[0]
FULL_MARKS = {c.key: c.max_score for c in HELPLINE.criteria}


def test_full_marks_score_100_and_pass() -> None:
    assert score_review(HELPLINE, FULL_MARKS) == ReviewScore(
        score=100.0, result=ReviewResult.PASS, critical_failures=[], safeguarding_fail=False
    )


def test_a_critical_criterion_at_zero_fails_whatever_the_total() -> None:
    # Every other criterion at full marks: 10 of 13 weighted points, 76.9, above the pass mark
    scored = score_review(HELPLINE, {**FULL_MARKS, "risk_asked": 0})

    assert scored == ReviewScore(
        score=76.9,
        result=ReviewResult.FAIL,
        critical_failures=["risk_asked"],
        safeguarding_fail=True,
    )
    assert scored.score > HELPLINE.pass_mark


def test_a_critical_failure_that_is_not_about_safeguarding_is_not_a_safeguarding_fail() -> None:
    card = version(
        1,
        EARLIEST_VERSION,
        criteria=[
            criterion("accurate_information", 1, 4, critical=True),
            criterion("rapport", 9, 4),
            criterion("risk_asked", 1, 2, critical=True, safeguarding=True),
        ],
    )
    scored = score_review(card, {"accurate_information": 0, "rapport": 4, "risk_asked": 2})
    assert scored == ReviewScore(
        score=90.9,
        result=ReviewResult.FAIL,
        critical_failures=["accurate_information"],
        safeguarding_fail=False,
    )
    both = score_review(card, {"accurate_information": 0, "rapport": 4, "risk_asked": 0})
    assert (both.critical_failures, both.safeguarding_fail) == (
        ["accurate_information", "risk_asked"],
        True,
    )


def test_a_criterion_that_is_not_critical_may_score_zero_and_the_review_still_pass() -> None:
    scored = score_review(HELPLINE, {**FULL_MARKS, "signposting": 0})
    assert scored == ReviewScore(
        score=92.3, result=ReviewResult.PASS, critical_failures=[], safeguarding_fail=False
    )


def test_weights_decide_how_much_each_criterion_counts() -> None:
    card = version(
        1, EARLIEST_VERSION, criteria=[criterion("light", 1, 4), criterion("heavy", 3, 2)]
    )
    assert score_review(card, {"light": 4, "heavy": 0}).score == 25.0
    assert score_review(card, {"light": 0, "heavy": 2}).score == 75.0
    # (1 x 2/4 + 3 x 1/2) / 4 = 50%
    assert score_review(card, {"light": 2, "heavy": 1}).score == 50.0


def test_a_score_below_the_pass_mark_fails_and_one_at_it_passes() -> None:
    card = version(1, EARLIEST_VERSION, criteria=[criterion("overall", 1, 100)], pass_mark=70)
    assert score_review(card, {"overall": 70}).result == ReviewResult.PASS
    below = score_review(card, {"overall": 69})
    assert (below.score, below.result, below.critical_failures) == (69.0, ReviewResult.FAIL, [])


def test_the_score_is_rounded_half_up_to_one_decimal() -> None:
    thirds = version(1, EARLIEST_VERSION, criteria=[criterion("overall", 1, 3)])
    assert score_review(thirds, {"overall": 1}).score == 33.3
    assert score_review(thirds, {"overall": 2}).score == 66.7
    # 81.25% exactly: half up gives 81.3 (the float sum rounded by round() gives 81.2), because
    # the weights are read as the decimals they were written as, 0.1 and 0.3.
    decimals = version(
        1, EARLIEST_VERSION, criteria=[criterion("a", 0.1, 1), criterion("b", 0.3, 4)]
    )
    assert round((0.1 * 1 + 0.3 * 3 / 4) / 0.4 * 100, 1) == 81.2
    assert score_review(decimals, {"a": 1, "b": 3}).score == 81.3


def test_the_rounded_score_is_the_one_judged_against_the_pass_mark() -> None:
    # 69.95...% rounds to 70.0, which is what the review records and shows: it passes 70.
    card = version(
        1,
        EARLIEST_VERSION,
        criteria=[criterion("a", 1, 13), criterion("b", 1, 16)],
        pass_mark=70,
    )
    scored = score_review(card, {"a": 6, "b": 15})
    assert (scored.score, scored.result) == (70.0, ReviewResult.PASS)


def test_scores_naming_a_criterion_the_version_does_not_have_are_refused() -> None:
    with pytest.raises(UnknownCriteria) as refused:
        score_review(HELPLINE, {**FULL_MARKS, "tone": 3, "empathy": 1})
    assert isinstance(refused.value, ScoresInvalid)
    assert isinstance(refused.value, InvalidCommand)  # 422
    assert set(refused.value.errors) == {"scores.tone", "scores.empathy"}
    assert "version 1" in refused.value.detail


def test_every_criterion_of_the_version_is_scored() -> None:
    partial = {k: v for k, v in FULL_MARKS.items() if k not in ("risk_asked", "signposting")}
    with pytest.raises(CriteriaNotScored) as refused:
        score_review(HELPLINE, partial)
    assert set(refused.value.errors) == {"scores.risk_asked", "scores.signposting"}
    assert refused.value.errors["scores.risk_asked"] == "not scored"


@pytest.mark.parametrize("bad", [3, -1, True, 1.5, "2"])
def test_each_score_lies_between_zero_and_its_maximum(bad: Any) -> None:
    with pytest.raises(ScoreOutOfRange) as refused:
        score_review(HELPLINE, {**FULL_MARKS, "risk_asked": bad, "signposting": 5})
    assert refused.value.errors == {
        "scores.risk_asked": "a whole number from 0 to 2",
        "scores.signposting": "a whole number from 0 to 4",
    }


def test_a_version_built_by_hand_that_cannot_be_scored_by_is_refused_not_divided_by_zero() -> None:
    for criteria in ([], [criterion("a", 0, 4)], [criterion("a", 1, 0)]):
        with pytest.raises(ScorecardInvalid, match="cannot be scored by"):
            score_review(version(7, EARLIEST_VERSION, criteria=criteria), {"a": 0})


# --- properties ---------------------------------------------------------------------------------

KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@st.composite
def scorecards_and_scores(draw: st.DrawFn) -> tuple[ScorecardVersion, dict[str, int]]:
    keys = draw(st.lists(KEYS, min_size=1, max_size=8, unique=True))
    criteria = []
    for key in keys:
        critical = draw(st.booleans())
        criteria.append(
            Criterion(
                key=key,
                label=key,
                weight=draw(
                    st.floats(min_value=0.01, max_value=100, allow_nan=False, allow_infinity=False)
                ),
                max_score=draw(st.integers(1, 100)),
                critical=critical,
                safeguarding=critical and draw(st.booleans()),
            )
        )
    card = ScorecardVersion(
        version=1,
        name="drawn",
        criteria=criteria,
        pass_mark=draw(st.floats(min_value=0, max_value=100)),
        effective_from=EARLIEST_VERSION,
    )
    scores = {c.key: draw(st.integers(0, c.max_score)) for c in criteria}
    return card, scores


@given(scorecards_and_scores())
def test_any_scores_come_to_0_to_100_and_any_critical_zero_fails(
    drawn: tuple[ScorecardVersion, dict[str, int]],
) -> None:
    card, scores = drawn
    scored = score_review(card, scores)

    assert 0 <= scored.score <= 100
    assert scored.score == round(scored.score, 1)
    zeros = [c.key for c in card.criteria if c.critical and scores[c.key] == 0]
    assert scored.critical_failures == zeros
    if zeros:
        assert scored.result == ReviewResult.FAIL
    else:
        passed = scored.score >= card.pass_mark
        assert scored.result == (ReviewResult.PASS if passed else ReviewResult.FAIL)
    assert scored.safeguarding_fail == any(c.safeguarding for c in card.criteria if c.key in zeros)
    if all(scores[c.key] == c.max_score for c in card.criteria):
        assert scored.score == 100.0
    if all(scores[c.key] == 0 for c in card.criteria):
        assert scored.score == 0.0


criteria_strategy = st.lists(
    st.builds(
        Criterion,
        key=st.text(max_size=5),
        label=st.text(max_size=5),
        weight=st.floats(),
        max_score=st.integers(),
        critical=st.booleans(),
        safeguarding=st.booleans(),
    ),
    max_size=3,
)
events_strategy = st.lists(
    st.builds(
        ScorecardVersioned,
        originator_id=st.just(SCORECARD_ID),
        originator_version=st.integers(1, 5),
        event_id=st.uuids(),
        occurred_at=st.just(NOW),
        recorded_at=st.just(NOW),
        actor=st.text(max_size=3),
        actor_role=st.sampled_from(Role),
        version=st.integers(1, 5),
        name=st.text(max_size=5),
        criteria=criteria_strategy,
        pass_mark=st.floats(),
        effective_from=st.datetimes(timezones=st.just(UTC)),
        rationale=st.text(max_size=5),
    ),
    max_size=5,
)


@given(events=events_strategy, at=st.datetimes(timezones=st.just(UTC)))
def test_evolve_never_raises_and_in_force_always_answers(
    events: list[ScorecardEvent], at: datetime
) -> None:
    state: ScorecardState | None = None
    for event in events:
        state = evolve(state, event)
    if state is not None:
        assert len(state.versions) == len(events)
        found = state.in_force(at)
        assert found is None or found.effective_from <= at
