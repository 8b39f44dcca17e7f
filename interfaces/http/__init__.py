"""The HTTP API (public contract v1): ``create_app(vigil)`` builds it."""

from interfaces.http.app import create_app

__all__ = ["create_app"]
