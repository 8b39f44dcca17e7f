"""The web UI's now page over real HTTP, on SQLite and PostgreSQL: my shift with check-in and
check-out through the same shift service as the API (the same event recorded, the same rules,
a refusal shown on the page), each queue with its waiting and overdue counts as GET
/api/v1/queues counts them, who is on now, times in the service's time zone with the offset,
and nothing access-logged (the page shows counts, never a case's content).

The server clock starts on Tuesday 17 November 2026, 09:30 UTC (London is on GMT).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.conftest import TUESDAY_MORNING, Clock
from tests.e2e.support import Api, open_case
from tests.e2e.ui_support import csrf_of, now_page, person, plan_shift

SOON = TUESDAY_MORNING + timedelta(minutes=15)


def _topics_since(api: Api, position: int) -> list[str]:
    recorder = api.vigil.event_log.recorder
    notifications = recorder.select_notifications(start=position + 1, limit=100)
    return [n.topic for n in notifications]


def test_checking_in_and_out_through_the_ui_records_what_the_api_records(
    api: Api, clock: Clock
) -> None:
    # Given a coordinator's rota: Vic and Bea each on call from 09:45
    coordinator = api.user("cat", "coordinator")
    vic, _ = person(api, "vic", "volunteer")
    bea_api = api.user("bea", "volunteer")
    vics = plan_shift(coordinator, "vic", SOON)
    beas = plan_shift(coordinator, "bea", SOON)

    # When Vic checks in from the now page, and Bea through the API
    page = now_page(vic)
    assert f'action="/ui/shifts/{vics}/check-in"' in page.text
    before = api.log_position()
    answer = vic.post(f"/ui/shifts/{vics}/check-in", data={"csrf_token": csrf_of(page)})
    ui_topics = _topics_since(api, before)
    before = api.log_position()
    assert bea_api.post(f"/api/v1/shifts/{beas}/check-in").status_code == 201
    api_topics = _topics_since(api, before)

    # Then the page sends her back to the now page, which says so and offers the check-out
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/?done=checked-in"
    after = vic.get(answer.headers["location"])
    assert "You are checked in." in after.text
    assert f'action="/ui/shifts/{vics}/check-out"' in after.text
    assert f'action="/ui/shifts/{vics}/check-in"' not in after.text

    # And the log holds the same event as the API's check-in, and the API reads her in
    assert len(ui_topics) == 1
    assert ui_topics == api_topics
    shift = coordinator.get(f"/api/v1/shifts/{vics}").json()
    assert [a["person"] for a in shift["attendance"]] == ["vic"]
    assert datetime.fromisoformat(shift["attendance"][0]["checked_in_at"]) == TUESDAY_MORNING

    # When she checks out fifty minutes later (her session kept alive in between)
    clock.advance(minutes=25)
    now_page(vic)
    clock.advance(minutes=25)
    page = now_page(vic)
    before = api.log_position()
    answer = vic.post(f"/ui/shifts/{vics}/check-out", data={"csrf_token": csrf_of(page)})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/?done=checked-out"
    assert len(_topics_since(api, before)) == 1
    attendance = coordinator.get(f"/api/v1/shifts/{vics}").json()["attendance"]
    assert attendance[0]["checked_out_at"] is not None


def test_a_refusal_by_the_shift_rules_is_shown_on_the_page_and_writes_nothing(api: Api) -> None:
    # Given Vic's shift, and Bea's (which Vic may not check in to)
    coordinator = api.user("cat", "coordinator")
    vic, _ = person(api, "vic", "volunteer")
    api.user("bea", "volunteer")
    vics = plan_shift(coordinator, "vic", SOON)
    beas = plan_shift(coordinator, "bea", SOON)
    csrf = csrf_of(now_page(vic))
    with api.writes_nothing():
        # When she checks in to Bea's shift (only its assignee may: 403, as the API)
        other = vic.post(f"/ui/shifts/{beas}/check-in", data={"csrf_token": csrf})
    assert vic.post(f"/ui/shifts/{vics}/check-in", data={"csrf_token": csrf}).status_code == 303

    with api.writes_nothing():
        # ...or checks in again (a second check-in to a shift is refused: 409, as the API)
        again = vic.post(f"/ui/shifts/{vics}/check-in", data={"csrf_token": csrf})
        # ...or into a shift that does not exist (404)
        missing = vic.post(
            "/ui/shifts/00000000-0000-4000-8000-000000000000/check-in",
            data={"csrf_token": csrf},
        )

    # Then each is the now page with the rule's own words, never a 500
    for answer, status in ((again, 409), (other, 403), (missing, 404)):
        assert answer.status_code == status, answer.text
        assert "Not done:" in answer.text
        assert answer.text.count("<h1") == 1


def test_the_now_page_counts_each_queue_as_the_api_does_and_logs_no_access(
    api: Api, clock: Clock
) -> None:
    # Given two open cases with flags awaiting action, one of them now overdue
    lee_api = api.user("lee", "safeguarding_lead")
    open_case(lee_api, risk_level="critical")
    open_case(lee_api, risk_level="low", subject={"kind": "member", "ref": "forum-member-2"})
    clock.advance(hours=2)
    lee, _ = person(api, "lena", "safeguarding_lead")
    counts = {q["name"]: q for q in lee_api.get("/api/v1/queues").json()["items"] if q["total"]}
    assert counts["flags_awaiting_action"]["total"] == 2
    assert counts["flags_awaiting_action"]["overdue"] == 1

    # When the lead opens the now page
    with api.writes_nothing():  # no access record: the page shows counts, not content
        page = now_page(lee).text

    # Then it names the queue in plain words with both counts, overdue first
    assert "Flags awaiting a first action" in page
    row = page[page.index("Flags awaiting a first action") :].split("</tr>")[0]
    assert '<td class="num">2</td>' in row
    assert "1 overdue" in row
    # (the API's name only in the link to the queue's page, never in what a person reads)
    assert "flags_awaiting_action" not in page.replace(
        'href="/ui/queues/flags_awaiting_action"', ""
    )
    # And the moment is shown in the service's time zone with its offset
    assert "Tue 17 Nov 2026, 11:30 (UTC+00:00)" in page


def test_the_now_page_says_who_is_on_now(api: Api, clock: Clock) -> None:
    coordinator = api.user("cat", "coordinator")
    vic, _ = person(api, "vic", "volunteer")
    api.user("bea", "volunteer")
    vics = plan_shift(coordinator, "vic", SOON)
    plan_shift(coordinator, "bea", SOON)
    csrf = csrf_of(now_page(vic))
    assert vic.post(f"/ui/shifts/{vics}/check-in", data={"csrf_token": csrf}).status_code == 303
    clock.advance(minutes=20)  # 09:50: both shifts running

    page = now_page(vic).text
    on_now = page[page.index('id="on-call"') :]
    assert "<strong>vic</strong>: on call (default)" in on_now
    assert "<strong>bea</strong>: on call (default)" in on_now
    vic_line = on_now[on_now.index("<strong>vic</strong>") :].split("</li>")[0]
    bea_line = on_now[on_now.index("<strong>bea</strong>") :].split("</li>")[0]
    assert "· checked in" in vic_line
    assert "<strong>not checked in</strong>" in bea_line
