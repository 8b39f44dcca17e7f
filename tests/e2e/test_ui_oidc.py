"""Signing in to the web UI through an identity provider (OpenID Connect's authorization code
flow with PKCE), over real HTTP, on SQLite and PostgreSQL, against a tiny provider of the
tests' own (``tests/e2e/oidc_provider.py``) served on a port of its own.

The provider proves who someone is; Vigil's own record says whether they may act and with
which roles. Every way a sign-in can go wrong ends on the sign-in page with a plain message,
no session and nothing written; a wrong credential counts toward the failed sign-in limit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from domain.shared import Role
from infrastructure.settings import Settings
from interfaces.composition import bootstrap
from interfaces.http import create_app
from interfaces.web.oidc import (
    CANCELLED,
    MISMATCH,
    NO_USER,
    REFUSED_CODE,
    STALE,
    UNAVAILABLE,
    UNVERIFIED,
)
from interfaces.web.sessions import SESSIONS_TABLE
from projections.store import view_store_for
from tests.conftest import Clock
from tests.e2e.conftest import LiveServer
from tests.e2e.oidc_provider import API_AUDIENCE, CLIENT_ID, CLIENT_SECRET, FakeProvider
from tests.e2e.support import Api
from tests.e2e.ui_support import browser, csrf_of, now_page, person

LIMIT = 3
BUTTON = "Sign in with single sign-on"


@dataclass
class Sso:
    api: Api
    provider: FakeProvider


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def sso_settings(settings: Settings, provider: FakeProvider, **more: Any) -> Settings:
    return settings.model_copy(
        update={
            "oidc_issuer": provider.issuer,
            "oidc_audience": API_AUDIENCE,
            "oidc_jwks_url": f"{provider.issuer}/certs",
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": SecretStr(CLIENT_SECRET),
            "auth_failure_limit": LIMIT,
            **more,
        }
    )


@pytest.fixture
def sso(settings: Settings, clock: Clock, provider: FakeProvider) -> Iterator[Sso]:
    # The endpoints are discovered from the issuer; the client's secret is sent as HTTP Basic.
    app = bootstrap(sso_settings(settings, provider), clock=clock)
    live = LiveServer(create_app(app))
    live.start()
    try:
        app.identity.register("kit.coordinator", Role.COORDINATOR, actor="e2e-setup")
        with Api(live.base_url, app) as api:
            yield Sso(api, provider)
    finally:
        live.stop()
        app.close()


def start(client: httpx.Client) -> str:
    """Press the button: Vigil sends the browser to the provider. The provider's address."""
    page = client.get("/ui/login")
    assert BUTTON in page.text
    assert 'href="/ui/login/oidc"' in page.text
    answer = client.get("/ui/login/oidc")
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def at_provider(authorize_url: str) -> str:
    """The person signs in at the provider, which sends them back: the callback's address."""
    answer = httpx.get(authorize_url, timeout=10)
    assert answer.status_code == 302, answer.text
    callback: str = answer.headers["location"]
    return callback


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def sso_sign_in(client: httpx.Client) -> httpx.Response:
    return client.get(at_provider(start(client)))


def assert_refused(answer: httpx.Response, status: int, message: str) -> None:
    assert answer.status_code == status, answer.text
    assert message in answer.text.replace("&#39;", "'")
    assert "<h1>Sign in to Vigil</h1>" in answer.text
    assert "vigil_session=" not in " ".join(answer.headers.get_list("set-cookie")).replace(
        'vigil_session=""', ""
    )


def assert_not_signed_in(client: httpx.Client) -> None:
    answer = client.get("/ui/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login"


# --- the whole way -------------------------------------------------------------------------------


def test_kit_signs_in_through_the_identity_provider_and_the_now_page_shows_him(sso: Sso) -> None:
    client = browser(sso.api)

    # When Kit presses "Sign in with single sign-on"
    assert BUTTON in client.get("/ui/login").text
    started = client.get("/ui/login/oidc")
    assert started.status_code == 303
    authorize = started.headers["location"]
    flow_cookie = next(h for h in started.headers.get_list("set-cookie") if "flow" in h)

    # Then he is sent to the provider's authorization endpoint (as discovered) with the code
    # flow's parameters: this client, the callback, a state, a nonce and an S256 challenge
    url = urlsplit(authorize)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{sso.provider.issuer}/authorize"
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == f"{sso.api.base_url}/ui/login/oidc/callback"
    assert query["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", query["code_challenge"])
    assert len(query["state"]) >= 43
    assert len(query["nonce"]) >= 43
    assert "openid" in query["scope"].split()
    # ...and the flow is held in a short-lived cookie: HttpOnly, SameSite=Lax (the provider's
    # redirect back is a cross-site navigation), for the flow's paths only
    attributes = {part.strip().lower() for part in flow_cookie.split(";")}
    assert {"httponly", "samesite=lax", "path=/ui/login/oidc", "max-age=600"} <= attributes

    # When he signs in there and is sent back
    with sso.api.writes_nothing():
        done = client.get(at_provider(authorize))

    # Then a session begins (the Strict session cookie), the flow's cookie is gone, and the
    # page moves on to the now page from this site (see interfaces/web/oidc.py)
    assert done.status_code == 200, done.text
    cookies = " ".join(done.headers.get_list("set-cookie"))
    session_cookie = next(h for h in done.headers.get_list("set-cookie") if "vigil_session" in h)
    assert "samesite=strict" in session_cookie.lower()
    assert 'vigil_oidc_flow=""' in cookies
    assert '<meta http-equiv="refresh" content="0; url=/ui/">' in done.text
    assert 'href="/ui/">Continue to Vigil</a>' in done.text

    # And the now page shows him, with his role from Vigil's record
    page = now_page(client)
    assert "Signed in as <strong>kit.coordinator</strong> (coordinator)" in page.text
    # ...and he reads the API's pages as anyone signed in does
    assert client.get("/ui/cases").status_code == 200


def test_a_single_sign_on_session_ends_at_sign_out_and_when_the_user_is_deactivated(
    sso: Sso,
) -> None:
    # Given Kit signed in through the provider
    client = browser(sso.api)
    assert sso_sign_in(client).status_code == 200
    page = now_page(client)

    # When he signs out, Then the session is over
    out = client.post("/ui/logout", data={"csrf_token": csrf_of(page)})
    assert out.status_code == 303
    assert_not_signed_in(client)

    # Given he signs in again, When an admin deactivates him
    assert sso_sign_in(client).status_code == 200
    now_page(client)
    sso.api.vigil.identity.register("ada.admin", Role.ADMIN, actor="e2e-setup")
    sso.api.vigil.identity.deactivate("kit.coordinator", actor="ada.admin")
    # Then his next page finds no session
    assert_not_signed_in(client)

    # And a session begun before a deactivation does not come back with a reactivation
    other = browser(sso.api)
    sso.api.vigil.identity.reactivate("kit.coordinator", actor="ada.admin")
    assert sso_sign_in(other).status_code == 200
    sso.api.vigil.identity.deactivate("kit.coordinator", actor="ada.admin")
    sso.api.vigil.identity.reactivate("kit.coordinator", actor="ada.admin")
    assert_not_signed_in(other)


def test_a_single_sign_on_session_ends_at_the_absolute_expiry(sso: Sso, clock: Clock) -> None:
    client = browser(sso.api)
    assert sso_sign_in(client).status_code == 200
    hours = sso.api.vigil.settings.ui_session_max_hours
    # Used every 20 minutes (never idle), it still ends when its time is up
    for _ in range(hours * 3 - 1):
        clock.advance(minutes=20)
        now_page(client)
    clock.advance(minutes=20)
    assert_not_signed_in(client)


# --- refusals ------------------------------------------------------------------------------------


def test_an_answer_with_another_state_is_refused_and_counted(sso: Sso) -> None:
    client = browser(sso.api)
    callback = at_provider(start(client))
    with sso.api.writes_nothing():
        answer = client.get(with_query(callback, state="not-the-state-sent"))
    assert_refused(answer, 400, MISMATCH)
    assert_not_signed_in(client)
    assert sso.provider.token_requests == 0  # the code was never exchanged


def test_an_answer_without_the_flows_cookie_is_refused_as_not_started_here(sso: Sso) -> None:
    # Given Kit's callback address reaches another browser (say, copied from a log)
    callback = at_provider(start(browser(sso.api)))
    stranger = browser(sso.api)
    with sso.api.writes_nothing():
        answer = stranger.get(callback)
    assert_refused(answer, 400, STALE)
    assert_not_signed_in(stranger)
    assert sso.provider.token_requests == 0


def test_a_flow_cookie_not_made_by_vigil_is_refused(sso: Sso) -> None:
    client = browser(sso.api)
    callback = at_provider(start(client))
    client.cookies.set("vigil_oidc_flow", "eyJzdGF0ZSI6ICJ4In0.forged", path="/ui/login/oidc")
    assert_refused(client.get(callback), 400, STALE)
    assert_not_signed_in(client)


def test_a_sign_in_left_longer_than_ten_minutes_is_refused(sso: Sso, clock: Clock) -> None:
    client = browser(sso.api)
    callback = at_provider(start(client))
    clock.advance(minutes=11)
    assert_refused(client.get(callback), 400, STALE)
    assert_not_signed_in(client)


def test_a_replayed_code_is_refused(sso: Sso) -> None:
    # Given Kit signed in, and someone kept a copy of his flow's cookie and the callback address
    client = browser(sso.api)
    authorize = start(client)
    sealed = client.cookies.get("vigil_oidc_flow")
    callback = at_provider(authorize)
    assert client.get(callback).status_code == 200

    # When the same browser goes back to the callback, Then the flow is over (its cookie gone)
    assert_refused(client.get(callback), 400, STALE)

    # When another browser replays the code with the copied cookie, Then the provider
    # refuses the spent code, and no session begins
    thief = browser(sso.api)
    thief.cookies.set("vigil_oidc_flow", sealed or "", path="/ui/login/oidc")
    with sso.api.writes_nothing():
        answer = thief.get(callback)
    assert_refused(answer, 401, REFUSED_CODE)
    assert_not_signed_in(thief)


@pytest.mark.parametrize(
    "claims",
    [
        {"nonce": "not-this-sign-ins-nonce"},
        {"aud": API_AUDIENCE},  # the API's audience, not this client's
        {"aud": "someone-else"},
        {"iss": "https://impostor.example"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"aud": [CLIENT_ID, "someone-else"], "azp": "someone-else"},
    ],
    ids=["wrong nonce", "api audience", "wrong audience", "wrong issuer", "expired", "wrong azp"],
)
def test_an_id_token_that_does_not_verify_is_refused(sso: Sso, claims: dict[str, Any]) -> None:
    sso.provider.id_token_claims = claims
    client = browser(sso.api)
    with sso.api.writes_nothing():
        answer = sso_sign_in(client)
    assert_refused(answer, 401, UNVERIFIED)
    assert_not_signed_in(client)


def test_an_id_token_signed_by_another_key_is_refused(sso: Sso) -> None:
    # The JWKS publishes the provider's key; the ID token is signed with another under its kid
    sso.provider.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client = browser(sso.api)
    with sso.api.writes_nothing():
        answer = sso_sign_in(client)
    assert_refused(answer, 401, UNVERIFIED)
    assert_not_signed_in(client)


def test_someone_vigil_does_not_know_is_refused(sso: Sso) -> None:
    sso.provider.signs_in = "nobody.here"
    client = browser(sso.api)
    with sso.api.writes_nothing():
        answer = sso_sign_in(client)
    assert_refused(answer, 401, NO_USER)
    assert_not_signed_in(client)


def test_a_deactivated_user_is_refused(sso: Sso) -> None:
    identity = sso.api.vigil.identity
    identity.register("ada.admin", Role.ADMIN, actor="e2e-setup")
    identity.deactivate("kit.coordinator", actor="ada.admin")
    client = browser(sso.api)
    with sso.api.writes_nothing():
        answer = sso_sign_in(client)
    assert_refused(answer, 401, NO_USER)
    assert_not_signed_in(client)


def test_a_person_who_cancels_at_the_provider_is_told_so(sso: Sso) -> None:
    client = browser(sso.api)
    callback = at_provider(start(client))
    denied = with_query(callback, error="access_denied", code="")
    assert_refused(client.get(denied), 401, CANCELLED)
    assert_not_signed_in(client)


def test_a_provider_that_is_down_is_told_plainly_never_a_500(sso: Sso) -> None:
    # Given Kit is at the provider when it goes down
    client = browser(sso.api)
    callback = at_provider(start(client))
    sso.provider.stop()

    # When he comes back, Then the code cannot be exchanged: a 502 page that says so
    with sso.api.writes_nothing():
        answer = client.get(callback)
    assert_refused(answer, 502, UNAVAILABLE)
    assert_not_signed_in(client)
    # ...and an outage is not a failed sign-in: more of them never reach the limit
    for _ in range(LIMIT + 1):
        assert client.get("/ui/login/oidc").status_code in (303, 502)


def test_a_provider_down_before_discovery_is_told_plainly(
    settings: Settings, clock: Clock, provider: FakeProvider
) -> None:
    configured = sso_settings(settings, provider)
    provider.stop()
    app = bootstrap(configured, clock=clock)
    live = LiveServer(create_app(app))
    live.start()
    try:
        with Api(live.base_url, app) as api:
            answer = browser(api).get("/ui/login/oidc")
            assert answer.status_code == 502
            assert UNAVAILABLE in answer.text.replace("&#39;", "'")
    finally:
        live.stop()
        app.close()


def test_failed_single_sign_ons_count_toward_the_same_limit_as_bad_tokens(sso: Sso) -> None:
    # Given one bad API token typed at sign-in
    client = browser(sso.api)
    form = client.get("/ui/login")
    bad = client.post("/ui/login", data={"csrf_token": csrf_of(form), "token": "not-a-token"})
    assert bad.status_code == 401

    # When single sign-ons fail for someone Vigil does not know, up to the limit and beyond
    sso.provider.signs_in = "nobody.here"
    answers = [sso_sign_in(client) for _ in range(LIMIT)]

    # Then the limit counts them with the token: the last is a 429 with Retry-After
    assert [a.status_code for a in answers] == [401] * (LIMIT - 1) + [429]
    assert "Too many failed sign-ins" in answers[-1].text
    assert int(answers[-1].headers["retry-after"]) >= 1
    # ...while a good single sign-on is still answered (a counter only ever refuses failures)
    sso.provider.signs_in = "kit.coordinator"
    assert sso_sign_in(client).status_code == 200
    now_page(client)


def test_sign_in_and_sign_out_are_logged_without_who_or_any_secret(sso: Sso) -> None:
    client = browser(sso.api)
    with structlog.testing.capture_logs() as logs:
        callback = at_provider(start(client))
        assert client.get(callback).status_code == 200
        page = now_page(client)
        client.post("/ui/logout", data={"csrf_token": csrf_of(page)})
    events = {e["event"]: e for e in logs if e["event"] in ("ui_signed_in", "ui_signed_out")}
    assert events["ui_signed_in"]["method"] == "oidc"
    assert events["ui_signed_out"]["method"] == "oidc"
    assert events["ui_signed_in"]["session"] == events["ui_signed_out"]["session"]
    assert re.fullmatch(r"[0-9a-f]{8}", events["ui_signed_in"]["session"])
    code = parse_qs(urlsplit(callback).query)["code"][0]
    state = parse_qs(urlsplit(callback).query)["state"][0]
    # No line of these says who (the access log's actor aside, as on every page), and none
    # holds the code, the state or the client's secret
    ours = [e for e in logs if e["event"] != "request"]
    assert "kit.coordinator" not in repr(ours)
    for secret in (code, state, CLIENT_SECRET):
        assert secret not in repr(logs)


def test_configured_endpoints_are_used_without_discovery(
    settings: Settings, clock: Clock, provider: FakeProvider
) -> None:
    configured = sso_settings(
        settings,
        provider,
        oidc_authorization_endpoint=f"{provider.issuer}/authorize",
        oidc_token_endpoint=f"{provider.issuer}/token",
    )
    app = bootstrap(configured, clock=clock)
    live = LiveServer(create_app(app))
    live.start()
    try:
        app.identity.register("kit.coordinator", Role.COORDINATOR, actor="e2e-setup")
        with Api(live.base_url, app) as api:
            client = browser(api)
            assert sso_sign_in(client).status_code == 200
            assert "kit.coordinator" in now_page(client).text
    finally:
        live.stop()
        app.close()
    assert provider.discovery_requests == 0


# --- without OIDC --------------------------------------------------------------------------------


def test_without_oidc_configured_there_is_no_single_sign_on_button(api: Api) -> None:
    client = browser(api)
    page = client.get("/ui/login")
    assert page.status_code == 200
    assert "single sign-on" not in page.text
    assert "/ui/login/oidc" not in page.text
    answer = client.get("/ui/login/oidc")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login"
    callback = client.get("/ui/login/oidc/callback?code=x&state=y")
    assert callback.status_code == 303
    assert callback.headers["location"] == "/ui/login"


def test_the_button_can_name_the_provider(
    settings: Settings, clock: Clock, provider: FakeProvider
) -> None:
    app = bootstrap(
        sso_settings(settings, provider, oidc_provider_name="Helpline Login"), clock=clock
    )
    live = LiveServer(create_app(app))
    live.start()
    try:
        with Api(live.base_url, app) as api:
            page = browser(api).get("/ui/login")
            assert '<a class="sso-link" href="/ui/login/oidc">Sign in with Helpline Login</a>' in (
                page.text
            )
    finally:
        live.stop()
        app.close()


# --- every sign-in: the log line, and the table kept small ------------------------------------


def _session_users(api: Api) -> list[str]:
    db = view_store_for(api.vigil.event_log.recorder)
    with db.transaction(commit=False) as tx:
        rows = tx.fetchall(f"SELECT username FROM {db.table(SESSIONS_TABLE)}")
    return sorted(str(r["username"]) for r in rows)


def test_signing_in_with_a_token_is_logged_with_its_method_and_not_who(api: Api) -> None:
    with structlog.testing.capture_logs() as logs:
        client, token = person(api, "vic", "volunteer")
        client.post("/ui/logout", data={"csrf_token": csrf_of(now_page(client))})
    ours = [e for e in logs if e["event"] in ("ui_signed_in", "ui_signed_out")]
    assert [(e["event"], e["method"]) for e in ours] == [
        ("ui_signed_in", "token"),
        ("ui_signed_out", "token"),
    ]
    assert ours[0]["session"] == ours[1]["session"]
    assert "vic" not in repr(ours)
    assert token not in repr(logs)


def test_sessions_past_their_absolute_expiry_are_deleted_at_the_next_sign_in(
    api: Api, clock: Clock
) -> None:
    # Given Vic signed in (and out) and Sam signed in, a day ago
    vic, _ = person(api, "vic", "volunteer")
    vic.post("/ui/logout", data={"csrf_token": csrf_of(now_page(vic))})
    person(api, "sam", "volunteer")
    clock.advance(hours=api.vigil.settings.ui_session_max_hours - 1)
    # ...and Kit an hour before the absolute expiry of theirs
    person(api, "kit", "coordinator")
    assert _session_users(api) == ["kit", "sam", "vic"]

    # When, past their expiry, Lee signs in
    clock.advance(hours=1)
    person(api, "lee", "safeguarding_lead")

    # Then Vic's and Sam's rows are gone; Kit's session, still live, is kept
    assert _session_users(api) == ["kit", "lee"]
