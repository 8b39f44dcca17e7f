"""Rendering the web UI's pages: Jinja2 (autoescaped) from ``interfaces/web/templates``, with
filters for people rather than scripts: times in the service's time zone with the offset, and
plain words instead of the API's enum names."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from domain.access.permissions import Permission, permits
from domain.shared import Actor
from interfaces.web.forms import new_form_key

# The API's names that do not read well with their underscores replaced; anything else is shown
# with its underscores as spaces (``on_call`` -> "on call").
PLAIN_WORDS: Mapping[str, str] = {
    "open_overdue": "overdue",
    "out_of_hours_reviews": "out-of-hours decisions to review",
    "unacknowledged_escalations": "escalations not yet acknowledged",
    "referrals_awaiting_acknowledgement": "referrals awaiting the agency's acknowledgement",
    "referrals_awaiting_follow_up": "referrals to chase",
    "referrals_awaiting_review": "referrals awaiting review",
    "high_risk_open": "open high-risk cases",
    "no_recent_action": "cases with no recent action",
    "approvals_awaiting_decision": "four-eyes approvals awaiting a decision",
    "flags_awaiting_action": "flags awaiting a first action",
    "uncovered_shifts": "shifts nobody checked in to",
    "missed_check_outs": "missed check-outs",
    "handovers_unacknowledged": "handovers not yet acknowledged",
    "contacts_awaiting_review": "contacts awaiting a quality review",
    "follow_ups_due": "follow-ups due",
    "feedback_unacknowledged": "feedback not yet acknowledged",
    "feedback_disputes": "disputed feedback",
    "qa_safeguarding_fails": "reviews that failed a safeguarding criterion",
    "members_awaiting_welcome": "new members awaiting a welcome",
    "break_glass_reviews": "break-glass access to review",
    "on_call": "on call",
    "safeguarding_lead": "safeguarding lead",
}


def plain(value: object) -> str:
    """An enum name in plain words: ``open_overdue`` -> "overdue"."""
    name = value.value if isinstance(value, Enum) else str(value)
    return PLAIN_WORDS.get(name, name.replace("_", " "))


def may(actor: Actor | None, permission: str) -> bool:
    """Whether the signed-in person holds a permission (``person | may("report.read")``): what a
    page offers; every route checks again."""
    return actor is not None and permits(actor, Permission(permission))


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset()
    seconds = 0 if offset is None else int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


class Renderer:
    """The pages' environment, showing times in ``timezone``."""

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        self.env = Environment(
            loader=PackageLoader("interfaces.web", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["plain"] = plain
        self.env.filters["when"] = self.when
        self.env.filters["may"] = may
        # A fresh one-time key for a form that writes (``{{ form_key() }}``): sent twice, once.
        self.env.globals["form_key"] = new_form_key

    def when(self, moment: datetime | None) -> Markup:
        """A ``<time>`` in the service's time zone with its offset, e.g. "Tue 17 Nov 2026,
        23:10 (UTC+00:00)"; the machine-readable value is the moment in UTC."""
        if moment is None:
            return Markup("")
        local = moment.astimezone(self.zone)
        text = f"{local:%a %d %b %Y, %H:%M} (UTC{_offset(local)})"
        # Both parts escaped here; an f-string, not Markup.format: a case page shows two per
        # event, and Markup.format's escaping formatter was half the render of a long timeline.
        iso, shown = escape(moment.isoformat()), escape(text)
        return Markup(f'<time datetime="{iso}">{shown}</time>')  # noqa: S704 (escaped above)

    def page(
        self,
        template: str,
        context: Mapping[str, Any],
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
