"""Does the server's memory level off under a steady load?

Starts `vigil serve` as a user starts it (a separate process, on a free loopback port, on a
store of its own that `vigil demo` fills), then sends it a steady, rate-limited mix of the
requests people make all day, only ever to 127.0.0.1:

- reads: a case, its timeline, case lists (filtered, and their next page), the work queues;
- writes: cases opened, flags raised, notes added, risk assessed (each with an
  Idempotency-Key, as the web UI sends them);
- mixed: seven reads to three writes.

Meanwhile it samples the server's resident memory (VmRSS of the process and any children,
from /proc) every few seconds, prints one row per reporting interval (minute, requests so
far, RSS), and at the end a summary: RSS at 5 minutes and at the end, the growth per 10
minutes over the first and second halves of the run, and their ratio (second / first). A
server whose memory levels off has a second-half slope near 0 and a ratio well below 1; a
leak keeps the ratio near 1. The rate is modest on purpose: this measures memory, not
throughput. It stops by itself after --minutes and stops the server it started.

Usage: python bench/soak.py [--minutes 5] [--mode reads|writes|mixed] [--rate 20]
       [--sample-seconds 5] [--report-minutes 1] [--database-url URL]
Default store: a SQLite file in a temporary directory (removed after). For PostgreSQL pass
e.g. postgresql://postgres@127.0.0.1:5432/test?schema=bench_soak (the schema is dropped after).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout

from support import drop_schema, free_port  # noqa: E402  (bench/support.py)

MODES = ("reads", "writes", "mixed")
WRITE_SHARE = {"reads": 0.0, "writes": 1.0, "mixed": 0.3}
SEED_CASES = 40  # opened before the clock starts, so reads have cases to read from the start
WORKING_SET = 50  # writes go to the most recently opened cases, as a shift's work does
CATEGORIES = ("self_harm_risk", "harassment", "hate_incident", "spam", "offensive_content")
QUEUES = ("high_risk_open", "no_recent_action", "unacknowledged_escalations")


def vigil_command() -> list[str]:
    script = shutil.which("vigil", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "interfaces.cli"]


def rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB (0 once it has gone)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return total


def slope_per_10_minutes(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) points, in MiB per 10 minutes."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    slope = sum((t - mean_t) * (m - mean_m) for t, m in points) / spread
    return slope * 600


@dataclass
class Load:
    """The requests of a shift, made by two safeguarding leads (one writes, one reads)."""

    writer: httpx.Client
    reader: httpx.Client
    rng: random.Random
    cases: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)

    def _record(self, what: str, response: httpx.Response, ok: int) -> httpx.Response:
        self.statuses[response.status_code] += 1
        if response.status_code != ok and len(self.unexpected) < 10:
            self.unexpected.append(f"{what}: {response.status_code} {response.text[:200]}")
        return response

    def _write(self, path: str, body: dict[str, Any]) -> httpx.Response:
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        return self._record(f"POST {path}", self.writer.post(path, json=body, headers=headers), 201)

    def _read(self, path: str, **params: Any) -> httpx.Response:
        return self._record(f"GET {path}", self.reader.get(path, params=params), 200)

    def open_case(self) -> None:
        n = self.rng.randrange(1_000_000)
        response = self._write(
            "/api/v1/cases",
            {
                "subject": {"kind": "member", "ref": f"forum-member-{n}", "display_name": "Sam"},
                "source": "flag",
                "category": self.rng.choice(CATEGORIES),
                "summary": "Post in 'Living with type 1' worries other members; please look.",
                "risk_level": self.rng.choice(("low", "medium", "high")),
                "channel": "forum",
            },
        )
        if response.status_code == 201:
            self.cases.append(response.json()["case"]["id"])

    def write(self) -> None:
        if not self.cases or self.rng.random() < 0.125:
            self.open_case()
            return
        case = self.rng.choice(self.cases[-WORKING_SET:])
        kind = self.rng.random()
        if kind < 0.45:
            self._write(
                f"/api/v1/cases/{case}/flags",
                {
                    "reason": "Another member reported the post as worrying.",
                    "category": self.rng.choice(CATEGORIES),
                    "raised_by_ref": f"forum-member-{self.rng.randrange(1_000_000)}",
                },
            )
        elif kind < 0.9:
            self._write(
                f"/api/v1/cases/{case}/notes",
                {"kind": "note", "text": "Sent a private message; no answer yet."},
            )
        else:
            self._write(
                f"/api/v1/cases/{case}/risk-assessments",
                {
                    "level": self.rng.choice(("low", "medium", "high")),
                    "rationale": "Reassessed after the latest posts.",
                },
            )

    def read(self) -> None:
        kind = self.rng.random()
        if kind < 0.3 and self.cases:
            self._read(f"/api/v1/cases/{self.rng.choice(self.cases)}")
        elif kind < 0.55 and self.cases:
            self._read(f"/api/v1/cases/{self.rng.choice(self.cases)}/timeline")
        elif kind < 0.8:
            filters = self.rng.choice(
                (
                    {"status": "open"},
                    {"risk_level": "high"},
                    {"category": self.rng.choice(CATEGORIES)},
                    {},
                )
            )
            page = self._read("/api/v1/cases", limit=20, **filters)
            cursor = page.json().get("next_cursor") if page.status_code == 200 else None
            if cursor:
                self._read("/api/v1/cases", limit=20, cursor=cursor, **filters)
        elif kind < 0.9:
            self._read("/api/v1/queues")
        else:
            self._read(f"/api/v1/queues/{self.rng.choice(QUEUES)}")


# For finding what grows: the server with tracemalloc, which the first SIGUSR1 starts (after
# start-up and the first reporting interval, so the tracer's cost falls on growth only) and each
# later one snapshots.
TRACED_SERVE = """
import signal, sys, tracemalloc
count = [0]
def dump(signum, frame):
    if not tracemalloc.is_tracing():
        tracemalloc.start(10)
        return
    count[0] += 1
    tracemalloc.take_snapshot().dump(f"{sys.argv[1]}/snapshot-{count[0]:03d}.tracemalloc")
signal.signal(signal.SIGUSR1, dump)
from interfaces.cli import app
app(args=sys.argv[2:], prog_name="vigil")
"""


def start_server(
    env: dict[str, str], cwd: Path, log: Path, traced: Path | None = None, timeout: float = 300
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = vigil_command()
    if traced is not None:
        traced.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-c", TRACED_SERVE, str(traced)]
        env = {**env, "PYTHONPATH": str(ROOT)}
    with log.open("wb") as output:
        server = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise SystemExit(f"vigil serve exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_server(server)
            raise SystemExit(f"vigil serve did not answer in {timeout} s")
        time.sleep(0.2)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


def demo_tokens(env: dict[str, str], cwd: Path) -> dict[str, str]:
    done = subprocess.run(
        [*vigil_command(), "demo"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"vigil demo failed:\n{done.stderr[-3000:]}")
    tokens = {}
    for line in done.stdout.strip().splitlines():
        username, _role, token = line.split(" ")
        tokens[username] = token
    return tokens


def soak(args: argparse.Namespace, workdir: Path) -> int:
    database_url = args.database_url or f"sqlite:///{workdir / 'vigil.db'}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env = {
        **clean,
        "VIGIL_DATABASE_URL": database_url,
        "VIGIL_DATA_DIR": str(workdir / "data"),
        "VIGIL_LOG_JSON": "true",
    }
    tokens = demo_tokens(env, workdir)
    log = workdir / "serve.log"
    server, base = start_server(env, workdir, log, traced=args.tracemalloc_dir)
    rng = random.Random(args.seed)
    print(
        f"soak: {args.mode} at {args.rate:g} requests/s for {args.minutes:g} min against "
        f"{'PostgreSQL' if database_url.startswith('postgresql') else 'SQLite'} "
        f"(server pid {server.pid}, RSS sampled every {args.sample_seconds:g} s)",
        flush=True,
    )
    try:
        headers = {"Authorization": f"Bearer {tokens['jude.lead']}"}
        reader_headers = {"Authorization": f"Bearer {tokens['priya.lead']}"}
        with (
            httpx.Client(base_url=base, headers=headers, timeout=60) as writer,
            httpx.Client(base_url=base, headers=reader_headers, timeout=60) as reader,
        ):
            load = Load(writer, reader, rng)
            for _ in range(args.seed_cases):
                load.open_case()
            return drive(args, server, load)
    finally:
        stop_server(server)


def drive(args: argparse.Namespace, server: subprocess.Popen[bytes], load: Load) -> int:
    write_share = WRITE_SHARE[args.mode]
    step: Callable[[], None]
    duration = args.minutes * 60
    interval = 1.0 / args.rate
    samples: list[tuple[float, float]] = []  # (seconds since start, RSS MiB)
    requests = 0
    start = time.monotonic()
    next_sample = start
    next_report = start + args.report_minutes * 60
    print(f"{'minute':>7} {'requests':>9} {'RSS MiB':>8}", flush=True)

    def sample(now: float) -> float:
        mib = rss_kib(server.pid) / 1024
        samples.append((now - start, mib))
        return mib

    first = sample(start)
    print(f"{0:>7.1f} {0:>9} {first:>8.1f}", flush=True)
    next_sample += args.sample_seconds
    while True:
        now = time.monotonic()
        if now - start >= duration:
            break
        if server.poll() is not None:
            print("FAIL  the server stopped during the soak", flush=True)
            return 1
        if now >= next_sample:
            mib = sample(now)
            next_sample += args.sample_seconds
            if now >= next_report:
                print(f"{(now - start) / 60:>7.1f} {requests:>9} {mib:>8.1f}", flush=True)
                if args.tracemalloc_dir is not None:
                    server.send_signal(signal.SIGUSR1)
                next_report += args.report_minutes * 60
        step = load.write if load.rng.random() < write_share else load.read
        try:
            step()
        except httpx.TransportError as error:
            if server.poll() is not None:
                print("FAIL  the server stopped during the soak", flush=True)
                return 1
            load.unexpected.append(f"transport error: {error!r}")
        requests += 1
        # A fixed schedule, so a slow answer is caught up on and the rate holds on average.
        wait = start + requests * interval - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, max(0.0, next_sample - time.monotonic()) + 0.001))
            wait = start + requests * interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
    end = time.monotonic()
    last = sample(end)
    print(f"{(end - start) / 60:>7.1f} {requests:>9} {last:>8.1f}", flush=True)
    return summarise(samples, requests, end - start, load)


def at_minute(samples: list[tuple[float, float]], minute: float) -> float | None:
    if samples[-1][0] < minute * 60:
        return None
    return next(m for t, m in samples if t >= minute * 60)


def summarise(samples: list[tuple[float, float]], requests: int, elapsed: float, load: Load) -> int:
    half = elapsed / 2
    first = slope_per_10_minutes([p for p in samples if p[0] <= half])
    second = slope_per_10_minutes([p for p in samples if p[0] >= half])
    print()
    print(f"requests: {requests} in {elapsed / 60:.1f} min ({requests / elapsed:.1f}/s)")
    print(f"cases opened: {len(load.cases)}")
    print("answers: " + ", ".join(f"{code}: {n}" for code, n in sorted(load.statuses.items())))
    print(f"RSS at start: {samples[0][1]:.1f} MiB")
    for minute in (5, 30, 60):
        value = at_minute(samples, minute)
        if value is not None:
            print(f"RSS at {minute} min: {value:.1f} MiB")
    print(f"RSS at end: {samples[-1][1]:.1f} MiB (peak {max(m for _, m in samples):.1f} MiB)")
    print(f"growth, first half: {first:+.2f} MiB per 10 min")
    print(f"growth, second half: {second:+.2f} MiB per 10 min")
    ratio = f"{second / first:.2f}" if first > 0 else "n/a (no growth in the first half)"
    print(f"second half / first half: {ratio}")
    for line in load.unexpected:
        print(f"unexpected answer: {line}")
    return 1 if load.unexpected else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--mode", choices=MODES, default="mixed")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--report-minutes", type=float, default=1.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--seed-cases", type=int, default=SEED_CASES, help=argparse.SUPPRESS)
    # Investigation only: run the server under tracemalloc and dump a snapshot per report row
    # into this directory (RSS is then the tracer's, not the server's alone).
    parser.add_argument("--tracemalloc-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rate <= 0 or args.minutes <= 0 or args.sample_seconds <= 0:
        parser.error("--rate, --minutes and --sample-seconds must be positive")
    # A SIGTERM (e.g. `kill` of a background soak) unwinds like Ctrl-C: the server is stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="vigil-soak-"))
    try:
        return soak(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if args.database_url and args.database_url.startswith("postgresql"):
            drop_schema(args.database_url)


if __name__ == "__main__":
    sys.exit(main())
