"""How fast are the views rebuilt from the log, against reading the log itself, and how far do
they lag behind a steady stream of writes?

Builds a log of N events (default 1,000,000) on PostgreSQL: many cases of varied length (most
a handful of events, some hundreds, a few thousands), worked on at the same time so their
events interleave, with flags, notes, assessments, moderation, assignments, escalations and
their acknowledgement, referrals, out-of-hours decisions and reviews, corrections, closures and
reopenings. Events are decided and folded in memory with the domain's own ``decide`` and
``apply_in_place`` and appended through the ledger in large batches. Then, in the same run and
on the same table:

(a) the raw sequential read rate of the events table: ``select_notifications`` in batches, the
    projector's own access path, rows fetched into Python but not decoded;
(b) rebuild events/s of ALL registered views together (``Projector.rebuild``: side tables,
    then swap, as ``vigil rebuild`` does);
(c) their ratio; and, for information, the same raw read again as the rebuild's fill runs it
    (garbage collector paused, ``tuned_for_bulk``) and the stricter ratio against that;
(d) projection lag p50/p99/max under a sustained write load: writer threads append through
    ``CaseService.execute`` at a steady rate while the projector follows in a thread
    (LISTEN/NOTIFY); lag is from a write's commit until every view's position covers it.

Targets on the 2-core reference machine: rebuild >= 20,000 events/s and >= 25 % of the raw
read rate.

Usage: python bench/projections.py [--events N | --quick] [--lag-seconds S] [--write-rate R]
       [--database-url URL] [--keep] [--reuse]
The default URL is postgresql://postgres@127.0.0.1:5432/test?schema=bench_projections; the
schema is dropped before the run and again at the end (unless --keep). ``--reuse`` measures
again on the log an earlier ``--keep`` run left in the schema (building 1,000,000 events takes
a while), and keeps it.
"""

from __future__ import annotations

import argparse
import queue
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from support import bench_settings, drop_schema, pct, rate  # bench/support.py

from domain.case import commands as c
from domain.case.decide import CaseContext, decide
from domain.case.events import CaseEvent
from domain.case.state import CaseState, apply_in_place
from domain.case.vocabulary import CaseStatus, DecisionStatus, EscalationStatus
from domain.errors import DomainError
from domain.shared import Actor, DecisionContext, Role
from infrastructure.persistence import is_postgres
from interfaces.composition import Vigil, bootstrap, rebuild_parts
from projections.parallel_rebuild import tuned_for_bulk
from projections.projector import Projector
from projections.rebuild import DEFAULT_REBUILD_BATCH_SIZE
from projections.registry import ViewConfig, build_views

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test?schema=bench_projections"
QUICK_EVENTS = 50_000
REBUILD_TARGET = 20_000  # events/s
RATIO_TARGET = 0.25  # of the raw read rate

POLICY = {"policy": "community-guidelines", "version": "2024-03", "clause": "4.2"}
OOH_POLICY = {"policy": "out-of-hours-safeguarding", "version": "2025-01", "clause": "3.1"}
COORDINATOR = Actor(username="bench.coordinator", role=Role.COORDINATOR)
MODERATOR = Actor(username="bench.moderator", role=Role.MODERATOR)
VOLUNTEER = Actor(username="bench.volunteer", role=Role.VOLUNTEER)
LEAD = Actor(username="bench.lead", role=Role.SAFEGUARDING_LEAD)
OTHER_LEAD = Actor(username="bench.lead2", role=Role.SAFEGUARDING_LEAD)
USERS = (COORDINATOR, MODERATOR, VOLUNTEER, LEAD, OTHER_LEAD)
WORKERS = (COORDINATOR, MODERATOR, VOLUNTEER, LEAD)
CATEGORIES = (
    "self_harm_risk",
    "harm_to_others",
    "hate_incident",
    "harassment",
    "medical_misinformation",
    "spam",
    "offensive_content",
    "account_issue",
    "complaint",
)

# --- commands without ids of their own, built (and validated) once --------------------------------

RATIONALE = "Reassessed after the latest posts and the member's reply to our message."
NOTES = [
    c.AddNote(kind=kind, text="Member posted again; checked in by private message.")
    for kind in ("fact", "assessment", "note")
]
FLAGS = [
    c.RaiseFlag(
        reason="Worrying post",
        category=category,
        raised_by_ref=f"member-{i}",
        content_ref=f"post-{i}",
    )
    for i, category in enumerate(CATEGORIES)
]
ASSESSMENTS = [
    c.AssessRisk(level=level, rationale=RATIONALE)
    for level in ("low", "medium", "high", "critical")
]
MODERATION = [
    c.TakeModerationAction(
        action=action,
        target_ref=target,
        rationale="Post describes a method in detail; hidden while we reach the author.",
        policy_ref=POLICY,
        duration_hours=hours,
    )
    for action, target, hours in (
        ("hide_content", "post-1", None),
        ("restore_content", "post-1", None),
        ("warn_member", "member-bench", None),
        ("mute_member", "member-bench", 24),
        ("suspend_member", "member-bench", 72),
        ("reinstate_member", "member-bench", None),
        ("lock_thread", "thread-9", None),
    )
]
ASSIGNMENTS = [c.AssignCase(assignee=user.username) for user in (COORDINATOR, LEAD, OTHER_LEAD)]
ESCALATIONS = [
    c.EscalateCase(level=level, reason="Risk rising; needs a lead's decision.", urgency=urgency)
    for level, urgency in ((2, "urgent"), (2, "routine"), (3, "immediate"))
]
REFERRAL = c.MakeReferral(
    agency={"name": "Leeds Adult Social Care", "kind": "adult_social_care"},
    reason="Adult at risk with no support network.",
    consent="given",
)
OOH_DECISION = c.RecordOutOfHoursDecision(
    decision="Sent crisis line details by private message and hid the thread.",
    rationale=RATIONALE,
    policy_ref=OOH_POLICY,
    immediate_actions=["hid thread"],
)
CLOSE = c.CloseCase(
    outcome="Member supported", rationale="Risk reduced: member engaged with support."
)
LOAD_COMMANDS: list[c.CaseCommand] = [*NOTES, *FLAGS[:3], *ASSESSMENTS]
REOPEN = c.ReopenCase(reason="Member posted again describing the same intent.")


def case_length(rng: random.Random) -> int:
    """Most cases are short; some run for weeks; a few are long-running (heavy tail)."""
    roll = rng.random()
    if roll < 0.60:
        return rng.randint(2, 12)
    if roll < 0.90:
        return rng.randint(13, 60)
    if roll < 0.99:
        return rng.randint(61, 300)
    return rng.randint(301, 2000)


@dataclass
class LiveCase:
    state: CaseState
    remaining: int
    last_event_id: UUID


@dataclass
class Generator:
    """Decides a realistic, interleaved stream of case events in memory."""

    rng: random.Random
    calendar: Any
    now: datetime
    active: int = 200
    cases: list[LiveCase] = field(default_factory=list)
    opened: int = 0

    def _context(self, actor: Actor, case_id: UUID | None = None) -> CaseContext:
        return CaseContext(
            decision=DecisionContext(
                actor=actor, now=self.now, max_clock_skew=timedelta(minutes=5)
            ),
            calendar=self.calendar,
            case_id=case_id,
        )

    def _open(self) -> CaseEvent:
        rng = self.rng
        command = c.OpenCase(
            subject={"kind": "member", "ref": f"member-{rng.randrange(20_000)}"},
            source=rng.choice(("flag", "helpline_contact", "staff_concern", "automated")),
            category=rng.choice(CATEGORIES),
            summary="Post in the evening thread suggests the member is at risk.",
            risk_level=rng.choice(("low", "medium", "high", "critical", None)),
            channel=rng.choice(("forum", "chat", "phone")),
        )
        [event] = decide(None, command, self._context(rng.choice(WORKERS), uuid4()))
        state = apply_in_place(None, event)
        assert state is not None
        self.cases.append(LiveCase(state, case_length(rng) - 1, event.event_id))
        self.opened += 1
        return event

    def _command(self, case: LiveCase) -> tuple[c.CaseCommand, Actor]:
        rng, s = self.rng, case.state
        if s.status is CaseStatus.CLOSED:
            roll = rng.random()
            if roll < 0.15:
                return REOPEN, LEAD
            if roll < 0.25:
                return c.CorrectRecord(
                    corrects_event_id=case.last_event_id,
                    correction="The call was at 21:40, not 21:04.",
                    reason="Typo in the original note, confirmed with the caller.",
                ), COORDINATOR
            return rng.choice(NOTES), rng.choice(WORKERS)
        for e in s.escalations.values():
            if e.status is EscalationStatus.RAISED and rng.random() < 0.6:
                return c.AcknowledgeEscalation(escalation_id=e.escalation_id), LEAD
            if e.status is EscalationStatus.ACKNOWLEDGED and rng.random() < 0.3:
                return c.ResolveEscalation(
                    escalation_id=e.escalation_id,
                    outcome="Safety plan agreed",
                    rationale="Lead agreed the plan addresses the risk described.",
                ), LEAD
        for d in s.decisions.values():
            if d.status is DecisionStatus.AWAITING_REVIEW and rng.random() < 0.4:
                reviewer = OTHER_LEAD if d.decided_by != OTHER_LEAD.username else LEAD
                return c.ReviewOutOfHoursDecision(
                    decision_id=d.decision_id,
                    outcome=rng.choice(("ratified", "varied", "overturned")),
                    rationale="Proportionate given what was known at the time.",
                ), reviewer
        for r in s.referrals_awaiting_acknowledgement():
            if rng.random() < 0.4:
                return c.UpdateReferral(referral_id=r.referral_id, status="acknowledged"), LEAD
        if case.remaining <= 1 and rng.random() < 0.7:
            return CLOSE, LEAD
        roll = rng.random()
        if roll < 0.33:
            return rng.choice(NOTES), rng.choice(WORKERS)
        if roll < 0.53:
            return rng.choice(FLAGS), VOLUNTEER
        if roll < 0.63:
            return rng.choice(ASSESSMENTS), rng.choice((COORDINATOR, LEAD, MODERATOR))
        if roll < 0.75:
            return rng.choice(MODERATION), MODERATOR
        if roll < 0.81:
            return rng.choice(ASSIGNMENTS), LEAD
        if roll < 0.85:
            return rng.choice(ESCALATIONS), COORDINATOR
        if roll < 0.88:
            return REFERRAL, LEAD
        if roll < 0.92 and self.calendar.is_out_of_hours(self.now):
            return OOH_DECISION, rng.choice((COORDINATOR, LEAD))
        if roll < 0.95:
            return c.CorrectRecord(
                corrects_event_id=case.last_event_id,
                correction="The post was in the morning thread, not the evening thread.",
                reason="Misread the thread name when logging.",
            ), COORDINATOR
        return rng.choice(NOTES), rng.choice(WORKERS)

    def next_event(self) -> CaseEvent:
        """The next event of the log: a new case, or the next step of a case in progress."""
        self.now += timedelta(seconds=self.rng.uniform(0, 60))
        if len(self.cases) < self.active:
            return self._open()
        index = self.rng.randrange(len(self.cases))
        case = self.cases[index]
        command, actor = self._command(case)
        try:
            [event] = decide(case.state, command, self._context(actor))
        except DomainError:  # e.g. closing with a review pending: log a note instead
            [event] = decide(case.state, NOTES[0], self._context(actor))
        apply_in_place(case.state, event)
        case.last_event_id = event.event_id
        case.remaining -= 1
        if case.remaining <= 0:
            self.cases[index] = self.cases[-1]
            self.cases.pop()
        return event


# --- measuring -----------------------------------------------------------------------------


def build_log(vigil: Vigil, events: int, batch: int, seed: int) -> float:
    generator = Generator(
        random.Random(seed), vigil.calendar, datetime.now(UTC) - timedelta(days=400)
    )
    started = time.perf_counter()
    written = 0
    last_report = started
    while written < events:
        chunk = [generator.next_event() for _ in range(min(batch, events - written))]
        vigil.event_log.save(*chunk)
        written += len(chunk)
        if time.perf_counter() - last_report > 10:
            last_report = time.perf_counter()
            print(f"  ... {written:,} events ({rate(written, last_report - started)})", flush=True)
    seconds = time.perf_counter() - started
    print(
        f"built the log: {rate(written, seconds)}; {generator.opened:,} cases "
        f"(~{written / max(1, generator.opened):.0f} events per case on average)"
    )
    return seconds


def raw_read(vigil: Vigil, batch: int) -> tuple[int, float]:
    recorder = vigil.event_log.recorder
    started = time.perf_counter()
    count, position = 0, 0
    while True:
        rows = recorder.select_notifications(start=position + 1, limit=batch)
        if not rows:
            break
        count += len(rows)
        position = rows[-1].id
    return count, time.perf_counter() - started


def lag_under_load(
    vigil: Vigil, projector: Projector, seconds: float, write_rate: float, writers: int
) -> tuple[list[float], int, float]:
    """Lag (seconds) from each write's commit until every view covers it."""
    cases = [
        vigil.cases.execute(
            None,
            c.OpenCase(
                subject={"kind": "member", "ref": f"member-load-{i}"},
                source="flag",
                category="harassment",
                summary="Load test case",
            ),
            LEAD,
        ).state.id
        for i in range(writers * 10)
    ]
    projector.catch_up()
    pending: queue.Queue[tuple[int, float] | None] = queue.Queue()
    lags: list[float] = []
    stop = threading.Event()
    written = [0] * writers

    def writer(index: int) -> None:
        rng = random.Random(index)
        mine = cases[index::writers]
        interval = writers / write_rate
        next_at = time.perf_counter()
        while not stop.is_set():
            result = vigil.cases.execute(rng.choice(mine), rng.choice(LOAD_COMMANDS), LEAD)
            pending.put((result.position, time.perf_counter()))
            written[index] += 1
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                stop.wait(delay)

    def monitor() -> None:
        while True:
            item = pending.get()
            if item is None:
                return
            position, committed = item
            if not projector.wait_for(position, timeout=60):
                raise RuntimeError(f"the views did not reach {position} within 60 s")
            lags.append(time.perf_counter() - committed)

    follower = projector.start_in_thread()
    watcher = threading.Thread(target=monitor, daemon=True)
    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(writers)]
    watcher.start()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    pending.put(None)
    watcher.join()
    follower.stop()
    return lags, sum(written), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--batch", type=int, default=5000, help="events per append while building")
    parser.add_argument("--read-batch", type=int, default=DEFAULT_REBUILD_BATCH_SIZE)
    parser.add_argument("--lag-seconds", type=float, default=30.0)
    parser.add_argument("--write-rate", type=float, default=300.0, help="events/s, all writers")
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261117)
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    parser.add_argument(
        "--rebuild-processes",
        type=int,
        default=None,
        help="processes filling the side tables (default: VIGIL_REBUILD_PROCESSES, 2)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure on the log a --keep run left in the schema (no build); keeps it",
    )
    args = parser.parse_args()
    events = QUICK_EVENTS if args.quick else args.events
    url = args.database_url
    if not is_postgres(url):
        parser.error("this benchmark runs on PostgreSQL: pass a postgresql:// URL")

    settings = bench_settings(url, db_pool_size=10, db_max_overflow=10)
    if not args.reuse:
        drop_schema(url)
    vigil = bootstrap(settings)
    try:
        reused = (vigil.event_log.recorder.max_notification_id() or 0) if args.reuse else 0
        if args.reuse and not reused:
            parser.error("--reuse: the schema holds no log; run once with --keep first")
        if not reused:
            for user in USERS:
                vigil.identity.register(user.username, user.role, actor="bench")
        print(
            f"store: PostgreSQL ({url})   events: {reused or events:,}   views: "
            f"{', '.join(v.name for v in build_views(vigil.event_log))}"
        )
        if reused:
            print(f"reusing the log kept in the schema: {reused:,} events")
        else:
            build_log(vigil, events, args.batch, args.seed)
        head = vigil.event_log.recorder.max_notification_id() or 0

        # Warm the table into the cache once, so (a) and (b) both read it warm.
        raw_read(vigil, args.read_batch)
        count, read_s = raw_read(vigil, args.read_batch)
        raw_rate = count / read_s
        print(
            f"(a) raw sequential read (select_notifications, batches of {args.read_batch}): "
            f"{rate(count, read_s)}"
        )

        processes = args.rebuild_processes or settings.rebuild_processes
        projector = Projector(
            vigil.event_log,
            build_views(vigil.event_log),
            rebuild_processes=processes,
            # A worker process makes the same views (default configuration) from the settings.
            rebuild_parts=partial(rebuild_parts, settings, ViewConfig()),
        )
        started = time.perf_counter()
        consumed = projector.rebuild()
        rebuild_s = time.perf_counter() - started
        rebuild_rate = head / rebuild_s
        print(
            f"(b) rebuild of all views together (Projector.rebuild, aside then swap, "
            f"{processes} process{'es' if processes > 1 else ''}): "
            f"{rate(head, rebuild_s)}   [{consumed:,} log reads]"
        )
        ratio = rebuild_rate / raw_rate
        print(f"(c) rebuild / raw read: {ratio:.1%}")
        # The rebuild's fill runs with the garbage collector paused (tuned_for_bulk), which
        # speeds up reading too: the same read in the same conditions, for a stricter ratio.
        with tuned_for_bulk():
            count, tuned_s = raw_read(vigil, args.read_batch)
        print(
            f"    (the raw read as the rebuild's fill runs, collector paused: "
            f"{rate(count, tuned_s)}; rebuild / that: {rebuild_rate / (count / tuned_s):.1%})"
        )

        lags, written, elapsed = lag_under_load(
            vigil, projector, args.lag_seconds, args.write_rate, args.writers
        )
        print(
            f"(d) lag under load: {written / elapsed:.0f} writes/s for {elapsed:.0f} s "
            f"({args.writers} writers, CaseService.execute); commit -> every view: "
            f"p50 {pct(lags, 0.50) * 1000:.1f} ms   "
            f"p99 {pct(lags, 0.99) * 1000:.1f} ms"
            f"   max {max(lags) * 1000:.1f} ms   mean {statistics.fmean(lags) * 1000:.1f} ms "
            f"(n={len(lags)})"
        )

        checks: list[tuple[str, bool]] = [
            (f"rebuild >= {REBUILD_TARGET:,} events/s", rebuild_rate >= REBUILD_TARGET),
            (f"rebuild >= {RATIO_TARGET:.0%} of the raw read rate", ratio >= RATIO_TARGET),
        ]
        for label, ok in checks:
            print(f"{'PASS' if ok else 'FAIL'}  {label}")
    finally:
        vigil.close()
        if not (args.keep or args.reuse):
            drop_schema(url)


if __name__ == "__main__":
    main()
