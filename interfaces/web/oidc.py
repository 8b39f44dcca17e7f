"""Signing in to the web UI through the identity provider (OpenID Connect, issue 17).

When OIDC and a client id are configured (``VIGIL_OIDC_ISSUER``, ``..._AUDIENCE``,
``..._JWKS_URL``, ``VIGIL_OIDC_CLIENT_ID``), the sign-in page offers "Sign in with single
sign-on", a link to ``/ui/login/oidc``. That sends the person to the provider's authorization
endpoint (the authorization code flow) with a fresh ``state``, ``nonce`` and PKCE challenge
(S256), and keeps the three, with the redirect URL, in a short-lived cookie of this flow, MAC'd
under a key from the master key. The provider sends them back to ``/ui/login/oidc/callback``,
which checks the state against the cookie, exchanges the code (with the PKCE verifier) at the
token endpoint, and verifies the ID token with the API's verifier (signature over the JWKS,
``iss``, ``exp``, and here ``aud`` = the client id and ``nonce`` = the cookie's). The provider
only proves who someone is: the username claim must name an active Vigil user, whose roles come
from Vigil (``IdentityService.single_sign_on_actor``, the rule the API's bearer JWTs follow).
The session it begins names the credential ``SINGLE_SIGN_ON`` and is re-checked on every
request as any other (``credential_actor``: the user still active, not deactivated since).

Every failure is the sign-in page with a plain message, never a 500, and no session. A wrong
credential (a state or cookie not ours, a code the provider refuses, an ID token that does not
verify, a user Vigil does not know or who may not act) counts toward the same failed sign-in
limit as a bad API token; an unreachable provider, a person cancelling at the provider, or a
sign-in that took too long is not a failed credential and is not counted. Nothing here logs a
code, a token, a state, a nonce or a username.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import RedirectResponse, Response

from application.identity import SINGLE_SIGN_ON
from infrastructure.logging import get_logger
from infrastructure.oidc import OidcConfig, OidcVerifier
from infrastructure.oidc_sign_in import (
    CodeRefused,
    OidcSignIn,
    ProviderUnavailable,
    SignInConfig,
    pkce_challenge,
    pkce_verifier,
)
from interfaces.composition import Vigil
from interfaces.http.dependencies import VigilDep
from interfaces.http.problems import TooManyFailedAttempts
from interfaces.http.security import count_failure
from interfaces.web.auth import (
    SESSION_COOKIE,
    current_session,
    secure_cookies,
    set_cookie,
    web_parts,
)
from interfaces.web.pages import begin_session, login_page

log = get_logger(__name__)

router = APIRouter(prefix="/ui/login/oidc", include_in_schema=False)

CALLBACK_PATH = "/ui/login/oidc/callback"
FLOW_COOKIE = "vigil_oidc_flow"
FLOW_PATH = "/ui/login/oidc"  # sent only to the start and the callback
FLOW_LIFETIME = timedelta(minutes=10)  # time enough to sign in at the provider
_MAX_PARAM = 4096  # longer than any state or code we sent or a provider gives

UNAVAILABLE = (
    "Single sign-on is not available right now: the identity provider could not be reached "
    "or did not answer as expected. Try again shortly, or sign in with an API token."
)
STALE = (
    "This single sign-on was not started in this browser, or took longer than 10 minutes. "
    "Start again."
)
MISMATCH = (
    "This answer from the identity provider is not for the sign-in started here. Start again."
)
CANCELLED = "The identity provider did not sign you in. Start again, or sign in with an API token."
REFUSED_CODE = (
    "The identity provider did not accept this sign-in (it may have been used already, or "
    "taken too long). Start again."
)
UNVERIFIED = (
    "The identity provider's answer could not be verified, so you are not signed in. Start "
    "again; if it keeps happening, tell a Vigil administrator."
)
NO_USER = (
    "You signed in at the identity provider, but Vigil has no active user for you. Ask a "
    "Vigil administrator to add you, or to reactivate you."
)


@dataclass(frozen=True)
class Flow:
    """One sign-in under way: what the callback must find again."""

    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    started: float  # seconds since the epoch, on Vigil's clock


@dataclass(frozen=True)
class OidcParts:
    sign_in: OidcSignIn
    flow_key: bytes


def install_oidc(app: FastAPI, vigil: Vigil) -> None:
    """Add the single sign-on routes; they answer only when OIDC sign-in is configured. The
    client secret (a setting or its file) is read here, at start, so a missing file stops
    Vigil starting rather than a person signing in."""
    app.include_router(router)
    app.add_route(CALLBACK_PATH, callback, methods=["GET"], include_in_schema=False)
    config = SignInConfig.from_settings(vigil.settings)
    verifier_config = OidcConfig.from_settings(vigil.settings)
    parts = None
    if config is not None and verifier_config is not None:
        parts = OidcParts(
            sign_in=OidcSignIn(config, OidcVerifier(verifier_config)),
            flow_key=hmac.new(vigil.ui_session_key, b"oidc-flow", hashlib.sha256).digest(),
        )
    app.state.vigil_oidc = parts


def _parts(request: Request) -> OidcParts | None:
    parts = getattr(request.app.state, "vigil_oidc", None)
    return parts if isinstance(parts, OidcParts) else None


# --- the flow's cookie -------------------------------------------------------------------------


def _seal(flow: Flow, key: bytes) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(asdict(flow)).encode()).decode().rstrip("=")
    mac = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def _open(value: str, key: bytes) -> Flow | None:
    """The flow a cookie holds, if Vigil sealed it; else None."""
    payload, _, mac = value.partition(".")
    expected = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        return None
    try:
        fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return Flow(**fields)
    except (ValueError, TypeError):
        return None


def _set_flow_cookie(response: Response, vigil: Vigil, request: Request, value: str) -> None:
    # SameSite=Lax, not Strict as the session's: the provider sends the browser back here from
    # its own site, and a browser sends a Strict cookie on no request a cross-site navigation
    # starts (nor on any redirect in its chain), so the callback would never see this one and
    # every sign-in would fail. Lax is sent on a top-level GET navigation only, which is what
    # the callback is; no POST from another site carries it, and what it holds is useless
    # without the code the provider gives this browser. HttpOnly (no script reads it), for the
    # flow's two paths only, gone after 10 minutes, and MAC'd, so it cannot be made elsewhere.
    response.set_cookie(
        FLOW_COOKIE,
        value,
        max_age=int(FLOW_LIFETIME.total_seconds()),
        path=FLOW_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(vigil, request),
    )


def _clear_flow_cookie(response: Response, vigil: Vigil, request: Request) -> None:
    response.delete_cookie(
        FLOW_COOKIE,
        path=FLOW_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(vigil, request),
    )


def _redirect_uri(vigil: Vigil, request: Request) -> str:
    configured = vigil.settings.oidc_redirect_url
    return configured or str(request.base_url).rstrip("/") + CALLBACK_PATH


# --- the routes --------------------------------------------------------------------------------


@router.get("")
def start(request: Request, vigil: VigilDep) -> Response:
    """Send the person to the identity provider to sign in."""
    parts = _parts(request)
    if parts is None:
        return RedirectResponse("/ui/login", status_code=303)
    if current_session(request, vigil) is not None:
        return RedirectResponse("/ui/", status_code=303)
    verifier = pkce_verifier()
    flow = Flow(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=verifier,
        redirect_uri=_redirect_uri(vigil, request),
        started=vigil.clock().timestamp(),
    )
    try:
        target = parts.sign_in.authorization_url(
            redirect_uri=flow.redirect_uri,
            state=flow.state,
            nonce=flow.nonce,
            code_challenge=pkce_challenge(verifier),
        )
    except ProviderUnavailable:
        return login_page(request, vigil, message=UNAVAILABLE, status_code=502)
    answer = RedirectResponse(target, status_code=303)
    _set_flow_cookie(answer, vigil, request, _seal(flow, parts.flow_key))
    return answer


def callback(request: Request) -> Response:
    """The provider's answer: check it, and begin a session, or say why not.

    A plain Starlette route, not a FastAPI one: the provider adds query parameters of its own
    (``iss``, ``session_state``, ``scope``, ...), which the API's refusal of unknown query
    parameters would answer with a 422 of JSON; here they are read or ignored."""
    vigil: Vigil = request.app.state.vigil
    parts = _parts(request)
    if parts is None:
        return RedirectResponse("/ui/login", status_code=303)
    query = request.query_params
    state, code, error = (query.get(name, "")[:_MAX_PARAM] for name in ("state", "code", "error"))

    def refuse(message: str, status_code: int, *, counted: bool) -> Response:
        log.info("ui_sign_in_refused", method="oidc", status=status_code)
        headers = None
        if counted:
            try:
                count_failure(request, None)
            except TooManyFailedAttempts as exc:
                wait = max(1, math.ceil(exc.retry_after))
                message = f"Too many failed sign-ins. Try again in {wait} seconds."
                status_code, headers = 429, {"Retry-After": str(wait)}
        page = login_page(request, vigil, message=message, status_code=status_code, headers=headers)
        _clear_flow_cookie(page, vigil, request)
        return page

    sealed = request.cookies.get(FLOW_COOKIE)
    flow = None if sealed is None else _open(sealed, parts.flow_key)
    if flow is None:
        # No cookie: none was started here, or it expired (not a failed credential). A cookie
        # Vigil did not seal: someone made it (a failed one).
        return refuse(STALE, 400, counted=sealed is not None)
    if vigil.clock().timestamp() - flow.started > FLOW_LIFETIME.total_seconds():
        return refuse(STALE, 400, counted=False)
    if not hmac.compare_digest(state.encode(), flow.state.encode()):
        return refuse(MISMATCH, 400, counted=True)
    if error or not code:
        return refuse(CANCELLED, 401, counted=False)
    try:
        id_token = parts.sign_in.exchange(
            code, redirect_uri=flow.redirect_uri, code_verifier=flow.verifier
        )
    except CodeRefused:
        return refuse(REFUSED_CODE, 401, counted=True)
    except ProviderUnavailable:
        return refuse(UNAVAILABLE, 502, counted=False)
    username = parts.sign_in.identify(id_token, nonce=flow.nonce)
    if username is None:
        return refuse(UNVERIFIED, 401, counted=True)
    actor = vigil.identity.single_sign_on_actor(username)
    if actor is None:
        return refuse(NO_USER, 401, counted=True)
    started = begin_session(request, vigil, actor.username, SINGLE_SIGN_ON)
    # Not a redirect to /ui/: this answer ends a navigation that began at the provider's site,
    # and a browser sends no SameSite=Strict cookie (the session's) on any request of such a
    # redirect chain, so /ui/ would find no session and send the person to sign in again. A
    # page of ours that moves on (a meta refresh, and a link) starts a new navigation from
    # this site, which carries the cookie. (tests/browser/test_ui_oidc.py shows both: with a
    # redirect here, Chromium lands the person back on the sign-in page.)
    page = web_parts(request).renderer.page(
        "signed_in.html", {"title": "Signed in", "person": None, "csrf_token": ""}
    )
    set_cookie(page, vigil, request, SESSION_COOKIE, started.session_id)
    _clear_flow_cookie(page, vigil, request)
    return page
