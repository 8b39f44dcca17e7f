"""``bench/queue_counts.py`` still runs: a few open cases seeded on the test's store (SQLite, and
PostgreSQL when reachable), the kept counts checked against the GROUP BY they replaced, then
both timed for each kind of reader, and on PostgreSQL its schema dropped."""

from __future__ import annotations

from tests.bench_support import left_behind, run_bench


def test_the_queue_counts_benchmark_prints_its_figures(database_url: str) -> None:
    out = run_bench(
        "queue_counts.py",
        *("--cases", "40,120", "--samples", "3"),
        *("--database-url", database_url),
    )
    for figure in ("40 open cases:", "120 open cases:", "overdue items", "idle cases"):
        assert figure in out, out
    for reader in ("every reader", "a restricted reader", "one assignee"):
        assert out.count(f"baseline GROUP BY over every item, {reader}") == 2, out
        assert out.count(f"WorkQueues.counts (kept counts), {reader}") == 2, out
    assert left_behind(database_url) == [], "the benchmark left its schema behind"
