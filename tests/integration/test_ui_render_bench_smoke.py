"""``bench/ui_render.py`` still runs: a tiny log on the test's store (SQLite, and PostgreSQL when
reachable), the case page and queue page timed beside the API, every figure and both checks
printed, and on PostgreSQL its schema dropped."""

from __future__ import annotations

from tests.bench_support import left_behind, run_bench


def test_the_render_benchmark_prints_its_figures(database_url: str) -> None:
    out = run_bench(
        "ui_render.py",
        *("--case-events", "40", "--queue-items", "60", "--samples", "3"),
        *("--database-url", database_url),
    )
    for figure in (
        "built the log:",
        "the case: 40 events; the queue flags_awaiting_action:",
        "the queue page shows 50 items (one page) and the totals",
        "(a) case page GET /ui/cases/{id}",
        "API GET /api/v1/cases/{id} + /timeline",
        "(b) queue page GET /ui/queues/flags_awaiting_action",
        "API GET /api/v1/queues/flags_awaiting_action",
        "x API p95",
        "the case page (40 events) p95 under 300 ms",
        "the queue page (",
    ):
        assert figure in out, out
    assert out.count("PASS") + out.count("FAIL") == 2, out
    assert left_behind(database_url) == [], "the benchmark left its schema behind"
