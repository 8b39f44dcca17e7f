"""How long does loading a long case for a write take, with and without snapshots?

Builds one case of N events (default 10,000: flags, notes, risk assessments,
moderation actions, escalations and referrals) through the real CaseService,
then measures, in the same run and on the same store:

- load for a write with snapshots (the service's normal path: latest snapshot
  plus the events after it), at the worst point of the snapshot interval;
- the same load with snapshots ignored (full replay of every event);
- a whole write (load, decide, append, maybe snapshot) with snapshots.

Usage: python bench/snapshot_load.py [--events N] [--database-url URL]
Default store: a temporary SQLite file. For PostgreSQL pass e.g.
postgresql://postgres@127.0.0.1:5432/test?schema=bench_snapshots (dropped after).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from support import drop_schema  # bench/support.py

from domain.case import commands as c
from domain.case.snapshot import project_case
from domain.shared import Actor, Role
from infrastructure.event_log import EventLog
from infrastructure.persistence import attach_keyring, is_postgres, recorder_env
from infrastructure.settings import Settings
from interfaces.composition import bootstrap

POLICY = {"policy": "community-guidelines", "version": "2024-03", "clause": "4.2"}


# One hundred events of a long-running case, in order: mostly notes and flags, with
# assessments, moderation (some lifted), an escalation cycle, a referral and a correction.
CYCLE = (
    ["note"] * 10
    + ["flag"] * 5
    + ["assess", "hide"]
    + ["note"] * 8
    + ["flag"] * 5
    + ["escalate", "acknowledge", "resolve"]
    + ["note"] * 10
    + ["flag"] * 5
    + ["assign", "restore"]
    + ["note"] * 10
    + ["refer", "referral_ack", "assess", "suspend", "hide"]
    + ["flag"] * 5
    + ["note"] * 10
    + ["correct", "assign", "assess", "reinstate", "hide", "restore", "assess"]
    + ["note"] * 10
    + ["assign", "assess", "hide"]
)
assert len(CYCLE) == 100, len(CYCLE)


class LongCase:
    """Feeds the next realistic command, remembering the ids later commands refer to."""

    def __init__(self) -> None:
        self.escalation_id: UUID | None = None
        self.referral_id: UUID | None = None
        self.last_event_id: UUID | None = None

    def command(self, i: int) -> c.CaseCommand:
        kind = CYCLE[i % len(CYCLE)]
        post = f"post-{i // 10}"
        match kind:
            case "note":
                return c.AddNote(
                    kind=("fact", "assessment", "note")[i % 3],
                    text="Member posted again; checked in by private message.",
                )
            case "flag":
                return c.RaiseFlag(
                    reason="Worrying post",
                    category="self_harm_risk",
                    raised_by_ref=f"member-{i % 37}",
                    content_ref=post,
                )
            case "assess":
                return c.AssessRisk(
                    level=("medium", "high", "critical")[i % 3],
                    rationale="Reassessed after the latest posts and contact.",
                )
            case "hide" | "restore":
                return c.TakeModerationAction(
                    action="hide_content" if kind == "hide" else "restore_content",
                    target_ref=post,
                    rationale="Post describes method in detail.",
                    policy_ref=POLICY,
                )
            case "suspend" | "reinstate":
                return c.TakeModerationAction(
                    action="suspend_member" if kind == "suspend" else "reinstate_member",
                    target_ref="member-bench",
                    rationale="Cooling-off period agreed with lead.",
                    policy_ref=POLICY,
                    duration_hours=24 if kind == "suspend" else None,
                )
            case "escalate":
                return c.EscalateCase(level=2, reason="Risk rising", urgency="urgent")
            case "acknowledge":
                assert self.escalation_id is not None
                return c.AcknowledgeEscalation(escalation_id=self.escalation_id)
            case "resolve":
                assert self.escalation_id is not None
                return c.ResolveEscalation(
                    escalation_id=self.escalation_id,
                    outcome="Plan agreed",
                    rationale="Safety plan agreed with the member.",
                )
            case "refer":
                return c.MakeReferral(
                    agency={"name": "Samaritans", "kind": "crisis_line"},
                    reason="Immediate risk",
                    consent="given",
                )
            case "referral_ack":
                assert self.referral_id is not None
                return c.UpdateReferral(referral_id=self.referral_id, status="acknowledged")
            case "correct":
                assert self.last_event_id is not None
                return c.CorrectRecord(
                    corrects_event_id=self.last_event_id,
                    correction="Time of the call was 21:40, not 21:04.",
                    reason="Typo in the original note, confirmed with caller.",
                )
            case "assign":
                return c.AssignCase(assignee="bench.lead")
        raise AssertionError(kind)

    def saw(self, event: object) -> None:
        self.escalation_id = getattr(event, "escalation_id", self.escalation_id)
        self.referral_id = getattr(event, "referral_id", self.referral_id)
        self.last_event_id = getattr(event, "event_id", None)


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def describe(samples: list[float]) -> str:
    p95 = statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)
    return f"median {statistics.median(samples):8.2f} ms   p95 {p95:8.2f} ms   (n={len(samples)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--snapshot-interval", type=int, default=Settings().snapshot_interval)
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    settings = Settings(_env_file=None, database_url=url, snapshot_interval=args.snapshot_interval)
    clock_start = datetime.now(UTC) - timedelta(days=30)
    ticks = [0]

    def clock() -> datetime:  # a steadily advancing server clock, one second per write
        ticks[0] += 1
        return clock_start + timedelta(seconds=ticks[0])

    vigil = bootstrap(settings, clock=clock)
    lead = Actor(username="bench.lead", role=Role.SAFEGUARDING_LEAD)
    try:
        opened = vigil.cases.execute(
            None,
            c.OpenCase(
                subject={"kind": "member", "ref": "member-bench"},
                source="flag",
                category="self_harm_risk",
                summary="Benchmark case",
            ),
            lead,
        )
        case_id: UUID = opened.state.id
        vigil.identity.register("bench.lead", Role.SAFEGUARDING_LEAD, actor="bench")
        # End just before a snapshot is due: the most events to replay after the latest one.
        last = args.events - args.events % args.snapshot_interval - 1
        feed = LongCase()
        build_start = time.perf_counter()
        for i in range(1, last):
            feed.saw(vigil.cases.execute(case_id, feed.command(i), lead).events[-1])
        build_s = time.perf_counter() - build_start
        state = vigil.cases.load(case_id)
        assert state is not None
        print(
            f"store: {'PostgreSQL' if is_postgres(url) else 'SQLite'}   case events: "
            f"{state.version}   snapshot interval: {args.snapshot_interval}   "
            f"built in {build_s:.1f} s ({state.version / build_s:.0f} writes/s)"
        )
        print(f"events after the latest snapshot: {state.version % args.snapshot_interval}")

        cold = bootstrap(settings.model_copy(update={"case_cache_size": 0}), clock=clock)
        with_snapshots = timed(lambda: cold.cases.load(case_id), 50)
        cold.close()
        warm = timed(lambda: vigil.cases.load(case_id), 50)
        no_snapshot_env = {
            **recorder_env(settings),
            "IS_SNAPSHOTTING_ENABLED": "n",
            "CREATE_TABLE": "n",
        }
        plain = EventLog(env=no_snapshot_env)
        attach_keyring(plain, vigil.event_log.mapper.keyring)  # type: ignore[attr-defined]
        assert plain.snapshots is None
        replayed = plain.repository.get(case_id, projector_func=project_case)
        assert replayed == state, "full replay and snapshot load disagree"
        without = timed(lambda: plain.repository.get(case_id, projector_func=project_case), 5)
        plain.close()

        writes = timed(
            lambda: vigil.cases.execute(
                case_id, c.AddNote(kind="note", text="Benchmark write."), lead
            ),
            50,
        )

        speed_up = statistics.median(without) / statistics.median(with_snapshots)
        print(f"load for a write, full replay (no snapshots): {describe(without)}")
        print(f"load for a write, latest snapshot + tail:     {describe(with_snapshots)}")
        print(f"load for a write, process cache + newer:      {describe(warm)}")
        print(f"snapshots make the cold load {speed_up:.0f}x faster than a full replay")
        print(f"whole write (load, decide, append, snapshot):  {describe(writes)}")
    finally:
        vigil.close()
        if is_postgres(url):
            drop_schema(url)
        tmp.cleanup()


if __name__ == "__main__":
    main()
