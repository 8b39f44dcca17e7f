"""/docs works on a closed network: the page names no other origin and this process serves every
file it loads (Swagger UI from the fastapi-offline package; its starting script our own).

tests/browser/test_docs_page.py renders it in Chromium and watches every request it makes.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from tests.e2e.support import Api

# Every URL an HTML page can load from: src= and href= attributes.
_REFERENCE = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def _references(html: str, page_url: str) -> list[str]:
    return [urljoin(page_url, found) for found in _REFERENCE.findall(html)]


def test_the_docs_page_names_no_other_origin_and_every_file_it_loads_is_served(api: Api) -> None:
    anonymous = api.client()
    origin = urlsplit(api.base_url).netloc

    for page in ("/docs", "/docs/oauth2-redirect"):
        answer = anonymous.get(page)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")
        assert "<script>" not in answer.text  # no inline script: the policy would block it
        references = _references(answer.text, api.base_url + page)
        assert references, page
        for url in references:
            assert urlsplit(url).netloc == origin, url
            asset = anonymous.get(url)
            assert asset.status_code == 200, url
            assert asset.content, url

    loaded = _references(anonymous.get("/docs").text, api.base_url + "/docs")
    assert {urlsplit(url).path for url in loaded} == {
        "/docs/static/swagger-ui.css",
        "/docs/static/favicon.png",
        "/docs/static/swagger-ui-bundle.js",
        "/docs/static/swagger-init.js",
    }
    bundle = anonymous.get("/docs/static/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in bundle.text
    start = anonymous.get("/docs/static/swagger-init.js").text
    assert '"/openapi.json"' in start
    assert "validatorUrl: null" in start  # no badge fetched from an outside validator


def test_only_the_docs_files_are_served_and_they_carry_the_api_policy(api: Api) -> None:
    anonymous = api.client()

    missing = anonymous.get("/docs/static/redoc.standalone.js")  # shipped, but not served
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert anonymous.get("/docs/static/..%2Fcore.py").status_code == 404

    css = anonymous.get("/docs/static/swagger-ui.css")
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["content-security-policy"].startswith("default-src 'none'")
    assert css.headers["x-content-type-options"] == "nosniff"
