"""As-of reads and timeline pages of a case read only what they need, and answer as a full replay.

A case's state keeps its clocks (``CaseState.clocks``: the latest recorded_at, whether its events
were recorded in order, how late and how far ahead of the server clock they occurred), so a read
as of T can tell which versions it includes without reading every event: the state comes from
the latest snapshot before them and a few events (``CaseService.get``), a timeline page from the
page's own events (``CaseService.timeline_page``). Where the clocks do not tell (unknown in a
snapshot taken before they were kept, events recorded out of order) the case is replayed whole.

Hypothesis draws case histories (the domain's own decisions, ``tests/unit/test_properties.py``),
sometimes with events recorded out of order and occurred ahead of the clock, writes them to the
log, snapshots them at random versions, and checks that every read on both bases at moments
around the events answers exactly as a fold of the whole filtered history. Both stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import application.cases as cases_module
from application.cases import CaseService
from domain.case.errors import CaseNotFound
from domain.case.events import CaseEvent
from domain.case.state import CaseState, fold
from domain.shared import Basis
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from tests.conftest import Clock
from tests.story import LEAD, Story, add_note, open_case
from tests.unit.test_properties import START, _live, intentions

BASES = [Basis.RECORDED, Basis.OCCURRED]


@pytest.fixture
def settings_small(settings: Settings) -> Settings:
    return settings.model_copy(update={"snapshot_interval": 3})


@pytest.fixture
def small(settings_small: Settings, clock: Clock) -> Iterator[Vigil]:
    app = bootstrap(settings_small, clock=clock)
    try:
        yield app
    finally:
        app.close()


def when(e: CaseEvent, basis: Basis) -> Any:
    return e.recorded_at if basis is Basis.RECORDED else e.occurred_at


def replayed(vigil: Vigil, case_id: UUID, as_of: Any, basis: Basis) -> CaseState | None:
    """Today's answer: every event of the case read, filtered by T, folded."""
    return fold(None, vigil.cases.timeline(case_id, as_of=as_of, basis=basis))


def read(vigil: Vigil, case_id: UUID, as_of: Any, basis: Basis) -> CaseState | None:
    try:
        return vigil.cases.get(case_id, as_of=as_of, basis=basis)
    except CaseNotFound:
        return None


def all_pages(
    cases: CaseService, case_id: UUID, limit: int, as_of: Any, basis: Basis
) -> tuple[list[int], set[int], set[int | None]]:
    """Every page's versions joined, the totals and the versions the pages answered."""
    versions: list[int] = []
    totals: set[int] = set()
    lasts: set[int | None] = set()
    after = 0
    while True:
        page = cases.timeline_page(case_id, after=after, limit=limit, as_of=as_of, basis=basis)
        assert len(page.events) <= limit
        versions += [e.originator_version for e in page.events]
        totals.add(page.total)
        lasts.add(page.version)
        if not page.more:
            return versions, totals, lasts
        after = page.events[-1].originator_version


def perturbed(events: list[CaseEvent], shifts: list[tuple[int, int]]) -> list[CaseEvent]:
    """The events with some recorded earlier than the one before them (out of order) and some
    occurred ahead of their recording (within the allowed clock skew)."""
    found = []
    for n, e in enumerate(events):
        back, ahead = shifts[n % len(shifts)] if shifts else (0, 0)
        update: dict[str, Any] = {}
        if back and n > 0:
            update["recorded_at"] = e.recorded_at - timedelta(minutes=back)
        if ahead:
            update["occurred_at"] = e.occurred_at + timedelta(minutes=ahead)
        found.append(e.model_copy(update=update) if update else e)
    return found


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    steps=intentions,
    shifts=st.one_of(
        st.just([]),
        st.lists(
            st.tuples(st.sampled_from([0, 0, 30, 2000, 20000]), st.sampled_from([0, 0, 0, 1, 5])),
            min_size=1,
            max_size=6,
        ),
    ),
    snapshots=st.lists(st.integers(min_value=1, max_value=60), max_size=4),
    moments=st.lists(st.integers(min_value=-30, max_value=30), min_size=1, max_size=4),
    limits=st.lists(st.sampled_from([1, 2, 3, 7, 100]), min_size=1, max_size=2),
    window=st.sampled_from([1, 2, 5, 32]),
)
def test_as_of_reads_and_pages_answer_as_a_full_replay(
    small: Vigil,
    steps: Any,
    shifts: list[tuple[int, int]],
    snapshots: list[int],
    moments: list[int],
    limits: list[int],
    window: int,
) -> None:
    # The search for the last version recorded by T reads windows of this many events' times:
    # small ones so that short histories take its every turn.
    kept, cases_module._WINDOW = cases_module._WINDOW, window
    try:
        check_reads(small, steps, shifts, snapshots, moments, limits)
    finally:
        cases_module._WINDOW = kept


def check_reads(
    small: Vigil,
    steps: Any,
    shifts: list[tuple[int, int]],
    snapshots: list[int],
    moments: list[int],
    limits: list[int],
) -> None:
    story, _ = _live(steps)
    events = perturbed(story.events, shifts)
    case_id = story.case_id
    small.event_log.save(*events)
    for v in sorted({min(v, len(events)) for v in snapshots}):
        small.cases.take_snapshot(case_id, version=v)  # as the write path takes them
    current = small.cases.load(case_id)
    assert current is not None
    assert current.clocks is not None
    event("in order" if current.clocks.recorded_in_order else "out of order")
    # Moments around the events' times on both clocks, and before and after them all.
    times = sorted({e.recorded_at for e in events} | {e.occurred_at for e in events})
    picks = [times[abs(m) % len(times)] + timedelta(seconds=m) for m in moments]
    picks += [times[0] - timedelta(days=1), times[-1] + timedelta(days=1)]
    for as_of in picks:
        for basis in BASES:
            expected = replayed(small, case_id, as_of, basis)
            assert read(small, case_id, as_of, basis) == expected, (as_of, basis)
            whole = small.cases.timeline(case_id, as_of=as_of, basis=basis)
            assert [e.originator_version for e in whole] == [
                e.originator_version for e in events if when(e, basis) <= as_of
            ]
            for limit in limits:
                versions, totals, lasts = all_pages(small.cases, case_id, limit, as_of, basis)
                assert versions == [e.originator_version for e in whole]
                assert totals == {len(whole)}
                assert lasts == {whole[-1].originator_version if whole else None}
    for limit in limits:
        versions, totals, lasts = all_pages(small.cases, case_id, limit, None, Basis.RECORDED)
        assert versions == list(range(1, len(events) + 1))
        assert totals == {len(events)}
        assert lasts == {len(events)}


# --- the stories: the shortcut taken where the clocks tell, the replay where they do not ------


class Decoded:
    """Counts the events the log unseals (the costly decode) while it is attached."""

    def __init__(self, vigil: Vigil, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        mapper: Any = vigil.event_log.mapper
        original = mapper.to_domain_event

        def counting(stored: Any) -> Any:
            self.count += 1
            return original(stored)

        monkeypatch.setattr(mapper, "to_domain_event", counting)


def long_case(vigil: Vigil, clock: Clock, events: int, *, back: int = 0) -> list[CaseEvent]:
    """A case of ``events`` events written one at a time through the service, a minute apart
    (each note ``back`` minutes back-dated): snapshotted every 50 versions as in service."""
    opened = vigil.cases.execute(None, open_case(), LEAD).state
    case_id = opened.id
    for _ in range(events - 1):
        now = clock.advance(minutes=1)
        occurred = max(now - timedelta(minutes=back), opened.opened_at) if back else None
        vigil.cases.execute(case_id, add_note(occurred_at=occurred), LEAD)
    return list(vigil.cases.timeline(case_id))


def fresh(vigil: Vigil, settings: Settings, clock: Clock) -> Vigil:
    """Another process on the same store (nothing cached)."""
    del vigil
    return bootstrap(settings, clock=clock)


def test_an_as_of_read_of_a_long_case_unseals_a_snapshot_interval_not_the_case(
    vigil: Vigil, settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = long_case(vigil, clock, 160, back=3)
    case_id = events[0].originator_id
    other = fresh(vigil, settings, clock)
    try:
        decoded = Decoded(other, monkeypatch)
        for basis in BASES:
            for e in (events[70], events[-1]):
                for as_of in (e.recorded_at, e.occurred_at + timedelta(seconds=30)):
                    decoded.count = 0
                    state = other.cases.get(case_id, as_of=as_of, basis=basis)
                    # The latest snapshot (every 50) and at most an interval of events after it,
                    # besides the current state's tail: never the 160 events.
                    assert decoded.count < 60, (basis, as_of, decoded.count)
                    assert state == replayed(other, case_id, as_of, basis)
        decoded.count = 0
        page = other.cases.timeline_page(case_id, after=100, limit=10, as_of=None)
        assert [e.originator_version for e in page.events] == list(range(101, 111))
        assert (page.total, page.version, page.more) == (160, 160, True)
        assert decoded.count < 25
        decoded.count = 0
        mid = events[120].recorded_at
        page = other.cases.timeline_page(case_id, after=0, limit=5, as_of=mid, basis=Basis.RECORDED)
        assert [e.originator_version for e in page.events] == [1, 2, 3, 4, 5]
        assert (page.total, page.version) == (121, 121)
        assert decoded.count < 25
    finally:
        other.close()


def test_a_case_recorded_out_of_order_is_replayed_whole(
    vigil: Vigil, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = Story.opened(start=START)
    # The third note recorded before the second (a server clock stepped back).
    for minutes in (5, 10, 7, 20):
        story.given(add_note(), now=START + timedelta(minutes=minutes))
    vigil.event_log.save(*story.events)
    case_id = story.case_id
    current = vigil.cases.load(case_id)
    assert current is not None
    assert current.clocks is not None
    assert current.clocks.recorded_in_order is False
    replays = []
    original = vigil.cases.timeline
    monkeypatch.setattr(
        vigil.cases, "timeline", lambda *a, **k: replays.append(k) or original(*a, **k)
    )
    as_of = START + timedelta(minutes=8)
    state = vigil.cases.get(case_id, as_of=as_of)
    assert len(replays) == 1
    assert state.version == 4  # versions 1, 2 and 4 were recorded by then, 3 only later
    assert state.notes == 2
    page = vigil.cases.timeline_page(case_id, after=0, limit=2, as_of=as_of)
    assert len(replays) == 2
    assert [e.originator_version for e in page.events] == [1, 2]
    assert (page.total, page.version, page.more) == (3, 4, True)


def test_a_case_whose_clocks_are_unknown_is_replayed_whole(
    vigil: Vigil, settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = long_case(vigil, clock, 12)
    case_id = events[0].originator_id
    # A snapshot taken before the clocks were kept (at the current version, so it is the latest).
    state = vigil.cases.load(case_id)
    assert state is not None
    vigil.cases._cases.snapshot(state.model_copy(update={"clocks": None}))
    other = fresh(vigil, settings, clock)
    try:
        current = other.cases.load(case_id)
        assert current is not None
        assert current.clocks is None
        replays = []
        original = other.cases.timeline
        monkeypatch.setattr(
            other.cases, "timeline", lambda *a, **k: replays.append(k) or original(*a, **k)
        )
        as_of = events[5].recorded_at
        assert other.cases.get(case_id, as_of=as_of).version == 6
        page = other.cases.timeline_page(case_id, after=0, limit=4, as_of=as_of)
        assert (page.total, page.version, page.more) == (6, 6, True)
        assert len(replays) == 2
    finally:
        other.close()
