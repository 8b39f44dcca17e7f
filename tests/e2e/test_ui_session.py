"""Signing in to the web UI over real HTTP, on SQLite and PostgreSQL: a session cookie with the
right attributes, stored hashed; bad tokens refused and counted with bad bearer tokens; idle and
absolute expiry on the server's clock; sign-out; a revoked token or a deactivated user ending
the session at once; CSRF on every post (403, nothing written); the UI's own CSP.

The server clock starts on Tuesday 17 November 2026, 09:30 UTC; the stories move it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
from starlette.responses import Response

from domain.shared import Role
from infrastructure.settings import Settings
from interfaces.http.security import API_CSP, UI_CSP
from interfaces.web.auth import set_cookie
from interfaces.web.sessions import SESSIONS_TABLE
from projections.store import view_store_for
from tests.conftest import Clock
from tests.e2e.support import Api, assert_problem
from tests.e2e.ui_support import browser, csrf_of, now_page, person, sign_in

LIMIT = 3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A low failure limit, so the throttle is reached in a few attempts."""
    return settings.model_copy(update={"auth_failure_limit": LIMIT})


def _session_rows(api: Api) -> list[dict[str, Any]]:
    db = view_store_for(api.vigil.event_log.recorder)
    with db.transaction(commit=False) as tx:
        return tx.fetchall(
            f"SELECT session_hash, username, ended_at FROM {db.table(SESSIONS_TABLE)}"
        )


def test_signing_in_with_a_good_token_begins_a_session_kept_only_as_a_hash(api: Api) -> None:
    # When Vic signs in with her API token
    api.vigil.identity.register("vic", Role.VOLUNTEER, actor="e2e-setup")
    token = api.vigil.identity.issue_token("vic", actor="e2e-setup")
    client = browser(api)
    answer = sign_in(client, token)

    # Then she is sent to the now page with a session cookie: HttpOnly, SameSite=Strict, for
    # /ui only, not Secure in the test environment (Secure everywhere but development and test)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if "vigil_session=" in h)
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/ui"} <= attributes
    assert "secure" not in attributes
    session_id = re.search(r"vigil_session=([^;]+)", cookie)
    assert session_id is not None

    # And the store holds an HMAC of the session id (under a key from the master key) and her
    # name, never the id or the token, nor the id's plain SHA-256
    rows = _session_rows(api)
    assert [r["session_hash"] for r in rows] == [
        hmac.new(
            api.vigil.ui_session_key,
            f"session\x1f{session_id.group(1)}".encode(),
            hashlib.sha256,
        ).hexdigest()
    ]
    assert rows[0]["username"] == "vic"
    assert rows[0]["ended_at"] is None

    # And the now page greets her by name, under one h1
    page = now_page(client)
    assert "Signed in as <strong>vic</strong>" in page.text
    assert page.text.count("<h1") == 1


def test_the_cookie_is_secure_outside_development_and_tests_and_over_https(
    settings: Settings,
) -> None:
    for environment, scheme, secure in (
        ("production", "http", True),
        ("development", "http", False),
        ("test", "http", False),
        ("development", "https", True),
    ):
        vigil: Any = SimpleNamespace(
            settings=settings.model_copy(update={"environment": environment})
        )
        request: Any = SimpleNamespace(url=SimpleNamespace(scheme=scheme))
        response = Response()
        set_cookie(response, vigil, request, "vigil_session", "x")
        attributes = {p.strip().lower() for p in response.headers["set-cookie"].split(";")}
        assert ("secure" in attributes) is secure, (environment, scheme)


def test_a_bad_token_is_refused_and_counts_with_bad_bearer_tokens(api: Api) -> None:
    # Given one bad bearer token on the API from this address
    client = browser(api)
    with api.writes_nothing():
        assert_problem(api.client("vgl_bad").get("/api/v1/cases"), 401, "not-authenticated")

        # When bad tokens are typed into the sign-in form up to the limit
        answers = [sign_in(client, "not-a-token") for _ in range(LIMIT - 1)]

        # Then each is refused with a message, and no session is begun
        assert [a.status_code for a in answers] == [401] * (LIMIT - 1)
        assert "That API token is not valid" in answers[0].text
        assert "vigil_session" not in client.cookies

        # And past the limit (counted with the bearer token's failure), 429 with Retry-After
        slowed = sign_in(client, "still-not-a-token")
        assert slowed.status_code == 429
        assert int(slowed.headers["retry-after"]) >= 1
        assert "Too many failed sign-ins" in slowed.text
        # ...as the API answers a bad bearer token from here now
        assert_problem(api.client("vgl_bad").get("/api/v1/cases"), 429, "too-many-failed-attempts")
    assert _session_rows(api) == []

    # But a good token still signs in from the same address (failures never lock anyone out)
    _, _ = person(api, "vic", "volunteer")


def test_the_now_page_needs_a_session(api: Api) -> None:
    client = browser(api)
    for cookie in (None, "made-up-session-id"):
        if cookie is not None:
            client.cookies.set("vigil_session", cookie, path="/ui")
        answer = client.get("/ui/")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/ui/login"
    # And / leads to the UI
    root = client.get("/")
    assert root.status_code == 303
    assert root.headers["location"] == "/ui/"
    # And a bearer token is no session: the pages are for people signed in through the form
    lee_api = api.user("lee", "safeguarding_lead")
    assert lee_api.get("/ui/", follow_redirects=False).status_code == 303


def test_a_session_ends_when_idle_and_at_its_absolute_limit(api: Api, clock: Clock) -> None:
    settings = api.vigil.settings
    idle, max_hours = settings.ui_session_idle_minutes, settings.ui_session_max_hours
    client, _ = person(api, "vic", "volunteer")

    # A session used within its idle time keeps going...
    for _ in range(3):
        clock.advance(minutes=idle - 1)
        now_page(client)
    # ...and one left alone for the idle time ends
    clock.advance(minutes=idle)
    assert client.get("/ui/").headers["location"] == "/ui/login"
    assert _session_rows(api)[0]["ended_at"] is not None

    # A busy session ends at its absolute limit, however busy
    busy, _ = person(api, "bea", "volunteer")
    step = idle - 5
    used = 0
    while used + step < max_hours * 60:
        clock.advance(minutes=step)
        used += step
        now_page(busy)
    clock.advance(minutes=max_hours * 60 - used)
    answer = busy.get("/ui/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login"


def test_sign_out_ends_the_session_and_the_old_cookie_no_longer_works(api: Api) -> None:
    client, _ = person(api, "vic", "volunteer")
    session_id = client.cookies["vigil_session"]
    csrf = csrf_of(now_page(client))

    # When she signs out
    with api.writes_nothing():
        answer = client.post("/ui/logout", data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login"
    assert "vigil_session" not in client.cookies

    # Then the old cookie, sent again from elsewhere, opens nothing
    other = browser(api)
    other.cookies.set("vigil_session", session_id, path="/ui")
    assert other.get("/ui/").headers["location"] == "/ui/login"
    assert _session_rows(api)[0]["ended_at"] is not None


def test_a_revoked_token_or_a_deactivated_user_ends_the_session_at_once(api: Api) -> None:
    identity = api.vigil.identity
    client, _ = person(api, "vic", "volunteer")
    now_page(client)
    user = identity.get("vic")
    assert user is not None
    identity.revoke_token("vic", user.tokens[0].token_id, actor="e2e-setup")
    assert client.get("/ui/").headers["location"] == "/ui/login"

    other, _ = person(api, "bea", "volunteer")
    now_page(other)
    identity.register("ada", Role.ADMIN, actor="e2e-setup")
    identity.deactivate("bea", actor="ada")
    assert other.get("/ui/").headers["location"] == "/ui/login"


def test_a_post_without_the_sessions_csrf_token_is_refused_and_writes_nothing(
    api: Api,
) -> None:
    client, _ = person(api, "vic", "volunteer")
    csrf = csrf_of(now_page(client))
    stranger = browser(api)
    shift = "00000000-0000-4000-8000-000000000000"
    with api.writes_nothing():
        for sender, data in (
            (client, {}),
            (client, {"csrf_token": "not-the-token"}),
            (client, {"csrf_token": csrf + "x"}),
            (stranger, {"csrf_token": csrf}),  # no session at all
        ):
            for path in (f"/ui/shifts/{shift}/check-in", "/ui/logout"):
                answer = sender.post(path, data=data)
                assert answer.status_code == 403, (path, data, answer.text)
                assert "Nothing was saved" in answer.text
        # A sign-in form not served to this browser (no matching cookie) is refused too
        assert stranger.post("/ui/login", data={"csrf_token": "x", "token": "t"}).status_code == 403
    # And the session survived the refused sign-out
    now_page(client)


def test_ui_pages_carry_their_own_strict_csp_and_no_inline_script_or_style(api: Api) -> None:
    client, _ = person(api, "vic", "volunteer")
    for path in ("/ui/", "/ui/login", "/ui/static/vigil.css"):
        answer = client.get(path)
        assert answer.headers["content-security-policy"] == UI_CSP, path
    assert "'unsafe-inline'" not in UI_CSP
    assert "'unsafe-eval'" not in UI_CSP
    page = now_page(client).text
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None
    assert "<style" not in page
    assert " style=" not in page
    assert " hx-on" not in page
    assert client.get("/ui/static/htmx.min.js").status_code == 200
    # The API keeps its own
    assert api.client().get("/health").headers["content-security-policy"] == API_CSP


def test_htmx_requests_carry_the_csrf_token_in_a_header(api: Api) -> None:
    # The page gives HTMX the session's token for every request it sends (hx-headers on body)
    client, _ = person(api, "vic", "volunteer")
    page = now_page(client).text
    csrf = csrf_of(now_page(client))
    assert f'hx-headers=\'{{"X-CSRF-Token": "{csrf}"}}\'' in page
    # A post carrying it as the header, with no form field, is the person's own
    with api.writes_nothing():
        refused = client.post("/ui/logout", headers={"X-CSRF-Token": "wrong"})
    assert refused.status_code == 403
    answer = client.post("/ui/logout", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 303
    assert client.get("/ui/").headers["location"] == "/ui/login"


def test_signing_in_again_replaces_the_browsers_session(api: Api) -> None:
    api.vigil.identity.register("vic", Role.VOLUNTEER, actor="e2e-setup")
    token = api.vigil.identity.issue_token("vic", actor="e2e-setup")
    client = browser(api)
    form = csrf_of(client.get("/ui/login"))
    assert client.post("/ui/login", data={"csrf_token": form, "token": token}).status_code == 303
    first = client.cookies["vigil_session"]

    # When the same browser posts the sign-in form again (a form left open in another tab)
    client.cookies.set("vigil_login_csrf", form, path="/ui")
    again = client.post("/ui/login", data={"csrf_token": form, "token": token})

    # Then it has a new session, and the first one is ended
    assert again.status_code == 303
    assert client.cookies["vigil_session"] != first
    now_page(client)
    other = browser(api)
    other.cookies.set("vigil_session", first, path="/ui")
    assert other.get("/ui/").headers["location"] == "/ui/login"
    assert sorted(r["ended_at"] is None for r in _session_rows(api)) == [False, True]


def test_a_session_row_planted_or_edited_in_the_table_is_no_session(api: Api) -> None:
    """The application role can write the sessions table; a row written without the master key
    (a leaked database URL) grants nothing, and an edited row stops working."""
    client, _ = person(api, "vic", "volunteer")
    cookie = client.cookies["vigil_session"]
    store = view_store_for(api.vigil.event_log.recorder)
    table = store.table(SESSIONS_TABLE)
    api.vigil.identity.register("lee", Role.SAFEGUARDING_LEAD, actor="e2e-setup")
    with store.transaction(commit=True) as tx:
        # Edit the live row: it now names the lead
        tx.execute(f"UPDATE {table} SET username = %(u)s", {"u": "lee"})
    answer = client.get("/ui/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login"
    # A row planted with a chosen id and its plain SHA-256 is no session either
    planted = "chosen-session-id"
    with store.transaction(commit=True) as tx:
        tx.execute(
            f"INSERT INTO {table} (session_hash, username, credential_id, csrf_token, "
            "created_at, last_seen_at, row_mac) VALUES (%(h)s, 'lee', %(c)s, 'x', %(at)s, "
            "%(at)s, 'forged')",
            {
                "h": hashlib.sha256(planted.encode()).hexdigest(),
                "c": str(UUID(int=1)),
                "at": store.encode_time(api.vigil.clock()),
            },
        )
    intruder = browser(api)
    intruder.cookies.set("vigil_session", planted, path="/ui")
    assert intruder.get("/ui/").status_code == 303
    assert cookie  # the original cookie was real
