"""The PostgreSQL pool hands out no connection the server has closed, without a ping per
checkout (``POSTGRES_PRE_PING`` is off): a write and a read after every pooled backend was
terminated succeed, once each.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from domain.shared import Actor, Role
from interfaces.composition import Vigil
from projections.case_summaries import CaseSummaries
from tests import story
from tests.conftest import POSTGRES_URL

LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)


def pooled_backends(vigil: Vigil) -> list[int]:
    """The server process ids of the connections idle in this Vigil's pool (only its own)."""
    pool: Any = vigil.event_log.recorder.datastore.pool
    idle = pool.get_stats()["pool_available"]
    conns = [pool.getconn() for _ in range(idle)]
    try:
        return [conn.info.backend_pid for conn in conns]
    finally:
        for conn in conns:
            pool.putconn(conn)


def terminate(pids: list[int]) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
        deadline = time.monotonic() + 10
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
        ).fetchone() != (0,):
            assert time.monotonic() < deadline, "the backends did not end"
            time.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_write_and_a_read_after_the_pools_backends_were_terminated_succeed_once(
    vigil: Vigil,
) -> None:
    # Given a case written and read, so the pool holds connections
    case = vigil.cases.execute(None, story.open_case(), LEE).state
    summaries = CaseSummaries(vigil.event_log, projector=vigil.projector)
    summaries.catch_up()
    assert summaries.get(case.id) is not None
    pids = pooled_backends(vigil)
    assert pids

    # When the server ends every one of them (an administrator, a restart)
    terminate(pids)

    # Then the next write lands, once
    written = vigil.cases.execute(case.id, story.add_note(), LEE)
    assert written.state.version == case.version + 1
    stored = vigil.event_log.recorder.select_events(case.id)
    assert [e.originator_version for e in stored] == list(range(1, case.version + 2))
    # And the next reads (the log, the views) answer
    terminate(pooled_backends(vigil))
    loaded = vigil.cases.load(case.id)
    assert loaded is not None
    assert loaded.version == case.version + 1
    terminate(pooled_backends(vigil))
    summaries.catch_up()
    assert summaries.get(case.id) is not None
    # And none of the terminated connections is handed out again
    assert not set(pids) & set(pooled_backends(vigil))
