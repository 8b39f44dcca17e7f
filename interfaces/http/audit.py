"""Integrity for auditors: the hash ledger's public key, its signed checkpoints, consistency
proofs between them, and case exports that an auditor checks offline.

Every event in the log is a leaf of an RFC 6962 Merkle tree, in commit order; checkpoints sign
the tree's size and root with Ed25519 (``domain.integrity.ledger`` has the exact formats). An
export carries each event of a case *as stored*, its inclusion proof against one signed
checkpoint and that checkpoint, so ``vigil verify-export FILE --public-key KEY`` proves, with no
database and no trust in the server, that every exported event is in the signed log unaltered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

from application.integrity import CaseExport, ExportedEvent
from domain.access.permissions import Permission
from domain.access.rules import CaseGate
from domain.access.vocabulary import AccessedRecord
from domain.errors import InvalidCommand, NotPermitted
from domain.integrity.ledger import LEAF_FORMAT, Checkpoint, b64
from domain.integrity.merkle import ProofError
from domain.shared import Actor
from infrastructure.integrity_keys import SigningKeyError
from interfaces.composition import Vigil
from interfaces.http.access import Reader
from interfaces.http.dependencies import CaseId, VigilDep, require
from interfaces.http.docs import LIST_ERRORS, READ_ERRORS
from interfaces.http.problems import error_responses, problem_response
from interfaces.http.schemas import EventRead, event_read
from projections.paging import MAX_POSITION

router = APIRouter(prefix="/api/v1", tags=["audit"])

MAX_CHECKPOINTS = 500
DEFAULT_CHECKPOINTS = 50

TAG = {
    "name": "audit",
    "description": "The hash ledger: every event a leaf of an RFC 6962 Merkle tree in commit "
    "order, Ed25519-signed checkpoints, consistency proofs, and case exports with inclusion "
    "proofs that `vigil verify-export` checks offline.",
}

AuditReader = Annotated[Actor, Depends(require(Permission.AUDIT_READ))]

_ROOT_EXAMPLE = "3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


class PublicKeyRead(BaseModel):
    """The key that signs checkpoints. Keep a copy out of band: it is what makes a checkpoint
    (and an export) checkable without trusting this server."""

    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str = Field(
        description="First 8 bytes of SHA-256 over the raw public key, in hex.",
        examples=["2657861f97f32172"],
    )
    public_key: str = Field(description="The raw 32-byte public key, base64.")
    public_key_pem: str = Field(description="The same key as PEM (SubjectPublicKeyInfo).")


class CheckpointRead(BaseModel):
    """A signed statement: the log's first `tree_size` events have Merkle root `root_hash`."""

    tree_size: int = Field(examples=[1000])
    root_hash: str = Field(description="RFC 6962 root, base64.", examples=[_ROOT_EXAMPLE])
    timestamp_ms: int = Field(description="When it was signed, ms since the Unix epoch (UTC).")
    signed_at: datetime = Field(description="The same moment, RFC 3339.")
    key_id: str
    signature: str = Field(description="Ed25519 signature over `signed_message`, base64.")
    signed_message: str = Field(
        description="The exact text signed: `vigil-checkpoint/v1`, tree size, root (base64), "
        "timestamp (ms), key id, each line ending in a newline.",
    )


def checkpoint_read(checkpoint: Checkpoint) -> CheckpointRead:
    return CheckpointRead.model_validate(checkpoint.to_json())


class CheckpointPage(BaseModel):
    """Checkpoints, newest first; pass ``next_cursor`` back as ``cursor`` for older ones."""

    items: list[CheckpointRead]
    next_cursor: str | None


class ConsistencyProofRead(BaseModel):
    """RFC 9162 consistency proof: the tree of size `first` is a prefix of size `second`."""

    first: int
    second: int
    proof: list[str] = Field(description="Node hashes, base64, in RFC 9162 order.")


class StoredEventRead(BaseModel):
    """An event exactly as the events table stores it (what its leaf hashes)."""

    originator_id: UUID
    originator_version: int
    topic: str = Field(examples=["domain.case.events:NoteAdded"])
    state: str = Field(
        description="The stored state column, base64 (JSON; personal fields may be encrypted, "
        "or unreadable after erasure: the leaf hashes these bytes, never decrypted content)."
    )


class ExportedEventRead(BaseModel):
    version: int = Field(description="The case version this event made (1, 2, 3...).")
    leaf_index: int | None = Field(
        description="Its leaf in the Merkle tree (null: the ledger has no leaf for it)."
    )
    notification_id: int | None = Field(description="Its position in the event log.")
    leaf_hash: str | None = Field(description="SHA-256(0x00 || leaf data), base64.")
    stored: StoredEventRead | None = Field(
        description="The stored form (null: the ledger records the event but the events "
        "table no longer holds it)."
    )
    inclusion_proof: list[str] = Field(
        description="RFC 9162 audit path from the leaf to the checkpoint's root, base64."
    )
    entry: EventRead | None = Field(description="The timeline entry, for reading.")


class CaseExportRead(BaseModel):
    """A case's timeline with what proves it: check it with `vigil verify-export FILE
    --public-key KEY` (no database needed)."""

    format: Literal["vigil-case-export/v1"] = "vigil-case-export/v1"
    case_id: UUID
    exported_at: datetime
    leaf_format: int = Field(
        default=LEAF_FORMAT,
        description="Leaf data: u8 format=1, u64 notification id, u16 length + originator id "
        "(16 UUID bytes), u64 version, u32 length + topic (UTF-8), u32 length + state; "
        "big-endian.",
    )
    checkpoint: CheckpointRead
    events: list[ExportedEventRead] = Field(description="In version order.")


def _exported(item: ExportedEvent) -> ExportedEventRead:
    stored = item.stored
    return ExportedEventRead(
        version=item.version,
        leaf_index=None if item.leaf is None else item.leaf.tree_index,
        notification_id=(
            stored.notification_id
            if stored is not None
            else (None if item.leaf is None else item.leaf.notification_id)
        ),
        leaf_hash=None if item.leaf is None else b64(item.leaf.leaf_hash),
        stored=None
        if stored is None
        else StoredEventRead(
            originator_id=UUID(str(stored.originator_id)),
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=b64(stored.state),
        ),
        inclusion_proof=[b64(p) for p in item.proof],
        entry=None if item.event is None else event_read(item.event),
    )


def export_read(export: CaseExport, exported_at: datetime) -> CaseExportRead:
    return CaseExportRead(
        case_id=export.case_id,
        exported_at=exported_at,
        checkpoint=checkpoint_read(export.checkpoint),
        events=[_exported(item) for item in export.events],
    )


def _key_unavailable(request: Request, exc: SigningKeyError) -> Any:
    return problem_response(
        503,
        "signing-key-unavailable",
        "The ledger's signing key is unavailable",
        "the server cannot read its signing key (see VIGIL_SIGNING_KEY_FILE)",
        instance=request.url.path,
    )


_KEY_ERRORS: dict[int | str, dict[str, Any]] = {
    503: {"description": "The signing key cannot be read (a configuration fault)."}
}


@router.get(
    "/audit/public-key",
    response_model=PublicKeyRead,
    responses={**error_responses(401, 403), **_KEY_ERRORS},
)
def public_key(vigil: VigilDep, actor: AuditReader, request: Request) -> Any:
    """The Ed25519 public key that signs checkpoints (raw base64, PEM, key id)."""
    try:
        key = vigil.integrity.public_key()
    except SigningKeyError as exc:
        return _key_unavailable(request, exc)
    return PublicKeyRead(key_id=key.key_id, public_key=b64(key.raw), public_key_pem=key.pem)


@router.get("/audit/checkpoints", responses=error_responses(*LIST_ERRORS))
def list_checkpoints(
    vigil: VigilDep,
    actor: AuditReader,
    limit: Annotated[int, Query(ge=1, le=MAX_CHECKPOINTS)] = DEFAULT_CHECKPOINTS,
    cursor: Annotated[str | None, Query(max_length=30)] = None,
) -> CheckpointPage:
    """Signed checkpoints, newest first (one every N events or T seconds)."""
    try:
        items, next_cursor = vigil.integrity.checkpoints(limit=limit, cursor=cursor)
    except ValueError as exc:
        raise InvalidCommand(str(exc), errors={"cursor": str(exc)}) from None
    return CheckpointPage(items=[checkpoint_read(c) for c in items], next_cursor=next_cursor)


@router.get("/audit/consistency", responses=error_responses(*LIST_ERRORS))
def consistency_proof(
    vigil: VigilDep,
    actor: AuditReader,
    first: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="The older tree size (a checkpoint's).")
    ],
    second: Annotated[int, Query(ge=0, le=MAX_POSITION, description="The newer tree size.")],
) -> ConsistencyProofRead:
    """An RFC 9162 consistency proof that the tree of size `first` is a prefix of `second`:
    an auditor who kept an older checkpoint checks a newer one extends it, never rewrites it."""
    try:
        proof = vigil.integrity.consistency(first, second)
    except ProofError as exc:
        raise InvalidCommand(str(exc), errors={"second": str(exc)}) from None
    return ConsistencyProofRead(first=first, second=second, proof=[b64(p) for p in proof])


@router.get(
    "/cases/{case_id}/export",
    response_model=CaseExportRead,
    responses={**error_responses(*READ_ERRORS), **_KEY_ERRORS},
)
def export_case(
    case_id: CaseId,
    vigil: VigilDep,
    reader: Reader,
    exporter: Annotated[Actor, Depends(require(Permission.CASE_EXPORT))],
    request: Request,
) -> Any:
    """The case's timeline for auditors, each event as stored with its inclusion proof against
    a signed checkpoint covering the whole case (signed now if the latest does not cover it).

    Save the answer to a file and check it offline: `vigil verify-export FILE --public-key
    KEY` recomputes every leaf from the stored bytes, walks every proof to the signed root,
    checks the signature and that versions run 1, 2, 3... without a gap. Recorded in the
    access log like any read of the case."""

    def produce(gate: CaseGate) -> CaseExportRead:
        if not gate.full:
            raise NotPermitted("an export needs full access to the case")
        timeline = vigil.cases.timeline(case_id)
        return export_read(vigil.integrity.export_case(case_id, timeline), vigil.clock())

    try:
        return reader.read(case_id, AccessedRecord.EXPORT, produce)
    except SigningKeyError as exc:
        return _key_unavailable(request, exc)


def with_notary(vigil: Vigil, inner: Callable[[FastAPI], Any]) -> Callable[[FastAPI], Any]:
    """The app's lifespan with the notary following the log where the projector runs
    (``Vigil.follows_in_process``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            follow = vigil.follows_in_process and vigil.integrity.notary.follower is None
            if follow:
                vigil.integrity.notary.start_in_thread()
            try:
                yield
            finally:
                if follow:
                    vigil.integrity.notary.stop_following()

    return lifespan
