"""Catching up with the log, exactly once: the one compare-and-set loop every follower uses.

A follower (the views, together in the ``Projector`` or one alone in a ``ViewRunner``; the
notary's hash ledger) keeps a position of its own beside its tables: the notification id of the
last event it applied. To catch up, it reads a batch of notifications from the log past that
position, works out its writes outside any transaction, then in ONE transaction moves the
position from where it read to the batch's last notification id (compare-and-set) and makes
its writes. The compare-and-set is the transaction's first statement: it takes the row's lock
(PostgreSQL) or the write lock (SQLite) before anything else is done. If it matches no row,
another follower (thread or process) got there first: the transaction is rolled back
(``Raced``) and the batch read again from the new position. If the process dies before the
commit, neither happened. So every event is applied exactly once, and the tables are always
the fold of the log up to the position.

On PostgreSQL, notification ids follow commit order (the recorder inserts under an EXCLUSIVE
table lock), so reading ``id > position`` never passes over an event committed later with a
smaller id. eventsourcing's own ``ProjectionRunner`` is not used: it needs a subscription
(PostgreSQL only), builds its own application, and commits one event per transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import structlog
from eventsourcing.persistence import Notification

from projections.bulk_write import COPY_ROWS
from projections.store import Tx

if TYPE_CHECKING:
    from projections.runner import Statement

logger = structlog.get_logger(__name__)

S = TypeVar("S")


class Raced(Exception):
    """Another follower moved the position first; roll back and read again."""


class Tracked(ABC, Generic[S]):
    """Something kept up to date with the log through a position of its own; ``catch_up``
    moves it. ``S``: what it reads of its own state before each batch (positions, a tree)."""

    @abstractmethod
    def where(self) -> tuple[int, S]:
        """The position to read the next batch after, and the state the batch applies to."""

    def limit(self, state: S, limit: int) -> int:
        """How many events the next batch may hold (at most ``limit``)."""
        return limit

    @abstractmethod
    def apply(self, state: S, notifications: Sequence[Notification]) -> None:
        """In one transaction, the compare-and-set of the position from ``state`` to the
        batch's end first (``Raced`` if it matches nothing), then the batch's writes."""

    def raced(self, start: int) -> None:
        """The position moved from ``start`` while a batch was read (it is read again)."""
        logger.debug("position_moved", follower=type(self).__name__, read_from=start)


def catch_up(
    tracked: Tracked[Any], recorder: Any, batch_size: int, max_events: int | None = None
) -> int:
    """Apply everything the log holds past ``tracked``'s position (at most ``max_events``
    events of the log), in batches of one transaction each. Returns how many events of the log
    were read (events of no interest to the follower count too)."""
    consumed = 0
    while max_events is None or consumed < max_events:
        limit = batch_size if max_events is None else min(batch_size, max_events - consumed)
        read = apply_next_batch(tracked, recorder, limit)
        if read == 0:
            break
        consumed += read
    return consumed


def apply_next_batch(tracked: Tracked[Any], recorder: Any, limit: int) -> int:
    """Read and apply one batch of at most ``limit`` events; 0 when up to date."""
    while True:
        start, state = tracked.where()
        notifications = recorder.select_notifications(
            start=start + 1, limit=tracked.limit(state, limit)
        )
        if not notifications:
            return 0
        try:
            tracked.apply(state, notifications)
        except Raced:
            tracked.raced(start)
            continue
        return len(notifications)


def advance(tx: Tx, tracking: str, name: str, start: int, end: int, count: int) -> bool:
    """Compare-and-set the tracking row ``name`` (in the table ``tracking``, quoted SQL) from
    ``start`` to ``end``, counting the ``count`` events of the log it was handed in between
    (False: it was not at ``start``). The count is what ``vigil verify`` checks the position
    against (``projections.view_check``)."""
    moved = tx.fetchone(
        f"UPDATE {tracking} SET notification_id = %(end)s, "  # noqa: S608 - a quoted constant
        "applied_events = applied_events + %(count)s "
        "WHERE view_name = %(name)s AND notification_id = %(start)s "
        "RETURNING notification_id",
        {"name": name, "start": start, "end": end, "count": count},
    )
    return moved is not None


def advance_all(
    tx: Tx,
    tracking: str,
    moves: Sequence[tuple[str, int, int]],
    end: int,
    *,
    dialect: str,
    lock_in_order: bool = True,
) -> bool:
    """``advance`` for several tracking rows at once, in one statement (two on PostgreSQL when
    ``lock_in_order``): each ``(name, start, count)`` moved from ``start`` to ``end``, counting
    ``count`` events; False if any was not at its ``start`` (then the caller rolls back).

    On PostgreSQL the rows are first locked in name order (``SELECT ... ORDER BY ... FOR
    UPDATE``), so two projectors moving overlapping rows cannot deadlock; a lone filler of side
    tables may skip it. On SQLite the transaction already holds the database's write lock."""
    if not moves:
        return True
    names = [name for name, _, _ in moves]
    if dialect == "postgresql":
        if lock_in_order:
            tx.fetchall(
                f"SELECT view_name FROM {tracking} "  # noqa: S608 - a quoted constant
                "WHERE view_name = ANY(%(names)s::text[]) "
                "ORDER BY view_name FOR UPDATE",
                {"names": names},
            )
        moved = tx.fetchall(
            f"UPDATE {tracking} AS t SET notification_id = %(end)s, "  # noqa: S608 - a constant
            "applied_events = t.applied_events + w.handed "
            "FROM unnest(%(names)s::text[], %(starts)s::bigint[], %(counts)s::bigint[]) "
            "AS w(name, start, handed) "
            "WHERE t.view_name = w.name AND t.notification_id = w.start "
            "RETURNING t.view_name",
            {
                "end": end,
                "names": names,
                "starts": [start for _, start, _ in moves],
                "counts": [count for _, _, count in moves],
            },
        )
    else:
        params: dict[str, Any] = {"end": end}
        rows = []
        for i, (name, start, count) in enumerate(moves):
            params |= {f"n{i}": name, f"s{i}": start, f"c{i}": count}
            rows.append(f"SELECT %(n{i})s AS name, %(s{i})s AS start, %(c{i})s AS handed")
        moved = tx.fetchall(
            # SQLite's RETURNING names the table's columns unqualified.
            f"UPDATE {tracking} SET notification_id = %(end)s, "  # noqa: S608 - bound values
            "applied_events = applied_events + w.handed "
            f"FROM ({' UNION ALL '.join(rows)}) AS w "
            "WHERE view_name = w.name AND notification_id = w.start "
            "RETURNING view_name",
            params,
        )
    return len(moved) == len(moves)


def run_statements(tx: Tx, statements: Sequence[Statement]) -> None:
    """Run statements in order; consecutive runs of the same SQL go as one ``executemany``;
    ``COPY_ROWS`` (from a ``WriteBuffer``) as one ``COPY``."""
    i = 0
    while i < len(statements):
        sql = statements[i][0]
        if sql == COPY_ROWS:
            params = statements[i][1]
            tx.copy_rows(params["table"], params["columns"], params["rows"], params.get("types"))
            i += 1
            continue
        j = i + 1
        while j < len(statements) and statements[j][0] == sql:
            j += 1
        if j - i == 1:
            tx.execute(sql, statements[i][1])
        else:
            tx.executemany(sql, [params for _, params in statements[i:j]])
        i = j
