"""Read models: views with their own tables beside the log, kept up to date exactly once."""

from projections.case_summaries import (
    CaseSummaries,
    CaseSummary,
    InvalidCursor,
    InvalidQuery,
)
from projections.runner import Positioned, View, ViewRunner
from projections.store import ViewStore

__all__ = [
    "CaseSummaries",
    "CaseSummary",
    "InvalidCursor",
    "InvalidQuery",
    "Positioned",
    "View",
    "ViewRunner",
    "ViewStore",
]
