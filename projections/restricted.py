"""The SQL conditions every case list, queue and history adds so restricted cases never reach a
reader who may not see them (the rule itself is ``domain.access.rules.case_access``)."""

# SQL here names only the calling view's given columns and the case list's table (constants);
# every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from typing import Any, NamedTuple

from domain.access.rules import Visibility
from projections.store import ViewStore


class _Bound(NamedTuple):
    """One viewer's visibility bound as parameters: the placeholders to write in SQL."""

    categories: str  # the restricted categories, comma-separated
    me: str  # the viewer's username
    grants: str | None  # the cases they hold a grant on, comma-separated (None: none)


def _bind(store: ViewStore, visibility: Visibility, params: dict[str, Any]) -> _Bound:
    names = []
    for n, value in enumerate(visibility.restricted):
        params[f"rc{n}"] = value
        names.append(f"%(rc{n})s")
    params["rc_me"] = visibility.username
    grants = []
    for n, granted in enumerate(visibility.granted_case_ids):
        params[f"rg{n}"] = store.encode_uuid(granted)
        grants.append(f"%(rg{n})s")
    return _Bound(", ".join(names), "%(rc_me)s", ", ".join(grants) or None)


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
    bound = _bind(store, visibility, params)
    allowed = [f"{category} NOT IN ({bound.categories})"]
    if assignee is not None:
        allowed.append(f"{assignee} = {bound.me}")
    if bound.grants is not None:
        allowed.append(f"{case_id} IN ({bound.grants})")
    return "(" + " OR ".join(allowed) + ")"


def restricted_seen(
    store: ViewStore,
    visibility: Visibility | None,
    params: dict[str, Any],
    *,
    category: str = "category",
    assignee: str = "assignee",
    case_id: str = "case_id",
) -> list[str]:
    """The rows of restricted categories that ``restriction_clause`` lets the viewer see, as
    disjoint conditions (none: no category is restricted to them): those assigned to them, and
    the others on a case they hold a grant on. Each is one index's range (the assignee's, the
    case id's), so a count of them, a ``UNION ALL`` of one ``SELECT`` per condition, reads the
    viewer's rows only; ``category IN (...) AND restriction_clause`` would read every restricted
    row, its ``NOT IN`` being no index's."""
    if visibility is None or not visibility.restricted:
        return []
    bound = _bind(store, visibility, params)
    among = f"{category} IN ({bound.categories})"
    seen = [f"{assignee} = {bound.me} AND {among}"]
    if bound.grants is not None:
        # Not the viewer's: those are counted by the first condition.
        not_mine = f"({assignee} IS NULL OR {assignee} <> {bound.me})"
        seen.append(f"{case_id} IN ({bound.grants}) AND {among} AND {not_mine}")
    return seen


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
