"""Trustees see numbers, not people, over real HTTP: a trustee may read reports and sign off
the serious-incident register, and nothing else.

Every route of the app is walked (so a route added later is covered without touching this
test): outside the reports and the register's sign-offs, their own tokens and the public
operations routes, a trustee meets 403 on every read and write of cases, contacts, shifts,
queues, exports, the access log, users and the rest, and the log does not grow.
"""

from __future__ import annotations

from fastapi.routing import APIRoute

from domain.access.permissions import ROLE_PERMISSIONS, Permission, reads_case_content
from domain.shared import Role
from interfaces.http.app import route_permissions
from tests.e2e.support import PROBLEM_BASE, Api
from tests.e2e.test_permission_matrix import PUBLIC, SIGNED, _api_routes, _probe

# What a trustee may reach: the reports (the lead's routes, under /reports) with the register's
# sign-offs, and their own tokens (users.own_tokens: the user's own, the domain checks).
TRUSTEE_PREFIXES = ("/api/v1/reports",)


def _trustee_may(method: str, route: APIRoute) -> bool:
    may = route_permissions(route) <= ROLE_PERMISSIONS[Role.TRUSTEE]
    own_tokens = route_permissions(route) == {Permission.OWN_TOKENS}
    assert not may or route.path.startswith(TRUSTEE_PREFIXES) or own_tokens, (
        f"a trustee may call {method} {route.path}: only reports and their own tokens"
    )
    return may


def test_the_trustee_role_holds_reports_and_the_sign_off_only() -> None:
    assert ROLE_PERMISSIONS[Role.TRUSTEE] == {
        Permission.TRUSTEE_PACK_READ,
        Permission.REGISTER_SIGN_OFF,
        Permission.OWN_TOKENS,
    }
    # Only trustees sign the register off; a trustee reads no case content, so granting the role
    # needs no second person.
    assert [r for r in Role if Permission.REGISTER_SIGN_OFF in ROLE_PERMISSIONS[r]] == [
        Role.TRUSTEE
    ]
    assert not reads_case_content(Role.TRUSTEE)


def test_a_trustee_is_refused_every_route_but_the_reports(api: Api) -> None:
    trustee = api.user("tess", "trustee")
    refused: list[str] = []
    reached: list[str] = []
    with api.writes_nothing():
        for method, route in _api_routes(api.vigil):
            if (method, route.path) in PUBLIC:
                continue
            where = f"{method} {route.path}"
            if (method, route.path) in SIGNED:
                # A forum's delivery: no bearer token opens it, a trustee's no more than any
                answer = trustee.request(method, route.path.replace("{service}", "default"))
                assert answer.status_code == 401, f"{where}: {answer.status_code}"
                refused.append(where)
                continue
            if _trustee_may(method, route):
                reached.append(where)
                continue
            path, options = _probe(route)
            answer = trustee.request(method, path, **options)
            assert answer.status_code == 403, f"{where}: {answer.status_code} {answer.text[:200]}"
            assert answer.json()["type"] == PROBLEM_BASE + "not-permitted", where
            refused.append(where)
    # The walk is real: case, contact, shift and queue reads and writes are among the refused.
    for expected in (
        "GET /api/v1/cases",
        "GET /api/v1/cases/{case_id}",
        "GET /api/v1/cases/{case_id}/timeline",
        "GET /api/v1/cases/{case_id}/export",
        "POST /api/v1/cases",
        "GET /api/v1/contacts",
        "GET /api/v1/queues/{name}",
        "GET /api/v1/audit/access",
        "GET /api/v1/shifts",
        "POST /api/v1/shifts",
        "POST /api/v1/cases/{case_id}/serious-incident-assessments",
        "POST /api/v1/sla/breaches/{clock_id}/explanations",
    ):
        assert expected in refused, f"{expected} was not walked"
    assert "POST /api/v1/reports/trustee/register-sign-offs" in reached
    assert len(refused) >= 60
    assert "GET /api/v1/reports/trustee/register-sign-offs" in reached


def test_a_trustee_signs_the_register_off(api: Api) -> None:
    trustee = api.user("tess", "trustee")
    url = "/api/v1/reports/trustee/register-sign-offs"
    answer = trustee.post(url, json={"period_from": "2026-07-01", "period_to": "2026-09-30"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["sign_off"]["as_of"] == "2026-11-17T09:30:00Z"  # default: now
    assert trustee.get(url).status_code == 200
