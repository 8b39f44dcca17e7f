"""The API docs page (Swagger UI) served whole from this process: it works on a closed network.

FastAPI's own page loads Swagger UI's bundle and stylesheet from a CDN and starts it with an
inline script. Here the bundle, stylesheet and icon come from the ``fastapi-offline`` package
(which ships Swagger UI's dist files) under ``/docs/static/``, and the scripts that start the page
and finish an OAuth2 redirect are files of their own beside them, so the docs page's policy can
be ``'self'`` with no inline script and no other origin (see ``DOCS_CSP``).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response

DOCS_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
STATIC_PATH = "/docs/static"

# Swagger UI's settings as FastAPI sets them; no validator badge (it would call an outside host).
_INIT_JS = """\
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  oauth2RedirectUrl: window.location.origin + "OAUTH2_REDIRECT_PATH",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
""".replace("OAUTH2_REDIRECT_PATH", OAUTH2_REDIRECT_PATH)

_DOCS_HTML = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vigil API docs</title>
<link rel="stylesheet" href="{STATIC_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="{STATIC_PATH}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{STATIC_PATH}/swagger-ui-bundle.js"></script>
<script src="{STATIC_PATH}/swagger-init.js"></script>
</body>
</html>
"""

_REDIRECT_HTML = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Swagger UI: OAuth2 redirect</title>
</head>
<body>
<script src="{STATIC_PATH}/oauth2-redirect.js"></script>
</body>
</html>
"""

# Files of the fastapi-offline package, by the name they are served under.
_PACKAGED = {
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
_JS = "application/javascript; charset=utf-8"


def _oauth2_redirect_js() -> str:
    """The script of FastAPI's OAuth2 redirect page, taken out of its inline <script>."""
    page = bytes(get_swagger_ui_oauth2_redirect_html().body).decode()
    found = re.search(r"<script>(.*?)</script>", page, re.DOTALL)
    if found is None:  # pragma: no cover - FastAPI changed its page
        raise RuntimeError("FastAPI's OAuth2 redirect page has no inline script to serve")
    return found.group(1).strip() + "\n"


@cache
def _asset(name: str) -> tuple[bytes, str]:
    if name == "swagger-init.js":
        return _INIT_JS.encode(), _JS
    if name == "oauth2-redirect.js":
        return _oauth2_redirect_js().encode(), _JS
    media_type = _PACKAGED[name]
    return (resources.files("fastapi_offline") / "static" / name).read_bytes(), media_type


ASSET_NAMES = frozenset({*_PACKAGED, "swagger-init.js", "oauth2-redirect.js"})

router = APIRouter(include_in_schema=False)


@router.get(DOCS_PATH)
def docs_page() -> HTMLResponse:
    return HTMLResponse(_DOCS_HTML)


@router.get(OAUTH2_REDIRECT_PATH)
def oauth2_redirect_page() -> HTMLResponse:
    return HTMLResponse(_REDIRECT_HTML)


@router.get(STATIC_PATH + "/{name}")
def docs_asset(name: str) -> Response:
    if name not in ASSET_NAMES:
        raise HTTPException(status_code=404)
    content, media_type = _asset(name)
    return Response(content, media_type=media_type)
