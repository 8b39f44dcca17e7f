"""The SLA policy in versions, and the queues judged by the version in force at each clock start.

Every test runs on SQLite and on PostgreSQL (the ``vigil`` fixture), with real commands through
the services and the server clock set by the ``clock`` fixture (Tuesday 17 November 2026,
09:30 UTC, in the default service's working hours).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.case.snapshot import CaseSnapshot
from domain.case.vocabulary import CaseSource, RiskLevel, Urgency
from domain.policy.commands import VersionSlaPolicy
from domain.policy.events import SlaPolicyVersioned
from domain.policy.sla import DEFAULT_TARGETS, Target, first_version
from domain.policy.state import SLA_POLICY_ID
from domain.shared import Actor, Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from projections.sla_policies import SlaPolicies
from projections.work_queues import Queue, WorkQueues
from tests import story
from tests.conftest import Clock
from tests.contact_writer import ContactWriter
from tests.integration.test_cli import vigil as run_vigil

LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
RATIONALE = "The board agreed faster responses to urgent and critical concerns."


def shorter(effective_from: datetime | None = None, **targets: Any) -> VersionSlaPolicy:
    """Urgent escalations acknowledged in 1 h, critical flags acted on in 30 min, out-of-hours
    decisions reviewed within 2 working days; the rest as by default."""
    values: dict[str, Any] = {
        **dict(DEFAULT_TARGETS),
        "escalation_acknowledged": {
            **DEFAULT_TARGETS.escalation_acknowledged,
            Urgency.URGENT: Target(minutes=60),
        },
        "first_action": {**DEFAULT_TARGETS.first_action, RiskLevel.CRITICAL: Target(minutes=30)},
        "out_of_hours_review": Target(working_days=2),
        **targets,
    }
    return VersionSlaPolicy(**values, effective_from=effective_from, rationale=RATIONALE)


def queue(vigil: Vigil, name: Queue, as_of: datetime) -> dict[UUID, datetime | None]:
    queues = WorkQueues(vigil.event_log, projector=vigil.projector)
    queues.catch_up()
    found, cursor = queues.items(name, as_of=as_of, limit=200)
    assert cursor is None
    return {item.item_id: item.due_at for item in found}


def head(vigil: Vigil) -> int:
    return int(vigil.event_log.recorder.max_notification_id() or 0)


def test_the_default_is_recorded_with_the_first_case_and_read_by_position(
    vigil: Vigil, clock: Clock
) -> None:
    # Given a fresh store, the policy is the settings' version 1, not in the log
    assert vigil.sla_policies.is_recorded() is False
    assert [v.version for v in vigil.sla_policies.history().versions] == [1]
    assert head(vigil) == 0

    # When the first case is opened, version 1 is recorded by Vigil in the same write, first
    vigil.cases.execute(None, story.open_case(), LEE)
    recorded = list(vigil.event_log.events_of(SLA_POLICY_ID))
    assert [(e.originator_version, e.actor) for e in recorded] == [(1, "vigil")]
    [first] = recorded
    assert isinstance(first, SlaPolicyVersioned)
    assert first.targets == Settings.model_construct().sla_targets == DEFAULT_TARGETS
    assert vigil.sla_policies.is_recorded() is True
    opened_at = head(vigil)
    vigil.cases.execute(None, story.open_case(), LEE)  # a second case records nothing more
    assert len(list(vigil.event_log.events_of(SLA_POLICY_ID))) == 1

    # And a new version is read by position: not there before its write, there after
    clock.advance(minutes=5)
    write = vigil.sla_policies.add_version(shorter(), LEE)
    assert [v.version for v in write.policy.versions] == [1, 2]
    policies = SlaPolicies(vigil.event_log, default_first=first_version(DEFAULT_TARGETS))
    assert [v.version for v in policies.history(opened_at).versions] == [1]
    after = policies.history(write.position)
    assert [v.version for v in after.versions] == [1, 2]
    assert after.in_force(clock() - timedelta(seconds=1)).version == 1
    assert after.in_force(clock()).targets.escalation_acknowledged[Urgency.URGENT].minutes == 60
    assert policies.history(0).versions[0].effective_from == datetime(1900, 1, 1, tzinfo=UTC)


def test_a_new_version_moves_no_due_time_already_set_and_judges_new_clocks(
    vigil: Vigil, clock: Clock, settings: Settings
) -> None:
    # Given a case with an urgent escalation raised now (due in 4 h by version 1)
    case = vigil.cases.execute(None, story.open_case(), LEE).state
    old = vigil.cases.execute(case.id, story.escalate(urgency=Urgency.URGENT), LEE).events[-1]
    raised = clock()
    before = queue(vigil, Queue.UNACKNOWLEDGED_ESCALATIONS, clock())
    assert before == {old.event_id: raised + timedelta(hours=4)}

    # When a shorter policy takes effect now (urgent: 1 h), and a new escalation is raised
    clock.advance(minutes=10)
    vigil.sla_policies.add_version(shorter(), LEE)
    clock.advance(minutes=5)
    new = vigil.cases.execute(case.id, story.escalate(urgency=Urgency.URGENT), LEE).events[-1]

    # Then the old escalation keeps its due time (even though its case's rows were rewritten)
    # and the new one is due by the new target
    after = queue(vigil, Queue.UNACKNOWLEDGED_ESCALATIONS, clock())
    assert after == {
        old.event_id: raised + timedelta(hours=4),
        new.event_id: clock() + timedelta(hours=1),
    }

    # And a rebuild, a view built alone, and a replay of now all give the same
    rows = WorkQueues(vigil.event_log, projector=vigil.projector)
    rows.catch_up()
    current = rows.all()
    rows.rebuild()
    assert rows.all() == current
    alone = WorkQueues(vigil.event_log)
    alone.rebuild()
    assert alone.all() == current
    replayed = rows.replay(clock())
    escalations = {
        r["item_id"]: r["due_at"]
        for r in replayed.rows
        if r["queue"] == Queue.UNACKNOWLEDGED_ESCALATIONS.value
    }
    assert escalations == after
    # As of before the new version was recorded: only the old escalation, with its due time
    earlier = rows.replay(raised + timedelta(minutes=1))
    assert {
        r["item_id"]: r["due_at"]
        for r in earlier.rows
        if r["queue"] == Queue.UNACKNOWLEDGED_ESCALATIONS.value
    } == before


def test_a_review_deadline_set_when_recorded_follows_the_policy_then(
    vigil: Vigil, clock: Clock
) -> None:
    # Given a version from now on: out-of-hours decisions reviewed within 2 working days
    vigil.sla_policies.add_version(shorter(), LEE)
    opened = story.open_case(occurred_at=datetime(2026, 11, 17, 1, 0, tzinfo=UTC))
    case = vigil.cases.execute(None, opened, LEE).state
    # When a decision is recorded for Tuesday 23:10 (out of hours, after the version)
    clock.set(datetime(2026, 11, 18, 8, 0, tzinfo=UTC))
    decided = vigil.cases.execute(
        case.id, story.ooh_decision(occurred_at=datetime(2026, 11, 17, 23, 10, tzinfo=UTC)), LEE
    ).events[-1]
    # Then its review is due at the close of the second working day after it (Thursday 17:00)
    assert decided.review_due == datetime(2026, 11, 19, 17, 0, tzinfo=UTC)
    # And one for a moment before the version took effect keeps version 1's (Tuesday 17:00)
    earlier = vigil.cases.execute(
        case.id, story.ooh_decision(occurred_at=datetime(2026, 11, 17, 2, 0, tzinfo=UTC)), LEE
    ).events[-1]
    assert earlier.review_due == datetime(2026, 11, 17, 17, 0, tzinfo=UTC)


def test_flags_wait_for_the_first_action_by_the_risk_when_raised(
    vigil: Vigil, clock: Clock
) -> None:
    # Given a case opened from a flag, unassessed: due in 24 h (medium)
    unassessed = vigil.cases.execute(None, story.open_case(risk_level=None), LEE)
    # and a critical one: due in 1 h; and a staff concern, which is no flag
    critical = vigil.cases.execute(None, story.open_case(risk_level=RiskLevel.CRITICAL), LEE)
    vigil.cases.execute(None, story.open_case(source=CaseSource.STAFF_CONCERN), LEE)
    now = clock()
    waiting = queue(vigil, Queue.FLAGS_AWAITING_ACTION, now)
    assert waiting == {
        unassessed.events[-1].event_id: now + timedelta(hours=24),
        critical.events[-1].event_id: now + timedelta(hours=1),
    }

    # When the critical case is assessed, its flag leaves the queue
    clock.advance(minutes=20)
    vigil.cases.execute(critical.state.id, story.assess_risk(), LEE)
    assert set(queue(vigil, Queue.FLAGS_AWAITING_ACTION, clock())) == {
        unassessed.events[-1].event_id
    }

    # A new flag on the (still critical) case waits again, by critical's target
    clock.advance(minutes=20)
    flag = vigil.cases.execute(critical.state.id, story.raise_flag(), LEE).events[-1]
    assert queue(vigil, Queue.FLAGS_AWAITING_ACTION, clock())[flag.event_id] == clock() + timedelta(
        hours=1
    )
    # An action logged late, which occurred before that flag, leaves it waiting
    vigil.cases.execute(
        critical.state.id, story.moderate(occurred_at=clock() - timedelta(minutes=10)), LEE
    )
    assert flag.event_id in queue(vigil, Queue.FLAGS_AWAITING_ACTION, clock())
    # An escalation after it takes it out
    vigil.cases.execute(critical.state.id, story.escalate(), LEE)
    assert flag.event_id not in queue(vigil, Queue.FLAGS_AWAITING_ACTION, clock())
    # And a flag logged late, after an action that occurred later than it, never waits
    late = vigil.cases.execute(
        critical.state.id, story.raise_flag(occurred_at=clock() - timedelta(minutes=5)), LEE
    ).events[-1]
    assert late.event_id not in queue(vigil, Queue.FLAGS_AWAITING_ACTION, clock())

    # A replay as of a past moment gives the queue as it stood then: both first flags waiting
    queues = WorkQueues(vigil.event_log, projector=vigil.projector)
    then = queues.replay(now)
    found, _ = queues.replayed_items(then, Queue.FLAGS_AWAITING_ACTION, as_of=now)
    assert {item.item_id: item.due_at for item in found} == waiting
    assert {item.kind.value for item in found} == {"flag"}


def test_an_outdated_case_snapshot_is_passed_over(
    vigil: Vigil, clock: Clock, settings: Settings
) -> None:
    """A snapshot taken before cases kept their flags awaiting action (the field missing: None)
    is not trusted; a current one is (so the test could fail)."""
    opened = vigil.cases.execute(None, story.open_case(risk_level=None), LEE).state
    assert opened.flags_awaiting is not None
    assert len(opened.flags_awaiting) == 1
    snapshots = vigil.event_log.snapshots
    assert snapshots is not None

    def snapshot(**update: Any) -> None:
        state = opened.model_copy(update=update)
        snapshots.put(
            [
                CaseSnapshot(
                    originator_id=opened.id,
                    originator_version=opened.version,
                    recorded_at=clock(),
                    state=state,
                )
            ]
        )

    def loaded_elsewhere() -> Any:
        other = bootstrap(settings, clock=clock)  # a process with no cache of the case
        try:
            return other.cases.load(opened.id)
        finally:
            other.close()

    # An outdated snapshot (as an older release stored it): passed over, the case replayed
    snapshot(flags_awaiting=None, last_acted_at=None, summary="an outdated snapshot said this")
    assert list(snapshots.get(opened.id)) == []
    replayed = loaded_elsewhere()
    assert replayed.flags_awaiting == opened.flags_awaiting
    assert replayed.summary == opened.summary


def test_a_current_snapshot_is_trusted(vigil: Vigil, clock: Clock, settings: Settings) -> None:
    opened = vigil.cases.execute(None, story.open_case(risk_level=None), LEE).state
    snapshots = vigil.event_log.snapshots
    assert snapshots is not None
    snapshots.put(
        [
            CaseSnapshot(
                originator_id=opened.id,
                originator_version=opened.version,
                recorded_at=clock(),
                state=opened.model_copy(update={"flags_awaiting": []}),
            )
        ]
    )
    assert len(list(snapshots.get(opened.id))) == 1
    other = bootstrap(settings, clock=clock)
    try:
        loaded = other.cases.load(opened.id)
        assert loaded is not None
        assert loaded.flags_awaiting == []
    finally:
        other.close()


def test_the_versions_listed_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    """``vigil policies show`` run as a user runs it: version 1 listed without being recorded,
    then a scheduled version beside it."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")},
        "VIGIL_DATABASE_URL": database_url,
        "VIGIL_DATA_DIR": str(tmp_path / "data"),
        "VIGIL_LOG_JSON": "true",
    }
    store = bootstrap(
        Settings(
            _env_file=None,
            environment="test",
            database_url=database_url,
            data_dir=tmp_path / "data",
        )
    )
    try:
        listed = run_vigil(env, tmp_path, "policies", "show")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0].split("\t")[:3] == ["1", "1900-01-01T00:00:00+00:00", "in force"]
        assert "\tfirst_action.critical\t1 h" in lines
        assert "\treferral_chase\t5 working days" in lines
        assert "not yet recorded" in listed.stderr
        assert (store.event_log.recorder.max_notification_id() or 0) == 0

        next_month = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
        store.sla_policies.add_version(shorter(effective_from=next_month), LEE)
        listed = run_vigil(env, tmp_path, "policies", "show")
        versions = [line.split("\t") for line in listed.stdout.splitlines() if line[0] != "\t"]
        assert [(v[0], v[2]) for v in versions] == [("1", "in force"), ("2", "scheduled")]
        assert versions[1][1] == next_month.isoformat()
        assert "\tfirst_action.critical\t30 min" in listed.stdout.splitlines()
    finally:
        store.close()


def test_a_contacts_review_is_due_by_the_policy_in_force_at_the_contact(
    vigil: Vigil, clock: Clock
) -> None:
    writer = ContactWriter(vigil)
    # Given a contact now (Tuesday 09:30): due in 5 working days (the next Tuesday 09:30)
    before = writer.log()
    # When a version with a review in 1 working day takes effect now, and a later contact
    clock.advance(minutes=10)
    vigil.sla_policies.add_version(shorter(contact_reviewed=Target(working_days=1)), LEE)
    clock.advance(minutes=5)
    after = writer.log()
    vigil.contact_summaries.catch_up()
    first, second = vigil.contact_summaries.get(before), vigil.contact_summaries.get(after)
    assert first is not None
    assert second is not None
    # Then the first keeps its due time and the second is due a working day after it
    assert first.review_due == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert second.review_due == datetime(2026, 11, 18, 9, 45, tzinfo=UTC)
