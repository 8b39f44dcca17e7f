"""Failed sign-ins are slowed, never turned against anyone else: a valid credential is answered
whatever the failure counters say, a forwarded header is believed from a trusted proxy only,
and an identity provider's JWT that is wrong in any way is a 401 counted like any failure."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.shared import Role
from infrastructure.settings import Settings
from interfaces.composition import bootstrap
from interfaces.http import create_app
from tests.conftest import Clock
from tests.e2e.conftest import LiveServer
from tests.e2e.support import SELF_HARM_POST, Api, assert_problem
from tests.integration.test_cli import last_line, serving, vigil
from tests.integration.test_identity import AUDIENCE, ISSUER, Jwks

BAD_TOKEN = "not-a-token"  # names no user, so only the address's counter counts it


def test_a_leads_valid_token_works_from_an_address_others_flooded_with_bad_tokens(
    api: Api,
) -> None:
    # Given everyone reaches Vigil from one address (as through a proxy it does not trust),
    # and someone has sent more bad tokens from it than the limit allows
    limit = api.vigil.settings.auth_failure_limit
    lee = api.user("lee", "safeguarding_lead")
    stranger = api.client(BAD_TOKEN)
    with api.writes_nothing():
        answers = [stranger.get("/api/v1/cases").status_code for _ in range(limit)]
        assert_problem(stranger.get("/api/v1/cases"), 429, "too-many-failed-attempts")
    assert answers == [401] * limit

    # When the lead, from the same address, reads and writes with a valid token
    read = lee.get("/api/v1/cases")
    written = lee.post("/api/v1/cases", json=SELF_HARM_POST)

    # Then both are answered, and the stranger's next bad token is still refused
    assert read.status_code == 200, read.text
    assert written.status_code == 201, written.text
    with api.writes_nothing():
        assert_problem(stranger.get("/api/v1/cases"), 429, "too-many-failed-attempts")


def test_bad_tokens_in_a_leads_name_from_everywhere_never_lock_the_lead_out(api: Api) -> None:
    # Given bad tokens naming the lead (the user id in a token is no secret), past the limit
    limit = api.vigil.settings.auth_failure_limit
    lee = api.user("lee", "safeguarding_lead")
    token = lee.headers["authorization"].removeprefix("Bearer ")
    forged = api.client(f"vgl_{token.split('_')[1]}_a-guess-at-the-secret")
    answers = [forged.get("/api/v1/cases").status_code for _ in range(limit + 1)]
    assert answers == [401] * limit + [429]

    # When the lead signs in with the real token, Then it works
    assert lee.get("/api/v1/cases").status_code == 200


# --- forwarded headers: `vigil serve` believes them from VIGIL_TRUSTED_PROXIES only ------------


def _get(base: str, token: str, forwarded_for: str) -> int:
    request = urllib.request.Request(
        f"{base}/api/v1/cases",
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": forwarded_for},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status: int = answer.status
            return status
    except urllib.error.HTTPError as refused:
        return refused.code


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"], ids=["no proxy", "behind a proxy"])
def test_vigil_serve_believes_x_forwarded_for_only_from_a_trusted_proxy(
    database_url: str, tmp_path: Path, trusted: str
) -> None:
    # As a user's shell would have it (none of the developer's VIGIL_*), as test_cli does.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")},
        "VIGIL_DATABASE_URL": database_url,
        "VIGIL_DATA_DIR": str(tmp_path / "data"),
        "VIGIL_AUTH_FAILURE_LIMIT": "2",
        "VIGIL_TRUSTED_PROXIES": trusted,
    }
    added = vigil(env, tmp_path, "users", "add", "lee", "--role", "safeguarding_lead")
    assert added.returncode == 0, added.stderr
    lee = last_line(added.stdout)

    with serving(env, tmp_path, tmp_path / "serve.log") as base:
        # When bad tokens come from 127.0.0.1, each naming another client in X-Forwarded-For
        spread = [_get(base, BAD_TOKEN, f"198.51.100.{n}") for n in (1, 2, 3)]
        # ...and then twice more naming the first of them again
        again = [_get(base, BAD_TOKEN, "198.51.100.1") for _ in range(2)]
        valid = _get(base, lee, "198.51.100.1")

    if not trusted:
        # Then, with no trusted proxy, the header is ignored: one client, over the limit at once
        assert spread == [401, 401, 429]
        assert again == [429, 429]
    else:
        # Then, from the trusted proxy, each forwarded client has a counter of its own
        assert spread == [401, 401, 401]
        assert again == [401, 429]
    # ...and either way the lead's valid token is answered
    assert valid == 200


# --- an identity provider's JWT whose algorithm does not fit its key ----------------------------


@pytest.fixture
def identity_provider() -> Iterator[Jwks]:
    provider = Jwks()
    provider.thread.start()
    try:
        yield provider
    finally:
        provider.server.shutdown()
        provider.server.server_close()


@pytest.fixture
def sso_api(
    settings: Settings, clock: Clock, identity_provider: Jwks
) -> Iterator[tuple[Api, Jwks]]:
    configured = settings.model_copy(
        update={
            "oidc_issuer": ISSUER,
            "oidc_audience": AUDIENCE,
            "oidc_jwks_url": identity_provider.url,
            "auth_failure_limit": 2,
        }
    )
    app = bootstrap(configured, clock=clock)
    live = LiveServer(create_app(app))
    live.start()
    try:
        app.identity.register("kit.coordinator", Role.COORDINATOR, actor="e2e-setup")
        with Api(live.base_url, app) as api:
            yield api, identity_provider
    finally:
        live.stop()
        app.close()


def _jwt_with_the_wrong_kind_of_key(jwks: Jwks, claims: dict[str, Any], swap: str) -> str:
    # Signed properly with one key, but naming (kid) the other: ES256 over the RSA key r1, or
    # RS256 over the EC key e1.
    if swap == "ES256 naming an RSA key":
        return jwks.sign(claims, kid="r1", alg="ES256")
    return jwks.sign(claims, kid="e1", alg="RS256")


@pytest.mark.parametrize("swap", ["ES256 naming an RSA key", "RS256 naming an EC key"])
def test_a_jwt_whose_algorithm_does_not_fit_its_keys_kind_is_a_counted_401(
    sso_api: tuple[Api, Jwks], swap: str
) -> None:
    api, jwks = sso_api
    kit = {"preferred_username": "kit.coordinator"}
    mismatched = api.client(_jwt_with_the_wrong_kind_of_key(jwks, kit, swap))

    # When the mismatched token is sent up to the limit, and once more
    with api.writes_nothing():
        first = [mismatched.get("/api/v1/cases") for _ in range(2)]
        over = mismatched.get("/api/v1/cases")

    # Then each is refused as not authenticated (not a 500), and counted: the next one is a 429
    for answer in first:
        assert_problem(answer, 401, "not-authenticated")
    assert_problem(over, 429, "too-many-failed-attempts")
    # ...while a right token from the same address still signs kit in
    assert api.client(jwks.sign(kit)).get("/api/v1/cases").status_code == 200
