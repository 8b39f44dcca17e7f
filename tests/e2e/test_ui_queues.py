"""The web UI's queue pages over real HTTP, on SQLite and PostgreSQL: /ui/queues counts each
queue as GET /api/v1/queues does, /ui/queues/{name} lists what GET /api/v1/queues/{name} lists
to the same person in the same order (overdue first, then soonest due), a page at a time with
the API's cursor, as of a past moment too; a person who may not read a queue gets a 403 page
and nothing of it; "save and next" (/ui/queues/{name}/next) goes on to the next item, to the
first when the action took the item out, and back to the queue saying it is clear at the end.

The server clock starts on Tuesday 17 November 2026, 09:30 UTC (London is on GMT). A flag on a
case opened from a flag is due its first action 1 h (critical), 4 h (high), 24 h (medium) or
72 h (low) after it; a risk assessment is a first action, and takes the flag out of the queue.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from infrastructure.settings import Settings
from tests.conftest import TUESDAY_MORNING, Clock
from tests.e2e.support import Api, open_case
from tests.e2e.ui_support import person, plan_shift

QUEUE = "flags_awaiting_action"
PAGE = f"/ui/queues/{QUEUE}"
ITEM_LINK = re.compile(r'<a href="/ui/cases/([0-9a-f-]{36})\?from_queue=' + QUEUE + '">')
NEXT_PAGE = re.compile(r'<a href="([^"]+)" rel="next">Next page</a>')


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The product default: self-harm risk and harm to others are restricted."""
    return settings.model_copy(update={"restricted_categories": "self_harm_risk,harm_to_others"})


def flagged(client: httpx.Client, ref: str, risk: str, **more: Any) -> str:
    """A harassment case opened from a flag on a member's post: its flag awaits an action."""
    case = open_case(
        client,
        subject={"kind": "member", "ref": ref},
        category=more.pop("category", "harassment"),
        risk_level=risk,
        **more,
    )
    case_id: str = case["id"]
    return case_id


def assess(client: httpx.Client, case_id: str) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/risk-assessments",
        json={"level": "medium", "rationale": "Read the thread: heated, no threats made."},
    )
    assert answer.status_code == 201, answer.text


def listed(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return ITEM_LINK.findall(page.text)


def item_text(page: httpx.Response, case_id: str) -> str:
    """An item of the queue's list as a person reads it (tags removed)."""
    items = page.text[page.text.index("<ol") :]
    item = items[items.index(case_id) :].split("</li>")[0]
    return html.unescape(re.sub(r"<[^>]+>", "", item.split(">", 1)[1]))


def api_listed(client: httpx.Client, **params: Any) -> list[str]:
    answer = client.get(f"/api/v1/queues/{QUEUE}", params=params)
    assert answer.status_code == 200, answer.text
    return [item["case_id"] for item in answer.json()["items"]]


def test_a_queue_lists_what_the_api_lists_overdue_first(api: Api, clock: Clock) -> None:
    # Given three flagged cases, a minute apart: low, critical and high risk
    lead = api.user("priya", "safeguarding_lead")
    low = flagged(lead, "forum-member-1", "low")
    clock.advance(minutes=1)
    critical = flagged(lead, "forum-member-2", "critical")
    clock.advance(minutes=1)
    high = flagged(lead, "forum-member-3", "high")
    # ...and two hours on, the critical one's flag is overdue (due at 10:31)
    clock.advance(hours=2)
    lee, token = person(api, "lee", "safeguarding_lead")

    # When Lee opens the queues, then the flags queue (nothing is written or access-logged:
    # the pages show what each item is, never a case's content)
    with api.writes_nothing():
        queues = lee.get("/ui/queues")
        page = lee.get(PAGE)

    # Then the queues page names it in plain words with both counts, linking to it
    assert queues.status_code == 200, queues.text
    row = queues.text[queues.text.index(f'href="{PAGE}"') :].split("</tr>")[0]
    assert ">Flags awaiting a first action</a>" in row
    assert '<td class="num">3</td>' in row
    assert "1 overdue" in row
    # And the queue lists exactly what the API lists to him, the overdue one first
    assert listed(page) == api_listed(api.client(token)) == [critical, high, low]
    text = html.unescape(page.text)
    assert "3 waiting" in text
    assert "1 overdue" in text
    first = item_text(page, critical)
    assert "Flag awaiting a first action" in first
    assert f"Harassment · critical risk · unassigned · case {critical[:8]}" in first
    assert "Due Tue 17 Nov 2026, 10:31 (UTC+00:00)" in first
    assert "Overdue by 1 h 1 min" in first
    assert "Overdue" not in item_text(page, high)
    # And "Start" opens the first item, from the queue
    assert f'<a class="button-link" href="/ui/cases/{critical}?from_queue={QUEUE}">Start</a>' in (
        page.text
    )
    # And the nav has "Queues", marked as the current page; keys.js is loaded with defer
    assert '<a href="/ui/queues" aria-current="page">Queues</a>' in page.text
    assert '<script src="/ui/static/keys.js" defer></script>' in page.text
    assert lee.get("/ui/static/keys.js").status_code == 200


def test_the_now_page_links_each_queue_to_its_page(api: Api) -> None:
    lead = api.user("priya", "safeguarding_lead")
    flagged(lead, "forum-member-1", "low")
    lee, _ = person(api, "lee", "safeguarding_lead")
    now = lee.get("/ui/")
    assert f'<a href="{PAGE}">Flags awaiting a first action</a>' in now.text


def test_who_may_not_read_a_queue_gets_a_403_page_and_nothing_of_it(api: Api) -> None:
    # Given a flagged harassment case, and a restricted one (self-harm) a volunteer may not see
    lead = api.user("priya", "safeguarding_lead")
    seen = flagged(lead, "forum-member-1", "high")
    hidden = flagged(lead, "forum-member-48213", "high", category="self_harm_risk")
    trustee, trustee_token = person(api, "tess", "trustee")
    vic, vic_token = person(api, "vic", "volunteer")

    with api.writes_nothing():
        # A trustee reads no queue: 403 pages, as the API answers her, with nothing of it
        for path in ("/ui/queues", PAGE, f"{PAGE}/next?after={seen}"):
            refused = trustee.get(path)
            assert refused.status_code == 403, (path, refused.text)
            assert "Your role may not read this queue." in refused.text
            assert seen not in refused.text
            assert "forum-member" not in refused.text
        assert api.client(trustee_token).get(f"/api/v1/queues/{QUEUE}").status_code == 403
        assert '<a href="/ui/queues"' not in trustee.get("/ui/reports").text  # no nav item

        # A volunteer may not read break-glass reviews, nor every contact's review
        for name in ("break_glass_reviews", "contacts_awaiting_review"):
            refused = vic.get(f"/ui/queues/{name}")
            api_refused = api.client(vic_token).get(f"/api/v1/queues/{name}")
            assert refused.status_code == api_refused.status_code == 403, refused.text
        # ...and is listed only what the API lists to her: not the restricted case
        assert listed(vic.get(PAGE)) == api_listed(api.client(vic_token)) == [seen]
        assert hidden not in vic.get(PAGE).text
        nxt = vic.get(f"{PAGE}/next", params={"after": hidden})
        assert nxt.headers["location"] == f"/ui/cases/{seen}?from_queue={QUEUE}"
        # ...and the queues page does not offer what she may not read
        assert "/ui/queues/break_glass_reviews" not in vic.get("/ui/queues").text

    # A queue that does not exist is not found
    assert vic.get("/ui/queues/no_such_queue").status_code == 404
    assert vic.get("/ui/queues/no_such_queue/next").status_code == 404


def test_a_long_queue_pages_with_the_apis_cursor(api: Api, clock: Clock) -> None:
    lead = api.user("priya", "safeguarding_lead")
    for n in range(55):
        flagged(lead, f"forum-member-{n}", "medium")
        clock.advance(seconds=30)
    lee, token = person(api, "lee", "safeguarding_lead")

    first = lee.get(PAGE)
    assert "55 waiting" in first.text
    found = NEXT_PAGE.search(first.text)
    assert found is not None
    second = lee.get(html.unescape(found.group(1)))
    assert NEXT_PAGE.search(second.text) is None
    assert "Back to the top" in second.text
    assert 'class="button-link"' not in second.text  # "Start" is on the first page only

    # Together, the two pages are the API's whole queue, in its order
    api_client = api.client(token)
    page1 = api_client.get(f"/api/v1/queues/{QUEUE}").json()
    page2 = api_client.get(
        f"/api/v1/queues/{QUEUE}", params={"cursor": page1["next_cursor"]}
    ).json()
    expected = [i["case_id"] for i in page1["items"] + page2["items"]]
    assert (len(listed(first)), len(listed(second))) == (50, 5)
    assert listed(first) + listed(second) == expected


def test_save_and_next_goes_on_through_the_queue_until_it_is_clear(api: Api, clock: Clock) -> None:
    # Given the queue critical, high, low
    lead = api.user("priya", "safeguarding_lead")
    low = flagged(lead, "forum-member-1", "low")
    critical = flagged(lead, "forum-member-2", "critical")
    high = flagged(lead, "forum-member-3", "high")
    lee, _ = person(api, "lee", "safeguarding_lead")
    assert listed(lee.get(PAGE)) == [critical, high, low]

    def next_after(case_id: str) -> str:
        with api.writes_nothing():
            answer = lee.get(f"{PAGE}/next", params={"after": case_id})
        assert answer.status_code == 303, answer.text
        location: str = answer.headers["location"]
        return location

    def case_page(case_id: str) -> str:
        return f"/ui/cases/{case_id}?from_queue={QUEUE}"

    # Next after the first is the second, still in the queue's order
    assert next_after(critical) == case_page(high)
    # When the high-risk flag is dealt with, next after it (gone now) is the first item
    assess(lead, high)
    assert next_after(high) == case_page(critical)
    # Next after the last item still there: the queue again, saying it ended
    assert next_after(low) == f"{PAGE}?done=end"
    assert "End of the queue" in lee.get(f"{PAGE}?done=end").text
    # When the last two are dealt with, nothing is left: the queue, saying it is clear
    assess(lead, critical)
    assert next_after(critical) == case_page(low)
    assess(lead, low)
    assert next_after(low) == f"{PAGE}?done=clear"
    clear = lee.get(f"{PAGE}?done=clear")
    assert "Queue clear" in clear.text
    assert "Nothing in this queue." in clear.text
    # Without "after" (a person starting the queue again), the first item, if any
    assert next_after("") == f"{PAGE}?done=clear"


def test_as_of_shows_the_queue_as_vigil_knew_it_then(api: Api, clock: Clock) -> None:
    # Given a flag raised at 09:30 and dealt with at 10:00
    lead = api.user("priya", "safeguarding_lead")
    case_id = flagged(lead, "forum-member-1", "high")
    clock.advance(minutes=30)
    assess(lead, case_id)
    lee, token = person(api, "lee", "safeguarding_lead")
    assert listed(lee.get(PAGE)) == []

    # The queue as of 09:45, given as the API takes it and as a datetime-local field sends it
    moment = "2026-11-17T09:45:00+00:00"
    then = lee.get(PAGE, params={"as_of": moment})
    assert listed(then) == api_listed(api.client(token), as_of=moment) == [case_id]
    assert "as Vigil knew it then" in then.text
    assert listed(lee.get(PAGE, params={"as_of": "2026-11-17T09:45"})) == [case_id]
    counted = lee.get("/ui/queues", params={"as_of": "2026-11-17T09:45"})
    row = counted.text[counted.text.index(f'href="{PAGE}?as_of=') :].split("</tr>")[0]
    assert '<td class="num">1</td>' in row
    # A moment the page cannot read is refused with the reason, never a 500
    for bad in ("yesterday", "2026-13-45T10:00"):
        refused = lee.get(PAGE, params={"as_of": bad})
        assert refused.status_code == 422, refused.text
        assert "Give the moment as a date and time" in refused.text
    assert lee.get("/ui/queues", params={"as_of": "soon"}).status_code == 422


def test_a_case_opened_from_a_queue_links_on_to_the_next_item(api: Api) -> None:
    lead = api.user("priya", "safeguarding_lead")
    critical = flagged(lead, "forum-member-2", "critical")
    flagged(lead, "forum-member-1", "low")
    lee, _ = person(api, "lee", "safeguarding_lead")

    page = lee.get(f"/ui/cases/{critical}", params={"from_queue": QUEUE})
    assert page.status_code == 200, page.text
    assert f'<a href="{PAGE}/next?after={critical}" rel="next">Next in queue</a>' in page.text
    assert f'<a href="{PAGE}">Back to the queue</a>' in page.text
    # Anything but a queue's name is not linked to
    odd = lee.get(f"/ui/cases/{critical}", params={"from_queue": "../../logout"})
    assert odd.status_code == 200
    assert "Next in queue" not in odd.text


def test_a_shift_queue_item_links_to_its_shift(api: Api, clock: Clock) -> None:
    # Given an on-call shift that began ten minutes ago with nobody checked in
    coordinator = api.user("cat", "coordinator")
    api.user("vic", "volunteer")
    shift_id = plan_shift(coordinator, "vic", TUESDAY_MORNING + timedelta(minutes=5))
    clock.advance(minutes=15)
    cat, token = person(api, "cath", "coordinator")

    page = cat.get("/ui/queues/uncovered_shifts")
    api_items = api.client(token).get("/api/v1/queues/uncovered_shifts").json()["items"]
    assert [i["shift_id"] for i in api_items] == [shift_id]
    assert f'<a href="/ui/shifts/{shift_id}">On call shift with nobody checked in</a>' in (
        page.text
    )
    assert "default · vic" in page.text
