"""The write buffer a rebuild fills side tables through: the same tables as writing straight.

A rebuild hands each view a buffered store (``ViewStore.buffered``): ``bulk_insert`` and
``bulk_delete`` are held in memory, an upsert replacing the row with its key and a delete
removing rows, and what is held is written later by ``COPY`` (append-only tables at every
batch, the rest at the end). Hypothesis draws sequences of batches of upserts, plain inserts,
deletes and raw statements; each sequence is applied once straight to a pair of empty tables
and once through a buffer to another pair, flushed as the rebuild flushes it. Then both pairs
hold the same rows. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from projections.bulk_write import BUFFERED_WRITE, COPY_ROWS, bulk_delete, bulk_insert
from projections.catch_up import run_statements
from projections.runner import Statement
from projections.store import Tx, ViewStore, view_store_for
from tests.conftest import POSTGRES_URL

KEYED = "wb_cases"  # one row per case: upserted (a case summary)
ITEMS = "wb_items"  # rows deleted by case and written again (work queue items)
LOG = "wb_log"  # append-only (actor activity)
CASES = [uuid.UUID(int=n) for n in range(1, 6)]
T0 = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)

Op = tuple[Any, ...]

ops = st.one_of(
    # upsert: (case, status, count)
    st.tuples(
        st.just("upsert"),
        st.lists(
            st.tuples(
                st.sampled_from(CASES), st.sampled_from(["open", "closed"]), st.integers(0, 9)
            ),
            min_size=1,
            max_size=4,
            unique_by=lambda row: row[0],  # a view upserts a case once per statement
        ),
    ),
    # the case's items deleted, then written again: (cases, items per case)
    st.tuples(
        st.just("items"),
        st.lists(st.sampled_from(CASES), min_size=1, max_size=3, unique=True),
        st.integers(0, 3),
    ),
    # delete a case's summary (its id as the store encodes it, or as text)
    st.tuples(
        st.just("delete"),
        st.lists(st.sampled_from(CASES), min_size=1, max_size=2),
        st.booleans(),
    ),
    # append to the log
    st.tuples(st.just("log"), st.integers(1, 4)),
    # raw SQL the buffer cannot see into
    st.tuples(st.just("raw"), st.sampled_from(CASES)),
)
batches = st.lists(st.lists(ops, max_size=6), min_size=1, max_size=8)


def create(store: ViewStore) -> list[str]:
    uid, ts = store.uuid_type, store.time_type
    return [
        f"CREATE TABLE {store.table(KEYED)} (case_id {uid} PRIMARY KEY, status TEXT NOT NULL, "
        "count INTEGER NOT NULL, bumped INTEGER NOT NULL DEFAULT 0)",
        f"CREATE TABLE {store.table(ITEMS)} (item_id {uid} PRIMARY KEY, case_id {uid} NOT NULL, "
        f"due_at {ts}, n INTEGER NOT NULL)",
        f"CREATE TABLE {store.table(LOG)} (position BIGINT PRIMARY KEY, actor TEXT NOT NULL, "
        f"at {ts} NOT NULL)",
    ]


def drop(store: ViewStore) -> list[str]:
    return [f"DROP TABLE IF EXISTS {store.table(name)}" for name in (KEYED, ITEMS, LOG)]


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n


def statements(store: ViewStore, op: Op, counter: Counter) -> list[Statement]:
    """What a view would return for ``op`` (the same calls, buffered or not)."""
    kind = op[0]
    if kind == "upsert":
        rows = [
            {"case_id": store.encode_uuid(case), "status": status, "count": count}
            for case, status, count in op[1]
        ]
        return bulk_insert(
            store, store.table(KEYED), ("case_id", "status", "count"), rows, upsert_key=("case_id",)
        )
    if kind == "items":
        cases, per_case = op[1], op[2]
        out = bulk_delete(
            store,
            store.table(ITEMS),
            "case_id",
            [store.encode_uuid(case) for case in cases],
            sql_type="uuid",
        )
        rows = []
        for case in cases:
            for _ in range(per_case):
                n = counter.next()
                rows.append(
                    {
                        "item_id": store.encode_uuid(uuid.UUID(int=1000 + n)),
                        "case_id": store.encode_uuid(case),
                        "due_at": store.encode_time(T0 + timedelta(hours=n) if n % 3 else None),
                        "n": n,
                    }
                )
        return out + bulk_insert(
            store, store.table(ITEMS), ("item_id", "case_id", "due_at", "n"), rows
        )
    if kind == "delete":
        values = [str(case) if op[2] else store.encode_uuid(case) for case in op[1]]
        return bulk_delete(store, store.table(KEYED), "case_id", values, sql_type="uuid")
    if kind == "log":
        rows = [
            {"position": counter.next(), "actor": "lee", "at": store.encode_time(T0)}
            for _ in range(op[1])
        ]
        return bulk_insert(store, store.table(LOG), ("position", "actor", "at"), rows)
    return [
        (
            f"UPDATE {store.table(KEYED)} SET bumped = bumped + 1 WHERE case_id = %(case)s",
            {"case": store.encode_uuid(op[1])},
        )
    ]


def contents(store: ViewStore) -> dict[str, list[tuple[Any, ...]]]:
    with store.transaction(commit=False) as tx:
        return {
            name: sorted(
                (
                    tuple(str(v) for v in row.values())
                    for row in tx.fetchall(f"SELECT * FROM {store.table(name)}")
                ),
            )
            for name in (KEYED, ITEMS, LOG)
        }


@pytest.fixture
def vigil(database_url: str) -> Iterator[Vigil]:
    app = bootstrap(Settings(_env_file=None, environment="test", database_url=database_url))
    try:
        yield app
    finally:
        app.close()
        if "schema=" in database_url:
            schema = database_url.split("schema=")[1]
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=batches)
def test_writes_through_the_buffer_leave_the_tables_writing_straight_leaves(
    vigil: Vigil, history: list[list[Op]]
) -> None:
    base = view_store_for(vigil.event_log.recorder)
    straight, aside = base.with_suffix("__straight"), base.with_suffix("__buffered")
    with base.transaction(commit=True) as tx:
        for store in (straight, aside):
            for statement in drop(store) + create(store):
                tx.execute(statement)

    # Given the history written straight, batch by batch
    counter = Counter()
    for batch in history:
        with straight.transaction(commit=True) as tx:
            for op in batch:
                run_statements(tx, statements(straight, op, counter))

    # When the same history goes through a buffer, flushed as a rebuild flushes it
    buffered = aside.buffered()
    assert buffered.buffer is not None
    counter = Counter()
    for batch in history:
        held: list[Statement] = []
        for op in batch:
            held += statements(buffered, op, counter)
        assert all(sql != COPY_ROWS for sql, _ in held)
        to_run = buffered.buffer.route(held) + buffered.buffer.flush_streaming()
        assert all(sql != BUFFERED_WRITE for sql, _ in to_run)
        with aside.transaction(commit=True) as tx:
            run_statements(tx, to_run)
    with aside.transaction(commit=True) as tx:
        run_statements(tx, buffered.buffer.flush())

    # Then both hold the same rows
    assert contents(aside) == contents(straight)


def test_a_buffered_write_never_reaches_the_database_as_sql(vigil: Vigil) -> None:
    base = view_store_for(vigil.event_log.recorder)
    store = base.with_suffix("__guard")
    with base.transaction(commit=True) as tx:
        for statement in drop(store) + create(store):
            tx.execute(statement)
    held = statements(store.buffered(), ("log", 2), Counter())
    assert [sql for sql, _ in held] == [BUFFERED_WRITE]

    # Sent by mistake (not routed through its buffer), it fails instead of doing nothing
    with pytest.raises(Exception, match="VIGIL"), store.transaction(commit=True) as tx:
        tx.execute(held[0][0])
    assert contents(store)[LOG] == []


def outcome(store: ViewStore, write: Callable[[Tx], None]) -> str | list[tuple[Any, ...]]:
    """The rows of the keyed table after ``write``, or "refused"."""
    try:
        with store.transaction(commit=True) as tx:
            write(tx)
    except Exception:  # any refusal: compared below
        return "refused"
    return contents(store)[KEYED]


@pytest.mark.parametrize(
    "row",
    [
        (uuid.UUID(int=7), "open", 1),
        (str(uuid.UUID(int=7)), "open", 1),  # a UUID as text: not the binary form's type
        (uuid.UUID(int=7), "open", 2**40),  # beyond INTEGER (PostgreSQL; SQLite takes it)
        (uuid.UUID(int=7), "open", True),
    ],
)
def test_copy_stores_or_refuses_exactly_what_an_insert_does(
    vigil: Vigil, row: tuple[Any, ...]
) -> None:
    base = view_store_for(vigil.event_log.recorder)
    inserted, copied = base.with_suffix("__insert"), base.with_suffix("__copy")
    with base.transaction(commit=True) as tx:
        for store in (inserted, copied):
            for statement in drop(store) + create(store):
                tx.execute(statement)
    columns = ("case_id", "status", "count")

    by_insert = outcome(
        inserted,
        lambda tx: run_statements(
            tx,
            bulk_insert(
                inserted, inserted.table(KEYED), columns, [dict(zip(columns, row, strict=True))]
            ),
        ),
    )
    by_copy = outcome(copied, lambda tx: tx.copy_rows(copied.table(KEYED), columns, [row]))

    assert by_copy == by_insert
