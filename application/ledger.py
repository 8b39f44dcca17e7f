"""The ledger: one eventsourcing application, one recorder, one log for every aggregate.

Cases and users live in the same log so that projections and the hash ledger see
a single commit order. The environment comes from settings only (never from
``os.environ``), and nothing here knows which store is behind it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.utils import Environment, EnvType


class Ledger(Application[UUID]):
    name = "vigil"  # PostgreSQL tables: vigil_events, vigil_snapshots
    env: ClassVar[dict[str, str]] = {"IS_SNAPSHOTTING_ENABLED": "y"}

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        _env = dict(type(self).env)
        if env is not None:
            _env.update(env)
        return Environment(name, _env)

    def events_of(
        self, aggregate_id: UUID, *, gt: int | None = None, lte: int | None = None
    ) -> Iterable[Any]:
        return self.events.get(aggregate_id, gt=gt, lte=lte)
