"""How many signed Discourse deliveries a second does Vigil accept, beside case notes written in
the same run?

Starts the API over real HTTP (uvicorn in this process, on a socket of its own, as
``bench/contacts.py`` does) on a store with the ``forum`` service and its Discourse intake, then:

(a) ``--deliveries`` distinct ``post_created`` deliveries (default 2,000), each signed with the
    intake's secret as Discourse signs it, posted to ``POST /api/v1/intake/discourse/forum`` by
    ``--clients`` concurrent clients (default 4); every one must be answered ``accepted``;
(b) the baseline: as many case notes (``POST /api/v1/cases/{id}/notes``, a case per client so
    the clients do not race on one stream), by as many clients, in the same run;

and prints each one's rate (requests a second over the wall time), p50/p99 and their ratios.
Checks: every delivery was accepted once (a redelivery of each answered ``duplicate``, writing
nothing), and a wrongly signed delivery is refused with nothing written.

Usage: python bench/intake.py [--deliveries N] [--clients C] [--database-url URL] [--keep]
The default URL is postgresql://postgres@127.0.0.1:5432/test?schema=bench_intake (its schema is
dropped before and after the run unless --keep); a sqlite:///FILE URL runs it on SQLite (the
file is removed before and after the run unless --keep).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout

import httpx  # noqa: E402
from support import (  # noqa: E402  (bench/support.py)
    Server,
    bench_settings,
    client,
    drop_schema,
    pct,
)

from domain.community.decide import ConfigureDiscourseIntake  # noqa: E402
from domain.service.commands import RegisterService  # noqa: E402
from domain.shared import Actor, Role  # noqa: E402
from infrastructure.discourse import sign  # noqa: E402
from infrastructure.persistence import is_postgres  # noqa: E402
from interfaces.composition import bootstrap  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test?schema=bench_intake"
SERVICE = "forum"
SECRET = "bench-intake-secret-0123456789abcdef"
ADMIN = Actor(username="bench.admin", role=Role.ADMIN)
WRITER = Actor(username="bench.writer", role=Role.COORDINATOR)
INTAKE = f"/api/v1/intake/discourse/{SERVICE}"
ROUNDS = 4  # the deliveries and the notes each run in this many alternating rounds
WARM_UP = 20


def post_created(n: int, at: datetime) -> tuple[dict[str, str], bytes]:
    """A distinct ``post_created`` delivery (the shape of tests/fixtures/discourse), signed."""
    moment = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    body = {
        "post": {
            "id": 100_000 + n,
            "username": f"member{n % 50}",
            "created_at": moment,
            "cooked": "<p>A benchmark post.</p>",
            "raw": "A benchmark post.",
            "post_number": 2 + n,
            "post_type": 1,
            "topic_id": 50_000 + n % 40,
            "topic_slug": f"topic-{n % 40}",
            "category_id": 5 + n % 3,
            "category_slug": f"category-{n % 3}",
            "user_id": 10_000 + n % 50,
            "topic_archetype": "regular",
        }
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Discourse-Event-Type": "post",
        "X-Discourse-Event": "post_created",
        "X-Discourse-Event-Id": str(1_000_000 + n),
        "X-Discourse-Event-Signature": sign(SECRET, raw),
    }
    return headers, raw


def run_concurrently(
    clients: list[httpx.Client], jobs: list[Callable[[httpx.Client], httpx.Response]]
) -> tuple[list[float], float, list[httpx.Response]]:
    """``jobs`` shared out over ``clients`` (one thread each): the latencies (ms), the wall time
    (s) and the answers."""
    latencies: list[float] = []
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        mine = clients[index]
        for job in jobs[index :: len(clients)]:
            started = time.perf_counter()
            answer = job(mine)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                answers.append(answer)

    started = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(work, range(len(clients))))
    return latencies, time.perf_counter() - started, answers


def figures(label: str, count: int, seconds: float, samples: list[float]) -> str:
    return (
        f"{label}: {count / seconds:,.0f}/s ({count:,} in {seconds:.1f} s)   "
        f"p50 {pct(samples, 0.5):.2f} ms   p99 {pct(samples, 0.99):.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    args = parser.parse_args()
    url = args.database_url
    work = tempfile.TemporaryDirectory()
    postgres = is_postgres(url)
    settings = bench_settings(
        url,
        data_dir=Path(work.name),
        db_pool_size=max(6, args.clients + 2),
        db_max_overflow=6,
    )
    sqlite_file = None if postgres else Path(url.split("///", 1)[-1].split("?")[0])
    if postgres:
        drop_schema(url)
    elif sqlite_file is not None and sqlite_file.exists():
        sqlite_file.unlink()  # a fresh store, as the schema is dropped on PostgreSQL
    vigil = bootstrap(settings)
    try:
        print(
            f"store: {'PostgreSQL' if postgres else 'SQLite'} ({url})   deliveries: "
            f"{args.deliveries:,}   clients: {args.clients}"
        )
        vigil.identity.register(WRITER.username, WRITER.role, actor="bench")
        vigil.services.register(
            RegisterService(
                name=SERVICE,
                timezone="Europe/London",
                operating_hours={
                    d: ["08:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                },
                bank_holidays="none",
            ),
            ADMIN,
        )
        vigil.community.configure_discourse(
            SERVICE,
            ConfigureDiscourseIntake(secret=SECRET, forum_url="https://forum.example.org"),
            ADMIN,
        )
        token = vigil.identity.issue_token(WRITER.username, actor="bench")
        base = datetime.now(UTC) - timedelta(days=1)
        total = WARM_UP + args.deliveries
        signed = [post_created(n, base + timedelta(seconds=n)) for n in range(total)]
        with Server(vigil) as server:
            forum = [client(server.base_url, timeout=60) for _ in range(args.clients)]
            writers = [client(server.base_url, token, timeout=60) for _ in range(args.clients)]
            case_ids = []
            for n in range(args.clients):
                case = writers[n].post(
                    "/api/v1/cases",
                    json={
                        "subject": {"kind": "member", "ref": f"member-bench-{n}"},
                        "source": "flag",
                        "category": "harassment",
                        "summary": "Members report hostile replies from this account.",
                    },
                )
                case.raise_for_status()
                case_ids.append(case.json()["case"]["id"])
            note = {"kind": "fact", "text": "Another member reported a reply; read and logged."}

            def deliver(headers: dict[str, str], raw: bytes) -> Callable[[httpx.Client], Any]:
                return lambda c: c.post(INTAKE, content=raw, headers=headers)

            # Each client writes on a case of its own (no races on one stream).
            case_of = {id(w): case_ids[n] for n, w in enumerate(writers)}

            def write_note(n: int) -> Callable[[httpx.Client], Any]:
                return lambda c: c.post(f"/api/v1/cases/{case_of[id(c)]}/notes", json=note)

            # Warm-up (not counted): plans cached, connections open.
            run_concurrently(forum, [deliver(*s) for s in signed[:WARM_UP]])
            run_concurrently(writers, [write_note(n) for n in range(WARM_UP)])
            # (a) and (b), alternating A B A B in rounds (neither always runs on the longer
            # log), the same number of each by the same number of clients.
            rounds = max(1, min(ROUNDS, args.deliveries // args.clients))
            deliveries = [deliver(*s) for s in signed[WARM_UP:]]
            notes = [write_note(n) for n in range(args.deliveries)]
            taken, noted, answers, note_answers = [], [], [], []
            taken_s = noted_s = 0.0
            for r in range(rounds):
                lat, secs, got = run_concurrently(forum, deliveries[r::rounds])
                taken += lat
                taken_s += secs
                answers += got
                lat, secs, got = run_concurrently(writers, notes[r::rounds])
                noted += lat
                noted_s += secs
                note_answers += got
            accepted = sum(
                1 for a in answers if a.status_code == 200 and a.json()["status"] == "accepted"
            )
            assert all(a.status_code == 201 or a.status_code == 200 for a in note_answers), [
                a.text for a in note_answers if a.status_code >= 300
            ][:3]
            print(
                figures("(a) signed deliveries accepted (post_created)", accepted, taken_s, taken)
            )
            print(
                figures(
                    "(b) case notes (POST /api/v1/cases/{id}/notes)", len(noted), noted_s, noted
                )
            )
            ratio = (accepted / taken_s) / (len(noted) / noted_s)
            print(
                f"    deliveries / case notes: {ratio:.2f}x "
                f"the rate, {pct(taken, 0.5) / pct(noted, 0.5):.2f}x at p50, "
                f"{pct(taken, 0.99) / pct(noted, 0.99):.2f}x at p99"
            )
            # Checks: every delivery once; a wrong signature refused with nothing written.
            head = vigil.event_log.recorder.max_notification_id()
            again = [forum[0].post(INTAKE, content=raw, headers=h) for h, raw in signed[:50]]
            duplicates = all(a.json()["status"] == "duplicate" for a in again)
            headers, raw = post_created(total + 1, base)
            forged = forum[0].post(
                INTAKE,
                content=raw,
                headers={**headers, "X-Discourse-Event-Signature": sign("wrong", raw)},
            )
            unchanged = vigil.event_log.recorder.max_notification_id() == head
            for c in (*forum, *writers):
                c.close()
        checks = [
            (
                f"every delivery accepted once ({accepted:,} of {args.deliveries:,}; "
                "redeliveries answered duplicate)",
                accepted == args.deliveries and duplicates,
            ),
            (
                "a wrongly signed delivery refused (401) with nothing written",
                forged.status_code == 401 and unchanged,
            ),
        ]
        for label, ok in checks:
            print(f"{'PASS' if ok else 'FAIL'}  {label}")
    finally:
        vigil.close()
        if postgres and not args.keep:
            drop_schema(url)
        elif sqlite_file is not None and not args.keep:
            sqlite_file.unlink(missing_ok=True)
        work.cleanup()


if __name__ == "__main__":
    main()
