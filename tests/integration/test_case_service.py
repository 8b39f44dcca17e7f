"""The case and identity services against a real store: SQLite and PostgreSQL (the `vigil`
fixture runs every test on both)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from application.cases import CaseService
from domain.case import commands as c
from domain.case import events as e
from domain.case.errors import CaseNotFound
from domain.case.snapshot import CaseSnapshot
from domain.case.state import fold
from domain.case.vocabulary import CaseStatus, DecisionStatus, RiskLevel
from domain.errors import (
    DomainError,
    IdempotencyKeyReused,
    InvalidCommand,
    RuleViolation,
    VersionConflict,
)
from domain.shared import Actor, Basis, Role
from infrastructure.settings import Settings
from infrastructure.snapshots import SnapshotStore
from interfaces.composition import Vigil, bootstrap
from tests.conftest import Clock
from tests.story import (
    COORDINATOR,
    LEAD,
    MODERATOR,
    OTHER_LEAD,
    add_note,
    assess_risk,
    assign,
    close,
    escalate,
    ooh_decision,
    open_case,
    raise_flag,
    refer,
    review,
    suspend,
)

MONDAY_EVENING = datetime(2026, 11, 16, 22, 0, tzinfo=UTC)
MONDAY_NIGHT = datetime(2026, 11, 16, 23, 10, tzinfo=UTC)
TUESDAY = datetime(2026, 11, 17, tzinfo=UTC)


def appended(vigil: Vigil) -> int:
    return vigil.event_log.recorder.max_notification_id() or 0  # type: ignore[attr-defined]


def open_one(vigil: Vigil, command: c.OpenCase | None = None, by: Actor = COORDINATOR) -> UUID:
    result = vigil.cases.execute(None, command or open_case(), by)
    return result.state.id


# --- round trip ---------------------------------------------------------------------------------


def test_writes_are_read_back_as_written(vigil: Vigil, clock: Clock) -> None:
    opened = vigil.cases.execute(None, open_case(), COORDINATOR)
    case_id = opened.state.id
    results = [opened]
    for command, by in [
        (raise_flag(), MODERATOR),
        (assess_risk(RiskLevel.CRITICAL), LEAD),
        (suspend(hours=24), MODERATOR),
        (escalate(), COORDINATOR),
        (refer(), LEAD),
    ]:
        clock.advance(minutes=3)
        results.append(vigil.cases.execute(case_id, command, by))

    timeline = vigil.cases.timeline(case_id)
    written = [event for result in results for event in result.events]
    assert timeline == written
    assert [type(x) for x in timeline] == [
        e.CaseOpened,
        e.FlagRaised,
        e.RiskAssessed,
        e.ModerationActionTaken,
        e.CaseEscalated,
        e.ReferralMade,
    ]
    assert [x.recorded_at for x in timeline] == [
        clock() - timedelta(minutes=3 * n) for n in range(5, -1, -1)
    ]
    state = vigil.cases.get(case_id)
    assert state == results[-1].state == fold(None, timeline)
    assert (state.version, state.status, state.risk_level) == (
        6,
        CaseStatus.ESCALATED,
        RiskLevel.CRITICAL,
    )


def test_a_second_process_reads_the_same_case(
    vigil: Vigil, settings: Settings, clock: Clock
) -> None:
    case_id = open_one(vigil)
    vigil.cases.execute(case_id, raise_flag(), MODERATOR)
    other = bootstrap(settings.model_copy(update={"case_cache_size": 0}), clock=clock)
    try:
        assert other.cases.get(case_id) == vigil.cases.get(case_id)
        # A write in the other process is seen here, although this process cached the case.
        other.cases.execute(case_id, add_note(), MODERATOR)
        assert vigil.cases.get(case_id).version == 3
        assert vigil.cases.execute(case_id, add_note(), MODERATOR).state.version == 4
    finally:
        other.close()


def test_an_unknown_case_is_not_found(vigil: Vigil) -> None:
    unknown = UUID(int=42)
    with pytest.raises(CaseNotFound):
        vigil.cases.get(unknown)
    with pytest.raises(CaseNotFound):
        vigil.cases.timeline(unknown)
    with pytest.raises(CaseNotFound):
        vigil.cases.execute(unknown, add_note(), COORDINATOR)
    assert appended(vigil) == 0


def test_a_refused_command_writes_nothing(vigil: Vigil) -> None:
    case_id = open_one(vigil)
    vigil.cases.execute(case_id, escalate(), COORDINATOR)
    before = appended(vigil)

    with pytest.raises(RuleViolation):
        vigil.cases.execute(case_id, close(), LEAD)

    assert appended(vigil) == before
    assert vigil.cases.get(case_id).version == 2


def test_an_assignee_must_be_a_user(vigil: Vigil) -> None:
    case_id = open_one(vigil)
    with pytest.raises(InvalidCommand, match="not a Vigil user"):
        vigil.cases.execute(case_id, assign("nobody"), COORDINATOR)

    vigil.identity.register("lee", Role.SAFEGUARDING_LEAD, actor="admin")
    result = vigil.cases.execute(case_id, assign("Lee"), COORDINATOR)
    assert result.state.assignee == "lee"


# --- as of T: what we knew (recorded) and what had happened (occurred) ------------------------


def test_as_of_replay_on_both_bases_for_a_decision_logged_late(vigil: Vigil, clock: Clock) -> None:
    # Monday 22:00 the case opens and at 23:10 a decision is taken, but both are logged on
    # Tuesday morning at 09:30; the lead reviews at 10:00 and closes the case at 11:00.
    clock.set(datetime(2026, 11, 17, 9, 30, tzinfo=UTC))
    case_id = open_one(vigil, open_case(occurred_at=MONDAY_EVENING))
    decision = vigil.cases.execute(
        case_id, ooh_decision(occurred_at=MONDAY_NIGHT), COORDINATOR
    ).events[0]
    clock.set(datetime(2026, 11, 17, 10, 0, tzinfo=UTC))
    vigil.cases.execute(case_id, review(decision.event_id), LEAD)
    clock.set(datetime(2026, 11, 17, 11, 0, tzinfo=UTC))
    vigil.cases.execute(case_id, close(), LEAD)
    # At 11:30 a note is added about something said at 10:15.
    clock.set(datetime(2026, 11, 17, 11, 30, tzinfo=UTC))
    vigil.cases.execute(
        case_id, add_note(occurred_at=datetime(2026, 11, 17, 10, 15, tzinfo=UTC)), LEAD
    )

    def at(hour: int, minute: int = 0, *, day: int = 17) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=UTC)

    # Before 09:30 nothing was recorded; but the concern and decision had happened.
    with pytest.raises(CaseNotFound):
        vigil.cases.get(case_id, as_of=at(8), basis=Basis.RECORDED)
    assert vigil.cases.timeline(case_id, as_of=at(8), basis=Basis.RECORDED) == []
    happened = vigil.cases.get(case_id, as_of=at(8), basis=Basis.OCCURRED)
    assert happened.version == 2
    assert [d.decision_id for d in happened.pending_reviews()] == [decision.event_id]
    # Before Monday 22:00 the case had not even happened.
    with pytest.raises(CaseNotFound):
        vigil.cases.get(case_id, as_of=at(21, day=16), basis=Basis.OCCURRED)

    # At 10:30 the decision had been reviewed and the case was still open.
    for basis in Basis:
        then = vigil.cases.get(case_id, as_of=at(10, 30), basis=basis)
        assert then.status is CaseStatus.OPEN
        assert then.decisions[str(decision.event_id)].status is DecisionStatus.RATIFIED
    # The late note had happened by 10:30 but was not known until 11:30.
    assert vigil.cases.get(case_id, as_of=at(10, 30), basis=Basis.OCCURRED).notes == 1
    assert vigil.cases.get(case_id, as_of=at(10, 30), basis=Basis.RECORDED).notes == 0

    # Later, both bases agree with the present.
    now = vigil.cases.get(case_id)
    assert now.status is CaseStatus.CLOSED
    for basis in Basis:
        assert vigil.cases.get(case_id, as_of=at(12), basis=basis) == now
    assert vigil.cases.timeline(case_id, as_of=at(12)) == vigil.cases.timeline(case_id)


# --- idempotency --------------------------------------------------------------------------------


def test_a_retried_write_returns_the_first_answer_and_appends_nothing(
    vigil: Vigil, clock: Clock
) -> None:
    case_id = open_one(vigil)
    first = vigil.cases.execute(
        case_id, add_note(), COORDINATOR, idempotency_key="note-1", request_hash="h1"
    )
    written = appended(vigil)
    vigil.cases.execute(case_id, raise_flag(), MODERATOR)  # the case moves on meanwhile
    after_flag = appended(vigil)
    clock.advance(minutes=10)

    again = vigil.cases.execute(
        case_id, add_note(), COORDINATOR, idempotency_key="note-1", request_hash="h1"
    )

    assert (first.replayed, again.replayed) == (False, True)
    assert again.events == first.events
    assert again.state == first.state  # the case as that write left it
    assert appended(vigil) == after_flag == written + 1
    assert first.events[0].idempotency_key == "note-1"


def test_a_case_write_key_is_kept_a_day_and_forgotten_after_a_later_keyed_write(
    vigil: Vigil, clock: Clock
) -> None:
    # Given a keyed note, and a day less a minute later another keyed write on the case.
    case_id = open_one(vigil)
    first = vigil.cases.execute(
        case_id, add_note(), COORDINATOR, idempotency_key="note-1", request_hash="h1"
    )
    clock.advance(hours=23, minutes=59)
    vigil.cases.execute(case_id, raise_flag(), MODERATOR, idempotency_key="flag-1")
    # When the note is retried: within the day it answers as the first time.
    assert vigil.cases.execute(
        case_id, add_note(), COORDINATOR, idempotency_key="note-1", request_hash="h1"
    ).replayed
    # When, more than a day after the note, another keyed write lets the case forget its key.
    clock.advance(minutes=2)
    vigil.cases.execute(case_id, raise_flag(), MODERATOR, idempotency_key="flag-2")
    before = appended(vigil)
    late = vigil.cases.execute(
        case_id, add_note(), COORDINATOR, idempotency_key="note-1", request_hash="h1"
    )
    # Then the late retry is a new write (as docs/api.md's "Retrying writes" says).
    assert not late.replayed
    assert late.events[0].event_id != first.events[0].event_id
    assert appended(vigil) == before + 1


def test_a_reused_key_with_another_request_is_refused(vigil: Vigil) -> None:
    case_id = open_one(vigil)
    vigil.cases.execute(case_id, add_note(), COORDINATOR, idempotency_key="k", request_hash="h1")
    before = appended(vigil)

    with pytest.raises(IdempotencyKeyReused):
        vigil.cases.execute(
            case_id, raise_flag(), COORDINATOR, idempotency_key="k", request_hash="h2"
        )

    assert appended(vigil) == before


def test_idempotency_keys_belong_to_the_user_who_sent_them(vigil: Vigil) -> None:
    case_id = open_one(vigil)
    mine = vigil.cases.execute(case_id, add_note(), COORDINATOR, idempotency_key="k")
    theirs = vigil.cases.execute(case_id, add_note(), MODERATOR, idempotency_key="k")
    assert not theirs.replayed
    assert theirs.events[0].originator_version == mine.events[0].originator_version + 1


def test_opening_with_a_key_derives_a_stable_case_id(vigil: Vigil, clock: Clock) -> None:
    first = vigil.cases.execute(
        None, open_case(), COORDINATOR, idempotency_key="open-1", request_hash="h"
    )
    clock.advance(seconds=30)
    again = vigil.cases.execute(
        None, open_case(), COORDINATOR, idempotency_key="open-1", request_hash="h"
    )
    other_user = vigil.cases.execute(
        None, open_case(), MODERATOR, idempotency_key="open-1", request_hash="h"
    )

    assert first.state.id == again.state.id == CaseService.case_id_for(COORDINATOR, "open-1")
    assert again.replayed
    assert again.events == first.events
    assert other_user.state.id != first.state.id
    # with the default service and the SLA policy's version 1, recorded with the first case
    assert appended(vigil) == 4
    with pytest.raises(IdempotencyKeyReused):
        vigil.cases.execute(
            None, open_case(), COORDINATOR, idempotency_key="open-1", request_hash="other"
        )


def test_opening_without_a_key_opens_a_new_case_each_time(vigil: Vigil) -> None:
    assert open_one(vigil) != open_one(vigil)


# --- optimistic concurrency -------------------------------------------------------------------


def test_an_expected_version_that_is_not_current_is_refused(vigil: Vigil) -> None:
    case_id = open_one(vigil)
    vigil.cases.execute(case_id, add_note(), COORDINATOR)
    before = appended(vigil)

    with pytest.raises(VersionConflict):
        vigil.cases.execute(case_id, add_note(), COORDINATOR, expected_version=1)
    assert appended(vigil) == before

    result = vigil.cases.execute(case_id, add_note(), COORDINATOR, expected_version=2)
    assert result.state.version == 3


def test_an_expected_version_on_a_missing_case_is_not_found(vigil: Vigil) -> None:
    with pytest.raises(CaseNotFound):
        vigil.cases.execute(UUID(int=7), add_note(), COORDINATOR, expected_version=1)


def _race(threads: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(threads)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        barrier.wait()
        try:
            value = work(n)
        except BaseException as exc:  # collected and asserted on
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(value)

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in pool)
    return results, errors


def test_concurrent_writers_in_two_processes_all_succeed_in_one_contiguous_history(
    vigil: Vigil, settings: Settings, clock: Clock
) -> None:
    # Given the store served by two processes (each its own Vigil): within one, writes to a
    # case queue for it; between the two they race for each version, and the loser retries.
    case_id = open_one(vigil)
    other_process = bootstrap(settings, clock=clock)
    threads, writes = 12, 5

    def work(n: int) -> list[UUID]:
        actor = Actor(username=f"writer{n}", role=Role.COORDINATOR)
        app = (vigil, other_process)[n % 2]
        return [
            app.cases.execute(case_id, add_note(text=f"note {n}.{i}"), actor).events[0].event_id
            for i in range(writes)
        ]

    try:
        results, errors = _race(threads, work)
    finally:
        other_process.close()

    assert errors == []
    timeline = vigil.cases.timeline(case_id)
    assert [x.originator_version for x in timeline] == list(range(1, threads * writes + 2))
    returned = {event_id for ids in results for event_id in ids}
    assert len(returned) == threads * writes
    assert returned <= {x.event_id for x in timeline}
    assert vigil.cases.get(case_id).notes == threads * writes


def test_concurrent_writers_pinned_to_one_version_exactly_one_wins(vigil: Vigil) -> None:
    case_id = open_one(vigil)
    threads = 8

    results, errors = _race(
        threads,
        lambda n: vigil.cases.execute(
            case_id,
            add_note(text=f"note {n}"),
            Actor(username=f"writer{n}", role=Role.COORDINATOR),
            expected_version=1,
        ),
    )

    assert len(results) == 1
    assert len(errors) == threads - 1
    assert all(isinstance(x, VersionConflict) for x in errors), errors
    assert [x.originator_version for x in vigil.cases.timeline(case_id)] == [1, 2]


def test_concurrent_retries_of_one_keyed_write_append_once(vigil: Vigil) -> None:
    case_id = open_one(vigil)
    before = appended(vigil)

    results, errors = _race(
        6,
        lambda n: vigil.cases.execute(
            case_id, add_note(), COORDINATOR, idempotency_key="retry", request_hash="h"
        ),
    )

    assert errors == []
    assert appended(vigil) == before + 1
    assert len({r.events[0].event_id for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False] + [True] * 5


# --- snapshots --------------------------------------------------------------------------------


@pytest.fixture
def small_snapshots(settings: Settings, clock: Clock) -> Iterator[Vigil]:
    app = bootstrap(
        settings.model_copy(update={"snapshot_interval": 5, "case_cache_size": 0}), clock=clock
    )
    try:
        yield app
    finally:
        app.close()


def test_snapshots_are_taken_and_loading_from_one_equals_a_full_replay(
    small_snapshots: Vigil, clock: Clock
) -> None:
    vigil = small_snapshots
    case_id = open_one(vigil)
    escalation = vigil.cases.execute(case_id, escalate(), COORDINATOR).events[0]
    for n in range(2 * 5 + 3 - 2):
        clock.advance(minutes=7)
        command: c.CaseCommand = [add_note(), raise_flag(), suspend(hours=1 + n)][n % 3]
        vigil.cases.execute(case_id, command, MODERATOR)
    vigil.cases.execute(case_id, c.AcknowledgeEscalation(escalation_id=escalation.event_id), LEAD)

    assert vigil.event_log.snapshots is not None
    snapshots = list(vigil.event_log.snapshots.get(case_id))
    assert [s.originator_version for s in snapshots] == [5, 10]
    assert all(isinstance(s, CaseSnapshot) for s in snapshots)

    full = fold(None, vigil.cases.timeline(case_id))
    assert full is not None
    assert full.version == 14
    assert vigil.cases.load(case_id) == full
    assert vigil.cases.get(case_id) == full
    for snapshot in snapshots:
        assert snapshot.state == fold(
            None, vigil.cases.timeline(case_id)[: snapshot.originator_version]
        )
    # An older version is still rebuilt exactly, whether a snapshot precedes it or not.
    assert vigil.cases.load(case_id, version=12) == fold(None, vigil.cases.timeline(case_id)[:12])
    assert vigil.cases.load(case_id, version=3) == fold(None, vigil.cases.timeline(case_id)[:3])


def test_take_snapshot_on_demand(small_snapshots: Vigil) -> None:
    vigil = small_snapshots
    case_id = open_one(vigil)
    vigil.cases.execute(case_id, add_note(), COORDINATOR)
    vigil.cases.take_snapshot(case_id)
    assert vigil.event_log.snapshots is not None
    [snapshot] = vigil.event_log.snapshots.get(case_id)
    assert snapshot.originator_version == 2
    assert vigil.cases.load(case_id) == fold(None, vigil.cases.timeline(case_id))
    with pytest.raises(CaseNotFound):
        vigil.cases.take_snapshot(UUID(int=9))


def test_snapshots_that_do_not_verify_are_passed_over_for_one_that_does(
    small_snapshots: Vigil,
) -> None:
    # Given a case of 12 events, snapshotted by Vigil at 5 and 10.
    vigil = small_snapshots
    case_id = open_one(vigil)
    for _ in range(11):
        vigil.cases.execute(case_id, add_note(), COORDINATOR)
    store = vigil.event_log.snapshots
    assert isinstance(store, SnapshotStore)
    [real] = store.get(case_id, desc=True, limit=1)
    assert real.originator_version == 10
    # When rows Vigil did not write are inserted above it: one without a MAC (sealed as Vigil
    # seals, so only the MAC tells it apart) and one with a MAC made up.
    at_11 = cast(CaseSnapshot, real).model_copy(update={"originator_version": 11})
    unsigned = store.mapper.to_stored_event(at_11)
    made_up = b"vsnap1:" + b"00" * 32 + b":" + b"00" * 32 + b":" + unsigned.state
    store.recorder.insert_events(
        [
            StoredEvent(case_id, 11, unsigned.topic, unsigned.state),
            StoredEvent(case_id, 12, unsigned.topic, made_up),
        ]
    )

    # Then loading passes over both for the latest that verifies, and the state is the log's.
    [latest] = store.get(case_id, desc=True, limit=1)
    assert latest.originator_version == 10
    assert vigil.cases.load(case_id) == fold(None, vigil.cases.timeline(case_id))


# --- identity ---------------------------------------------------------------------------------


def test_register_a_user_and_refuse_a_duplicate(vigil: Vigil) -> None:
    user = vigil.identity.register("Lee", Role.SAFEGUARDING_LEAD, actor="admin")
    assert (user.username, user.role) == ("lee", Role.SAFEGUARDING_LEAD)
    assert vigil.identity.exists("lee")
    assert vigil.identity.exists("LEE")
    assert not vigil.identity.exists("lou")
    before = appended(vigil)

    with pytest.raises(RuleViolation, match="already exists"):
        vigil.identity.register("lee", Role.ADMIN, actor="admin")

    assert appended(vigil) == before
    stored = vigil.identity.get("lee")
    assert stored is not None
    assert stored.role is Role.SAFEGUARDING_LEAD


def test_tokens_authenticate_their_user_and_nothing_else(vigil: Vigil) -> None:
    vigil.identity.register("lee", Role.SAFEGUARDING_LEAD, actor="admin")
    vigil.identity.register("lou", Role.AUDITOR, actor="admin")
    lee_token = vigil.identity.issue_token("lee", actor="admin")
    lou_token = vigil.identity.issue_token("lou", actor="admin")
    second_lee_token = vigil.identity.issue_token("lee", actor="admin")

    def who(token: str) -> tuple[str, Role] | None:
        actor = vigil.identity.authenticate(token)
        return None if actor is None else (actor.username, actor.role)

    assert who(lee_token) == ("lee", Role.SAFEGUARDING_LEAD)
    assert who(second_lee_token) == (LEAD.username, LEAD.role)
    assert who(lou_token) == ("lou", Role.AUDITOR)

    prefix, lee_hex, lee_secret = lee_token.split("_", 2)
    _, lou_hex, lou_secret = lou_token.split("_", 2)
    refused = [
        "",
        "vgl",
        "vgl_",
        f"{prefix}_{lee_hex}_",
        f"{prefix}_{lee_hex}_{lee_secret}x",
        f"{prefix}_{lee_hex}_{lou_secret}",  # lee's id with lou's secret
        f"{prefix}_{lou_hex}_{lee_secret}",  # lou's id with lee's secret
        f"xyz_{lee_hex}_{lee_secret}",
        f"{prefix}_not-hex_{lee_secret}",
        f"{prefix}_{UUID(int=1).hex}_{lee_secret}",  # no such user
        f"Bearer {lee_token}",
        lee_token.upper(),
    ]
    for token in refused:
        assert vigil.identity.authenticate(token) is None, token


def test_a_token_naming_a_case_instead_of_a_user_is_refused(vigil: Vigil) -> None:
    case_id = open_one(vigil)
    assert vigil.identity.authenticate(f"vgl_{case_id.hex}_secret") is None


def test_a_token_cannot_be_issued_for_an_unknown_user(vigil: Vigil) -> None:
    with pytest.raises(DomainError):
        vigil.identity.issue_token("nobody", actor="admin")
    assert appended(vigil) == 0


def test_a_user_id_is_not_a_case(vigil: Vigil) -> None:
    user = vigil.identity.register("lee", Role.SAFEGUARDING_LEAD, actor="admin")
    with pytest.raises(CaseNotFound):
        vigil.cases.get(user.id)
    with pytest.raises(CaseNotFound):
        vigil.cases.execute(user.id, add_note(), OTHER_LEAD)


def test_concurrent_registrations_of_one_name_register_it_once(vigil: Vigil) -> None:
    results, errors = _race(
        6, lambda n: vigil.identity.register("lee", Role.SAFEGUARDING_LEAD, actor=f"admin{n}")
    )

    assert len(results) == 1
    assert len(errors) == 5
    assert all(isinstance(x, RuleViolation) for x in errors), errors


def test_concurrent_token_issues_all_succeed(vigil: Vigil) -> None:
    vigil.identity.register("lee", Role.SAFEGUARDING_LEAD, actor="admin")

    tokens, errors = _race(6, lambda n: vigil.identity.issue_token("lee", actor="admin"))

    assert errors == []
    signed_in = [vigil.identity.authenticate(token) for token in tokens]
    assert [(a.username, a.role) for a in signed_in if a is not None] == [
        (LEAD.username, LEAD.role)
    ] * len(tokens)


def test_a_username_that_could_never_be_assigned_is_refused_at_registration(vigil: Vigil) -> None:
    before = vigil.event_log.recorder.max_notification_id()
    with pytest.raises(InvalidCommand, match="username"):
        vigil.identity.register("lee smith", Role.COORDINATOR, actor="cli")
    assert vigil.event_log.recorder.max_notification_id() == before
    assert (
        vigil.identity.register("Lee.Smith", Role.COORDINATOR, actor="cli").username == "lee.smith"
    )
