"""How fast does Vigil write a case note over HTTP, beside a naive peer that does one INSERT and
one commit per request, on the same store kind in the same run (issue 18)?

Starts, on each store kind, three servers in processes of their own:

- Vigil: ``vigil serve`` on a throwaway store (SQLite: a file in a temporary directory;
  PostgreSQL: a schema of its own in the ``test`` database, dropped before and after), with a
  safeguarding lead and an API token registered and ``--cases`` cases opened over HTTP. On
  PostgreSQL it runs as ``docker-compose.yml`` deploys it: the API with
  ``VIGIL_PROJECTOR_IN_PROCESS=false`` and a ``vigil project`` worker (the views and the hash
  ledger, with the compose file's pool of 4 + 4) in a process of its own, whose CPU counts as
  the server's (``--single-process``: the projector inside ``vigil serve``, as on SQLite);
- the peer: ``bench/naive_peer.py`` (THE BASELINE, not part of Vigil: a FastAPI app with plain
  ``def`` endpoints that checks the SHA-256 of a bearer token and does one INSERT and commit per
  request) on the same store kind (SQLite: another file; PostgreSQL: another schema);
- the floor: ``bench/eventsourcing_floor.py`` (not part of Vigil either: the peer's app saving
  one new aggregate of the event store library per note, the cheapest append the library
  makes, with nothing of Vigil's), to show how much of the gap is the stack itself
  (``--no-floor`` leaves it out).

Then one light load generator (threads, each with its own keep-alive httpx connection, TCP_NODELAY)
drives each at 1, 8 and 32 concurrent connections (``--connections``), alternating Vigil, peer,
floor, Vigil... (``--rounds`` runs of each, default 3), each run ``--seconds`` long (default 5).
Each Vigil request is ``POST /api/v1/cases/{id}/notes`` with an Idempotency-Key, the cases taken
in turn so writes spread over all of them; each peer (and floor) request is its
``POST /cases/{id}/notes``.
Printed for each server and connection count, over its runs together: throughput (requests
answered 201 a second), p50/p99 latency (request sent to answer read), server CPU time per
request (utime+stime of the server's processes from /proc, over the runs, counted until the
server is idle again so work a run left behind is its own; beside it the load generator's CPU
per request, to show how much of the 2 cores the client took), and the Vigil/peer,
floor/peer and Vigil/floor ratios; then whether issue 18's goals are met (Vigil's throughput
at 8 and 32 connections at least 1.0x the peer on PostgreSQL, at least 0.8x on SQLite). Every
request not answered as expected (any other status, or a transport error) is counted and
printed; the exit status is 1 if any.

The load generator shares the machine with the servers (it takes CPU too): the ratios, measured
side by side in one run, are the figures to compare; absolute rates depend on the machine.

Usage: python bench/write_path.py [--store sqlite|postgres|both] [--seconds S] [--rounds N]
       [--connections 1,8,32] [--cases N] [--quick] [--database-url URL] [--single-process]
       [--no-floor]
``--quick``: 1 s runs, one round (a smoke test). ``--database-url`` runs on that store only
(a sqlite:/// file, or postgresql://...?schema=NAME whose schema, NAME_peer and NAME_floor are
dropped before and after).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout

import httpx  # noqa: E402
from support import (  # noqa: E402  (bench/support.py)
    bench_settings,
    client,
    drop_schemas,
    exit_on_sigterm,
    free_port,
    open_cases,
    postgres_reachable,
    schema_of,
    script,
)
from support import pct as _pct  # noqa: E402

from domain.shared import Role  # noqa: E402
from infrastructure.persistence import is_postgres  # noqa: E402
from interfaces.composition import bootstrap  # noqa: E402

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test?schema=bench_write_path"
SQLITE = "sqlite:"  # the default SQLite store: a file in the run's temporary directory
WRITER = "bench.writer"
GOALS = {"PostgreSQL": 1.0, "SQLite": 0.8}  # throughput at 8 and 32 connections, x the peer
GOAL_CONNECTIONS = (8, 32)
WARM_UP = 20  # requests to each server before the runs (connections, caches, JIT-free Python)
NOTE = "Sent the member a private message; no answer yet."
TICKS = os.sysconf("SC_CLK_TCK")


def pct(samples: list[float], q: float) -> float:
    """``support.pct``, or NaN for a run with no request answered."""
    return _pct(samples, q) if samples else float("nan")


def cpu_seconds(pid: int) -> float:
    """utime+stime of a process and all its descendants (threads included), in seconds."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return total / TICKS


# --- the servers -----------------------------------------------------------------------------


@dataclass
class Target:
    """A server under load: how to reach it and what one write is."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    token: str
    cases: list[str]
    vigil: bool
    workers: tuple[subprocess.Popen[bytes], ...] = ()
    """Processes of the server's beside the one that answers (Vigil's projection worker)."""

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in (self.process, *self.workers))

    def request(self, http: httpx.Client, n: int) -> httpx.Response:
        case = self.cases[n % len(self.cases)]
        if self.vigil:
            return http.post(
                f"/api/v1/cases/{case}/notes",
                json={"kind": "note", "text": NOTE},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
        return http.post(f"/cases/{case}/notes", json={"text": NOTE})

    def client(self) -> httpx.Client:
        return client(self.base_url, self.token, timeout=60)


def worker_alive(workers: tuple[subprocess.Popen[bytes], ...], workdir: Path) -> None:
    """Stop the run if Vigil's projection worker has exited."""
    for worker in workers:
        if worker.poll() is not None:
            log = (workdir / "project.log").read_text()[-3000:]
            raise SystemExit(f"vigil project exited ({worker.returncode}):\n{log}")


def start_baseline(
    script: str, name: str, database_url: str, token: str, workdir: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``bench/<script>`` (the naive peer or the floor) and wait until it answers."""
    port = free_port()
    log = workdir / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / script),
                *("--database-url", database_url),
                *("--token-sha256", hashlib.sha256(token.encode()).hexdigest()),
                *("--port", str(port)),
            ],
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise SystemExit(f"the {name} exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the {name} did not answer in 60 s")
        time.sleep(0.1)


def drop_all(url: str) -> None:
    """Vigil's schema, the peer's and the floor's."""
    schema = schema_of(url)
    drop_schemas(url, schema, f"{schema}_peer", f"{schema}_floor")


# --- the load --------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float = 0.0
    cpu: float = 0.0
    client_cpu: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    def add(self, other: Run) -> None:
        self.seconds += other.seconds
        self.cpu += other.cpu
        self.client_cpu += other.client_cpu
        self.latencies_ms += other.latencies_ms
        self.failures.update(other.failures)


def drive(target: Target, clients: list[httpx.Client], seconds: float, start: int) -> Run:
    """``len(clients)`` threads, each sending one request at a time until the time is up."""
    run = Run()
    lock = threading.Lock()
    barrier = threading.Barrier(len(clients) + 1)
    deadline = [0.0]

    def worker(index: int, http: httpx.Client) -> None:
        latencies: list[float] = []
        failures: Counter[str] = Counter()
        n = start + index * 7919  # each thread walks the cases from its own place
        barrier.wait()
        while True:
            sent = time.perf_counter()
            if sent >= deadline[0]:
                break
            try:
                answer = target.request(http, n)
                if answer.status_code == 201:
                    latencies.append((time.perf_counter() - sent) * 1000)
                else:
                    failures[f"{answer.status_code} {answer.text[:160]}"] += 1
            except httpx.HTTPError as error:
                failures[f"transport error: {type(error).__name__}"] += 1
            n += 1
        with lock:
            run.latencies_ms += latencies
            run.failures.update(failures)

    threads = [
        threading.Thread(target=worker, args=(i, http), daemon=True)
        for i, http in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    cpu_before = target.cpu()
    client_before = client_cpu()
    began = time.perf_counter()
    deadline[0] = began + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - began
    run.client_cpu = client_cpu() - client_before
    run.cpu = settled_cpu(target) - cpu_before
    return run


def client_cpu() -> float:
    """The load generator's own CPU seconds (this process, every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def settled_cpu(target: Target) -> float:
    """The server's CPU seconds once it has gone idle (at most 3 s): work a request left behind
    (Vigil's projector catching up) is counted in the run that caused it."""
    last = target.cpu()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = target.cpu()
        if now - last < 1.5 / TICKS:
            return now
        last = now
    return last


def warm_up(target: Target, http: httpx.Client) -> None:
    for n in range(WARM_UP):
        answer = target.request(http, n)
        if answer.status_code != 201:
            raise SystemExit(f"{target.name} warm-up: {answer.status_code} {answer.text[:300]}")


def figures(run: Run) -> str:
    rate = run.ok / run.seconds if run.seconds else 0.0
    cpu_ms = run.cpu * 1000 / run.ok if run.ok else float("nan")
    client_ms = run.client_cpu * 1000 / run.ok if run.ok else float("nan")
    return (
        f"{rate:>9.1f} req/s  p50 {pct(run.latencies_ms, 0.5):>7.2f} ms  "
        f"p99 {pct(run.latencies_ms, 0.99):>7.2f} ms  CPU {cpu_ms:>6.2f} ms/req  "
        f"(client {client_ms:.2f})  failed {sum(run.failures.values())}"
    )


def rate(run: Run) -> float:
    return run.ok / run.seconds if run.seconds else 0.0


def ratio(a: Run, b: Run, label: str) -> tuple[float, str]:
    """``a``'s figures over ``b``'s: throughput (the goal's figure), then the line to print."""
    throughput = rate(a) / rate(b) if rate(b) else float("nan")
    cpu_a = a.cpu / a.ok if a.ok else float("nan")
    cpu_b = b.cpu / b.ok if b.ok else float("nan")
    return throughput, (
        f"ratio {label}: throughput {throughput:.2f}x, "
        f"p50 {pct(a.latencies_ms, 0.5) / pct(b.latencies_ms, 0.5):.2f}x, "
        f"p99 {pct(a.latencies_ms, 0.99) / pct(b.latencies_ms, 0.99):.2f}x, "
        f"CPU per request {cpu_a / cpu_b:.2f}x"
    )


def measure(
    targets: list[Target], args: argparse.Namespace, store: str
) -> tuple[list[tuple[str, bool]], int]:
    """Every connection count, each target in turn, round after round; the checks and the
    number of failed requests. ``targets``: Vigil, the peer, then the floor if it runs."""
    checks: list[tuple[str, bool]] = []
    failed = 0
    offset = 0
    print()
    for connections in args.connections:
        totals = {t.name: Run() for t in targets}
        pools = {t.name: [t.client() for _ in range(connections)] for t in targets}
        try:
            for target in targets:
                for http in pools[target.name]:
                    warm_up(target, http)
            for round_ in range(1, args.rounds + 1):
                for target in targets:
                    run = drive(target, pools[target.name], args.seconds, offset)
                    offset += run.ok + sum(run.failures.values())
                    totals[target.name].add(run)
                    print(f"  {connections:>2} conn  run {round_}  {target.name:<5} {figures(run)}")
        finally:
            for clients in pools.values():
                for http in clients:
                    http.close()
        for name, total in totals.items():
            print(f"{store} {connections:>2} conn  {name:<5} all  {figures(total)}")
        vigil, peer = totals["Vigil"], totals["peer"]
        throughput, line = ratio(vigil, peer, "Vigil/peer")
        print(f"{store} {connections:>2} conn  {line}")
        if "floor" in totals:
            floor = totals["floor"]
            print(f"{store} {connections:>2} conn  {ratio(floor, peer, 'floor/peer')[1]}")
            print(f"{store} {connections:>2} conn  {ratio(vigil, floor, 'Vigil/floor')[1]}")
        for name, run in totals.items():
            failed += sum(run.failures.values())
            for reason, count in run.failures.most_common(5):
                print(f"    {name} failed x{count}: {reason}")
        print()
        if connections in GOAL_CONNECTIONS:
            goal = GOALS[store]
            checks.append(
                (
                    f"{store}: throughput at {connections} connections at least {goal:.1f}x "
                    f"the peer ({throughput:.2f}x)",
                    throughput >= goal,
                )
            )
    return checks, failed


# --- one store -------------------------------------------------------------------------------


def run_store(url: str, args: argparse.Namespace) -> tuple[list[tuple[str, bool]], int]:
    work = tempfile.TemporaryDirectory(prefix="vigil-write-path-")
    workdir = Path(work.name)
    if url == SQLITE:
        url = f"sqlite:///{workdir / 'vigil.db'}"
    postgres = is_postgres(url)
    store = "PostgreSQL" if postgres else "SQLite"
    if postgres:
        drop_all(url)
        schema = schema_of(url)
        peer_url = url.replace(f"schema={schema}", f"schema={schema}_peer")
        floor_url = url.replace(f"schema={schema}", f"schema={schema}_floor")
    else:
        peer_url = f"sqlite:///{workdir / 'peer.db'}"
        floor_url = f"sqlite:///{workdir / 'floor.db'}"
    settings = bench_settings(url, data_dir=workdir / "data")
    soak = script("bench_soak", "soak.py")
    vigil_process: subprocess.Popen[bytes] | None = None
    workers: tuple[subprocess.Popen[bytes], ...] = ()
    baselines: list[subprocess.Popen[bytes]] = []
    try:
        built = bootstrap(settings)
        try:
            built.identity.register(WRITER, Role.SAFEGUARDING_LEAD, actor="bench")
            token = built.identity.issue_token(WRITER, actor="bench")
        finally:
            built.close()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env = {
            **clean,
            "VIGIL_DATABASE_URL": url,
            "VIGIL_DATA_DIR": str(settings.data_dir),
            "VIGIL_LOG_LEVEL": "WARNING",
        }
        if postgres and not args.single_process:
            # As docker-compose.yml deploys it: the API without the projector, and a
            # `vigil project` worker (the views and the hash ledger) in a process of its own.
            env["VIGIL_PROJECTOR_IN_PROCESS"] = "false"
            # The worker's pool as docker-compose.yml sizes it (the API keeps the default).
            worker_env = {**env, "VIGIL_DB_POOL_SIZE": "4", "VIGIL_DB_MAX_OVERFLOW": "4"}
            with (workdir / "project.log").open("wb") as output:
                workers = (
                    subprocess.Popen(
                        [*soak.vigil_command(), "project"],
                        env=worker_env,
                        cwd=workdir,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                    ),
                )
        vigil_process, vigil_url = soak.start_server(env, workdir, workdir / "serve.log")
        worker_alive(workers, workdir)
        peer_process, peer_base = start_baseline("naive_peer.py", "peer", peer_url, token, workdir)
        baselines.append(peer_process)
        floor: tuple[subprocess.Popen[bytes], str] | None = None
        if args.floor:
            floor = start_baseline("eventsourcing_floor.py", "floor", floor_url, token, workdir)
            baselines.append(floor[0])
        with client(vigil_url, token, timeout=60) as http:
            cases = open_cases(http, args.cases)
        print(
            f"store: {store} ({url}); Vigil pid {vigil_process.pid}"
            + (
                f" and its projection worker's {workers[0].pid} (as docker-compose.yml deploys it)"
                if workers
                else " (its projector in-process)"
            )
            + ", naive peer pid "
            f"{peer_process.pid} ({peer_url})"
            + ("" if floor is None else f", floor pid {floor[0].pid} ({floor_url})")
            + f"; {len(cases)} cases opened; {args.rounds} runs of {args.seconds:g} s each per "
            "server and connection count, alternating "
            + ("Vigil, peer, floor" if floor else "Vigil, peer")
        )
        targets = [
            Target("Vigil", vigil_process, vigil_url, token, cases, vigil=True, workers=workers),
            Target("peer", peer_process, peer_base, token, cases, vigil=False),
        ]
        if floor is not None:
            targets.append(Target("floor", floor[0], floor[1], token, cases, vigil=False))
        measured = measure(targets, args, store)
        worker_alive(workers, workdir)  # else Vigil was measured without its projector
        return measured
    finally:
        if vigil_process is not None:
            soak.stop_server(vigil_process)
        for process in (*workers, *baselines):
            soak.stop_server(process)
        if postgres and not args.keep:
            drop_all(url)
        work.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=None, help="length of each run (5)")
    parser.add_argument("--rounds", type=int, default=None, help="runs of each server (3)")
    parser.add_argument("--connections", default="1,8,32", help="comma-separated counts")
    parser.add_argument("--cases", type=int, default=None, help="cases the notes spread over (200)")
    parser.add_argument(
        "--quick", action="store_true", help="1 s runs, one round, 40 cases (unless given)"
    )
    parser.add_argument("--database-url", default=None, help="this store only")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schemas")
    parser.add_argument(
        "--single-process",
        action="store_true",
        help="PostgreSQL: run the projector inside vigil serve, not in a vigil project worker",
    )
    parser.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="leave out the floor (bench/eventsourcing_floor.py)",
    )
    args = parser.parse_args()
    exit_on_sigterm()
    args.connections = [int(n) for n in args.connections.split(",") if n.strip()]
    for name, normal, quick in (("seconds", 5.0, 1.0), ("rounds", 3, 1), ("cases", 200, 40)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else normal)
    if args.seconds <= 0 or args.rounds < 1 or args.cases < 1 or not args.connections:
        parser.error("--seconds, --rounds, --cases and --connections must be positive")
    if args.database_url:
        if is_postgres(args.database_url) and "schema=" not in args.database_url:
            parser.error("a PostgreSQL URL needs ?schema=NAME (the bench drops it afterwards)")
        urls = [args.database_url]
    else:
        urls = []
        if args.store in ("sqlite", "both"):
            urls.append(SQLITE)  # a file in the run's temporary directory
        if args.store in ("postgres", "both"):
            if postgres_reachable(POSTGRES_URL):
                urls.append(POSTGRES_URL)
            elif args.store == "postgres":
                parser.error("PostgreSQL not reachable at 127.0.0.1:5432")
            else:
                print("PostgreSQL not reachable at 127.0.0.1:5432: SQLite only")
    print(
        f"write path: Vigil's POST /api/v1/cases/{{id}}/notes beside the naive peer's insert; "
        f"{os.cpu_count()} CPUs (the load generator runs on them too)"
    )
    checks: list[tuple[str, bool]] = []
    failed = 0
    for url in urls:
        found, lost = run_store(url, args)
        checks += found
        failed += lost
    for label, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {label}")
    print(f"failed requests: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
