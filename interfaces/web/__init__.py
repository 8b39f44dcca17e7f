"""The web UI (issue 17): server-rendered pages for people, in the same process as the API.

``install_web(app, vigil)`` adds them to the app ``create_app`` builds: ``/`` redirects to
``/ui/``; the pages live under ``/ui/`` (Jinja2 templates in ``templates/``, HTMX and the
stylesheet in ``static/``, served from ``/ui/static/``: no CDN, no build step, no inline script
or style, under the UI's own content security policy, ``interfaces.http.security.UI_CSP``).
They authenticate by a session cookie (``auth``), not a bearer token.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse

from interfaces.composition import Vigil
from interfaces.web.audit import router as audit_page
from interfaces.web.auth import WebParts
from interfaces.web.case_actions import router as case_actions
from interfaces.web.cases import router as case_pages
from interfaces.web.contacts import router as contact_pages
from interfaces.web.oidc import install_oidc
from interfaces.web.pages import router
from interfaces.web.queues import router as queue_pages
from interfaces.web.render import Renderer
from interfaces.web.reports import router as reports_router
from interfaces.web.sessions import SessionStore
from interfaces.web.shifts import router as shift_pages
from projections.store import view_store_for

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/ui/static"


def install_web(app: FastAPI, vigil: Vigil) -> None:
    """Mount the web UI on ``app``; creates the sessions table if it is missing."""
    settings = vigil.settings
    sessions = SessionStore(
        view_store_for(vigil.event_log.recorder),
        key=vigil.ui_session_key,
        idle=timedelta(minutes=settings.ui_session_idle_minutes),
        max_age=timedelta(hours=settings.ui_session_max_hours),
    )
    sessions.setup()
    app.state.vigil_web = WebParts(sessions=sessions, renderer=Renderer(settings.timezone))

    async def to_ui() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=303)

    app.add_api_route("/", to_ui, methods=["GET"], include_in_schema=False)
    app.include_router(router)
    app.include_router(case_actions)  # before the case pages: /ui/cases/new is not a case id
    app.include_router(case_pages)
    app.include_router(reports_router)
    app.include_router(shift_pages)
    app.include_router(audit_page)
    install_oidc(app, vigil)
    app.include_router(contact_pages)
    app.include_router(queue_pages)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="ui-static")


__all__ = ["install_web"]
