"""Every work queue's total and overdue count at a moment (what ``GET /api/v1/queues``
answers, through ``WorkQueues.counts``), without counting every open item: totals from the kept
counts (``work_queue_counts``, per queue and category, kept by ``WorkQueuesView``), overdue
items and idle cases by index ranges.

Every table name here is a quoted constant (``ViewStore.table``), every value a bound
parameter."""

# ruff: noqa: S608

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domain.access.rules import Visibility
from projections.queue_rows import QUEUE_DESCRIPTIONS, Queue, QueueCount
from projections.restricted import restricted_seen, restriction_clause
from projections.store import Tx, ViewStore


def count_queues(
    store: ViewStore,
    table: str,
    counts_table: str,
    due_queues: tuple[Queue, ...],
    *,
    as_of: datetime,
    idle_days: int,
    assignee: str | None,
    visibility: Visibility | None,
) -> list[QueueCount]:
    """See ``WorkQueues.counts``: ``table`` holds the queue items, ``counts_table`` the kept
    counts (both quoted SQL); ``due_queues`` are the queues whose items have due times."""
    params: dict[str, Any] = {
        "as_of": store.encode_time(as_of),
        "cutoff": store.encode_time(as_of - timedelta(days=idle_days)),
        "idle": Queue.NO_RECENT_ACTION.value,
        "assignee": assignee,
    }
    mine = " AND assignee = %(assignee)s" if assignee is not None else ""
    restricted = restriction_clause(store, visibility, params)
    if restricted is not None:
        mine += f" AND {restricted}"
    found: dict[str, tuple[int, int]] = {}
    with store.transaction(commit=False) as tx:
        if assignee is not None:
            # The assignee's own items (a caseload), by the assignee index.
            rows = tx.fetchall(
                "SELECT queue, COUNT(*) AS total, "
                "SUM(CASE WHEN due_at < %(as_of)s THEN 1 ELSE 0 END) AS overdue "
                f"FROM {table} WHERE assignee = %(assignee)s AND queue <> %(idle)s{mine} "
                "GROUP BY queue",
                params,
            )
            found = {row["queue"]: (int(row["total"]), int(row["overdue"] or 0)) for row in rows}
        else:
            totals = _kept_totals(tx, store, table, counts_table, visibility)
            overdue = _overdue(tx, table, due_queues, params, mine)
            found = {queue: (total, overdue.get(queue, 0)) for queue, total in totals.items()}
        idle = tx.fetchone(
            f"SELECT COUNT(*) AS total FROM {table} "
            f"WHERE queue = %(idle)s AND since_at < %(cutoff)s{mine}",
            params,
        )
    idle_total = int(idle["total"]) if idle is not None else 0
    found[Queue.NO_RECENT_ACTION.value] = (idle_total, idle_total)
    return [
        QueueCount(
            name=queue,
            description=QUEUE_DESCRIPTIONS[queue],
            total=found.get(queue.value, (0, 0))[0],
            overdue=None if queue is Queue.HIGH_RISK_OPEN else found.get(queue.value, (0, 0))[1],
        )
        for queue in Queue
    ]


def _kept_totals(
    tx: Tx, store: ViewStore, table: str, counts_table: str, visibility: Visibility | None
) -> dict[str, int]:
    """Each queue's items a reader may see (no_recent_action: every open case), from the
    kept counts: the categories not restricted to them, plus the restricted items they may
    see (``restricted_seen``: assigned to them, or on a case they hold a grant on) counted by
    index."""
    hidden = set(visibility.restricted) if visibility is not None else set()
    totals: dict[str, int] = {}
    for row in tx.fetchall(f"SELECT queue, category, total FROM {counts_table}"):
        if row["category"] not in hidden:
            totals[row["queue"]] = totals.get(row["queue"], 0) + int(row["total"])
    params: dict[str, Any] = {"idle": Queue.NO_RECENT_ACTION.value}
    parts = [
        f"SELECT queue FROM {table} WHERE {seen} AND queue <> %(idle)s"
        for seen in restricted_seen(store, visibility, params)
    ]
    if parts:
        for row in tx.fetchall(
            "SELECT queue, COUNT(*) AS total FROM ("
            + " UNION ALL ".join(parts)
            + ") AS seen GROUP BY queue",
            params,
        ):
            totals[row["queue"]] = totals.get(row["queue"], 0) + int(row["total"])
    return totals


def _overdue(
    tx: Tx, table: str, due_queues: tuple[Queue, ...], params: dict[str, Any], mine: str
) -> dict[str, int]:
    """Items overdue at ``as_of`` per queue with due times: one index range each."""
    parts = []
    for n, queue in enumerate(due_queues):
        params[f"oq{n}"] = queue.value
        parts.append(
            f"SELECT queue, COUNT(*) AS overdue FROM {table} "
            f"WHERE queue = %(oq{n})s AND due_at < %(as_of)s{mine} GROUP BY queue"
        )
    rows = tx.fetchall(" UNION ALL ".join(parts), params)
    return {row["queue"]: int(row["overdue"]) for row in rows}
