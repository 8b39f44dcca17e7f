"""One-time form keys: a form sent twice (a double tap, a browser's retry on a slow line) writes
once. Each form carries a fresh random ``form_key``; the write is sent with it as its
Idempotency-Key (``ui-form:<key>``) and the same keyed fingerprint of the command the API uses
(``interfaces.http.dependencies.request_hash``), so a repeat answers the first write and the
same key with other contents is refused, exactly as an API retry is."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

from pydantic import BaseModel
from starlette.requests import Request

from application.idempotency import KeyedRequest
from interfaces.composition import Vigil
from interfaces.http.dependencies import request_hash

FORM_KEY = "form_key"
_FORM_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_form_key() -> str:
    """A form's one-time key (24 URL-safe characters)."""
    return secrets.token_urlsafe(18)


def keyed(
    request: Request, vigil: Vigil, form: Mapping[str, str], command: BaseModel
) -> KeyedRequest | None:
    """The form's key as the write's Idempotency-Key (none, or a malformed one: unkeyed)."""
    key = form.get(FORM_KEY, "")
    if not _FORM_KEY.fullmatch(key):
        return None
    return KeyedRequest(f"ui-form:{key}", request_hash(vigil, "POST", request.url.path, command))
