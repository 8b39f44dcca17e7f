"""Break-glass with an Idempotency-Key, over real HTTP, on SQLite and PostgreSQL.

Vic, a volunteer on the helpline, breaks the glass on a restricted self-harm case; the answer
is lost and her client retries: she gets the same grant, even after it has run out, and no
second grant is written. Priya, the safeguarding lead, reviews it and her retry gets the same
review. The same key on another request is refused (422) and writes nothing.
"""

from __future__ import annotations

import httpx
import pytest

from infrastructure.settings import Settings
from tests.conftest import Clock
from tests.e2e.support import Api, assert_problem, open_case

REASON = "Member rang the helpline in crisis naming this thread; I need the history now."
REVIEW = {"outcome": "appropriate", "rationale": "A real emergency; access was proportionate."}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The product default: self-harm risk and harm to others are restricted."""
    return settings.model_copy(update={"restricted_categories": "self_harm_risk,harm_to_others"})


def test_a_retried_break_glass_and_its_review_answer_as_the_first_time(
    api: Api, clock: Clock
) -> None:
    priya = api.user("priya", "safeguarding_lead")
    vic = api.user("vic", "volunteer")
    case = open_case(priya)
    glass = f"/api/v1/cases/{case['id']}/break-glass"
    key = {"Idempotency-Key": "vic-glass-1"}

    def break_glass() -> httpx.Response:
        return vic.post(glass, json={"reason": REASON}, headers=key)

    first = break_glass()
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    # Without the key a repeat is refused (she already holds a grant); with it, the first answer.
    with api.writes_nothing():
        assert_problem(vic.post(glass, json={"reason": REASON}), 409, "rule-violation")
        retry = break_glass()
    assert retry.status_code == 201, retry.text
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["vigil-position"] == first.headers["vigil-position"]

    # The grant runs out; a late retry still answers with it, and grants nothing new.
    clock.advance(minutes=61)
    with api.writes_nothing():
        late = break_glass()
    assert (late.status_code, late.content) == (201, first.content)
    with api.writes_nothing():
        other = vic.post(glass, json={"reason": REASON + " Again."}, headers=key)
    assert_problem(other, 422, "idempotency-key-reused", errors=["Idempotency-Key"])

    reviews = f"/api/v1/break-glass/{first.json()['grant_id']}/reviews"
    review_key = {"Idempotency-Key": "review-vic-glass-1"}
    reviewed = priya.post(reviews, json=REVIEW, headers=review_key)
    assert reviewed.status_code == 201, reviewed.text
    with api.writes_nothing():
        assert_problem(priya.post(reviews, json=REVIEW), 409, "rule-violation")
        again = priya.post(reviews, json=REVIEW, headers=review_key)
    assert again.status_code == 201, again.text
    assert again.content == reviewed.content
    assert again.headers["idempotent-replayed"] == "true"
    with api.writes_nothing():
        changed = priya.post(
            reviews, json={**REVIEW, "outcome": "inappropriate"}, headers=review_key
        )
    assert_problem(changed, 422, "idempotency-key-reused", errors=["Idempotency-Key"])

    # One grant and one review in the access log: the retries left no trace.
    log = priya.get("/api/v1/audit/access", params={"user": "vic"}).json()["items"]
    assert [e["kind"] for e in log] == ["break_glass_granted"]
    (entry,) = log
    assert entry["grant_id"] == first.json()["grant_id"]
