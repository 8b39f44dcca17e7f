"""The scorecard service on SQLite and PostgreSQL: the default scorecard read from the code until
it is first needed, then recorded once by Vigil and read from the log only; a new version that
applies from its moment on, to this process and to one opened later; refusals and retried keys
that write nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from application.idempotency import KeyedRequest
from domain.calendar import EARLIEST_VERSION
from domain.errors import IdempotencyKeyReused
from domain.quality.commands import VersionScorecard
from domain.quality.errors import (
    ScorecardInvalid,
    ScorecardVersionInPast,
    ScorecardVersionOutOfOrder,
    UnknownCriteria,
)
from domain.quality.events import ScorecardVersioned
from domain.quality.scoring import ReviewResult, score_review
from domain.quality.state import SCORECARD_ID
from domain.shared import Actor, Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from tests.conftest import Clock

LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
FIRST_OF_DECEMBER = datetime(2026, 12, 1, tzinfo=UTC)
CHAT_CARD: dict[str, Any] = {
    "name": "Chat review",
    "criteria": [
        {
            "key": "risk_asked",
            "label": "Risk asked about directly",
            "weight": 3,
            "max_score": 2,
            "critical": True,
            "safeguarding": True,
        },
        {
            "key": "written_tone",
            "label": "Written tone: plain words",
            "weight": 1,
            "max_score": 4,
            "critical": False,
        },
    ],
    "pass_mark": 75,
    "effective_from": FIRST_OF_DECEMBER,
    "rationale": "Chat contacts now outnumber calls: written tone is reviewed too.",
}


def chat_card(**fields: Any) -> VersionScorecard:
    return VersionScorecard.model_validate({**CHAT_CARD, **fields})


def log_length(vigil: Vigil) -> int:
    return vigil.event_log.recorder.max_notification_id() or 0


def stream(vigil: Vigil) -> list[ScorecardVersioned]:
    return [e for e in vigil.event_log.events_of(SCORECARD_ID) if isinstance(e, ScorecardVersioned)]


@pytest.fixture
def reopened() -> Iterator[list[Vigil]]:
    """Vigils opened on the test's store later, closed at the end."""
    opened: list[Vigil] = []
    yield opened
    for vigil in opened:
        vigil.close()


def test_the_default_scorecard_is_read_from_the_code_until_first_needed(vigil: Vigil) -> None:
    # Given a fresh store, the scorecard is the default, in force from the start of time
    current = vigil.scorecards.current()
    assert (current.version, [v.version for v in current.versions]) == (0, [1])
    default = vigil.scorecards.in_force(datetime(2026, 11, 17, tzinfo=UTC))
    assert default is not None
    assert (default.name, default.pass_mark, default.effective_from) == (
        "Helpline quality review",
        70.0,
        EARLIEST_VERSION,
    )
    assert vigil.scorecards.history() == [default]
    # and reading it wrote nothing
    assert not vigil.scorecards.is_recorded()
    assert log_length(vigil) == 0


def test_a_new_version_records_the_default_first_and_applies_from_its_moment(
    vigil: Vigil, clock: Clock, settings: Settings, reopened: list[Vigil]
) -> None:
    # When a lead gives the scorecard a version from the first of December
    write = vigil.scorecards.add_version(chat_card(), LEE)

    # Then the default was recorded first, by Vigil itself, then the lead's version
    recorded = stream(vigil)
    assert [(e.version, e.actor, e.effective_from) for e in recorded] == [
        (1, "vigil", EARLIEST_VERSION),
        (2, "lee", FIRST_OF_DECEMBER),
    ]
    assert [e.originator_version for e in write.events] == [2]
    assert write.position == log_length(vigil)
    assert [v.version for v in write.scorecard.versions] == [1, 2]
    # and the version in force is the default until the first of December, the lead's from then
    before = vigil.scorecards.in_force(FIRST_OF_DECEMBER - timedelta(seconds=1))
    after = vigil.scorecards.in_force(FIRST_OF_DECEMBER)
    assert (before and before.version, after and after.version) == (1, 2)

    # And a Vigil opened later on the same store reads the same history from the log
    again = bootstrap(settings, clock=clock)
    reopened.append(again)
    assert again.scorecards.history() == vigil.scorecards.history()
    assert again.scorecards.is_recorded()
    # A review of a contact of November is judged by the default, one of December by the chat card
    november, december = (again.scorecards.in_force(at) for at in (clock(), FIRST_OF_DECEMBER))
    assert november is not None
    assert december is not None
    assert score_review(december, {"risk_asked": 2, "written_tone": 0}).score == 75.0
    with pytest.raises(UnknownCriteria):  # the default has no written tone
        score_review(november, {"risk_asked": 2, "written_tone": 0})


def test_a_refusal_writes_nothing_not_even_the_default(vigil: Vigil, clock: Clock) -> None:
    refusals: list[tuple[type[Exception], VersionScorecard]] = [
        (ScorecardVersionInPast, chat_card(effective_from=clock() - timedelta(minutes=1))),
        (ScorecardInvalid, chat_card(pass_mark=101)),
        (ScorecardInvalid, chat_card(criteria=[])),
    ]
    for error, command in refusals:
        with pytest.raises(error):
            vigil.scorecards.add_version(command, LEE)
    assert log_length(vigil) == 0
    assert not vigil.scorecards.is_recorded()

    # Once a version is scheduled, one that does not come after it is refused, and writes nothing
    vigil.scorecards.add_version(chat_card(), LEE)
    length = log_length(vigil)
    with pytest.raises(ScorecardVersionOutOfOrder):
        vigil.scorecards.add_version(
            chat_card(effective_from=FIRST_OF_DECEMBER - timedelta(days=1)), LEE
        )
    assert log_length(vigil) == length


def test_the_default_is_recorded_once_however_many_need_it_at_once(vigil: Vigil) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def need_it(index: int) -> None:
        try:
            barrier.wait()
            if index:
                vigil.scorecards.record_default()
            else:
                vigil.scorecards.add_version(chat_card(), LEE)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=need_it, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    recorded = stream(vigil)
    assert [(e.version, e.actor) for e in recorded] == [(1, "vigil"), (2, "lee")]


def test_a_review_appends_the_default_with_its_own_events_and_only_once(vigil: Vigil) -> None:
    # A review judged by the default carries its recording in the review's own append
    recording = vigil.scorecards.default_recording()
    assert [(e.originator_version, e.actor) for e in recording] == [(1, "vigil")]
    vigil.event_log.save(*recording)
    assert vigil.scorecards.is_recorded()
    assert vigil.scorecards.default_recording() == []
    # and a second writer that decided on the unrecorded default loses: version 1 is stored once
    with pytest.raises(IntegrityError):
        vigil.event_log.save(*recording)
    assert len(stream(vigil)) == 1


def test_a_keyed_version_retried_answers_the_first_time_and_writes_nothing(
    vigil: Vigil,
) -> None:
    keyed = KeyedRequest(key="scorecard-chat", request_hash="c" * 64)

    with ThreadPoolExecutor(max_workers=4) as pool:
        writes = list(
            pool.map(
                lambda _: vigil.scorecards.add_version(chat_card(), LEE, request=keyed), range(4)
            )
        )

    assert sorted(w.replayed for w in writes) == [False, True, True, True]
    assert {w.events[0].event_id for w in writes} == {stream(vigil)[1].event_id}
    assert {w.position for w in writes} == {writes[0].position}
    assert len(stream(vigil)) == 2
    length = log_length(vigil)
    with pytest.raises(IdempotencyKeyReused):
        vigil.scorecards.add_version(
            chat_card(pass_mark=80),
            LEE,
            request=KeyedRequest(key="scorecard-chat", request_hash="d" * 64),
        )
    assert log_length(vigil) == length


def test_a_failed_critical_review_under_the_recorded_default(vigil: Vigil) -> None:
    vigil.scorecards.record_default()
    default = vigil.scorecards.in_force(datetime(2026, 11, 17, tzinfo=UTC))
    assert default is not None
    full = {c.key: c.max_score for c in default.criteria}
    scored = score_review(default, {**full, "safeguarding_escalation": 0})
    assert (scored.result, scored.critical_failures, scored.safeguarding_fail) == (
        ReviewResult.FAIL,
        ["safeguarding_escalation"],
        True,
    )
    assert scored.score > default.pass_mark
