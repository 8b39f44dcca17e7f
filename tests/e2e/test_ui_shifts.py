"""The web UI's shift pages over real HTTP, on SQLite and PostgreSQL: handing over (alone, or with
the check-out in one write) and acknowledging a handover through the same shift service as the
API (the same events, the same rules, a refusal shown on the page with the API's status and
nothing written, a post without its CSRF token refused), the rota as GET /api/v1/shifts lists it,
and a shift's page with its log. A handover's note is never shown on a page: no API read shows
it.

The server clock starts on Tuesday 17 November 2026, 09:30 UTC (London is on GMT).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from tests.conftest import TUESDAY_MORNING, Clock
from tests.e2e.support import Api, open_case
from tests.e2e.ui_support import browser, csrf_of, now_page, person, plan_shift, sign_in

SOON = TUESDAY_MORNING + timedelta(minutes=15)
NOTE = "Member in the insulin thread replied at 22:40; crisis team called."


def _topics_since(api: Api, position: int) -> list[str]:
    recorder = api.vigil.event_log.recorder
    notifications = recorder.select_notifications(start=position + 1, limit=100)
    return [n.topic.rsplit(":", 1)[-1] for n in notifications]


def _signs_in(api: Api, username: str) -> httpx.Client:
    """A registered user signs in now (a session of their own, fresh)."""
    client = browser(api)
    token = api.vigil.identity.issue_token(username, actor="e2e-setup")
    assert sign_in(client, token).status_code == 303
    return client


def _later(clock: Clock, minutes: int, *people: httpx.Client) -> None:
    """Time passes while these people keep their sessions alive (pages opened now and then)."""
    while minutes > 0:
        step = min(minutes, 20)
        clock.advance(minutes=step)
        minutes -= step
        for client in people:
            now_page(client)


def _checked_in(api: Api, client: httpx.Client, shift_id: str) -> str:
    """Checks in from the now page; the page's CSRF token."""
    csrf = csrf_of(now_page(client))
    answer = client.post(f"/ui/shifts/{shift_id}/check-in", data={"csrf_token": csrf})
    assert answer.status_code == 303, answer.text
    return csrf


def test_handing_over_and_checking_out_in_one_go_writes_what_the_api_writes(
    api: Api, clock: Clock
) -> None:
    # Given Casey (coordinator) and Bea each on a shift, checked in, and an open case
    cat = api.user("cat", "coordinator")
    casey, _ = person(api, "casey", "coordinator")
    bea_api = api.user("bea", "volunteer")
    api.user("lee", "safeguarding_lead")
    case = open_case(cat)
    caseys = plan_shift(cat, "casey", SOON)
    beas = plan_shift(cat, "bea", SOON)
    clock.advance(minutes=20)
    csrf = _checked_in(api, casey, caseys)
    assert bea_api.post(f"/api/v1/shifts/{beas}/check-in").status_code == 201
    _later(clock, 180, casey)

    # When Casey fills in the hand-over form and presses "Hand over and end shift"
    page = now_page(casey)
    assert "Hand over and end shift" in page.text
    before = api.log_position()
    answer = casey.post(
        f"/ui/shifts/{caseys}/check-out",
        data={
            "csrf_token": csrf,
            "with_handover": "1",
            "note": NOTE,
            "case_ids": case["id"],
            "to": "lee",
            "occurred_at": "",
        },
    )
    ui_topics = _topics_since(api, before)
    # ...and Bea does the same through the API
    before = api.log_position()
    body = {"handover": {"note": NOTE, "case_ids": [case["id"]], "to": "lee"}}
    assert bea_api.post(f"/api/v1/shifts/{beas}/check-out", json=body).status_code == 201
    api_topics = _topics_since(api, before)

    # Then she is back on the now page, which says so, and the log holds what the API writes
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/ui/?done=handed-over-out"
    assert (
        "Your handover is recorded and you are checked out."
        in casey.get("/ui/?done=handed-over-out").text
    )
    assert ui_topics == api_topics == ["HandoverRecorded", "CheckedOut"]
    shift = cat.get(f"/api/v1/shifts/{caseys}").json()
    [handover] = shift["handovers_given"]
    assert handover["given_by"] == "casey"
    assert handover["given_to"] == "lee"
    assert handover["case_ids"] == [case["id"]]
    assert shift["attendance"][0]["checked_out_at"] is not None

    # When Lee, the next morning's lead, signs in, the handover waits for her on the now page,
    # with its case, and no note
    lee = _signs_in(api, "lee")
    page = now_page(lee)
    waiting = page.text[page.text.index('id="handovers-for-me"') :].split("</section>")[0]
    assert "From casey to you" in waiting
    assert f'href="/ui/cases/{case["id"]}"' in waiting
    assert NOTE not in page.text
    ack = f"/ui/shifts/{caseys}/handovers/{handover['handover_id']}/acknowledgement"
    assert f'action="{ack}"' in waiting

    # And she acknowledges it in one click
    before = api.log_position()
    answer = lee.post(ack, data={"csrf_token": csrf_of(page), "back": "now"})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/ui/?done=acknowledged"
    assert _topics_since(api, before) == ["HandoverAcknowledged"]
    [acknowledged] = cat.get(f"/api/v1/shifts/{caseys}").json()["handovers_given"]
    assert acknowledged["acknowledged_by"] == "lee"
    after = lee.get(answer.headers["location"]).text
    assert "Handover acknowledged." in after
    assert f'action="{ack}"' not in after  # hers is done; Bea's, to Lee too, still waits
    assert f"/ui/shifts/{beas}/handovers/" in after
    queue = cat.get("/api/v1/queues/handovers_unacknowledged").json()["items"]
    assert [item["shift_id"] for item in queue] == [beas]


def test_a_handover_while_on_shift_may_be_logged_late(api: Api, clock: Clock) -> None:
    cat = api.user("cat", "coordinator")
    casey, _ = person(api, "casey", "coordinator")
    api.user("lee", "safeguarding_lead")
    caseys = plan_shift(cat, "casey", SOON)
    clock.advance(minutes=20)
    csrf = _checked_in(api, casey, caseys)
    _later(clock, 60, casey)  # 10:50

    # When she logs, at 10:50, the handover she gave at 10:15 (London is on GMT)
    before = api.log_position()
    answer = casey.post(
        f"/ui/shifts/{caseys}/handovers",
        data={
            "csrf_token": csrf,
            "note": NOTE,
            "case_ids": "",
            "to": "",
            "occurred_at": "2026-11-17T10:15",
        },
    )

    # Then it is recorded as given at 10:15, to whoever comes next, and she is still checked in
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/ui/?done=handed-over"
    assert _topics_since(api, before) == ["HandoverRecorded"]
    shift = cat.get(f"/api/v1/shifts/{caseys}").json()
    [handover] = shift["handovers_given"]
    assert datetime.fromisoformat(handover["given_at"]) == datetime.fromisoformat(
        "2026-11-17T10:15:00+00:00"
    )
    assert handover["given_to"] is None
    assert shift["attendance"][0]["checked_out_at"] is None

    # And the shift's page marks it logged late, never showing the note
    shift_page = casey.get(f"/ui/shifts/{caseys}")
    assert shift_page.status_code == 200
    given = shift_page.text[shift_page.text.index('id="given"') :].split("</section>")[0]
    assert "whoever comes next" in given
    assert "logged late" in given
    assert NOTE not in shift_page.text
    # She gave it: it names nobody, so anyone but her may acknowledge it, not she
    assert "acknowledgement" not in given


def test_refused_handovers_and_acknowledgements_write_nothing_and_say_why(
    api: Api, clock: Clock
) -> None:
    cat = api.user("cat", "coordinator")
    casey, _ = person(api, "casey", "coordinator")
    vic, _ = person(api, "vic", "volunteer")
    lee, _ = person(api, "lee", "safeguarding_lead")
    caseys = plan_shift(cat, "casey", SOON)
    clock.advance(minutes=20)
    csrf = csrf_of(now_page(casey))
    handover_form = {"csrf_token": csrf, "note": NOTE, "case_ids": "", "to": "lee"}

    with api.writes_nothing():
        # Not checked in yet: 409, as the API
        not_in = casey.post(f"/ui/shifts/{caseys}/handovers", data=handover_form)
    assert not_in.status_code == 409, not_in.text
    assert "Not done:" in not_in.text

    _checked_in(api, casey, caseys)
    missing_case = "00000000-0000-4000-8000-000000000000"
    with api.writes_nothing():
        refusals = {
            "no note": casey.post(
                f"/ui/shifts/{caseys}/handovers", data={**handover_form, "note": "  "}
            ),
            "not a case id": casey.post(
                f"/ui/shifts/{caseys}/handovers", data={**handover_form, "case_ids": "thread-7"}
            ),
            "no such case": casey.post(
                f"/ui/shifts/{caseys}/handovers", data={**handover_form, "case_ids": missing_case}
            ),
            "to nobody known": casey.post(
                f"/ui/shifts/{caseys}/handovers", data={**handover_form, "to": "nobody"}
            ),
            "in the future": casey.post(
                f"/ui/shifts/{caseys}/check-out",
                data={**handover_form, "with_handover": "1", "occurred_at": "2026-11-18T10:00"},
            ),
            "not a moment": casey.post(
                f"/ui/shifts/{caseys}/handovers", data={**handover_form, "occurred_at": "tonight"}
            ),
        }
    for what, answer in refusals.items():
        assert answer.status_code == 422, (what, answer.text)
        assert "Not done:" in answer.text, what
        assert NOTE not in answer.text, what  # the refusal never echoes the note
        assert answer.text.count("<h1") == 1

    given = casey.post(f"/ui/shifts/{caseys}/handovers", data=handover_form)
    assert given.status_code == 303, given.text
    [handover] = cat.get(f"/api/v1/shifts/{caseys}").json()["handovers_given"]
    ack = f"/ui/shifts/{caseys}/handovers/{handover['handover_id']}/acknowledgement"

    with api.writes_nothing():
        # Vic is not who it is to: 403; the giver herself neither
        not_hers = vic.post(ack, data={"csrf_token": csrf_of(now_page(vic)), "back": "now"})
        own = casey.post(ack, data={"csrf_token": csrf, "back": "shift"})
        # A handover of another shift: 404
        elsewhere = lee.post(
            f"/ui/shifts/{caseys}/handovers/{missing_case}/acknowledgement",
            data={"csrf_token": csrf_of(now_page(lee)), "back": "now"},
        )
    assert not_hers.status_code == 403, not_hers.text
    assert "Not done:" in not_hers.text
    assert own.status_code == 403, own.text
    assert "Not done:" in own.text
    assert 'id="given"' in own.text
    assert elsewhere.status_code == 404, elsewhere.text

    # At 10:10 Lee logs that she read it at 10:00 (a late log, as the API's occurred_at)
    _later(clock, 20, lee)
    lee_csrf = csrf_of(now_page(lee))
    read = {"csrf_token": lee_csrf, "back": "shift", "occurred_at": "2026-11-17T10:00"}
    answer = lee.post(ack, data=read)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/ui/shifts/{caseys}?done=acknowledged"
    [acknowledged] = cat.get(f"/api/v1/shifts/{caseys}").json()["handovers_given"]
    assert acknowledged["acknowledged_by"] == "lee"
    assert datetime.fromisoformat(acknowledged["acknowledged_at"]) == datetime.fromisoformat(
        "2026-11-17T10:00:00+00:00"
    )
    with api.writes_nothing():
        again = lee.post(ack, data={"csrf_token": lee_csrf, "back": "shift"})
    assert again.status_code == 409, again.text


def test_a_post_without_its_csrf_token_is_refused_and_writes_nothing(
    api: Api, clock: Clock
) -> None:
    cat = api.user("cat", "coordinator")
    casey, _ = person(api, "casey", "coordinator")
    lee, _ = person(api, "lee", "safeguarding_lead")
    caseys = plan_shift(cat, "casey", SOON)
    clock.advance(minutes=20)
    csrf = _checked_in(api, casey, caseys)
    form = {"note": NOTE, "case_ids": "", "to": "lee"}
    assert (
        casey.post(f"/ui/shifts/{caseys}/handovers", data={**form, "csrf_token": csrf}).status_code
        == 303
    )
    [handover] = cat.get(f"/api/v1/shifts/{caseys}").json()["handovers_given"]
    ack = f"/ui/shifts/{caseys}/handovers/{handover['handover_id']}/acknowledgement"

    with api.writes_nothing():
        answers = [
            casey.post(f"/ui/shifts/{caseys}/handovers", data=form),
            casey.post(f"/ui/shifts/{caseys}/handovers", data={**form, "csrf_token": "forged"}),
            casey.post(f"/ui/shifts/{caseys}/check-out", data={**form, "with_handover": "1"}),
            lee.post(ack, data={"back": "now"}),
            lee.post(ack, data={"back": "now", "csrf_token": csrf}),  # Casey's, not Lee's
        ]
    assert [a.status_code for a in answers] == [403] * 5


def test_a_volunteer_never_reads_a_handover_note_and_reads_no_shift_log(
    api: Api, clock: Clock
) -> None:
    cat = api.user("cat", "coordinator")
    casey, _ = person(api, "casey", "coordinator")
    vic, _ = person(api, "vic", "volunteer")
    caseys = plan_shift(cat, "casey", SOON)
    clock.advance(minutes=20)
    csrf = _checked_in(api, casey, caseys)
    data = {"csrf_token": csrf, "note": NOTE, "case_ids": "", "to": ""}
    assert casey.post(f"/ui/shifts/{caseys}/handovers", data=data).status_code == 303

    # The API shows nobody the note on a read
    assert NOTE not in cat.get(f"/api/v1/shifts/{caseys}").text
    assert NOTE not in cat.get(f"/api/v1/shifts/{caseys}/log").text

    # Vic, a volunteer, sees the handover (to whoever comes next) but never its note
    with api.writes_nothing():
        pages = [vic.get("/ui/"), vic.get("/ui/shifts"), vic.get(f"/ui/shifts/{caseys}")]
    for page in pages:
        assert page.status_code == 200, page.text
        assert NOTE not in page.text
    assert "From casey to whoever comes next" in pages[0].text
    # ...and, as GET /shifts/{id}/log refuses her, the shift page shows no log
    assert vic.get(f"/api/v1/shifts/{caseys}/log").status_code in (401, 403)
    assert "Your role does not read shift logs." in pages[2].text


def test_the_rota_lists_this_weeks_shifts_with_their_attendance_in_plain_words(
    api: Api, clock: Clock
) -> None:
    cat = api.user("cat", "coordinator")
    vic, _ = person(api, "vic", "volunteer")
    api.user("bea", "volunteer")
    admin, _ = person(api, "ada", "admin")
    vics = plan_shift(cat, "vic", SOON)
    beas = plan_shift(cat, "bea", SOON)
    thursday = plan_shift(cat, "bea", SOON + timedelta(days=2), role="helpline")
    next_week = plan_shift(cat, "vic", SOON + timedelta(days=7))
    assert (
        cat.post(f"/api/v1/shifts/{thursday}/cancellation", json={"reason": "Swapped days."})
    ).status_code == 201
    clock.advance(minutes=20)
    _checked_in(api, vic, vics)

    # When Vic opens the rota (nav item "Shifts")
    now = now_page(vic).text
    assert '<a href="/ui/shifts"' in now
    with api.writes_nothing():
        rota = vic.get("/ui/shifts")
    assert rota.status_code == 200, rota.text
    text = rota.text

    # Then this week's shifts are listed (Monday 16 to Sunday 22 November), as the API lists them
    listed = cat.get(
        "/api/v1/shifts", params={"from": "2026-11-16T00:00:00Z", "to": "2026-11-23T00:00:00Z"}
    ).json()["items"]
    assert {s["id"] for s in listed} == {vics, beas, thursday}
    for shift_id in (vics, beas, thursday):
        assert f'href="/ui/shifts/{shift_id}"' in text
    assert f'href="/ui/shifts/{next_week}"' not in text
    assert 'value="2026-11-16"' in text
    assert 'value="2026-11-22"' in text
    vic_card = text[text.index(f'href="/ui/shifts/{vics}"') :].split("</li>\n  <li")[0]
    assert "vic checked in" in vic_card
    assert "still checked in" in vic_card
    bea_card = text[text.index(f'href="/ui/shifts/{beas}"') :].split("</li>\n  <li")[0]
    assert "Nobody has checked in." in bea_card
    assert "Cancelled" in text

    # And the filters narrow it as the API's do
    only_helpline = vic.get("/ui/shifts", params={"role": "helpline"}).text
    assert f'href="/ui/shifts/{thursday}"' in only_helpline
    assert f'href="/ui/shifts/{vics}"' not in only_helpline
    only_vic = vic.get("/ui/shifts", params={"assignee": "vic", "to": "2026-11-29"}).text
    assert f'href="/ui/shifts/{next_week}"' in only_vic
    assert f'href="/ui/shifts/{beas}"' not in only_vic

    # A date that is not one is refused on the page; an admin (no rota) is refused, as the API
    bad = vic.get("/ui/shifts", params={"from": "next tuesday"})
    assert bad.status_code == 422
    assert "Not shown:" in bad.text
    assert admin.get("/ui/shifts").status_code == 403
    assert '<a href="/ui/shifts"' not in now_page(admin).text


def test_the_shift_page_shows_the_log_with_each_action_linking_to_its_case(
    api: Api, clock: Clock
) -> None:
    cat = api.user("cat", "coordinator")
    casey_api = api.user("casey", "coordinator")
    api.user("lee", "safeguarding_lead")
    caseys = plan_shift(cat, "casey", SOON)
    clock.advance(minutes=20)  # 09:50
    # Casey checks in late through the API (logged at 10:40 that she started at 09:50)
    clock.advance(minutes=50)
    late = {"occurred_at": "2026-11-17T09:50:00+00:00"}
    assert casey_api.post(f"/api/v1/shifts/{caseys}/check-in", json=late).status_code == 201
    case = open_case(casey_api)
    clock.advance(minutes=10)
    lee = _signs_in(api, "lee")

    with api.writes_nothing():  # a shift's log is not a case's content: nothing access-logged
        page = lee.get(f"/ui/shifts/{caseys}")
    assert page.status_code == 200, page.text
    text = page.text
    log = cat.get(f"/api/v1/shifts/{caseys}/log").json()
    assert [a["case_id"] for a in log["actions"]] == [case["id"]]
    assert log["people"][0]["check_in_logged_late"] is True
    attendance = text[text.index('id="attendance"') :].split("</section>")[0]
    assert "casey" in attendance
    assert "logged late" in attendance
    actions = text[text.index('id="actions"') :].split("</section>")[0]
    assert f'href="/ui/cases/{case["id"]}"' in actions
    assert "Case opened" in actions
    assert lee.get("/ui/shifts/not-a-shift").status_code == 404
    assert lee.get("/ui/shifts/00000000-0000-4000-8000-000000000000").status_code == 404


def test_a_check_in_and_a_check_out_may_be_logged_late(api: Api, clock: Clock) -> None:
    cat = api.user("cat", "coordinator")
    vic, _ = person(api, "vic", "volunteer")
    vics = plan_shift(cat, "vic", SOON)
    _later(clock, 40, vic)  # 10:10

    # Vic logs at 10:10 that she started at 09:45, then at 11:10 that she left at 11:00
    csrf = csrf_of(now_page(vic))
    started = {"csrf_token": csrf, "occurred_at": "2026-11-17T09:45"}
    assert vic.post(f"/ui/shifts/{vics}/check-in", data=started).status_code == 303
    _later(clock, 60, vic)
    left = {"csrf_token": csrf, "occurred_at": "2026-11-17T11:00"}
    assert vic.post(f"/ui/shifts/{vics}/check-out", data=left).status_code == 303

    [attendance] = cat.get(f"/api/v1/shifts/{vics}").json()["attendance"]
    assert datetime.fromisoformat(attendance["checked_in_at"]) == SOON
    assert datetime.fromisoformat(attendance["checked_out_at"]) == datetime.fromisoformat(
        "2026-11-17T11:00:00+00:00"
    )
    # And the shift's page marks the check-in logged late (recorded 25 minutes after)
    attendance_html = vic.get(f"/ui/shifts/{vics}").text.split('id="attendance"')[1]
    assert "logged late" in attendance_html.split("</section>")[0]
