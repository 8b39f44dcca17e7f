"""Admins manage users over HTTP; every answer is hardened; failed sign-ins are slowed down."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import structlog

from domain.shared import Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil
from interfaces.http import create_app
from tests.e2e.conftest import LiveServer
from tests.e2e.support import Api, assert_problem

USERS = "/api/v1/users"


def test_an_admin_registers_a_user_issues_a_token_and_revokes_it(api: Api) -> None:
    admin = api.user("alex.admin", "admin")
    lead = api.user("priya.lead", "safeguarding_lead")

    registered = admin.post(USERS, json={"username": "Amara", "role": "volunteer"})
    assert registered.status_code == 201, registered.text
    assert registered.headers["location"] == f"{USERS}/amara"
    # A volunteer reads case content: the role waits for a second person.
    assert registered.json()["roles"] == []
    [grant] = registered.json()["pending_grants"]
    assert (grant["role"], grant["requested_by"]) == ("volunteer", "alex.admin")

    issued = admin.post(f"{USERS}/amara/tokens", json={"expires_in_days": 30})
    assert issued.status_code == 201, issued.text
    answer = issued.json()
    amara = api.client(answer["token"])
    assert_problem(amara.get("/api/v1/cases"), 401, "not-authenticated")
    approved = lead.post(
        f"{USERS}/amara/role-grants/{grant['grant_id']}/decisions", json={"decision": "approved"}
    )
    assert approved.status_code == 201, approved.text
    assert amara.get("/api/v1/cases").status_code == 200
    assert answer["expires_at"]
    assert [t["status"] for t in answer["user"]["tokens"]] == ["live"]
    assert answer["user"]["tokens"][0]["issued_by"] == "alex.admin"
    assert answer["token"] not in admin.get(f"{USERS}/amara").text  # shown once only

    revoked = admin.delete(f"{USERS}/amara/tokens/{answer['token_id']}")

    assert revoked.status_code == 200, revoked.text
    assert [t["status"] for t in revoked.json()["tokens"]] == ["revoked"]
    assert_problem(amara.get("/api/v1/cases"), 401, "not-authenticated")
    with api.writes_nothing():
        again = admin.delete(f"{USERS}/amara/tokens/{answer['token_id']}")
    assert_problem(again, 409, "rule-violation")


def test_roles_are_granted_and_revoked_and_take_effect_at_once(api: Api) -> None:
    admin = api.user("alex.admin", "admin")
    other_admin = api.user("sam.admin", "admin")
    kit = api.user("kit", "volunteer")
    assert kit.post("/api/v1/cases/" + str(uuid4()) + "/closure", json={}).status_code == 403

    asked = admin.post(f"{USERS}/kit/roles", json={"role": "coordinator"})
    assert asked.status_code == 201, asked.text
    [grant] = asked.json()["pending_grants"]
    assert kit.post("/api/v1/cases/" + str(uuid4()) + "/closure", json={}).status_code == 403

    granted = other_admin.post(
        f"{USERS}/kit/role-grants/{grant['grant_id']}/decisions", json={"decision": "approved"}
    )

    assert granted.status_code == 201, granted.text
    assert granted.json()["role"] == "coordinator"
    assert granted.json()["roles"] == ["coordinator", "volunteer"]
    assert kit.post("/api/v1/cases/" + str(uuid4()) + "/closure", json={}).status_code == 422

    revoked = admin.delete(f"{USERS}/kit/roles/coordinator")

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["roles"] == ["volunteer"]
    assert kit.post("/api/v1/cases/" + str(uuid4()) + "/closure", json={}).status_code == 403
    with api.writes_nothing():
        assert_problem(admin.delete(f"{USERS}/kit/roles/volunteer"), 409, "rule-violation")
        assert_problem(
            admin.post(f"{USERS}/kit/roles", json={"role": "captain"}), 422, "invalid-input"
        )


def test_a_deactivated_user_is_refused_at_once_and_the_last_admin_stays(api: Api) -> None:
    admin = api.user("alex.admin", "admin")
    kit = api.user("kit", "coordinator")
    assert kit.get("/api/v1/cases").status_code == 200

    deactivated = admin.post(f"{USERS}/kit/deactivation")

    assert deactivated.status_code == 201, deactivated.text
    assert deactivated.json()["active"] is False
    assert_problem(kit.get("/api/v1/cases"), 401, "not-authenticated")
    with api.writes_nothing():
        last = admin.post(f"{USERS}/alex.admin/deactivation")
    problem = assert_problem(last, 409, "rule-violation")
    assert "last active admin" in problem["detail"]
    listed = admin.get(USERS).json()["items"]
    assert [(u["username"], u["active"]) for u in listed] == [("alex.admin", True), ("kit", False)]


def test_unknown_users_are_404_and_bad_input_is_422_writing_nothing(api: Api) -> None:
    admin = api.user("alex.admin", "admin")

    with api.writes_nothing():
        assert_problem(admin.get(f"{USERS}/nobody"), 404, "item-not-found")
        assert_problem(admin.post(f"{USERS}/nobody/tokens", json={}), 404, "item-not-found")
        assert_problem(admin.post(f"{USERS}/nobody/deactivation"), 404, "item-not-found")
        assert_problem(
            admin.post(USERS, json={"username": "no spaces", "role": "volunteer"}),
            422,
            "invalid-input",
            errors=["username"],
        )
        assert_problem(
            admin.post(USERS, json={"username": "alex.admin", "role": "volunteer"}),
            409,
            "rule-violation",
        )
        assert_problem(
            admin.post(
                f"{USERS}/alex.admin/tokens",
                json={"expires_in_days": 1, "expires_at": "2030-01-01T00:00:00Z"},
            ),
            422,
            "invalid-input",
        )
        assert_problem(
            admin.post(f"{USERS}/alex.admin/tokens", json={"expires_at": "2000-01-01T00:00:00Z"}),
            422,
            "invalid-input",
            errors=["expires_at"],
        )


def test_refusals_by_a_users_record_speak_of_the_user_not_a_case(api: Api) -> None:
    # Given a deactivated user and a revoked token
    admin = api.user("alex.admin", "admin")
    token_id = api.vigil.identity.issue("alex.admin", actor="e2e-setup").token_id
    admin.delete(f"{USERS}/alex.admin/tokens/{token_id}")
    api.user("kit", "coordinator")
    assert admin.post(f"{USERS}/kit/deactivation").status_code == 201

    # When an admin asks for what the user's record does not allow
    with api.writes_nothing():
        refusals = [
            admin.post(f"{USERS}/kit/deactivation"),
            admin.post(f"{USERS}/alex.admin/reactivation"),
            admin.post(f"{USERS}/kit/tokens", json={}),
            admin.post(f"{USERS}/kit/roles", json={"role": "auditor"}),
            admin.post(USERS, json={"username": "kit", "role": "volunteer"}),
            admin.delete(f"{USERS}/alex.admin/tokens/{token_id}"),
        ]

    # Then each is a 409 of the same type as ever, titled for a user, not a case
    for refused in refusals:
        problem = assert_problem(refused, 409, "rule-violation")
        assert problem["title"] == "Not allowed in the user's current state", problem


def test_a_token_expires_at_most_ten_years_from_now_however_it_is_asked(api: Api) -> None:
    # Given an admin, and the server's clock
    admin = api.user("alex.admin", "admin")
    now = api.vigil.clock()

    # When a token is asked to expire further away than 3650 days, by a moment
    with api.writes_nothing():
        far = [
            admin.post(f"{USERS}/alex.admin/tokens", json={"expires_at": moment})
            for moment in (
                "9999-12-31T23:59:59-14:00",
                (now + timedelta(days=3650, seconds=1)).isoformat(),
            )
        ]
        by_days = admin.post(f"{USERS}/alex.admin/tokens", json={"expires_in_days": 3651})

    # Then it is refused as invalid input naming the field, as a lifetime over the cap is
    for refused in far:
        assert_problem(refused, 422, "invalid-input", errors=["expires_at"])
    assert_problem(by_days, 422, "invalid-input", errors=["expires_in_days"])
    # and the cap itself is allowed
    at_cap = admin.post(
        f"{USERS}/alex.admin/tokens",
        json={"expires_at": (now + timedelta(days=3650)).isoformat()},
    )
    assert at_cap.status_code == 201, at_cap.text


def test_users_events_name_the_admin_who_acted(api: Api) -> None:
    admin = api.user("alex.admin", "admin")
    admin.post(USERS, json={"username": "amara", "role": "volunteer"})

    user = api.vigil.identity.get("amara")
    assert user is not None
    assert [e.actor for e in api.vigil.event_log.events_of(user.id)] == ["alex.admin"]


def test_admins_see_no_case_content_and_others_cannot_manage_users(api: Api) -> None:
    admin = api.user("alex.admin", "admin")
    lead = api.user("priya.lead", "safeguarding_lead")

    assert_problem(admin.get("/api/v1/cases"), 403, "not-permitted")
    with api.writes_nothing():
        assert_problem(
            lead.post(USERS, json={"username": "eve", "role": "admin"}), 403, "not-permitted"
        )
    assert_problem(lead.get(USERS), 403, "not-permitted")


# --- hardening ----------------------------------------------------------------------------------


@contextmanager
def serving(vigil: Vigil, **settings: Any) -> Iterator[httpx.Client]:
    configured = vigil.settings.model_copy(update=settings)
    vigil.settings = configured
    server = LiveServer(create_app(vigil), trusted_proxies=configured.trusted_proxy_list)
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            yield client
    finally:
        server.stop()


def test_every_answer_carries_the_security_headers(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")

    for answer in (
        volunteer.get("/api/v1/cases"),
        api.client().get("/api/v1/cases"),  # 401
        volunteer.get("/api/v1/nowhere"),  # 404
        api.client().get("/health"),
    ):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert "strict-transport-security" not in answer.headers
        assert "access-control-allow-origin" not in answer.headers

    docs = api.client().get("/docs")
    assert docs.status_code == 200
    # Swagger UI from this origin only: no inline script, no CDN (tests/e2e/test_docs_offline.py).
    policy = docs.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "https:" not in policy


def test_cors_is_closed_by_default_and_open_only_to_configured_origins(api: Api) -> None:
    preflight = {
        "Origin": "https://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    closed = api.client().options("/api/v1/cases", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers

    with serving(api.vigil, cors_origins="https://console.example.org", hsts_seconds=31536000) as c:
        allowed = c.options(
            "/api/v1/cases", headers={**preflight, "Origin": "https://console.example.org"}
        )
        refused = c.options("/api/v1/cases", headers=preflight)
        read = c.get("/health", headers={"Origin": "https://console.example.org"})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://console.example.org"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in refused.headers
    assert read.headers["access-control-allow-origin"] == "https://console.example.org"
    assert "etag" in read.headers["access-control-expose-headers"].lower()
    assert read.headers["strict-transport-security"] == "max-age=31536000"


def test_repeated_failed_sign_ins_from_one_address_are_answered_429(api: Api) -> None:
    limit = api.vigil.settings.auth_failure_limit
    kit = api.user("kit", "coordinator")
    stranger = api.client("vgl_" + "0" * 32 + "_guess")

    answers = [stranger.get("/api/v1/cases").status_code for _ in range(limit - 1)]
    assert kit.get("/api/v1/cases").status_code == 200  # successes are neither counted nor slowed
    answers.append(stranger.get("/api/v1/cases").status_code)
    assert answers == [401] * limit

    blocked = stranger.get("/api/v1/cases")

    problem = assert_problem(blocked, 429, "too-many-failed-attempts")
    assert (
        1 <= int(blocked.headers["retry-after"]) <= api.vigil.settings.auth_failure_window_seconds
    )
    assert "try again" in problem["detail"]
    # Only failures are refused: a valid token from that address is still answered.
    assert kit.get("/api/v1/cases").status_code == 200
    assert api.client().get("/health").status_code == 200  # public routes are untouched


def test_requests_without_a_token_are_not_failed_attempts(api: Api) -> None:
    limit = api.vigil.settings.auth_failure_limit
    kit = api.user("kit", "coordinator")
    anonymous = api.client()

    # Given more requests without any token than the limit allows, all from one address
    for _ in range(limit + 2):
        assert_problem(anonymous.get("/api/v1/cases"), 401, "not-authenticated")

    # Then a wrong token from that address is still checked (401, not 429)...
    wrong = api.client("vgl_" + "0" * 32 + "_guess")
    assert_problem(wrong.get("/api/v1/cases"), 401, "not-authenticated")
    # ...and a valid one still works
    assert kit.get("/api/v1/cases").status_code == 200


def test_bad_tokens_in_a_users_name_are_slowed_but_never_lock_the_user_out(
    vigil: Vigil,
) -> None:
    vigil.identity.register("kit", Role.COORDINATOR, actor="test")
    token = vigil.identity.issue_token("kit", actor="test")
    forged = {"Authorization": f"Bearer vgl_{token.split('_')[1]}_guess"}

    def from_address(n: int) -> dict[str, str]:
        # Believed from the trusted proxy (127.0.0.1): each request seems to come from afar.
        return {"X-Forwarded-For": f"198.51.100.{n}"}

    with serving(vigil, auth_failure_limit=3, trusted_proxies="127.0.0.1") as client:
        spread = [
            client.get("/api/v1/cases", headers={**forged, **from_address(n)}).status_code
            for n in range(4)
        ]
        valid = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})

    assert spread == [401, 401, 401, 429]
    assert valid.status_code == 200


def test_no_token_reaches_the_logs(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")
    token = volunteer.headers["authorization"].removeprefix("Bearer ")
    wrong = token[:-4] + "abcd"

    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        assert volunteer.get("/api/v1/cases").status_code == 200
        assert api.client(wrong).get("/api/v1/cases").status_code == 401
        jwt_like = api.client("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
        assert jwt_like.get("/api/v1/cases").status_code == 401
        issued = volunteer.post("/api/v1/users/me/tokens", json={}).json()["token"]
        # The server writes its access line just after answering: wait (bounded) for it.
        deadline = time.monotonic() + 5
        while len([line for line in logs if line["event"] == "request"]) < 4:
            assert time.monotonic() < deadline, logs
            time.sleep(0.01)

    logged = repr(logs)
    assert [line["status"] for line in logs if line["event"] == "request"] == [200, 401, 401, 201]
    for secret in (token, wrong, issued, token.split("_", 2)[2], issued.split("_", 2)[2]):
        assert secret not in logged
    assert "eyJhbGciOiJSUzI1NiJ9" not in logged


def test_settings_of_the_hardening_are_checked() -> None:
    settings = Settings(_env_file=None, cors_origins=" https://a.example , https://b.example ")
    assert settings.cors_origin_list == ["https://a.example", "https://b.example"]
    assert Settings(_env_file=None).cors_origin_list == []


def test_the_contract_documents_the_admin_api_as_admin_only(api: Api) -> None:
    paths = api.client().get("/openapi.json").json()["paths"]

    for path, methods in (
        ("/api/v1/users", ("get", "post")),
        ("/api/v1/users/{username}/roles/{role}", ("delete",)),
        ("/api/v1/users/{username}/tokens", ("post",)),
        ("/api/v1/users/{username}/deactivation", ("post",)),
    ):
        for method in methods:
            assert paths[path][method]["x-allowed-roles"] == ["admin"], (path, method)
            assert paths[path][method]["summary"]
