"""How many SQL statements does one note write cost on PostgreSQL, and who sends them (issue 18)?

Serves Vigil (``create_app`` under uvicorn in this process, on a socket of its own, the
projector and the hash ledger's notary following in-process as ``vigil serve`` runs them) on a
throwaway schema of the ``test`` database, opens ``--cases`` cases, then sends ``--writes``
``POST /api/v1/cases/{id}/notes`` (an Idempotency-Key each) from 1 and then from 8 concurrent
clients, counting every statement psycopg sends meanwhile (``Cursor.execute`` and
``executemany``), by who sent it:

- ``authentication``: bringing the token's user (and the persons behind them) up to date;
- ``subject keys``: a data subject's wrapped key, read to seal a personal field;
- ``case read``: reading a case's events before a write;
- ``append``: the write's transaction (its lock, insert and NOTIFY; one per group commit);
- ``projector``: the views following the log (one transaction per batch);
- ``notary``: the hash ledger following the log;
- ``other``: anything else (named by its call site).

It prints the statements per write of each source and their first words, beside the naive
peer's one INSERT (``bench/naive_peer.py``: one statement, one commit per write). Counting
wraps psycopg's cursor in this process only; it slows the server, so only the counts mean
anything here (``bench/write_path.py`` measures speed).

Usage: python bench/statements.py [--writes N] [--cases N] [--database-url URL]
(PostgreSQL only: postgresql://...?schema=NAME, dropped before and after.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout

import psycopg  # noqa: E402
from support import (  # noqa: E402  (bench/support.py)
    Server,
    bench_settings,
    client,
    drop_schema,
    exit_on_sigterm,
    open_cases,
)

from domain.shared import Role  # noqa: E402
from infrastructure.persistence import is_postgres  # noqa: E402
from interfaces.composition import bootstrap  # noqa: E402

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test?schema=bench_statements"
WRITER = "bench.writer"
NOTE = {"kind": "note", "text": "Sent the member a private message; no answer yet."}
# Who sent a statement: the first of these found on its call stack (innermost first).
SOURCES = (
    ("notary", ("notary.py",)),
    ("projector", ("batches.py", "projector.py", "runner.py")),
    ("authentication", ("identity.py",)),
    ("append", ("group_commit.py", "recorders.py")),
    ("subject keys", ("keys.py",)),
    ("case read", ("write_path.py", "access.py", "cases.py")),
)


def source_of(stack: list[traceback.FrameSummary]) -> str:
    files = [frame.filename for frame in reversed(stack)]
    for name, markers in SOURCES:
        if any(file.endswith(marker) for file in files for marker in markers):
            return name
    own = [f for f in stack if str(ROOT) in f.filename and "/bench/" not in f.filename]
    return "other: " + (f"{Path(own[-1].filename).name}:{own[-1].name}" if own else "?")


def words(query: Any, cursor: Any) -> str:
    text = query.as_string(cursor) if hasattr(query, "as_string") else str(query)
    return " ".join(text.split()[:4])


@contextmanager
def counting() -> Iterator[Counter[tuple[str, str]]]:
    """Every statement the server's threads send through psycopg meanwhile, by (source,
    first words); this script's own (on the main thread) are not counted."""
    counts: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()
    execute: Callable[..., Any] = psycopg.Cursor.execute
    executemany: Callable[..., Any] = psycopg.Cursor.executemany

    def counted(original: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is threading.main_thread():
                return original(self, *args, **kwargs)  # this script's own (settle)
            query = args[0] if args else kwargs.get("query")
            key = (source_of(traceback.extract_stack(limit=60)), words(query, self))
            with lock:
                counts[key] += 1
            return original(self, *args, **kwargs)

        return run

    psycopg.Cursor.execute = counted(execute)  # type: ignore[method-assign]
    psycopg.Cursor.executemany = counted(executemany)  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        psycopg.Cursor.execute = execute  # type: ignore[method-assign]
        psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]


def write_notes(base: str, token: str, cases: list[str], writes: int, clients: int) -> None:
    failures: list[str] = []

    def writer(index: int) -> None:
        with client(base, token, timeout=60) as http:
            for n in range(index, writes, clients):
                answer = http.post(
                    f"/api/v1/cases/{cases[n % len(cases)]}/notes",
                    json=NOTE,
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
                if answer.status_code != 201:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} writes failed, the first: {failures[0]}")


def settle(vigil: Any) -> None:
    """Until the views and the hash ledger hold every event written (at most 30 s)."""
    head = vigil.projector.head()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if min(vigil.projector.positions().values()) >= head and (
            vigil.integrity.notary.state().position >= head
        ):
            return
        time.sleep(0.05)
    raise SystemExit("the views did not catch up in 30 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=400, help="notes written per run (400)")
    parser.add_argument("--cases", type=int, default=40, help="cases they spread over (40)")
    parser.add_argument("--database-url", default=POSTGRES_URL)
    args = parser.parse_args()
    exit_on_sigterm()
    if not is_postgres(args.database_url) or "schema=" not in args.database_url:
        parser.error("a postgresql://...?schema=NAME URL (the schema is dropped afterwards)")
    if args.writes < 8 or args.cases < 1:
        parser.error("--writes at least 8, --cases at least 1")
    work = tempfile.TemporaryDirectory(prefix="vigil-statements-")
    settings = bench_settings(args.database_url, data_dir=Path(work.name) / "data")
    drop_schema(args.database_url)
    vigil = bootstrap(settings)
    try:
        vigil.identity.register(WRITER, Role.SAFEGUARDING_LEAD, actor="bench")
        token = vigil.identity.issue_token(WRITER, actor="bench")
        # Started with the app's lifespan: the projector and the notary follow in-process.
        with (
            Server(vigil, lifespan="on") as server,
            client(server.base_url, token, timeout=60) as http,
        ):
            cases = open_cases(http, args.cases)
            report(vigil, server.base_url, token, cases, args)
        return 0
    finally:
        vigil.close()
        drop_schema(args.database_url)
        work.cleanup()


def report(vigil: Any, base: str, token: str, cases: list[str], args: argparse.Namespace) -> None:
    """Count and print the statements of ``args.writes`` notes, from 1 and then 8 clients."""
    settle(vigil)
    print(
        f"statements per note write on PostgreSQL ({args.writes} writes over "
        f"{args.cases} cases, the views and the hash ledger caught up after each run); "
        "the naive peer sends 1 (its INSERT) and commits once"
    )
    for clients in (1, 8):
        with counting() as counts:
            write_notes(base, token, cases, args.writes, clients)
            settle(vigil)
        total = sum(counts.values())
        print(f"\n{clients} client{'s' if clients > 1 else ''}: {total / args.writes:.2f}")
        by_source: Counter[str] = Counter()
        for (source, _), count in counts.items():
            by_source[source] += count
        for source, count in by_source.most_common():
            print(f"  {count / args.writes:6.2f}  {source}")
            for (found, first), n in counts.most_common():
                if found == source:
                    print(f"          {n / args.writes:6.2f}  {first}")


if __name__ == "__main__":
    sys.exit(main())
