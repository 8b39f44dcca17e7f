"""The SQL condition every case list, queue and history adds so restricted cases never reach a
reader who may not see them (the rule itself is ``domain.access.rules.case_access``)."""

# SQL here names only the calling view's given columns and the case list's table (constants);
# every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from typing import Any

from domain.access.rules import Visibility
from projections.store import ViewStore


def restriction_clause(
    store: ViewStore,
    visibility: Visibility | None,
    params: dict[str, Any],
    *,
    category: str = "category",
    assignee: str | None = "assignee",
    case_id: str = "case_id",
) -> str | None:
    """The SQL condition keeping restricted cases out of a list for one viewer (None: no
    condition). A row passes if its category is not restricted, or the case is assigned to the
    viewer, or the viewer holds an active break-glass grant on it."""
    if visibility is None or not visibility.restricted:
        return None
    names = []
    for n, value in enumerate(visibility.restricted):
        params[f"rc{n}"] = value
        names.append(f"%(rc{n})s")
    allowed = [f"{category} NOT IN ({', '.join(names)})"]
    if assignee is not None:
        params["rc_me"] = visibility.username
        allowed.append(f"{assignee} = %(rc_me)s")
    if visibility.granted_case_ids:
        grants = []
        for n, granted in enumerate(visibility.granted_case_ids):
            params[f"rg{n}"] = store.encode_uuid(granted)
            grants.append(f"%(rg{n})s")
        allowed.append(f"{case_id} IN ({', '.join(grants)})")
    return "(" + " OR ".join(allowed) + ")"


def hidden_cases_clause(
    store: ViewStore, visibility: Visibility | None, params: dict[str, Any], *, case_id: str
) -> str | None:
    """For views without a category (actor activity): rows about a case the viewer may not see
    in lists are left out, by the case list's own rows."""
    if visibility is None or not visibility.restricted:
        return None
    inner: dict[str, Any] = {}
    visible = restriction_clause(store, visibility, inner)
    assert visible is not None
    params.update(inner)
    summaries = store.table("case_summaries")
    # COALESCE: on an unassigned case ``assignee = me`` is NULL, and NOT NULL selects nothing;
    # the case must count as hidden then, not as visible.
    return (
        f"({case_id} IS NULL OR {case_id} NOT IN "
        f"(SELECT case_id FROM {summaries} WHERE NOT COALESCE({visible}, FALSE)))"
    )
