"""How long does the server take to answer the web UI's case page and queue page, beside the
JSON API for the same data in the same run?

Builds, on each store, a log holding one case of ``--case-events`` events (default 1,000: opened
from a flag, then notes, further flags and risk assessments over two days) and ``--queue-items``
cases opened from flags (default 10,000; harassment, every risk level, over three days, so the
``flags_awaiting_action`` queue holds that many items, part of them overdue). Events are decided
in memory by the domain's own ``decide`` and appended through the ledger in large batches; the
views are then caught up (setup, timed and printed, not a measured figure). Then, over real
HTTP (uvicorn in this process, on a socket of its own, as ``bench/intake.py`` serves it), a
safeguarding lead signed in to the web UI through its form and holding an API token:

(a) the case page ``GET /ui/cases/{id}`` (the case's state and its whole timeline, rendered),
    beside the API's ``GET /api/v1/cases/{id}`` + ``GET /api/v1/cases/{id}/timeline`` (the two
    requests one after the other, timed together);
(b) the queue page ``GET /ui/queues/flags_awaiting_action`` (one page of items, the API's page
    size, with the queue's totals: what a person works from), beside the API's
    ``GET /api/v1/queues/flags_awaiting_action`` (the same page of items);

each read ``--samples`` times (default 40) after a warm-up, the page and its API read
alternating, and prints p50 and p95 (ms, request sent to answer read) and each page's ratio to
its API read. Each case read appends its access-log entries, the page's exactly as the API's.
Goal on the 2-core reference machine: each page's p95 under 300 ms (printed, PASS or FAIL).

Usage: python bench/ui_render.py [--case-events N] [--queue-items N] [--samples N]
       [--database-url URL] [--keep]
Without ``--database-url`` it runs on SQLite (a temporary file) and then on PostgreSQL when
postgresql://postgres@127.0.0.1:5432/test is reachable (schema bench_ui_render, dropped before
and after unless --keep); with it, on that store only.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout

import httpx  # noqa: E402
from support import (  # noqa: E402  (bench/support.py)
    Server,
    bench_settings,
    client,
    drop_schema,
    pct,
    postgres_reachable,
)

from domain.case import commands as c  # noqa: E402
from domain.case.decide import CaseContext  # noqa: E402
from domain.case.decide import decide as decide_case  # noqa: E402
from domain.case.state import CaseState, apply_in_place  # noqa: E402
from domain.shared import Actor, DecisionContext, Role  # noqa: E402
from infrastructure.persistence import is_postgres  # noqa: E402
from interfaces.composition import bootstrap  # noqa: E402

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test?schema=bench_ui_render"
QUEUE = "flags_awaiting_action"
TARGET_MS = 300.0
LEAD = Actor(username="bench.lead", role=Role.SAFEGUARDING_LEAD)
WORKER = Actor(username="bench.coordinator", role=Role.COORDINATOR)
TIMEOUT = 120  # seconds a request may take, the API client's and the signed-in browser's
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
WARM_UP = 5
RISKS = ("low", "medium", "high", "critical")


# --- the log ---------------------------------------------------------------------------------


def _context(calendar: Any, now: datetime, case_id: UUID | None = None) -> CaseContext:
    return CaseContext(
        decision=DecisionContext(actor=WORKER, now=now),
        calendar=calendar,
        case_id=case_id,
    )


def _opened(calendar: Any, ref: str, risk: str, at: datetime) -> tuple[UUID, Any]:
    case_id = uuid4()
    command = c.OpenCase(
        subject={"kind": "member", "ref": ref},
        source="flag",
        category="harassment",
        summary="Members report a pile-on in the evening thread.",
        risk_level=risk,
    )
    [event] = decide_case(None, command, _context(calendar, at, case_id))
    return case_id, event


def long_case(calendar: Any, events: int, start: datetime) -> tuple[UUID, list[Any]]:
    """One case of ``events`` events over two days: notes, further flags, assessments."""
    case_id, opened = _opened(calendar, "member-long-running", "high", start)
    state: CaseState | None = apply_in_place(None, opened)
    assert state is not None
    decided = [opened]
    step = timedelta(days=2) / max(1, events)
    for n in range(1, events):
        at = start + step * n
        command: c.CaseCommand
        if n % 25 == 0:
            command = c.AssessRisk(
                level=RISKS[n // 25 % 4], rationale="Reassessed after the member's latest posts."
            )
        elif n % 10 == 0:
            command = c.RaiseFlag(
                reason="Another reply in the thread", category="harassment", content_ref=f"p-{n}"
            )
        else:
            command = c.AddNote(kind="fact", text="Read the thread again; replied privately.")
        for event in decide_case(state, command, _context(calendar, at)):
            apply_in_place(state, event)
            decided.append(event)
    return case_id, decided


def queue_cases(calendar: Any, count: int, start: datetime) -> list[Any]:
    """``count`` cases opened from flags over three days up to ``start``: the queue's items
    (400 members, several cases each: a key per subject is made once, as in a community)."""
    rng = random.Random(17)
    step = timedelta(days=3) / max(1, count)
    return [
        _opened(calendar, f"member-{n % 400}", rng.choice(RISKS), start + step * n)[1]
        for n in range(count)
    ]


# --- serving and reading ---------------------------------------------------------------------


def signed_in(base_url: str, token: str) -> httpx.Client:
    """A browser-like client signed in to the web UI through its form."""
    browser = client(base_url, timeout=TIMEOUT)
    form = browser.get("/ui/login")
    found = CSRF.search(form.text)
    assert found is not None, form.text[:300]
    answer = browser.post("/ui/login", data={"csrf_token": found.group(1), "token": token})
    assert answer.status_code == 303, answer.text[:300]
    return browser


def timed_pair(
    page: Callable[[], None], api: Callable[[], None], samples: int
) -> tuple[list[float], list[float]]:
    """The page's and the API read's latencies (ms), alternating after a warm-up of each."""
    for _ in range(WARM_UP):
        page()
        api()
    page_ms: list[float] = []
    api_ms: list[float] = []
    for _ in range(samples):
        for read, into in ((page, page_ms), (api, api_ms)):
            started = time.perf_counter()
            read()
            into.append((time.perf_counter() - started) * 1000)
    return page_ms, api_ms


def ok(answer: httpx.Response) -> None:
    if answer.status_code != 200:
        raise RuntimeError(f"{answer.request.url}: {answer.status_code} {answer.text[:300]}")


def run(url: str, args: argparse.Namespace) -> list[tuple[str, bool]]:
    """Build the log on ``url``, measure, print; the checks made."""
    postgres = is_postgres(url)
    work = tempfile.TemporaryDirectory()
    settings = bench_settings(
        url,
        environment="development",  # the session cookie over plain HTTP on 127.0.0.1
        data_dir=Path(work.name),
        db_pool_size=4,
        db_max_overflow=4,
    )
    if postgres:
        drop_schema(url)
    vigil = bootstrap(settings)
    try:
        print(f"store: {'PostgreSQL' if postgres else 'SQLite'} ({url})")
        for actor in (LEAD, WORKER):
            vigil.identity.register(actor.username, actor.role, actor="bench")
        now = datetime.now(UTC).replace(microsecond=0)
        calendar = vigil.calendar
        started = time.perf_counter()
        case_id, case_events = long_case(calendar, args.case_events, now - timedelta(days=4))
        queued = queue_cases(calendar, args.queue_items, now - timedelta(days=3, minutes=5))
        decided = sorted([*case_events, *queued], key=lambda e: e.recorded_at)
        for i in range(0, len(decided), args.batch):
            vigil.event_log.save(*decided[i : i + args.batch])
        built_s = time.perf_counter() - started
        started = time.perf_counter()
        vigil.projector.catch_up()
        caught_s = time.perf_counter() - started
        print(
            f"built the log: {len(decided):,} events in {built_s:.1f} s; views caught up in "
            f"{caught_s:.1f} s (setup)"
        )
        token = vigil.identity.issue_token(LEAD.username, actor="bench")
        with Server(vigil) as server:
            api = client(server.base_url, token, timeout=TIMEOUT)
            ui = signed_in(server.base_url, token)
            try:
                counted = api.get("/api/v1/queues").json()["items"]
                size = next(q for q in counted if q["name"] == QUEUE)
                timeline = api.get(f"/api/v1/cases/{case_id}/timeline").json()["events"]
                print(
                    f"the case: {len(timeline):,} events; the queue {QUEUE}: "
                    f"{size['total']:,} items, {size['overdue']:,} overdue"
                )

                def case_page() -> None:
                    ok(ui.get(f"/ui/cases/{case_id}"))

                def case_api() -> None:
                    ok(api.get(f"/api/v1/cases/{case_id}"))
                    ok(api.get(f"/api/v1/cases/{case_id}/timeline"))

                def queue_page() -> None:
                    ok(ui.get(f"/ui/queues/{QUEUE}"))

                def queue_api() -> None:
                    ok(api.get(f"/api/v1/queues/{QUEUE}"))

                shown = ui.get(f"/ui/queues/{QUEUE}").text
                items_shown = shown.count("data-keys-item")
                case_html = ui.get(f"/ui/cases/{case_id}").text
                print(
                    f"the queue page shows {items_shown} items (one page) and the totals; "
                    f"the case page is {len(case_html.encode()):,} bytes of HTML"
                )
                case_ms, case_api_ms = timed_pair(case_page, case_api, args.samples)
                queue_ms, queue_api_ms = timed_pair(queue_page, queue_api, args.samples)
            finally:
                api.close()
                ui.close()
        print()
        print(f"{'':<58}{'p50':>10}{'p95':>10}{'x API p50':>11}{'x API p95':>11}")
        lines = (
            ("(a) case page GET /ui/cases/{id}", case_ms, case_api_ms),
            ("    API GET /api/v1/cases/{id} + /timeline", case_api_ms, None),
            (f"(b) queue page GET /ui/queues/{QUEUE}", queue_ms, queue_api_ms),
            (f"    API GET /api/v1/queues/{QUEUE}", queue_api_ms, None),
        )
        for label, samples, baseline in lines:
            ratios = (
                f"{pct(samples, 0.5) / pct(baseline, 0.5):>10.2f}x"
                f"{pct(samples, 0.95) / pct(baseline, 0.95):>10.2f}x"
                if baseline
                else ""
            )
            print(f"{label:<58}{pct(samples, 0.5):>7.1f} ms{pct(samples, 0.95):>7.1f} ms{ratios}")
        print(
            f"({args.samples} reads of each after {WARM_UP} to warm up, page and API alternating)"
        )
        return [
            (
                f"the case page ({len(timeline):,} events) p95 under {TARGET_MS:.0f} ms "
                f"({pct(case_ms, 0.95):.1f} ms)",
                pct(case_ms, 0.95) < TARGET_MS,
            ),
            (
                f"the queue page ({size['total']:,} items) p95 under {TARGET_MS:.0f} ms "
                f"({pct(queue_ms, 0.95):.1f} ms)",
                pct(queue_ms, 0.95) < TARGET_MS,
            ),
        ]
    finally:
        vigil.close()
        if postgres and not args.keep:
            drop_schema(url)
        work.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--case-events", type=int, default=1000)
    parser.add_argument("--queue-items", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--batch", type=int, default=2000, help="events per append")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema")
    args = parser.parse_args()
    if args.database_url:
        urls = [args.database_url]
    else:
        sqlite_dir = tempfile.TemporaryDirectory()
        urls = [f"sqlite:///{Path(sqlite_dir.name) / 'bench.db'}"]
        if postgres_reachable(POSTGRES_URL):
            urls.append(POSTGRES_URL)
        else:
            print("PostgreSQL not reachable at 127.0.0.1:5432: SQLite only")
    checks: list[tuple[str, bool]] = []
    for url in urls:
        store = "PostgreSQL" if is_postgres(url) else "SQLite"
        checks += [(f"{store}: {label}", passed) for label, passed in run(url, args)]
        print()
    for label, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {label}")


if __name__ == "__main__":
    main()
