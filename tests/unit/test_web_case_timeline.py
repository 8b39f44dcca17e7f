"""The case page's timeline pages: which events a page shows, what it says, and where its links
(and a correction's link to an event on another page) go."""

from __future__ import annotations

from uuid import UUID

import pytest

from interfaces.web.cases import TIMELINE_PAGE, PageLinks, Window

CASE = UUID("7f1d2c3b-0000-4000-8000-000000000001")
BASE = f"/ui/cases/{CASE}"


def test_the_latest_page_is_the_last_hundred_events_and_the_first_page_may_be_short() -> None:
    assert TIMELINE_PAGE == 100
    latest = Window(1050, None)
    assert (latest.start, latest.end, latest.latest) == (950, 1050, True)
    assert latest.words() == "Showing events 951\u20131,050 of 1,050."
    back = Window(1050, 950)
    assert (back.start, back.end, back.latest) == (850, 950, False)
    first = Window(1050, 50)
    assert (first.start, first.end) == (0, 50)
    assert first.words() == "Showing events 1\u201350 of 1,050."
    # Past the end (an as-of view with fewer events): the latest page
    assert (Window(40, 500).start, Window(40, 500).end, Window(40, 500).latest) == (0, 40, True)
    assert Window(40, None).words() == "Showing all 40 events."
    assert Window(1, None).words() == "Showing the only event."


def test_paging_links_keep_the_view_and_name_the_page_by_its_last_event() -> None:
    kept = {"as_of": "2026-11-17T11:20", "basis": "occurred", "from_queue": "", "next": ""}
    latest = PageLinks(CASE, Window(1050, None), kept).paging()
    view = "as_of=2026-11-17T11%3A20&basis=occurred"
    assert latest == {
        "earlier": f"{BASE}?{view}&upto=950#timeline",
        "later": None,
        "latest": None,
    }
    middle = PageLinks(CASE, Window(1050, 850), {}).paging()
    assert middle == {
        "earlier": f"{BASE}?upto=750#timeline",
        "later": f"{BASE}?upto=950#timeline",
        "latest": f"{BASE}#timeline",
    }
    # One page back from the latest: "later" is the latest, so no second link to it
    assert PageLinks(CASE, Window(1050, 950), {}).paging() == {
        "earlier": f"{BASE}?upto=850#timeline",
        "later": f"{BASE}#timeline",
        "latest": None,
    }
    assert PageLinks(CASE, Window(1050, 50), {}).paging()["earlier"] is None


@pytest.mark.parametrize(
    ("upto", "index", "href"),
    [
        (None, 1000, "#event-e"),  # on this page
        (None, 949, f"{BASE}?upto=950#event-e"),  # just before it
        (None, 850, f"{BASE}?upto=950#event-e"),
        (None, 849, f"{BASE}?upto=850#event-e"),
        (None, 3, f"{BASE}?upto=50#event-e"),  # the short first page
        (50, 50, f"{BASE}?upto=150#event-e"),  # later, on the grid of the page shown
        (50, 1049, f"{BASE}#event-e"),  # the latest page
        (50, 990, f"{BASE}#event-e"),  # a page ending past the last event: the latest
    ],
)
def test_a_link_to_an_event_goes_to_the_page_showing_it(
    upto: int | None, index: int, href: str
) -> None:
    window = Window(1050, upto)
    link = PageLinks(CASE, window, {}).event(index, "e")
    assert link == href
    if link.startswith(BASE):  # and that page shows it
        query = link.split("#")[0].partition("upto=")[2]
        shown = Window(1050, int(query) if query else None)
        assert shown.start <= index < shown.end
