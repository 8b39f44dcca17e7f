"""The HTTP API (public contract v1): ``create_app(vigil)`` builds it.

``create_app`` is imported on first use (PEP 562) rather than here: the app imports the web UI
(``interfaces.web``), whose pages import the API's own modules (``interfaces.http.cases``...),
so importing any page module first must not pull in the app half-built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interfaces.http.app import create_app


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from interfaces.http.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["create_app"]
