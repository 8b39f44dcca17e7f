"""Checking a case export offline: no database, only the file and the ledger's public key.

An export (``GET /api/v1/cases/{id}/export``, format ``vigil-case-export/v1``) holds a signed
checkpoint and, per event of the case in version order: its stored form (notification id,
originator id and version, topic, the raw state in base64), its leaf index and an RFC 6962
inclusion proof against the checkpoint, and the decoded timeline entry for reading.

``check_export`` recomputes every leaf from the stored form (never trusting the leaf hash the
file states), walks each proof to the checkpoint's root, checks the checkpoint's signature,
and checks the case is whole as far as a file can show: the stored forms belong to the case,
versions run 1, 2, 3... without a gap, leaves follow log order, and each readable entry says
the same type, case and version as its stored form. It cannot show that no event came after
the last one exported: ``vigil verify`` over the database checks the log as a whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.integrity.ledger import Checkpoint, b64, event_leaf_hash, originator_bytes, unb64
from domain.integrity.merkle import ProofError, verify_inclusion

EXPORT_FORMAT = "vigil-case-export/v1"

SignatureCheck = Callable[[str, bytes, bytes], bool | None]
"""``(key id, signature, message)`` -> True (valid), False (invalid), None (unknown key)."""


@dataclass(frozen=True)
class Finding:
    """One thing that does not verify, at the first position it shows."""

    kind: str
    detail: str
    tree_index: int | None = None
    notification_id: int | None = None
    version: int | None = None
    aggregate_id: str | None = None
    """The aggregate (case) whose record it is, where the finding is not one event's (a
    snapshot: ``aggregate_id`` and ``version``)."""
    view: str | None = None
    """The view a finding about a view names (``vigil verify``'s view checks)."""
    key_id: str | None = None
    """The subject key a finding about a key names."""

    def where(self) -> str:
        parts = []
        if self.view is not None:
            parts.append(f"view {self.view}")
        if self.key_id is not None:
            parts.append(f"subject key {self.key_id}")
        if self.aggregate_id is not None:
            parts.append(f"aggregate {self.aggregate_id} version {self.version}")
        elif self.version is not None:
            parts.append(f"event version {self.version}")
        if self.tree_index is not None:
            parts.append(f"tree index {self.tree_index}")
        if self.notification_id is not None:
            parts.append(f"notification id {self.notification_id}")
        return ", ".join(parts) if parts else "the file"

    def __str__(self) -> str:
        return f"{self.kind} at {self.where()}: {self.detail}"


def check_checkpoint(checkpoint: Checkpoint, check_signature: SignatureCheck) -> Finding | None:
    """The checkpoint's signature, by a trusted key."""
    valid = check_signature(checkpoint.key_id, checkpoint.signature, checkpoint.message())
    if valid is None:
        return Finding(
            "unknown-key",
            f"the checkpoint at tree size {checkpoint.tree_size} names key "
            f"{checkpoint.key_id!r}, which is not a trusted public key",
            tree_index=checkpoint.tree_size - 1,
        )
    if not valid:
        return Finding(
            "bad-signature",
            f"the signature of the checkpoint at tree size {checkpoint.tree_size} does not "
            f"verify with key {checkpoint.key_id}",
            tree_index=checkpoint.tree_size - 1,
        )
    return None


def check_export(document: Mapping[str, Any], check_signature: SignatureCheck) -> list[Finding]:
    """Everything in the export that does not verify, in event order (empty: it verifies)."""
    if document.get("format") != EXPORT_FORMAT:
        return [Finding("format", f"not a {EXPORT_FORMAT} document")]
    try:
        case_id = UUID(str(document["case_id"]))
        checkpoint = Checkpoint.from_json(dict(document["checkpoint"]))
        events = list(document["events"])
    except (KeyError, TypeError, ValueError) as exc:
        return [Finding("format", f"malformed export: {exc}")]
    findings: list[Finding] = []
    signature = check_checkpoint(checkpoint, check_signature)
    if signature is not None:
        findings.append(signature)
    if not events:
        findings.append(Finding("incomplete", "the export holds no events"))
    last_index = -1
    for expected_version, item in enumerate(events, start=1):
        finding = _check_event(item, expected_version, case_id, checkpoint, last_index)
        if finding is not None:
            findings.append(finding)
        index = item.get("leaf_index") if isinstance(item, Mapping) else None
        if isinstance(index, int):
            last_index = index
    return findings


def _check_event(
    item: Any, expected_version: int, case_id: UUID, checkpoint: Checkpoint, last_index: int
) -> Finding | None:
    if not isinstance(item, Mapping):
        return Finding("format", "an event entry is not an object", version=expected_version)
    version = item.get("version")
    index = item.get("leaf_index")
    nid = item.get("notification_id")
    where: dict[str, Any] = {
        "version": version if isinstance(version, int) else expected_version,
        "tree_index": index if isinstance(index, int) else None,
        "notification_id": nid if isinstance(nid, int) else None,
    }
    if version != expected_version:
        return Finding(
            "missing-event",
            f"expected version {expected_version} next, found {version!r}: an event of the "
            "case is missing from the export, or events are out of order",
            **{**where, "version": expected_version},
        )
    stored = item.get("stored")
    if not isinstance(stored, Mapping):
        return Finding(
            "missing-event",
            "the ledger records this event but its stored form is missing "
            "(deleted from the events table?)",
            **where,
        )
    if not isinstance(index, int) or not isinstance(nid, int):
        return Finding(
            "not-in-ledger",
            "the event has no leaf in the hash ledger (inserted behind the ledger's back?)",
            **where,
        )
    if index <= last_index:
        return Finding("order", "leaves of a case must follow log order", **where)
    try:
        originator = UUID(str(stored["originator_id"]))
        stored_version = int(stored["originator_version"])
        topic = str(stored["topic"])
        state = unb64(str(stored["state"]))
        proof = [unb64(str(p)) for p in item.get("inclusion_proof", [])]
    except (KeyError, TypeError, ValueError) as exc:
        return Finding("format", f"malformed stored form: {exc}", **where)
    if originator != case_id or stored_version != version:
        return Finding(
            "wrong-event",
            f"the stored form is event {stored_version} of {originator}, not event {version} "
            f"of case {case_id}",
            **where,
        )
    leaf = event_leaf_hash(nid, originator_bytes(originator), stored_version, topic, state)
    stated = item.get("leaf_hash")
    if stated is not None and stated != b64(leaf):
        return Finding(
            "altered",
            "the stored form does not hash to the leaf hash the export states",
            **where,
        )
    if index >= checkpoint.tree_size:
        return Finding(
            "not-covered",
            f"leaf {index} is outside the checkpoint (tree size {checkpoint.tree_size})",
            **where,
        )
    try:
        verify_inclusion(index, checkpoint.tree_size, leaf, proof, checkpoint.root_hash)
    except ProofError as exc:
        return Finding(
            "bad-proof",
            f"the stored form is not proven in the signed checkpoint: {exc}",
            **where,
        )
    entry = item.get("entry")
    if isinstance(entry, Mapping):
        expected_type = topic.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
        if (
            entry.get("type") != expected_type
            or str(entry.get("case_id")) != str(case_id)
            or entry.get("version") != version
        ):
            return Finding(
                "entry-mismatch",
                "the readable timeline entry does not describe the stored event "
                f"({expected_type} version {version})",
                **where,
            )
    return None
