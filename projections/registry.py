"""Every view Vigil keeps, in one place: the worker, `vigil rebuild` and `vigil status` run these.

To add a view, write it in its own module (a ``View`` subclass) and add its factory here.
"""

from __future__ import annotations

from collections.abc import Callable

from application.ledger import Ledger
from projections.case_summaries import CaseSummariesView
from projections.runner import View

ViewFactory = Callable[[Ledger], View]

VIEW_FACTORIES: list[ViewFactory] = [
    CaseSummariesView,
]


def build_views(ledger: Ledger) -> list[View]:
    return [factory(ledger) for factory in VIEW_FACTORIES]
