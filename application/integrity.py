"""Integrity: verify the whole log against the hash ledger, export a case with proofs, and read
the ledger's public key and checkpoints.

**verify** reads one consistent snapshot of the events table and the ledger's tables straight
through the driver (``projections.ledger_snapshot.log_snapshot``), in notification order, and:

1. checks every checkpoint's Ed25519 signature with the trusted public keys;
2. recomputes each event's leaf from its stored bytes and compares it with the ledger's leaf
   ``i`` (same notification id, same hash): a changed event is ``altered``, a vanished one
   ``missing``, one the ledger never saw ``inserted``, a shorter log ``truncated``;
3. rebuilds the tree from the recomputed leaves and compares its root at every checkpoint's
   size with the signed root (this catches an event changed together with its ledger leaf);
4. checks the ledger's stored frontier and stored nodes against the recomputed tree, and an
   RFC 9162 consistency proof between each pair of consecutive checkpoints;
5. checks every stored snapshot's MAC and the hash of the events it folds against the events
   stored up to its version (``check_snapshots``): ``snapshot-forged``, ``snapshot-altered``,
   ``snapshot-mismatch``, each at its aggregate id and version.

It stops reading at the first event that does not match (everything after it would mismatch
too) and names it: tree index, notification id, what kind of mismatch. Events after the
ledger's position are ``pending`` (the notary has not reached them yet), not a failure.
Memory: 32 bytes per 128 events for the upper tree, plus one 8 KB tile of leaves per checkpoint.

**export** gives a case's events as stored, each with its leaf index and inclusion proof
against a signed checkpoint covering them all (signed on demand when the latest does not:
the process answering needs the signing key), plus the checkpoint; ``domain.integrity.export``
checks such a file offline. The list of events comes from the ledger's own index of the case
as well as from the events table, so an event deleted from the table shows up as missing.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from pydantic import BaseModel

from application.integrity_views import check_beside_the_log
from domain.case.events import CaseEvent
from domain.case.snapshot import CaseSnapshot
from domain.case.state import fold
from domain.integrity.export import Finding, SignatureCheck, check_checkpoint
from domain.integrity.ledger import Checkpoint, event_leaf_hash
from domain.integrity.merkle import (
    CompactRange,
    ProofError,
    consistency_proof,
    inclusion_proof,
    node_hash,
    verify_consistency,
)
from infrastructure.integrity_keys import PublicKey, SigningKey, SigningKeyError
from infrastructure.keys import SubjectKeyring, UnsealedValue
from infrastructure.master_key import MasterKeyError
from infrastructure.snapshots import GENESIS, SnapshotStore
from infrastructure.snapshots import Sealed as SealedSnapshot
from infrastructure.snapshots import chain as snapshot_chain
from infrastructure.snapshots import check as check_snapshot
from infrastructure.snapshots import unwrap as unwrap_snapshot
from projections.ledger_snapshot import log_snapshot
from projections.notary import (
    TILE_HEIGHT,
    CaseLeaf,
    HashLedger,
    LedgerCorrupt,
    StoredRow,
)
from projections.paging import MAX_POSITION
from projections.projector import Projector

DEFAULT_VERIFY_BATCH = 10_000


class NoCheckpoint(LedgerCorrupt):
    """The ledger holds nothing to export yet."""


@dataclass
class VerifyReport:
    """What ``verify`` found."""

    events: int = 0
    """Events read from the log (up to the first mismatch, if any)."""
    ledger_size: int = 0
    checkpoints: int = 0
    snapshots: int = 0
    """Stored snapshots checked against the log (``check_snapshots``)."""
    snapshots_unsigned: int = 0
    """Of them, true snapshots without a MAC (from before snapshots had one): ignored on load."""
    pending: int = 0
    """Events after the ledger's position: not yet in the tree."""
    unsigned: int = 0
    """Leaves after the last checkpoint: in the tree, not yet signed."""
    seconds: float = 0.0
    views_seconds: float | None = None
    """How long comparing the views with their rebuild took (None: not compared)."""
    key_ids: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        """The finding at the earliest position (the one to look at first)."""
        if not self.findings:
            return None
        # The log first: views and keys are checked against it, so a fault in the log
        # shows in them too.
        return min(
            self.findings,
            key=lambda f: (
                f.aggregate_id is not None or f.view is not None or f.key_id is not None,
                -1 if f.tree_index is None else f.tree_index,
            ),
        )


@dataclass(frozen=True)
class ExportedEvent:
    version: int
    leaf: CaseLeaf | None
    stored: StoredRow | None
    proof: list[bytes]
    event: Any | None
    """The decoded timeline event (as the case service reads it), None if it has none."""


@dataclass(frozen=True)
class CaseExport:
    case_id: UUID
    checkpoint: Checkpoint
    events: list[ExportedEvent]


def signature_check(keys: Sequence[PublicKey]) -> SignatureCheck:
    by_id = {key.key_id: key for key in keys}

    def check(key_id: str, signature: bytes, message: bytes) -> bool | None:
        key = by_id.get(key_id)
        return None if key is None else key.verifies(signature, message)

    return check


class IntegrityService:
    def __init__(
        self,
        event_log: Application[Any],
        notary: HashLedger,
        signing_key: SigningKey,
        *,
        projector: Projector | None = None,
        keyring: SubjectKeyring | None = None,
    ) -> None:
        self._event_log = event_log
        self._notary = notary
        self._key = signing_key
        self._projector = projector
        self._keyring = keyring

    @property
    def notary(self) -> HashLedger:
        return self._notary

    # --- the key and the checkpoints ------------------------------------------------------

    def public_key(self) -> PublicKey:
        """The public half of the signing key (generated at first use if Vigil may)."""
        return self._key.public

    def configured_public_key(self) -> PublicKey:
        """The signing key's public half for checking, never generating one."""
        if not self._key.exists():
            raise SigningKeyError(
                f"no signing key at {self._key.path}: pass the ledger's public key explicitly"
            )
        return self._key.public

    def checkpoints(self, *, limit: int, cursor: str | None) -> tuple[list[Checkpoint], str | None]:
        """A page of checkpoints, newest first; the cursor is the last tree size seen."""
        before = None
        if cursor is not None:
            if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > MAX_POSITION:
                raise ValueError("the cursor is not one this list gave")
            before = int(cursor)
        found = self._notary.checkpoints(limit=limit + 1, before_size=before)
        page = found[:limit]
        more = len(found) > limit
        return page, (str(page[-1].tree_size) if more and page else None)

    def consistency(self, first: int, second: int) -> list[bytes]:
        """An RFC 9162 consistency proof between two tree sizes the ledger holds."""
        size = self._notary.state().tree_size
        if not 0 <= first <= second <= size:
            raise ProofError(f"sizes must satisfy 0 <= first <= second <= {size}")
        return consistency_proof(first, second, self._notary.tree().perfect)

    # --- export ---------------------------------------------------------------------------

    def export_case(self, case_id: UUID, timeline: Sequence[Any]) -> CaseExport:
        """A case's events as stored, with inclusion proofs against one signed checkpoint."""
        notary = self._notary
        notary.catch_up()
        leaves = {leaf.originator_version: leaf for leaf in notary.case_leaves(case_id)}
        stored = {row.originator_version: row for row in notary.stored_rows(case_id)}
        decoded = {event.originator_version: event for event in timeline}
        if not leaves:
            raise NoCheckpoint("the hash ledger holds no event of this case yet")
        checkpoint = notary.ensure_checkpoint(max(leaf.tree_index for leaf in leaves.values()) + 1)
        tree = notary.tree()
        events = []
        for version in sorted(set(leaves) | set(stored) | set(decoded)):
            leaf = leaves.get(version)
            proof = (
                inclusion_proof(leaf.tree_index, checkpoint.tree_size, tree.perfect)
                if leaf is not None and leaf.tree_index < checkpoint.tree_size
                else []
            )
            events.append(
                ExportedEvent(version, leaf, stored.get(version), proof, decoded.get(version))
            )
        return CaseExport(case_id=case_id, checkpoint=checkpoint, events=events)

    # --- verify ---------------------------------------------------------------------------

    def verify(
        self,
        keys: Sequence[PublicKey],
        *,
        trusted: Sequence[Checkpoint] = (),
        progress: Callable[[int, int], None] | None = None,
        batch_size: int = DEFAULT_VERIFY_BATCH,
        views: bool = True,
    ) -> VerifyReport:
        """Check the whole log against the ledger, its checkpoints and their signatures; then
        the views and subject keys against the log (``views``: rebuild each view aside and
        compare rows too). ``trusted`` checkpoints (kept by an auditor) are checked like the
        stored ones."""
        started = time.perf_counter()
        report = VerifyReport(key_ids=[key.key_id for key in keys])
        check_signature = signature_check(keys)
        store = self._notary.store
        with log_snapshot(self._event_log, store) as snapshot:
            state = snapshot.ledger_state()
            if state is None:
                report.findings.append(Finding("ledger-state", "the ledger has no state row"))
                return report
            ledger_size, ledger_position, stored_frontier = state
            report.ledger_size = ledger_size
            stored_checkpoints = snapshot.checkpoints()
            report.checkpoints = len(stored_checkpoints)
            everything = sorted([*stored_checkpoints, *trusted], key=lambda c: c.tree_size)
            for checkpoint in everything:
                finding = check_checkpoint(checkpoint, check_signature)
                if finding is not None:
                    report.findings.append(finding)
            last_position = snapshot.log_head()

            walk = _Walk(everything, ledger_size, ledger_position)
            leaf_rows = (row for batch in snapshot.leaf_batches(batch_size) for row in batch)
            for batch in snapshot.event_batches(batch_size):
                if not walk.feed(batch, leaf_rows):
                    break
                if progress is not None:
                    progress(batch[-1][0], last_position)
            report.events = walk.events
            report.pending = walk.pending
            if walk.finding is None:
                walk.finish(leaf_rows)
            if walk.finding is not None:
                report.findings.append(walk.finding)
            else:
                report.findings.extend(
                    self._check_ledger_tables(snapshot, store, walk, stored_frontier)
                )
                report.findings.extend(walk.consistency(stored_checkpoints))
            # Last, so that at one position what the log itself shows is named first.
            report.findings.extend(
                _missing_from_ledger(trusted, stored_checkpoints, check_signature)
            )
        report.snapshots, report.snapshots_unsigned, snapshot_findings = self.check_snapshots()
        report.findings.extend(snapshot_findings)
        beside, compare_seconds = check_beside_the_log(
            self._event_log, self._projector, self._keyring, views=views
        )
        report.findings.extend(beside)
        report.views_seconds = compare_seconds if views and self._projector else None
        last_signed = stored_checkpoints[-1].tree_size if stored_checkpoints else 0
        report.unsigned = max(0, ledger_size - last_signed)
        report.seconds = time.perf_counter() - started
        return report

    def check_snapshots(self) -> tuple[int, int, list[Finding]]:
        """Every stored snapshot against the log: its MAC, and the hash of the events it folds
        against the events stored up to its version. One without a MAC (forged, or written
        before snapshots had one; the loader ignores it either way) is a finding unless its
        state is the fold of the log up to its version, as far as the fields it carries go
        (one from a release before lacks the fields added since). The number checked, how
        many of them are true but unsigned, and the findings."""
        store = self._event_log.snapshots
        if not isinstance(store, SnapshotStore):
            return 0, 0, []
        checked, unsigned, findings = 0, 0, []
        for case_id, group in itertools.groupby(store.rows(), key=lambda row: row.originator_id):
            rows = list(group)
            checked += len(rows)
            found, passed = self._check_snapshots_of(store, case_id, rows)
            findings.extend(found)
            unsigned += passed
        return checked, unsigned, findings

    def _check_snapshots_of(
        self, store: SnapshotStore, case_id: UUID, rows: Sequence[StoredEvent]
    ) -> tuple[list[Finding], int]:
        hashes: dict[int, bytes] = {}
        value, last = GENESIS, 0
        for event in store.events.select_events(case_id, lte=rows[-1].originator_version):
            if event.originator_version != last + 1:
                break  # a gap: no snapshot beyond it can match
            value = snapshot_chain(value, event.originator_version, event.topic, event.state)
            last = event.originator_version
            hashes[last] = value
        findings, unsigned = [], 0
        for row in rows:
            found = check_snapshot(row, store.mac)
            if isinstance(found, SealedSnapshot):
                if hashes.get(row.originator_version) == found.log_hash:
                    continue
                kind, detail = (
                    "snapshot-mismatch",
                    "the snapshot's MAC verifies, but the events it folded are not the events "
                    "stored up to its version (changed or missing since)",
                )
            elif unwrap_snapshot(bytes(row.state)) is not None:
                kind, detail = (
                    "snapshot-altered",
                    f"{found}: changed after Vigil wrote it, or made without Vigil's key",
                )
            elif self._is_fold_of_log(row):
                unsigned += (
                    1  # written before snapshots had a MAC, and true (the loader ignores it)
                )
                continue
            else:
                kind, detail = (
                    "snapshot-forged",
                    "a snapshot Vigil did not write (it has no MAC) whose state is not the "
                    "log's up to its version",
                )
            findings.append(
                Finding(kind, detail, version=row.originator_version, aggregate_id=str(case_id))
            )
        return findings, unsigned

    def _is_fold_of_log(self, row: StoredEvent) -> bool:
        """Whether a snapshot without a MAC says what the log says (one from before MACs)."""
        try:
            snapshot = self._event_log.mapper.to_domain_event(row)
            events = list(self._event_log.events.get(row.originator_id, lte=row.originator_version))
        except (UnsealedValue, MasterKeyError, ValueError, TypeError):
            return False  # unreadable, or a personal field in plaintext: not Vigil's
        return (
            isinstance(snapshot, CaseSnapshot)
            and len(events) == row.originator_version
            and _says_as_stored(
                snapshot.state, fold(None, [e for e in events if isinstance(e, CaseEvent)])
            )
        )

    @staticmethod
    def _check_ledger_tables(
        snapshot: Any, store: Any, walk: _Walk, stored_frontier: bytes
    ) -> list[Finding]:
        findings: list[Finding] = []
        if stored_frontier != b"".join(walk.stack):
            findings.append(
                Finding(
                    "ledger-state",
                    "the ledger's stored frontier does not match the tree rebuilt from the events",
                    tree_index=walk.size - 1 if walk.size else None,
                )
            )
        for level, index, stored in snapshot.nodes():
            nodes = walk.levels.get(level, [])
            if index >= len(nodes):
                continue  # beyond the tree this snapshot rebuilt
            if stored != nodes[index]:
                findings.append(
                    Finding(
                        "ledger-node",
                        f"the ledger's stored node {index} at level {level} does not match the "
                        "tree rebuilt from the events (inclusion proofs would fail)",
                        tree_index=int(index) << int(level),
                    )
                )
                break
        return findings


def _says_as_stored(stored: Any, folded: Any) -> bool:
    """Whether a decoded snapshot says what the fold says, in every field the snapshot carried.

    A snapshot from a release before lacks the fields added since (``CaseState.ever_critical``,
    an approval's ``level``): decoded, they hold their defaults while the fold gives them a
    value. Only those are passed over; every field the snapshot did carry must match."""
    if isinstance(stored, BaseModel):
        return type(stored) is type(folded) and all(
            _says_as_stored(getattr(stored, name), getattr(folded, name))
            for name in stored.model_fields_set
        )
    if isinstance(stored, dict):
        return (
            isinstance(folded, dict)
            and stored.keys() == folded.keys()
            and all(_says_as_stored(value, folded[key]) for key, value in stored.items())
        )
    if isinstance(stored, list | tuple):
        return (
            isinstance(folded, list | tuple)
            and len(stored) == len(folded)
            and all(_says_as_stored(a, b) for a, b in zip(stored, folded, strict=True))
        )
    return bool(stored == folded)


def _missing_from_ledger(
    kept: Sequence[Checkpoint],
    stored: Sequence[Checkpoint],
    check_signature: SignatureCheck,
) -> list[Finding]:
    """A checkpoint an auditor kept, validly signed by us, that the ledger no longer holds:
    deleted (or replaced) since it was kept, whether or not the events were rolled back too."""
    held = set(stored)
    return [
        Finding(
            "checkpoint-missing",
            f"the kept checkpoint of tree size {checkpoint.tree_size} (signed "
            f"{checkpoint.signed_at.isoformat()} by key {checkpoint.key_id}) is not among the "
            "ledger's checkpoints: it was deleted or replaced after it was kept",
            tree_index=checkpoint.tree_size - 1,
        )
        for checkpoint in kept
        if checkpoint not in held
        and check_signature(checkpoint.key_id, checkpoint.signature, checkpoint.message())
    ]


class _Walk:
    """The streaming comparison of the log with the ledger, and the tree rebuilt from it."""

    def __init__(
        self, checkpoints: Sequence[Checkpoint], ledger_size: int, ledger_position: int
    ) -> None:
        self.ledger_size = ledger_size
        self.ledger_position = ledger_position
        self.size = 0
        self.events = 0
        self.pending = 0
        self.last_nid = 0
        self.stack: list[bytes] = []
        self.levels: dict[int, list[bytes]] = {}
        self.finding: Finding | None = None
        self.by_size: dict[int, list[Checkpoint]] = {}
        for checkpoint in checkpoints:
            self.by_size.setdefault(checkpoint.tree_size, []).append(checkpoint)
        self.sizes = sorted(self.by_size)
        self.tiles: dict[int, list[bytes]] = {(s - 1) >> TILE_HEIGHT: [] for s in self.sizes if s}

    def feed(self, batch: Sequence[tuple[int, bytes, int, str, bytes]], leaf_rows: Any) -> bool:
        """Compare a batch of events; False once a mismatch is found (then stop)."""
        stack, levels, tiles = self.stack, self.levels, self.tiles
        by_size = self.by_size
        ledger_size = self.ledger_size
        i = self.size
        for nid, oid, version, topic, state in batch:
            self.events += 1
            if i >= ledger_size:
                if nid <= self.ledger_position:
                    self.finding = Finding(
                        "inserted",
                        "the log holds an event the ledger never recorded, behind the "
                        "ledger's position",
                        tree_index=i,
                        notification_id=nid,
                    )
                    return False
                self.pending += 1
                continue
            leaf = event_leaf_hash(nid, oid, version, topic, state)
            row = next(leaf_rows, None)
            if row is None or int(row[0]) != i:
                self.finding = Finding(
                    "ledger-leaf-missing",
                    "the ledger's leaf for this position is missing from its table",
                    tree_index=i,
                    notification_id=nid,
                )
                return False
            if row[1] != nid:
                if nid < row[1]:
                    self.finding = Finding(
                        "inserted",
                        f"the log holds an event at notification id {nid} that the ledger "
                        f"never recorded (its leaf {i} is notification id {row[1]})",
                        tree_index=i,
                        notification_id=nid,
                    )
                else:
                    self.finding = Finding(
                        "missing",
                        f"the ledger's leaf {i} is the event at notification id {row[1]}, "
                        "which is no longer in the log (deleted or moved)",
                        tree_index=i,
                        notification_id=int(row[1]),
                    )
                return False
            if bytes(row[2]) != leaf:
                self.finding = Finding(
                    "altered",
                    "the stored event does not hash to the ledger's leaf (the event, or the "
                    "ledger's leaf, was changed)",
                    tree_index=i,
                    notification_id=nid,
                )
                return False
            tile = tiles.get(i >> TILE_HEIGHT)
            if tile is not None:
                tile.append(leaf)
            size, h, level = i, leaf, 0
            while size & 1:
                h = node_hash(stack.pop(), h)
                level += 1
                size >>= 1
                if level >= TILE_HEIGHT:
                    levels.setdefault(level, []).append(h)
            stack.append(h)
            i += 1
            self.size = i
            self.last_nid = nid
            if i in by_size and not self._roots_match(i, by_size[i]):
                return False
        return True

    def _roots_match(self, size: int, checkpoints: list[Checkpoint]) -> bool:
        root = CompactRange(size, list(self.stack)).root()
        for checkpoint in checkpoints:
            if checkpoint.root_hash != root:
                before = max((s for s in self.sizes if s < size), default=0)
                self.finding = Finding(
                    "root-mismatch",
                    f"the events do not hash to the root signed at tree size {size}: an event "
                    f"in tree indexes {before}..{size - 1} was changed together with its "
                    "ledger leaf, or the checkpoint was altered",
                    tree_index=size - 1,
                    notification_id=self.last_nid,
                )
                return False
        return True

    def finish(self, leaf_rows: Any) -> None:
        """After the last event: the ledger must not hold more leaves than the log has events,
        and no checkpoint may be larger than the tree."""
        if self.size < self.ledger_size:
            row = next(leaf_rows, None)
            self.finding = Finding(
                "truncated",
                f"the log ends after {self.size} events but the ledger holds "
                f"{self.ledger_size} leaves: events are missing from the end",
                tree_index=self.size,
                notification_id=None if row is None else int(row[1]),
            )
            return
        beyond = [s for s in self.sizes if s > self.size]
        if beyond:
            self.finding = Finding(
                "checkpoint-beyond-tree",
                f"a checkpoint claims tree size {beyond[0]} but the ledger holds {self.size}",
                tree_index=self.size,
            )

    def perfect(self, level: int, index: int) -> bytes:
        if level >= TILE_HEIGHT:
            return self.levels[level][index]
        start = index << level
        tile = self.tiles[start >> TILE_HEIGHT]
        offset = start - ((start >> TILE_HEIGHT) << TILE_HEIGHT)
        hashes = tile[offset : offset + (1 << level)]
        while len(hashes) > 1:
            hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]

    def consistency(self, checkpoints: Sequence[Checkpoint]) -> list[Finding]:
        """A consistency proof from the rebuilt tree between each pair of consecutive
        checkpoints, checked against their signed roots."""
        for older, newer in itertools.pairwise(checkpoints):
            try:
                proof = consistency_proof(older.tree_size, newer.tree_size, self.perfect)
                verify_consistency(
                    older.tree_size, newer.tree_size, older.root_hash, newer.root_hash, proof
                )
            except (ProofError, KeyError, IndexError) as exc:
                return [
                    Finding(
                        "inconsistent",
                        f"the checkpoint at tree size {newer.tree_size} does not extend the one "
                        f"at {older.tree_size}: {exc}",
                        tree_index=newer.tree_size - 1,
                    )
                ]
        return []
