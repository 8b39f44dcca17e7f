"""OpenID Connect's authorization code flow with PKCE: the identity provider's side of the web
UI's single sign-on (``interfaces/web/oidc.py`` holds the browser's side).

Vigil is the relying party. It sends the person to the provider's authorization endpoint with
a ``state``, a ``nonce`` and a PKCE challenge (S256); the provider sends them back with a code,
which Vigil exchanges at the token endpoint (with the PKCE verifier and, for a confidential
client, its secret) for an ID token. The ID token is verified as the API verifies a bearer JWT
(``infrastructure.oidc.OidcVerifier``: signature over the issuer's JWKS, allowed algorithms,
``iss``, ``exp``), but its audience must be this client's id, and its ``nonce`` the one this
sign-in sent. The endpoints are set, or discovered from the issuer's
``/.well-known/openid-configuration`` (whose ``issuer`` must be the configured one).

Every call to the provider has a bounded timeout and follows no redirect. Nothing here logs a
code, a token, a secret or a claim: only why something failed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from infrastructure.logging import get_logger
from infrastructure.oidc import OidcVerifier
from infrastructure.settings import Settings

log = get_logger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"
_DISCOVERY_SECONDS = 3600.0  # how long discovered endpoints are reused
_MAX_ANSWER_BYTES = 1024 * 1024


class ProviderUnavailable(Exception):
    """The provider could not be reached, or answered with something other than what the
    protocol says (an outage or a misconfiguration: not the person's failed sign-in)."""


class CodeRefused(Exception):
    """The token endpoint refused the code (``invalid_grant``: used already, expired, issued
    for another client or another PKCE challenge): a failed sign-in."""


@dataclass(frozen=True)
class SignInConfig:
    issuer: str
    client_id: str
    client_secret: str | None
    authorization_endpoint: str
    token_endpoint: str
    scopes: str
    timeout_seconds: float = 5.0
    require_https: bool = True

    def __repr__(self) -> str:  # never the secret, in a traceback or a log
        return f"SignInConfig(issuer={self.issuer!r}, client_id={self.client_id!r}, ...)"

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInConfig | None:
        """The web UI's sign-in, when OIDC and a client id are configured; else None."""
        if not (settings.oidc_enabled and settings.oidc_client_id):
            return None
        return cls(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret_value,
            authorization_endpoint=settings.oidc_authorization_endpoint,
            token_endpoint=settings.oidc_token_endpoint,
            scopes=settings.oidc_scopes,
            require_https=settings.environment not in ("development", "test"),
        )


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str


def pkce_verifier() -> str:
    """A PKCE code verifier: 86 characters of the unreserved set (RFC 7636 allows 43-128)."""
    return secrets.token_urlsafe(64)


def pkce_challenge(verifier: str) -> str:
    """The S256 challenge of a verifier: base64url of its SHA-256, without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is answered as it is (an error), never followed


_OPENER = urllib.request.build_opener(_NoRedirects)


class OidcSignIn:
    """The provider's side of the web UI's sign-in (thread-safe)."""

    def __init__(self, config: SignInConfig, verifier: OidcVerifier) -> None:
        self.config = config
        self._verifier = verifier
        self._lock = threading.Lock()
        self._discovered: tuple[Endpoints, float] | None = None

    # --- endpoints ------------------------------------------------------------------------------

    def endpoints(self) -> Endpoints:
        """The authorization and token endpoints: as configured, else discovered (cached)."""
        config = self.config
        if config.authorization_endpoint and config.token_endpoint:
            return self._checked(Endpoints(config.authorization_endpoint, config.token_endpoint))
        with self._lock:
            if self._discovered is not None and time.monotonic() < self._discovered[1]:
                return self._discovered[0]
        discovery = config.issuer.rstrip("/") + DISCOVERY_PATH
        if config.require_https and not discovery.startswith("https://"):
            log.warning("oidc_sign_in_unavailable", reason="the issuer is not https")
            raise ProviderUnavailable("the issuer is not https")
        document = self._json(self._call(discovery), "discovery")
        if document.get("issuer") != config.issuer:
            log.warning("oidc_sign_in_unavailable", reason="discovery names another issuer")
            raise ProviderUnavailable("discovery names another issuer")
        authorization = config.authorization_endpoint or document.get("authorization_endpoint")
        token = config.token_endpoint or document.get("token_endpoint")
        if not (isinstance(authorization, str) and isinstance(token, str)):
            log.warning("oidc_sign_in_unavailable", reason="discovery lacks an endpoint")
            raise ProviderUnavailable("discovery lacks an endpoint")
        found = self._checked(Endpoints(authorization, token))
        with self._lock:
            self._discovered = (found, time.monotonic() + _DISCOVERY_SECONDS)
        return found

    def _checked(self, endpoints: Endpoints) -> Endpoints:
        urls = (endpoints.authorization, endpoints.token)
        if self.config.require_https and not all(u.startswith("https://") for u in urls):
            log.warning("oidc_sign_in_unavailable", reason="an endpoint is not https")
            raise ProviderUnavailable("an endpoint is not https")
        return endpoints

    # --- the flow -------------------------------------------------------------------------------

    def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        """Where to send the person to sign in at the provider."""
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": redirect_uri,
                "scope": self.config.scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        endpoint = self.endpoints().authorization
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    def exchange(self, code: str, *, redirect_uri: str, code_verifier: str) -> str:
        """The ID token the token endpoint gives for ``code``: CodeRefused if it refuses the
        code, ProviderUnavailable if it cannot be reached or answers otherwise."""
        config = self.config
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
            "client_id": config.client_id,
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if config.client_secret is not None:
            # client_secret_basic (RFC 6749 2.3.1: each part form-encoded first).
            pair = f"{quote(config.client_id, safe='')}:{quote(config.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - _call takes http(s) only
            self.endpoints().token, data=urlencode(form).encode(), headers=headers, method="POST"
        )
        answer = self._json(self._call(request, refusals=True), "token")
        id_token = answer.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            log.warning("oidc_sign_in_unavailable", reason="the token answer has no id_token")
            raise ProviderUnavailable("no id_token")
        return id_token

    def identify(self, id_token: str, *, nonce: str) -> str | None:
        """The username a verified ID token names for this sign-in, or None: its signature,
        issuer, expiry and audience (this client) checked by the API's verifier, its ``nonce``
        the one sent, and its ``azp``, when it has one or several audiences, this client."""
        claims = self._verifier.claims(id_token, audience=self.config.client_id)
        if claims is None:
            return None
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
            log.info("oidc_rejected", reason="the nonce is not this sign-in's")
            return None
        audiences = claims.get("aud")
        azp = claims.get("azp")
        several = isinstance(audiences, list) and len(audiences) > 1
        if (azp is not None or several) and azp != self.config.client_id:
            log.info("oidc_rejected", reason="the token was issued to another party (azp)")
            return None
        return self._verifier.username_in(claims)

    # --- HTTP -----------------------------------------------------------------------------------

    def _call(self, request: str | urllib.request.Request, *, refusals: bool = False) -> bytes:
        url = request if isinstance(request, str) else request.full_url
        if not url.startswith(("https://", "http://")):
            log.warning("oidc_sign_in_unavailable", reason="an endpoint is not http(s)")
            raise ProviderUnavailable("not an http(s) URL")
        try:
            with _OPENER.open(request, timeout=self.config.timeout_seconds) as answer:
                body: bytes = answer.read(_MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            error = _error_code(exc) if refusals else None
            if error == "invalid_grant":
                log.info("oidc_rejected", reason="the provider refused the code")
                raise CodeRefused(error) from None
            log.warning(
                "oidc_sign_in_unavailable",
                reason="the provider refused",
                status=exc.code,
                error=error,
            )
            raise ProviderUnavailable(f"status {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            # HTTPException: a broken answer (a bad status line, a cut-short body).
            log.warning("oidc_sign_in_unavailable", reason=type(exc).__name__)
            raise ProviderUnavailable(type(exc).__name__) from None
        if len(body) > _MAX_ANSWER_BYTES:
            log.warning("oidc_sign_in_unavailable", reason="the answer is too large")
            raise ProviderUnavailable("answer too large")
        return body

    @staticmethod
    def _json(body: bytes, what: str) -> dict[str, Any]:
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            log.warning("oidc_sign_in_unavailable", reason=f"the {what} answer is not JSON")
            raise ProviderUnavailable(f"{what} answer not JSON")
        return document


# The error codes of RFC 6749 5.2 (and a few providers' own): only these are logged as they are.
_KNOWN_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
    }
)


def _error_code(exc: urllib.error.HTTPError) -> str | None:
    """The OAuth error code of a refusal (one of the known ones, else 'other')."""
    try:
        document = json.loads(exc.read(64 * 1024))
    except (ValueError, OSError, http.client.HTTPException):
        return None
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, str):
        return None
    return error if error in _KNOWN_ERRORS else "other"
