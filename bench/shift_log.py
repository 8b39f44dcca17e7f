"""How fast are a shift's log and "who was on call at T?" read, against the raw SQL read of the
same rows?

Builds a log of N events (default 1,000,000) on PostgreSQL: ``--seed-events`` (default 50,000)
case events with ``bench/projections.py``'s builder, copied by SQL under new case ids
(``bench/verify.py``'s ``replicate``) until, with the rota, the log holds N events; a rota of
``--shifts`` shifts (default 10,000, ten people over the builder's 400 days; each planned,
checked into and out of, one in ten handed over and acknowledged), and one night's on-call shift
whose coordinator records ``--actions`` case events (default 1,000: cases opened and worked on,
one in ten logged late) while checked in. Shift and case events are decided in memory by the
domain's own ``decide`` and appended through the ledger in large batches. The views are caught
up, then, in the same run and on the same tables:

(a) the shift log of that shift, every action on one page (``limit=1000``): through the read
    model (``ShiftLogs.log``) and over HTTP (``GET /api/v1/shifts/{id}/log``, a live server),
    beside the raw SQL read of the same action rows (psycopg, the same query and index, rows
    fetched, nothing decoded);
(b) ``GET /api/v1/on-call?at=T`` at random moments of the rota's year: through the read model
    (``Rota.on_call``) and over HTTP, beside the raw SQL read of the same plan and attendance
    rows.

Each figure is p50/p99 of ``--samples`` reads (default 200), after a warm-up. Goals on the
2-core reference machine: the shift log p99 under 50 ms, GET /on-call p99 under 20 ms (over
HTTP, the slower path, from a client process to ``vigil serve`` on the store).

Usage: python bench/shift_log.py [--events N | --quick] [--database-url URL] [--keep] [--reuse]
The default URL is postgresql://postgres@127.0.0.1:5432/test?schema=bench_shift_log; the schema
is dropped before the run (unless --reuse) and at the end (unless --keep).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout

import httpx  # noqa: E402
import psycopg  # noqa: E402
from support import (  # noqa: E402  (bench/support.py)
    NODELAY,
    bench_settings,
    drop_schema,
    pct,
    rate,
    script,
    timed,
)

from domain.case import commands as c  # noqa: E402
from domain.case.decide import CaseContext  # noqa: E402
from domain.case.decide import decide as decide_case  # noqa: E402
from domain.case.state import CaseState, apply_in_place  # noqa: E402
from domain.shared import Actor, DecisionContext, Role  # noqa: E402
from domain.shift import commands as sc  # noqa: E402
from domain.shift.decide import ShiftContext  # noqa: E402
from domain.shift.decide import decide as decide_shift  # noqa: E402
from domain.shift.events import ShiftEvent  # noqa: E402
from domain.shift.state import ShiftState, evolve  # noqa: E402
from infrastructure.persistence import is_postgres  # noqa: E402
from infrastructure.settings import Settings  # noqa: E402
from interfaces.composition import Vigil, bootstrap  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test?schema=bench_shift_log"
QUICK_EVENTS = 50_000
LOG_TARGET_MS = 50.0
ON_CALL_TARGET_MS = 20.0
NIGHT = Actor(username="bench.night", role=Role.COORDINATOR)
PLANNER = Actor(username="bench.planner", role=Role.COORDINATOR)
READER = "bench.reader"  # a safeguarding lead reading over HTTP
PEOPLE = [Actor(username=f"bench.rota{i}", role=Role.VOLUNTEER) for i in range(10)]
ROLES = ("on_call", "moderator", "host", "coordinator", "helpline")


# --- the rota and the night ------------------------------------------------------------------


class ShiftBuilder:
    """Shift events decided in memory, as the service would decide them, at the times given."""

    def __init__(self) -> None:
        self.events: list[ShiftEvent] = []

    def run(
        self,
        state: ShiftState | None,
        command: sc.ShiftCommand,
        actor: Actor,
        now: datetime,
        shift_id: UUID | None = None,
    ) -> ShiftState:
        ctx = ShiftContext(decision=DecisionContext(actor=actor, now=now), shift_id=shift_id)
        for event in decide_shift(state, command, ctx):
            state = evolve(state, event)
            self.events.append(event)
        assert state is not None
        return state

    def shift(
        self,
        person: Actor,
        role: str,
        start: datetime,
        hours: float,
        *,
        late_minutes: float = 0,
        handover_to: str | None = None,
    ) -> UUID:
        shift_id = uuid4()
        end = start + timedelta(hours=hours)
        plan = sc.PlanShift(role=role, assignee=person.username, starts_at=start, ends_at=end)
        state = self.run(None, plan, PLANNER, start - timedelta(days=7), shift_id)
        arrived = start + timedelta(minutes=late_minutes)
        state = self.run(state, sc.CheckIn(), person, arrived)
        left = end + timedelta(minutes=5)
        if handover_to is not None:
            handover = sc.HandoverNote(note="Quiet night; one case to watch.", to=handover_to)
            state = self.run(state, sc.CheckOut(handover=handover), person, left)
            handover_id = next(iter(state.handovers))
            taker = Actor(username=handover_to, role=Role.VOLUNTEER)
            state = self.run(state, sc.AcknowledgeHandover(handover_id=handover_id), taker, left)
        else:
            state = self.run(state, sc.CheckOut(), person, left)
        return shift_id


def build_rota(shifts: int, start: datetime, days: int) -> list[ShiftEvent]:
    rng = random.Random(13)
    builder = ShiftBuilder()
    per_day = max(1, shifts // days)
    made = 0
    for day in range(days):
        for slot in range(per_day):
            if made >= shifts:
                break
            begins = start + timedelta(days=day, hours=(slot * 24 / per_day) % 24)
            person = PEOPLE[(day + slot) % len(PEOPLE)]
            builder.shift(
                person,
                ROLES[slot % len(ROLES)],
                begins,
                rng.choice((2, 3, 4, 8)),
                late_minutes=rng.choice((0, 0, 0, 5, 20)),
                handover_to=PEOPLE[(day + slot + 1) % len(PEOPLE)].username
                if made % 10 == 0
                else None,
            )
            made += 1
    return builder.events


def build_night(calendar: Any, night_start: datetime, actions: int) -> tuple[UUID, list[Any]]:
    """The measured shift: 8 hours on call, ``actions`` case events recorded while checked
    in (cases opened, then notes, flags and assessments), one in ten logged late."""
    builder = ShiftBuilder()
    shift_id = uuid4()
    end = night_start + timedelta(hours=8)
    plan = sc.PlanShift(role="on_call", assignee=NIGHT.username, starts_at=night_start, ends_at=end)
    state = builder.run(None, plan, PLANNER, night_start - timedelta(days=2), shift_id)
    state = builder.run(state, sc.CheckIn(), NIGHT, night_start)
    rng = random.Random(7)
    events: list[Any] = []
    cases: list[CaseState] = []
    step = timedelta(hours=8) / (actions + 1)
    for n in range(actions):
        happened = night_start + step * (n + 1)
        recorded = happened + (timedelta(minutes=40) if n % 10 == 9 else timedelta())
        decision = DecisionContext(actor=NIGHT, now=recorded)
        if not cases or n % 10 == 0:
            command: c.CaseCommand = c.OpenCase(
                subject={"kind": "member", "ref": f"member-night-{n}"},
                source="flag",
                category="harassment",
                summary="Member reported repeated abuse in the evening thread.",
                occurred_at=happened,
            )
            ctx = CaseContext(decision=decision, calendar=calendar, case_id=uuid4())
            [event] = decide_case(None, command, ctx)
            case = apply_in_place(None, event)
            assert case is not None
            cases.append(case)
        else:
            case = rng.choice(cases)
            command = c.AddNote(
                kind="fact", text="Checked the thread again overnight.", occurred_at=happened
            )
            [event] = decide_case(case, command, CaseContext(decision=decision, calendar=calendar))
            apply_in_place(case, event)
        events.append(event)
    builder.run(state, sc.CheckOut(), NIGHT, end)
    return shift_id, [*builder.events[:2], *events, *builder.events[2:]]


# --- measuring -----------------------------------------------------------------------------------


def figures(label: str, samples: list[float], raw: list[float] | None = None) -> str:
    text = f"{label}: p50 {pct(samples, 0.5):.2f} ms   p99 {pct(samples, 0.99):.2f} ms"
    if raw is not None:
        text += (
            f"   ({pct(samples, 0.5) / pct(raw, 0.5):.1f}x the raw read at p50, "
            f"{pct(samples, 0.99) / pct(raw, 0.99):.1f}x at p99)"
        )
    return text


class Server:
    """``vigil serve`` on the store, in a process of its own as a deployment runs it (started and
    stopped by ``bench/soak.py``'s helpers): the client's work and the builder's memory are not
    the server's, and they share no interpreter lock with it."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.soak = script("bench_soak", "soak.py")
        clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        self.env = {
            **clean,
            "VIGIL_DATABASE_URL": settings.database_url,
            "VIGIL_DATA_DIR": str(settings.data_dir),
            "VIGIL_DB_POOL_SIZE": str(settings.db_pool_size),
            "VIGIL_DB_MAX_OVERFLOW": str(settings.db_max_overflow),
            "VIGIL_LOG_LEVEL": "WARNING",
        }
        if settings.master_key_file is not None:
            self.env["VIGIL_MASTER_KEY_FILE"] = str(settings.master_key_file)
        self.workdir = workdir
        self.process: Any = None
        self.base_url = ""

    def __enter__(self) -> Server:
        log = self.workdir / "serve.log"
        self.process, self.base_url = self.soak.start_server(self.env, self.workdir, log)
        return self

    def __exit__(self, *exc: object) -> None:
        self.soak.stop_server(self.process)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--seed-events", type=int, default=50_000)
    parser.add_argument("--shifts", type=int, default=10_000)
    parser.add_argument("--actions", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--batch", type=int, default=5000, help="events per append")
    parser.add_argument("--seed", type=int, default=20261117)
    parser.add_argument("--reuse", action="store_true", help="reuse the log left by --keep")
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    args = parser.parse_args()
    events = QUICK_EVENTS if args.quick else args.events
    url = args.database_url
    if not is_postgres(url):
        parser.error("this benchmark runs on PostgreSQL: pass a postgresql:// URL")
    builder = script("bench_projections", "projections.py")
    copier = script("bench_verify", "verify.py")
    keys = tempfile.TemporaryDirectory()
    settings = bench_settings(
        url,
        data_dir=Path(keys.name),
        db_pool_size=6,
        db_max_overflow=6,
        # The views are rebuilt in this process (the threaded fill): the figures here are reads.
        rebuild_processes=1,
    )
    if not args.reuse:
        drop_schema(url)
    vigil = bootstrap(settings)
    try:
        head = int(vigil.event_log.recorder.max_notification_id() or 0)
        print(f"store: PostgreSQL ({url})   events wanted: {events:,}   in the log: {head:,}")
        # The builder's cases start 400 days ago and run a few weeks; the rota covers the year.
        origin = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        origin -= timedelta(days=400)
        night_start = origin + timedelta(days=3, hours=20)
        if not head:
            for user in (*builder.USERS, NIGHT, PLANNER, *PEOPLE):
                vigil.identity.register(user.username, user.role, actor="bench")
            vigil.identity.register(READER, Role.SAFEGUARDING_LEAD, actor="bench")
            # The rota and the night are decided first, appended last: never copied.
            rota = build_rota(args.shifts, origin, 365)
            shift_id, night = build_night(vigil.calendar, night_start, args.actions)
            extra = len(rota) + len(night)
            written = int(vigil.event_log.recorder.max_notification_id() or 0)
            seed = max(0, min(args.seed_events, events - extra - written))
            if seed:
                builder.build_log(vigil, seed, args.batch, args.seed)
            if int(vigil.event_log.recorder.max_notification_id() or 0) < events - extra:
                copied, copy_s = copier.replicate(vigil, events - extra)
                print(f"copied the case events under new ids: {rate(copied, copy_s)}")
            started = time.perf_counter()
            everything = [*rota, *night]
            for i in range(0, len(everything), args.batch):
                vigil.event_log.save(*everything[i : i + args.batch])
            seconds = time.perf_counter() - started
            print(
                f"appended the rota ({args.shifts:,} shifts) and the night "
                f"({args.actions:,} actions): {rate(extra, seconds)}"
            )
        else:
            shift_id = _night_shift(vigil, night_start)
        head = int(vigil.event_log.recorder.max_notification_id() or 0)
        started = time.perf_counter()
        vigil.projector.rebuild()  # every view from the log, aside then swapped in
        print(f"views rebuilt from the log: {rate(head, time.perf_counter() - started)}")
        # The hash ledger too, before the server starts: else its follower would be hashing the
        # whole log during the reads.
        started = time.perf_counter()
        hashed = vigil.integrity.notary.catch_up()
        print(f"hash ledger caught up: {rate(hashed, time.perf_counter() - started)}")
        token = vigil.identity.issue_token(READER, actor="bench")
        # The builder's million events are still in this process's memory, which a server
        # started on the store would not hold: set them aside from the garbage collector, so
        # its full collections during the reads walk only what the reads allocate.
        gc.collect()
        gc.freeze()
        print(f"objects set aside from the collector before the reads: {gc.get_freeze_count():,}")
        store: Any = vigil.rota.store
        conninfo = store.connection_kwargs()
        schema = store.schema

        log = vigil.shift_logs.log(shift_id, now=datetime.now(UTC), limit=1000)
        window = log.shift.attendance[0]
        print(
            f"the night's shift: {len(log.actions):,} actions on the first page "
            f"({len(log.out_of_hours_decisions)} out-of-hours decisions), "
            f"{sum(a.late for a in log.actions)} logged late"
        )
        with (
            psycopg.connect(**conninfo) as conn,
            Server(settings, Path(keys.name)) as server,
            httpx.Client(
                base_url=server.base_url,
                headers={"Authorization": f"Bearer {token}"},
                transport=httpx.HTTPTransport(socket_options=NODELAY),
            ) as http,
        ):
            conn.execute(f'SET search_path TO "{schema}"')
            warm_up = min(20, args.samples)  # not counted: plans cached, pages in memory
            raw_log = timed(
                lambda: conn.execute(
                    "SELECT position, event_id, aggregate_id, context, case_id, event_type, "
                    "actor, actor_role, occurred_at, recorded_at FROM actor_activity "
                    "WHERE actor = %s AND occurred_at >= %s AND occurred_at < %s "
                    "AND event_type NOT IN ('CheckedIn', 'CheckedOut', 'HandoverRecorded', "
                    "'HandoverAcknowledged') ORDER BY occurred_at, position LIMIT 1001",
                    (NIGHT.username, window.checked_in_at, window.checked_out_at),
                ).fetchall(),
                args.samples,
                warm_up,
            )
            model_log = timed(
                lambda: vigil.shift_logs.log(shift_id, now=datetime.now(UTC), limit=1000),
                args.samples,
                warm_up,
            )

            def http_log() -> None:
                answer = http.get(f"/api/v1/shifts/{shift_id}/log", params={"limit": 1000})
                answer.raise_for_status()

            http_log_ms = timed(http_log, args.samples, warm_up)
            print(figures("(a) raw SQL read of the shift's action rows", raw_log))
            print(figures("    the shift log, read model (ShiftLogs.log)", model_log, raw_log))
            print(figures("    GET /api/v1/shifts/{id}/log over HTTP", http_log_ms, raw_log))

            rng = random.Random(args.seed)
            moments = [origin + timedelta(minutes=rng.randrange(365 * 24 * 60)) for _ in range(997)]
            turn = [0]

            def next_moment() -> datetime:
                turn[0] += 1
                return moments[turn[0] % len(moments)]

            def raw_on_call() -> None:
                at = next_moment()
                longest = conn.execute(
                    "SELECT MAX(length_seconds) FROM shift_plan_segments"
                ).fetchone()
                span = conn.execute("SELECT MAX(span_seconds) FROM shift_attendance").fetchone()
                lo = at - timedelta(seconds=(longest or [0])[0] or 0)
                in_lo = at - timedelta(seconds=(span or [0])[0] or 0)
                conn.execute(
                    "SELECT shift_id, service, role, assignee, starts_at, ends_at, known_from, "
                    "known_until, cancelled_at FROM shift_plan_segments "
                    "WHERE starts_at <= %s AND starts_at >= %s AND ends_at > %s",
                    (at, lo, at),
                ).fetchall()
                conn.execute(
                    "SELECT shift_id, person, checked_in_at, checked_in_recorded_at, "
                    "checked_out_at, checked_out_recorded_at FROM shift_attendance "
                    "WHERE until_at IS NULL AND checked_in_at <= %s UNION ALL "
                    "SELECT shift_id, person, checked_in_at, checked_in_recorded_at, "
                    "checked_out_at, checked_out_recorded_at FROM shift_attendance "
                    "WHERE checked_in_at <= %s AND checked_in_at >= %s AND until_at > %s",
                    (at, at, in_lo, at),
                ).fetchall()

            raw_call = timed(raw_on_call, args.samples, warm_up)
            model_call = timed(lambda: vigil.rota.on_call(next_moment()), args.samples, warm_up)

            def http_on_call() -> None:
                answer = http.get("/api/v1/on-call", params={"at": next_moment().isoformat()})
                answer.raise_for_status()

            http_call = timed(http_on_call, args.samples, warm_up)
            sample = vigil.rota.on_call(night_start + timedelta(hours=1))
            print(
                figures("(b) raw SQL read of the plan and attendance rows at T", raw_call)
                + f"   [at the night: {len(sample.as_known_now.planned)} planned, "
                f"{len(sample.as_known_now.checked_in)} checked in]"
            )
            print(figures("    on call, read model (Rota.on_call)", model_call, raw_call))
            print(figures("    GET /api/v1/on-call over HTTP", http_call, raw_call))
        checks = [
            (
                f"the shift log of {args.actions:,} actions: p99 < {LOG_TARGET_MS:.0f} ms "
                "over HTTP",
                pct(http_log_ms, 0.99) < LOG_TARGET_MS,
            ),
            (
                f"GET /on-call: p99 < {ON_CALL_TARGET_MS:.0f} ms over HTTP",
                pct(http_call, 0.99) < ON_CALL_TARGET_MS,
            ),
        ]
        for label, ok in checks:
            print(f"{'PASS' if ok else 'FAIL'}  {label}")
    finally:
        vigil.close()
        if not (args.keep or args.reuse):
            drop_schema(url)
        keys.cleanup()


def _night_shift(vigil: Vigil, night_start: datetime) -> UUID:
    """The measured shift of a reused log: the bench night's on-call shift."""
    shifts, _ = vigil.rota.shifts(assignee=NIGHT.username, limit=1)
    if not shifts:
        raise SystemExit("--reuse: the kept log holds no night shift; run once with --keep")
    return shifts[0].id


if __name__ == "__main__":
    main()
