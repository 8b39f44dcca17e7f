"""The contact pages in a real browser on a phone-sized screen: the helpline coordinator logs a
call she took (back-dated to when it happened), reviews a volunteer's chat against the scorecard
watching the weighted score and result change as she scores, and schedules a call-back for the
volunteer; every page passes axe-core's serious and critical rules, none scrolls sideways at
390 px, nothing leaves the origin or is blocked by the page's policy; the results are checked
through the API."""

from __future__ import annotations

from uuid import UUID

from playwright.sync_api import Page, expect

from domain.quality.commands import DEFAULT_CRITERIA
from domain.quality.scoring import score_review
from domain.shared import Role
from tests.browser.support import (
    PHONE_HEIGHT,
    PHONE_WIDTH,
    assert_accessible,
    assert_no_sideways_scroll,
    assert_same_origin,
)
from tests.conftest import Clock
from tests.e2e.support import Api

CHAT = {
    "channel": "chat",
    "direction": "inbound",
    "caller": {"anonymous": True},
    "category": "harassment",
    "summary": "Neighbour's harassment continuing; options explained.",
    "outcome": "information_given",
}
LABEL = {c.key: c.label for c in DEFAULT_CRITERIA}
# Top marks, except listening (2 of 4) and signposting (1 of 4).
SCORES = {c.key: c.max_score for c in DEFAULT_CRITERIA} | {
    "listening_empathy": 2,
    "signposting": 1,
}


def checked(page: Page) -> None:
    assert_accessible(page)
    assert_no_sideways_scroll(page)


def test_the_coordinator_logs_a_contact_reviews_one_as_she_scores_and_arranges_a_call_back(
    page: Page, api: Api, clock: Clock, requests_made: list[str], console_errors: list[str]
) -> None:
    # Given a chat Vic (a volunteer) handled at 09:30, and Cora, the helpline coordinator
    vic = api.user("vic", "volunteer")
    logged = vic.post("/api/v1/contacts", json=CHAT)
    assert logged.status_code == 201, logged.text
    chat_id = logged.json()["contact"]["id"]
    clock.advance(minutes=20)
    api.vigil.identity.register("cora", Role.COORDINATOR, actor="e2e-setup")
    token = api.vigil.identity.issue_token("cora", actor="e2e-setup")
    cora = api.client(token)
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})

    # Cora signs in and opens the contacts from the nav: Vic's chat awaits review
    page.goto("/ui/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{api.base_url}/ui/")
    page.get_by_role("link", name="Contacts", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Contacts")).to_be_visible()
    expect(page.locator(".card").get_by_text("Awaiting review")).to_be_visible()
    checked(page)

    # She logs the call she took at 09:40, ten minutes ago, in one form
    page.get_by_role("link", name="Log a contact").click()
    expect(page.get_by_role("heading", level=1, name="Log a contact")).to_be_visible()
    checked(page)
    page.get_by_label("Channel").select_option("call")
    page.get_by_label("Duration in minutes (optional)").fill("12")
    page.get_by_label("Named: give their ref").check()
    page.get_by_label("Caller ref").fill("caller-2291")
    page.get_by_label("Category").select_option("hate_incident")
    page.get_by_label("Summary").fill("Caller was spat at on the number 9 bus; wants to report it.")
    page.get_by_label("Outcome").select_option("call_back_arranged")
    page.get_by_label("When it happened (service time)").fill("2026-11-17T09:40")
    page.get_by_role("button", name="Log contact").click()
    expect(page.get_by_role("status")).to_have_text("Contact logged.")
    expect(page.get_by_text("You handled this contact: someone else reviews it.")).to_be_visible()
    checked(page)
    call_id = page.url.split("/ui/contacts/")[1].split("?")[0]

    # She opens Vic's chat from the list and reviews it, watching the score as she scores
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("link", name="Chat (inbound) · harassment").click()
    expect(page.get_by_role("heading", level=3, name="Review this contact")).to_be_visible()
    expect(page.get_by_text("(critical)")).to_have_count(2)
    checked(page)
    live = page.locator("#live-score")
    keys = list(SCORES)
    page.get_by_label(LABEL[keys[0]]).select_option(str(SCORES[keys[0]]))
    expect(live).to_contain_text(f"Scored 1 of {len(keys)} criteria")
    for key in keys[1:]:
        page.get_by_label(LABEL[key]).select_option(str(SCORES[key]))
    state = api.vigil.contacts.load(UUID(chat_id))
    assert state is not None
    version = api.vigil.contacts.scorecard_of(state)
    assert version is not None
    expected = score_review(version, SCORES)
    expect(live).to_contain_text(f"Weighted score: {expected.score} out of 100")
    expect(live).to_contain_text("Result: pass")
    # A critical criterion at 0 fails the review whatever the total: she sees it at once
    page.get_by_label(LABEL["risk_asked"]).select_option("0")
    expect(live).to_contain_text("Result: fail")
    expect(live).to_contain_text("a critical criterion scored 0")
    page.get_by_label(LABEL["risk_asked"]).select_option(str(SCORES["risk_asked"]))
    expect(live).to_contain_text("Result: pass")
    checked(page)
    page.get_by_label("Feedback for the handler").fill(
        "Clear options; check how the caller is coping before ending."
    )
    page.get_by_label("Rationale").fill("Options were accurate; listening was brief at the start.")
    page.get_by_role("button", name="Save review").click()
    expect(page.get_by_role("status")).to_have_text("Review saved.")
    expect(page.get_by_text(f"{expected.score} out of 100: passed")).to_be_visible()

    # And she schedules a call-back for Vic: a call-back is already chosen, due in an hour
    expect(page.get_by_label("Kind")).to_have_value("call_back")
    page.get_by_label("Due (service time)").fill("2026-11-17T16:30")
    page.get_by_label("Assignee (username; empty: you)").fill("vic")
    page.get_by_label("Detail").fill("Call back after 4pm to check the neighbour has stopped.")
    page.get_by_role("button", name="Schedule follow-up").click()
    expect(page.get_by_role("status")).to_have_text("Follow-up scheduled.")
    expect(
        page.get_by_text("Call back for vic, due Tue 17 Nov 2026, 16:30 (UTC+00:00)")
    ).to_be_visible()
    checked(page)

    # Through the API: her call, her review of Vic's chat and the call-back are recorded
    call = cora.get(f"/api/v1/contacts/{call_id}").json()["contact"]
    assert (call["handled_by"], call["channel"], call["occurred_at"]) == (
        "cora",
        "call",
        "2026-11-17T09:40:00Z",
    )
    assert call["caller"]["ref"] == "caller-2291"
    chat = cora.get(f"/api/v1/contacts/{chat_id}").json()["contact"]
    [review] = chat["reviews"]
    assert (review["reviewer"], review["scores"], review["score"], review["result"]) == (
        "cora",
        SCORES,
        expected.score,
        "pass",
    )
    [call_back] = chat["follow_ups"]
    assert (call_back["kind"], call_back["assignee"], call_back["due_at"]) == (
        "call_back",
        "vic",
        "2026-11-17T16:30:00Z",
    )

    # Nothing left the server's origin, nothing was blocked by the page's policy
    assert_same_origin(requests_made, api.base_url)
    assert console_errors == []


def test_the_volunteer_acknowledges_her_feedback_and_makes_her_call_back(
    page: Page, api: Api, clock: Clock, requests_made: list[str], console_errors: list[str]
) -> None:
    # Given Vic's chat, reviewed by Cora, with a call-back for Vic
    api.vigil.identity.register("vic", Role.VOLUNTEER, actor="e2e-setup")
    token = api.vigil.identity.issue_token("vic", actor="e2e-setup")
    vic = api.client(token)
    logged = vic.post("/api/v1/contacts", json=CHAT)
    assert logged.status_code == 201, logged.text
    chat_id = logged.json()["contact"]["id"]
    cora = api.user("cora", "coordinator")
    reviewed = cora.post(
        f"/api/v1/contacts/{chat_id}/reviews",
        json={
            "scores": SCORES,
            "feedback": "Clear options; check how the caller is coping before ending.",
            "rationale": "Options were accurate; listening was brief at the start.",
        },
    )
    assert reviewed.status_code == 201, reviewed.text
    scheduled = cora.post(
        f"/api/v1/contacts/{chat_id}/follow-ups",
        json={
            "kind": "call_back",
            "due_at": "2026-11-17T16:30:00+00:00",
            "assignee": "vic",
            "detail": "Call back after 4pm to check the neighbour has stopped.",
        },
    )
    assert scheduled.status_code == 201, scheduled.text
    clock.advance(minutes=30)
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})

    # Vic signs in, opens her chat from the contacts and reads the feedback
    page.goto("/ui/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("link", name="Chat (inbound) · harassment").click()
    expect(page.get_by_text("check how the caller is coping")).to_be_visible()
    expect(page.get_by_role("button", name="Save review")).to_have_count(0)
    expect(page.get_by_role("button", name="Schedule follow-up")).to_have_count(0)
    checked(page)

    # She acknowledges it, with a note
    page.get_by_label("Note on the feedback (optional)").fill("Will ask before ending.")
    page.get_by_role("button", name="Acknowledge feedback").click()
    expect(page.get_by_role("status")).to_have_text("Feedback acknowledged.")
    expect(page.get_by_role("button", name="Acknowledge feedback")).to_have_count(0)
    checked(page)

    # She calls back: no answer, she leaves a message; later she reaches the caller
    page.get_by_text("Record an attempt or complete it").click()
    page.get_by_label("Attempt outcome").select_option("left_message")
    page.get_by_label("Attempt note (optional)").fill("Left the helpline's number.")
    page.get_by_role("button", name="Record attempt").click()
    expect(page.get_by_role("status")).to_have_text("Attempt recorded.")
    clock.advance(minutes=10)
    page.get_by_text("Record an attempt or complete it").click()
    page.get_by_label("Completion outcome").fill("Reached: the neighbour has stopped.")
    page.get_by_role("button", name="Complete follow-up").click()
    expect(page.get_by_role("status")).to_have_text("Follow-up completed.")
    expect(page.get_by_text("Reached: the neighbour has stopped.")).to_be_visible()
    checked(page)

    # Through the API: the feedback acknowledged, the call-back attempted and completed
    chat = cora.get(f"/api/v1/contacts/{chat_id}").json()["contact"]
    [review] = chat["reviews"]
    assert (review["feedback_status"], review["acknowledgement_note"]) == (
        "acknowledged",
        "Will ask before ending.",
    )
    [call_back] = chat["follow_ups"]
    assert [a["outcome"] for a in call_back["attempts"]] == ["left_message"]
    assert (call_back["completed_by"], call_back["completion_outcome"]) == (
        "vic",
        "Reached: the neighbour has stopped.",
    )
    assert_same_origin(requests_made, api.base_url)
    assert console_errors == []
