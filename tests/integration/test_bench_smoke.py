"""The PostgreSQL benchmarks still run: a small log, every figure printed, their schema dropped.

``bench/projections.py`` (rebuild and lag), ``bench/verify.py`` (the hash ledger),
``bench/shift_log.py`` (a shift's log and who was on call), ``bench/contacts.py`` (logging a
contact, the contact queue and list), ``bench/reports.py`` (the trustee pack and the SLA report
for a quarter) and ``bench/intake.py`` (signed Discourse deliveries beside case notes). PostgreSQL
only (the benchmarks' store): skipped without a server, failed when VIGIL_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.bench_support import left_behind, run_bench
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, postgres_available

pytestmark = pytest.mark.postgres

PROJECTIONS = (
    "projections.py",
    ["--events", "5000", "--lag-seconds", "2", "--write-rate", "100"],
    [
        "built the log:",
        "(a) raw sequential read",
        "(b) rebuild of all views together",
        "(c) rebuild / raw read:",
        "(d) lag under load:",
        "p50",
        "p99",
    ],
)
VERIFY = (
    "verify.py",
    ["--events", "3000", "--seed-events", "1000", "--checkpoint-every", "100"],
    [
        "(a) notary catch-up",
        "(b) raw sequential read",
        "(c) the same rows",
        "(d) verify",
        "(e) verify / raw read",
        "(f) verify's views part",
        "PASS  verify finds the untouched log intact",
    ],
)

SHIFT_LOG = (
    "shift_log.py",
    [
        "--events",
        "6000",
        "--seed-events",
        "1500",
        "--shifts",
        "300",
        "--actions",
        "1000",
        "--samples",
        "20",
    ],
    [
        "appended the rota (300 shifts) and the night (1,000 actions)",
        "the night's shift: 1,000 actions on the first page",
        "(a) raw SQL read of the shift's action rows",
        "the shift log, read model",
        "GET /api/v1/shifts/{id}/log over HTTP",
        "(b) raw SQL read of the plan and attendance rows at T",
        "GET /api/v1/on-call over HTTP",
        "the raw read at p50",
    ],
)

CONTACTS = (
    "contacts.py",
    ["--contacts", "600", "--samples", "20"],
    [
        "decided 600 contacts in memory",
        "appended the contacts:",
        "views rebuilt from the log:",
        "contacts_awaiting_review:",
        "(a) POST /api/v1/contacts (log a contact)",
        "POST /api/v1/cases/{id}/notes (a case note)",
        "logging a contact / a case note:",
        "GET /api/v1/queues/contacts_awaiting_review",
        "GET /api/v1/contacts?reviewed=false",
        "p99",
    ],
)

REPORTS = (
    "reports.py",
    ["--events", "3000", "--shifts", "100", "--contact-every", "20", "--repeat", "1"],
    [
        "built the log:",
        "setup: report_facts and actor_activity rebuilt from the log:",
        "setup: hash ledger caught up:",
        "the quarter:",
        "the report facts count the same: yes",
        "(1) trustee pack (report + to_json)",
        "(2) SLA report (report + to_json)",
        "(3) raw SQL: cases opened by category",
        "PASS  the raw aggregate and the report facts count the same cases",
    ],
)


INTAKE = (
    "intake.py",
    ["--deliveries", "60", "--clients", "2"],
    [
        "(a) signed deliveries accepted (post_created):",
        "(b) case notes (POST /api/v1/cases/{id}/notes):",
        "deliveries / case notes:",
        "p99",
        "PASS  every delivery accepted once (60 of 60",
        "PASS  a wrongly signed delivery refused (401) with nothing written",
    ],
)


@pytest.mark.parametrize(
    ("script", "arguments", "figures"),
    [PROJECTIONS, VERIFY, SHIFT_LOG, CONTACTS, REPORTS, INTAKE],
    ids=["projections", "verify", "shift_log", "contacts", "reports", "intake"],
)
def test_the_benchmark_prints_its_figures_and_leaves_nothing_behind(
    script: str, arguments: list[str], figures: list[str]
) -> None:
    if not postgres_available():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (VIGIL_REQUIRE_POSTGRES=1): {POSTGRES_URL}")
        pytest.skip("PostgreSQL not reachable")
    server = POSTGRES_URL.split("?")[0]
    schema = f"bench_smoke_{uuid.uuid4().hex[:12]}"
    url = f"{server}?schema={schema}"
    try:
        out = run_bench(script, *arguments, "--database-url", url)
        left = left_behind(url)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    for figure in figures:
        assert figure in out, out
    assert out.count("PASS") + out.count("FAIL") == 2, out
    assert left == [], "the benchmark left its schema behind"
