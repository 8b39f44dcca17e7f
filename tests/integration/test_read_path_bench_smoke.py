"""``bench/read_path.py`` still runs: a tiny case on the test's store (SQLite, and PostgreSQL
when reachable), the as-of reads on both bases (after the last event and mid-case) and a
timeline page timed beside a raw SQL read, every figure and the five goals printed, and on
PostgreSQL its schema dropped."""

from __future__ import annotations

from tests.bench_support import left_behind, run_bench


def test_the_read_path_benchmark_prints_its_figures(database_url: str) -> None:
    out = run_bench(
        "read_path.py",
        *("--events", "45", "--samples", "3", "--page", "10"),
        *("--database-url", database_url),
    )
    for figure in (
        "built the case: 45 events",
        "the timeline: 45 events in 5 pages of 10",
        "baseline: raw SQL read of the 45 events",
        "GET /api/v1/cases/{id}?as_of=T&basis=recorded",
        "GET /api/v1/cases/{id}?as_of=T&basis=occurred",
        "GET /api/v1/cases/{id}?as_of=T&basis=recorded (mid-case)",
        "GET /api/v1/cases/{id}?as_of=T&basis=occurred (mid-case)",
        "GET /api/v1/cases/{id}/timeline?limit=10 (a page)",
        "x raw p99",
        "as-of read, recorded basis: p99 under 20 ms",
        "as-of read, occurred basis: p99 under 50 ms",
        "as-of read mid-case, recorded basis: p99 under 20 ms",
        "as-of read mid-case, occurred basis: p99 under 50 ms",
        "timeline page of 10: p99 under 20 ms",
    ):
        assert figure in out, out
    assert out.count("met  ") == 5, out
    assert left_behind(database_url) == [], "the benchmark left its schema behind"
