"""Identity over a real store: roles, tokens with expiry and revocation, deactivation, the last
admin, and single sign-on with an identity provider's JWTs (a real JWKS served over HTTP)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import uuid4

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from domain.access.permissions import Permission, check, permits
from domain.errors import NotPermitted, RuleViolation
from domain.identity.errors import UserNotFound
from domain.identity.events import AdministratorRemoved, RoleGranted, UserDeactivated
from domain.identity.user import ADMINISTRATORS_ID
from domain.shared import Actor, Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from tests.conftest import Clock


def person(actor: Actor | None) -> Actor | None:
    """Who signed in and with which roles (leaving aside how their credential came about)."""
    if actor is None:
        return None
    return Actor(username=actor.username, role=actor.role, roles=actor.roles)


def appended(vigil: Vigil) -> int:
    return vigil.event_log.recorder.max_notification_id() or 0


def test_roles_are_granted_and_revoked_and_permissions_are_their_union(vigil: Vigil) -> None:
    vigil.identity.register("kit", Role.COORDINATOR, actor="alex")
    token = vigil.identity.issue_token("kit", actor="alex")

    vigil.identity.grant_role("kit", Role.ADMIN, actor="alex")

    kit = vigil.identity.authenticate(token)
    assert person(kit) == Actor(username="kit", role=Role.COORDINATOR, roles={Role.ADMIN})
    assert permits(kit, Permission.CLOSE)
    assert permits(kit, Permission.USERS_MANAGE)
    stored = vigil.identity.get("kit")
    assert stored is not None
    events = list(vigil.event_log.events_of(stored.id))
    assert isinstance(events[-1], RoleGranted)
    assert events[-1].actor == "alex"

    vigil.identity.revoke_role("kit", Role.COORDINATOR, actor="alex")

    kit = vigil.identity.authenticate(token)
    assert kit is not None
    assert kit.role is Role.ADMIN
    with pytest.raises(NotPermitted, match=r"'admin' may not do 'case\.close'"):
        check(kit, Permission.CLOSE)


def test_a_deactivated_users_tokens_stop_working_at_once(vigil: Vigil) -> None:
    vigil.identity.register("alex", Role.ADMIN, actor="cli")
    vigil.identity.register("kit", Role.COORDINATOR, actor="alex")
    tokens = [vigil.identity.issue_token("kit", actor="alex") for _ in range(2)]
    assert all(vigil.identity.authenticate(t) is not None for t in tokens)

    vigil.identity.deactivate("kit", actor="alex")

    assert [vigil.identity.authenticate(t) for t in tokens] == [None, None]
    assert not vigil.identity.is_active("kit")
    kit = vigil.identity.get("kit")
    assert kit is not None
    assert isinstance(list(vigil.event_log.events_of(kit.id))[-1], UserDeactivated)

    vigil.identity.reactivate("kit", actor="alex")

    assert [vigil.identity.authenticate(t) for t in tokens] == [None, None]
    fresh = vigil.identity.issue_token("kit", actor="alex")
    assert person(vigil.identity.authenticate(fresh)) == Actor(
        username="kit", role=Role.COORDINATOR
    )


def test_an_expired_token_is_refused_and_a_revoked_one_too(vigil: Vigil, clock: Clock) -> None:
    vigil.identity.register("kit", Role.COORDINATOR, actor="alex")
    short = vigil.identity.issue("kit", actor="alex", expires_at=clock() + timedelta(hours=1))
    other = vigil.identity.issue("kit", actor="alex")
    assert vigil.identity.authenticate(short.token) is not None

    clock.advance(hours=1)

    assert vigil.identity.authenticate(short.token) is None
    assert vigil.identity.authenticate(other.token) is not None
    vigil.identity.revoke_token("kit", other.token_id, actor="alex")
    assert vigil.identity.authenticate(other.token) is None


def test_a_revocation_or_deactivation_by_another_process_ends_a_cached_credential_at_once(
    vigil: Vigil, settings: Settings, clock: Clock
) -> None:
    """Each process keeps the users it authenticated in a cache; another process's revocation
    must still end the token on the very next request here, as must a deactivation."""
    vigil.identity.register("kit", Role.COORDINATOR, actor="alex")
    first = vigil.identity.issue("kit", actor="alex")
    second = vigil.identity.issue("kit", actor="alex")
    assert vigil.identity.authenticate(first.token) is not None  # cached here now
    assert vigil.identity.authenticate(second.token) is not None
    elsewhere = bootstrap(settings, clock=clock)  # another process on the same store
    try:
        elsewhere.identity.revoke_token("kit", first.token_id, actor="alex")
        assert vigil.identity.authenticate(first.token) is None
        assert vigil.identity.authenticate(second.token) is not None
        elsewhere.identity.deactivate("kit", actor="alex")
        assert vigil.identity.authenticate(second.token) is None
    finally:
        elsewhere.close()


def test_the_last_active_admin_cannot_be_removed_and_a_refusal_writes_nothing(
    vigil: Vigil,
) -> None:
    vigil.identity.register("alex", Role.ADMIN, actor="cli")
    vigil.identity.register("bo", Role.ADMIN, actor="cli")
    vigil.identity.grant_role("alex", Role.AUDITOR, actor="cli")
    vigil.identity.deactivate("bo", actor="alex")
    before = appended(vigil)

    with pytest.raises(RuleViolation, match="last active admin"):
        vigil.identity.revoke_role("alex", Role.ADMIN, actor="alex")
    with pytest.raises(RuleViolation, match="last active admin"):
        vigil.identity.deactivate("alex", actor="alex")

    assert appended(vigil) == before
    vigil.identity.reactivate("bo", actor="alex")
    vigil.identity.revoke_role("alex", Role.ADMIN, actor="bo")
    assert vigil.identity.active_admins() == ["bo"]


def test_two_admins_removing_each_other_at_once_leave_one_admin(
    vigil: Vigil, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two active admins.
    vigil.identity.register("alex", Role.ADMIN, actor="cli")
    vigil.identity.register("bo", Role.ADMIN, actor="cli")
    # When alex deactivates bo and, after alex's request has counted the other admins (bo)
    # but before it is stored, bo's deactivation of alex is stored: a deterministic
    # interleaving of two requests arriving together.
    count_admins = vigil.identity._other_active_admins
    interleaved: list[str] = []

    def count_then_let_the_other_request_in(user: Any) -> int:
        counted = count_admins(user)
        if not interleaved:
            interleaved.append("bo deactivates alex")
            vigil.identity.deactivate("alex", actor="bo")
        return counted

    monkeypatch.setattr(vigil.identity, "_other_active_admins", count_then_let_the_other_request_in)
    before = appended(vigil)

    # Then alex's request is decided again from the new count, and refused.
    with pytest.raises(RuleViolation, match="last active admin"):
        vigil.identity.deactivate("bo", actor="alex")
    assert interleaved == ["bo deactivates alex"]
    assert vigil.identity.active_admins() == ["bo"]
    # Only bo's deactivation of alex and its record on the administrators' stream were stored.
    assert appended(vigil) == before + 2
    removals = list(vigil.event_log.events_of(ADMINISTRATORS_ID))
    assert [(type(e), e.username, e.actor) for e in removals] == [
        (AdministratorRemoved, "alex", "bo")
    ]


def test_users_are_listed_by_name_with_their_state(vigil: Vigil) -> None:
    for name, role in [("sam", Role.VOLUNTEER), ("alex", Role.ADMIN), ("kit", Role.COORDINATOR)]:
        vigil.identity.register(name, role, actor="cli")
    vigil.identity.deactivate("sam", actor="alex")

    listed = [(u.username, u.role, u.active) for u in vigil.identity.list_users()]

    assert listed == [
        ("alex", Role.ADMIN, True),
        ("kit", Role.COORDINATOR, True),
        ("sam", Role.VOLUNTEER, False),
    ]


def test_changing_an_unknown_user_is_refused(vigil: Vigil) -> None:
    for change in (
        lambda: vigil.identity.grant_role("nobody", Role.AUDITOR, actor="alex"),
        lambda: vigil.identity.deactivate("nobody", actor="alex"),
        lambda: vigil.identity.revoke_token("nobody", uuid4(), actor="alex"),
        lambda: vigil.identity.issue_token("nobody", actor="alex"),
    ):
        with pytest.raises(UserNotFound):
            change()
    assert appended(vigil) == 0


# --- single sign-on (OpenID Connect) ------------------------------------------------------------

ISSUER = "https://sso.example.org/realms/helpline"
AUDIENCE = "vigil"


class Jwks:
    """An identity provider's JWKS endpoint on a local port, with keys made for the test."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        keys = [
            {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key())), "kid": "r1"},
            {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key())), "kid": "e1"},
        ]
        body = json.dumps({"keys": [{**k, "use": "sig"} for k in keys]}).encode()
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def sign(self, claims: dict[str, Any], *, kid: str = "r1", alg: str = "RS256") -> str:
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, **claims}
        key = self.rsa if alg.startswith("RS") else self.ec
        return jwt.encode(
            {k: v for k, v in payload.items() if v is not None},
            key,
            algorithm=alg,
            headers={"kid": kid},
        )


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    provider = Jwks()
    provider.thread.start()
    try:
        yield provider
    finally:
        provider.server.shutdown()
        provider.server.server_close()


@pytest.fixture
def sso(settings: Settings, clock: Clock, jwks: Jwks) -> Iterator[Vigil]:
    configured = settings.model_copy(
        update={"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE, "oidc_jwks_url": jwks.url}
    )
    app = bootstrap(configured, clock=clock)
    try:
        app.identity.register("kit.coordinator", Role.COORDINATOR, actor="cli")
        yield app
    finally:
        app.close()


def test_a_jwt_from_the_identity_provider_signs_in_a_vigil_user_with_vigil_roles(
    sso: Vigil, jwks: Jwks
) -> None:
    rsa_token = jwks.sign({"preferred_username": "Kit.Coordinator", "roles": ["admin"]})
    ec_token = jwks.sign({"preferred_username": "kit.coordinator"}, kid="e1", alg="ES256")

    assert person(sso.identity.authenticate(rsa_token)) == Actor(
        username="kit.coordinator", role=Role.COORDINATOR
    )
    assert sso.identity.authenticate(ec_token) is not None
    assert jwks.fetches == 1  # the key set is cached


def test_jwts_that_are_not_right_in_every_way_are_refused(sso: Vigil, jwks: Jwks) -> None:
    kit = {"preferred_username": "kit.coordinator"}
    now = int(time.time())
    header = jwt.utils.base64url_encode(json.dumps({"alg": "none", "kid": "r1"}).encode())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 300, **kit}
    body = jwt.utils.base64url_encode(json.dumps(claims).encode())
    refused = {
        "wrong issuer": jwks.sign({**kit, "iss": "https://evil.example"}),
        "wrong audience": jwks.sign({**kit, "aud": "someone-else"}),
        "expired": jwks.sign({**kit, "exp": now - 3600, "iat": now - 7200}),
        "not yet valid": jwks.sign({**kit, "nbf": now + 3600}),
        "no expiry": jwks.sign({**kit, "exp": None}),
        "unknown kid": jwks.sign(kit, kid="stranger"),
        "ES256 naming the RSA key": jwks.sign(kit, kid="r1", alg="ES256"),
        "RS256 naming the EC key": jwks.sign(kit, kid="e1", alg="RS256"),
        "alg none": f"{header.decode()}.{body.decode()}.",
        "HS256 with the public key": jwt.encode(
            claims, "a-shared-secret-of-32-bytes-long!", algorithm="HS256", headers={"kid": "r1"}
        ),
        "signed by another key": jwt.encode(
            claims,
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            algorithm="RS256",
            headers={"kid": "r1"},
        ),
        "unknown user": jwks.sign({"preferred_username": "stranger"}),
        "no username": jwks.sign({"sub": "1234"}),
        "garbage": "eyJ.not.a-jwt",
    }
    for reason, token in refused.items():
        assert sso.identity.authenticate(token) is None, reason


def test_a_deactivated_user_cannot_sign_in_with_sso_either(sso: Vigil, jwks: Jwks) -> None:
    sso.identity.register("alex", Role.ADMIN, actor="cli")
    token = jwks.sign({"preferred_username": "kit.coordinator"})
    assert sso.identity.authenticate(token) is not None

    sso.identity.deactivate("kit.coordinator", actor="alex")

    assert sso.identity.authenticate(token) is None


def test_vigil_tokens_still_work_beside_sso(sso: Vigil) -> None:
    token = sso.identity.issue_token("kit.coordinator", actor="cli")
    assert sso.identity.authenticate(token) is not None


def test_without_oidc_settings_a_jwt_is_just_an_invalid_token(vigil: Vigil, jwks: Jwks) -> None:
    vigil.identity.register("kit.coordinator", Role.COORDINATOR, actor="cli")
    assert vigil.identity.authenticate(jwks.sign({"preferred_username": "kit.coordinator"})) is None
    assert jwks.fetches == 0
