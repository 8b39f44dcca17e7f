"""What a review of the web UI found, each shown fixed over real HTTP: a handover tapped twice is
recorded once; the whole-log verification is a POST with its CSRF token, one at a time; values
the pages cannot use (a score that is a digit only to Unicode, a date at the end of the calendar,
a moment before any moment Vigil records) are refused with the form and a reason, never a 500,
and nothing is written."""

from __future__ import annotations

import re
from datetime import timedelta

from interfaces.web.audit import _VERIFYING
from tests.conftest import TUESDAY_MORNING, Clock
from tests.e2e.support import Api, open_case
from tests.e2e.ui_support import csrf_of, now_page, person, plan_shift

SOON = TUESDAY_MORNING + timedelta(minutes=15)
NOTE = "Member in the insulin thread replied at 22:40; crisis team called."
FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')


def test_a_handover_sent_twice_is_recorded_once(api: Api, clock: Clock) -> None:
    # Given Casey checked in to her shift, on the now page
    cat = api.user("cat", "coordinator")
    casey, _ = person(api, "casey", "coordinator")
    shift_id = plan_shift(cat, "casey", SOON)
    clock.advance(minutes=20)
    page = now_page(casey)
    checked_in = casey.post(
        f"/ui/shifts/{shift_id}/check-in",
        data={"csrf_token": csrf_of(page), "form_key": FORM_KEY.findall(page.text)[0]},
    )
    assert checked_in.status_code == 303, checked_in.text

    # When her phone sends the hand-over form twice (a double tap, a retry on a slow line)
    page = now_page(casey)
    form = {
        "csrf_token": csrf_of(page),
        "form_key": FORM_KEY.findall(page.text)[-1],
        "note": NOTE,
        "case_ids": "",
        "to": "",
    }
    first = casey.post(f"/ui/shifts/{shift_id}/handovers", data=form)
    with api.writes_nothing():
        again = casey.post(f"/ui/shifts/{shift_id}/handovers", data=form)

    # Then one handover is recorded, and both answers lead to the same page
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"] == "/ui/?done=handed-over"
    shift = cat.get(f"/api/v1/shifts/{shift_id}").json()
    assert len(shift["handovers_given"]) == 1


def test_the_whole_log_is_verified_by_a_post_one_at_a_time(api: Api) -> None:
    lee = api.user("lee", "safeguarding_lead")
    open_case(lee)
    api.vigil.integrity.notary.catch_up()
    auditor, _ = person(api, "ava", "auditor")
    page = auditor.get("/ui/audit")
    assert page.status_code == 200, page.text
    assert 'action="/ui/audit/verification"' in page.text

    # A link cannot start it: the old query is refused as unknown, and nothing is checked
    linked = auditor.get("/ui/audit", params={"verify": "full"})
    assert "no fault found" not in linked.text

    # Nor a post without the session's token
    with api.writes_nothing():
        forged = auditor.post("/ui/audit/verification", data={})
    assert forged.status_code == 403

    # While one runs, a second is told to wait
    assert _VERIFYING.acquire(blocking=False)
    try:
        busy = auditor.post("/ui/audit/verification", data={"csrf_token": csrf_of(page)})
    finally:
        _VERIFYING.release()
    assert busy.status_code == 409, busy.text
    assert "already running" in busy.text
    assert "no fault found" not in busy.text

    with api.writes_nothing():
        done = auditor.post("/ui/audit/verification", data={"csrf_token": csrf_of(page)})
    assert done.status_code == 200, done.text
    assert "no fault found" in done.text


def test_values_a_page_cannot_use_are_refused_not_failed(api: Api) -> None:
    lead, _ = person(api, "lee", "safeguarding_lead")
    case = open_case(api.user("cat", "coordinator"))

    with api.writes_nothing():
        # A date at the end of the calendar (the day after it does not exist)
        rota = lead.get("/ui/shifts", params={"from": "9999-12-30", "to": "9999-12-31"})
        audit = lead.get("/ui/audit", params={"to": "9999-12-31"})
        # A moment before any Vigil records, in a zone far east of UTC
        as_of = lead.get(f"/ui/cases/{case['id']}", params={"as_of": "0001-01-01T00:00+14:00"})
    assert rota.status_code == 422, rota.text
    assert "must be between 1900-01-01 and 2999-12-31" in rota.text
    assert audit.status_code == 422, audit.text
    assert "must be between 1900-01-01 and 2999-12-31" in audit.text
    assert as_of.status_code == 422, as_of.text
    assert "between 1900-01-01 and 2999-12-31" in as_of.text


def test_a_score_that_is_a_digit_only_to_unicode_is_refused(api: Api) -> None:
    # Given a contact Kit took, and Cora reviewing it
    kit = api.user("kit", "volunteer")
    logged = kit.post(
        "/api/v1/contacts",
        json={
            "channel": "call",
            "direction": "inbound",
            "caller": {"anonymous": True},
            "category": "harassment",
            "summary": "Neighbour's harassment continuing; options explained.",
            "outcome": "information_given",
        },
    )
    assert logged.status_code == 201, logged.text
    contact_id = logged.json()["contact"]["id"]
    cora, _ = person(api, "cora", "coordinator")
    page = cora.get(f"/ui/contacts/{contact_id}")
    assert page.status_code == 200, page.text
    criteria = sorted(set(re.findall(r'name="score\.([a-z_]+)"', page.text)))
    assert criteria
    scores = {f"score.{key}": "1" for key in criteria}
    scores[f"score.{criteria[0]}"] = "²"  # str.isdigit says yes; int() says no

    with api.writes_nothing():
        live = cora.post(
            f"/ui/contacts/{contact_id}/score",
            data={"csrf_token": csrf_of(page), **scores},
            headers={"HX-Request": "true"},
        )
        review = cora.post(
            f"/ui/contacts/{contact_id}/reviews",
            data={
                "csrf_token": csrf_of(page),
                "form_key": FORM_KEY.findall(page.text)[0],
                **scores,
                "feedback": "Warm opening; ask about safety earlier.",
                "rationale": "Scored against the scorecard in force.",
            },
        )
    # The live score says so in its region (answered 200, so HTMX shows it); the review is
    # refused with the form
    assert live.status_code == 200, live.text
    assert "Not a score" in live.text
    assert review.status_code == 422, review.text
