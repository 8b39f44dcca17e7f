"""Read models: views with their own tables beside the log, kept up to date exactly once.

The views, one module each, are listed in ``registry``; what runs them:

* ``runner``: what a view is (``View``), its tracking row, and one view followed alone;
* ``catch_up``: the one compare-and-set catch-up loop every follower of the log uses;
* ``batches``: several views moved by one batch of the log, in one transaction;
* ``projector``: the ``Projector``, every view kept up to date together;
* ``follow``: following the log in the background, woken by LISTEN/NOTIFY;
* ``rebuild``: views rebuilt aside and swapped in, or compared with the live ones;
* ``parallel_rebuild``: a rebuild's side tables filled by threads and processes;
* ``status``: where each view stands against the log, and how fast it moves;
* ``store`` and ``bulk_write``: the tables' database, and writes in bulk;
* ``notary``: not a view: the hash ledger, a Merkle tree of the log with signed checkpoints.
"""

from projections.case_summaries import CaseSummaries, CaseSummary
from projections.paging import InvalidCursor, InvalidQuery
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
