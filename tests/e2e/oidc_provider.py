"""A tiny OpenID Connect identity provider for the web UI's single sign-on stories: discovery,
a JWKS of a test RSA key, an authorization endpoint that signs in whoever the test says and
sends the browser back with a code, and a token endpoint that checks the code (once only), the
client's secret, the redirect URL and the PKCE verifier, and answers a signed ID token.

Served over real HTTP by the e2e suite's ``LiveServer``; the test steers it through
``signs_in`` (the username it vouches for) and ``id_token_claims`` (claims to put in or
override, e.g. a wrong ``aud``)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.e2e.conftest import LiveServer

CLIENT_ID = "vigil-web"
CLIENT_SECRET = "a-test-client-secret"  # the fake provider's, for tests
API_AUDIENCE = "vigil-api"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    username: str
    used: bool = False


@dataclass
class FakeProvider:
    """The provider's state; ``server`` serves it once ``start`` is called."""

    signs_in: str = "kit.coordinator"
    # A page with a "Continue" button first (as a real sign-in at the provider has), so that the
    # way back is a navigation the provider's site starts, not the relying party's
    interactive: bool = False
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: int = 0
    discovery_requests: int = 0
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    signing_key: rsa.RSAPrivateKey | None = None  # another key than the JWKS's, to forge with
    server: LiveServer | None = None

    @property
    def issuer(self) -> str:
        assert self.server is not None
        return self.server.base_url

    def start(self, host: str = "127.0.0.1") -> None:
        app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/certs", self._jwks),
                Route("/authorize", self._authorize),
                Route("/approve", self._approve),
                Route("/token", self._token, methods=["POST"]),
            ]
        )
        self.server = LiveServer(app)
        if host != "127.0.0.1":  # the same port under another name (another site, for a browser)
            self.server.base_url = self.server.base_url.replace("127.0.0.1", host)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    # --- endpoints ------------------------------------------------------------------------------

    async def _discovery(self, request: Request) -> Response:
        self.discovery_requests += 1
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/certs",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def _jwks(self, request: Request) -> Response:
        key = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return JSONResponse({"keys": [{**key, "kid": "k1", "use": "sig", "alg": "RS256"}]})

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        if (
            q.get("response_type") != "code"
            or q.get("client_id") != CLIENT_ID
            or q.get("code_challenge_method") != "S256"
            or "openid" not in q.get("scope", "").split()
            or not q.get("code_challenge")
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if self.interactive:
            html = (
                "<!doctype html><html lang='en'><title>Provider</title>"
                "<link rel='icon' href='data:,'><h1>Provider</h1>"
                f"<form method='get' action='/approve'><input type='hidden' name='q' "
                f"value='{urlencode(dict(q))}'><button>Continue</button></form></html>"
            )
            return Response(html, media_type="text/html")
        return self._grant(dict(q))

    async def _approve(self, request: Request) -> Response:
        return self._grant({k: v[0] for k, v in parse_qs(request.query_params["q"]).items()})

    def _grant(self, q: dict[str, str]) -> Response:
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(
            client_id=CLIENT_ID,
            redirect_uri=q["redirect_uri"],
            nonce=q["nonce"],
            challenge=q["code_challenge"],
            username=self.signs_in,
        )
        # With the extras real providers add (RFC 9207's iss, Keycloak's session_state).
        back = urlencode(
            {"code": code, "state": q["state"], "iss": self.issuer, "session_state": "s1"}
        )
        return RedirectResponse(f"{q['redirect_uri']}?{back}", status_code=302)

    async def _token(self, request: Request) -> Response:
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.grants.get(form.get("code", ""))
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if (
            form.get("grant_type") != "authorization_code"
            or grant is None
            or grant.used
            or grant.redirect_uri != form.get("redirect_uri")
            or grant.challenge != challenge
        ):
            if grant is not None:
                grant.used = True  # a code tried twice is spent for good (RFC 6749 4.1.2)
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        grant.used = True
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(grant),
            }
        )

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": f"sub-{grant.username}",
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "preferred_username": grant.username,
            **self.id_token_claims,
        }
        key = self.signing_key or self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
