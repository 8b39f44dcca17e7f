"""RFC 6962 Merkle trees, checked against transparency-dev/merkle's reference vectors
(testonly/constants.go, proof/verify_test.go) and their negative probes, then by property
against the RFC's own recursive definitions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.integrity.ledger import (
    Checkpoint,
    checkpoint_message,
    event_leaf_hash,
    leaf_data,
    originator_bytes,
)
from domain.integrity.merkle import (
    EMPTY_ROOT,
    CompactRange,
    PerfectHash,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex


def perfect_from_leaves(leaf_hashes: Sequence[bytes]) -> PerfectHash:
    """A PerfectHash over leaf hashes held in memory (memoised)."""
    memo: dict[tuple[int, int], bytes] = {}

    def perfect(level: int, index: int) -> bytes:
        if level == 0:
            return leaf_hashes[index]
        key = (level, index)
        found = memo.get(key)
        if found is None:
            found = node_hash(perfect(level - 1, 2 * index), perfect(level - 1, 2 * index + 1))
            memo[key] = found
        return found

    return perfect


LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
ROOTS = [
    EMPTY_ROOT,
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
# (leaf index, tree size, proof): transparency-dev's vectors, leaf indexes made 0-based.
INCLUSION = [
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")
LEAVES = [leaf_hash(d) for d in LEAF_INPUTS]
PERFECT = perfect_from_leaves(LEAVES)


def flipped(value: bytes, mask: int) -> bytes:
    return bytes([value[0] ^ mask]) + value[1:]


@pytest.mark.parametrize("size", range(9))
def test_every_root_of_the_reference_tree(size: int) -> None:
    assert root_of(LEAVES[:size]) == ROOTS[size]
    frontier = CompactRange()
    for leaf in LEAVES[:size]:
        frontier.append(leaf)
    assert frontier.root() == ROOTS[size]
    assert CompactRange.from_bytes(size, frontier.to_bytes()).root() == ROOTS[size]


def test_appending_reports_the_perfect_subtrees_it_completes() -> None:
    frontier = CompactRange()
    completed = [node for leaf in LEAVES for node in frontier.append(leaf)]
    assert (
        1,
        3,
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ) in completed
    assert (
        2,
        1,
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ) in completed
    assert completed[-1] == (3, 0, ROOTS[8])
    assert len(completed) == 7  # every internal node of an 8-leaf tree, once


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors_are_generated_and_verified(
    index: int, size: int, proof: list[bytes]
) -> None:
    assert inclusion_proof(index, size, PERFECT) == proof
    verify_inclusion(index, size, LEAVES[index], proof, ROOTS[size])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_corrupted_inclusion_proofs_are_refused(index: int, size: int, proof: list[bytes]) -> None:
    leaf, root = LEAVES[index], ROOTS[size]
    probes = [
        (index - 1, size, leaf, proof, root),
        (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root),
        (index, size, b"WrongLeaf", proof, root),
        (index, size, leaf, proof, EMPTY_ROOT),
        (index, size, leaf, proof, SOME_HASH),
        (index, size, leaf, [*proof, b""], root),
        (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [b"", *proof], root),
        (index, size, leaf, [root, *proof], root),
        (index, size, leaf, proof[:-1], root),
        *[
            (index, size, leaf, [*proof[:i], flipped(proof[i], 8), *proof[i + 1 :]], root)
            for i in range(len(proof))
        ],
    ]
    if len(proof) > 1:
        probes.append((index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root))
    for probe in probes:
        with pytest.raises(ProofError):
            verify_inclusion(*probe)


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_vectors_are_generated_and_verified(
    first: int, second: int, proof: list[bytes]
) -> None:
    assert consistency_proof(first, second, PERFECT) == proof
    verify_consistency(first, second, ROOTS[first], ROOTS[second], proof)


@pytest.mark.parametrize(("first", "second", "proof"), [v for v in CONSISTENCY if v[2]])
def test_corrupted_consistency_proofs_are_refused(
    first: int, second: int, proof: list[bytes]
) -> None:
    r1, r2 = ROOTS[first], ROOTS[second]
    probes = [
        (first - 1, second, r1, r2, proof),
        (first + 1, second, r1, r2, proof),
        (first ^ 2, second, r1, r2, proof),
        (first, second * 2, r1, r2, proof),
        (first, second // 2, r1, r2, proof),
        (first, second, b"WrongRoot", r2, proof),
        (first, second, r1, b"WrongRoot", proof),
        (first, second, r2, r1, proof),
        (first, second, r1, r2, []),
        (first, second, r1, r2, [*proof, b""]),
        (first, second, r1, r2, [*proof, r1]),
        (first, second, r1, r2, [*proof, r2]),
        (first, second, r1, r2, [b"", *proof]),
        (first, second, r1, r2, [r1, *proof]),
        (first, second, r1, r2, [r2, *proof]),
        (first, second, r1, r2, [proof[0], *proof]),
        (first, second, r1, r2, proof[:-1]),
        *[
            (first, second, r1, r2, [*proof[:i], flipped(proof[i], 16), *proof[i + 1 :]])
            for i in range(len(proof))
        ],
    ]
    for probe in probes:
        if probe[0] == probe[1] and probe[2] == probe[3] and not probe[4]:
            continue  # not a corruption: equal sizes and roots
        with pytest.raises(ProofError):
            verify_consistency(*probe)


def test_edge_cases_of_consistency() -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    for bad in [
        (1, 0, ROOTS[1], EMPTY_ROOT, []),  # time travel
        (1, 1, ROOTS[1], ROOTS[2], []),  # same size, another root
        (1, 1, ROOTS[1], ROOTS[1], [EMPTY_ROOT]),  # same tree, not an empty proof
        (1, 2, ROOTS[1], ROOTS[2], []),  # an empty proof between different trees
    ]:
        with pytest.raises(ProofError):
            verify_consistency(*bad)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_every_proof_of_any_tree_verifies(size: int, data: st.DataObject) -> None:
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size)]
    perfect = perfect_from_leaves(leaves)
    frontier = CompactRange()
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.root() == root_of(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    verify_inclusion(
        index, size, leaves[index], inclusion_proof(index, size, perfect), root_of(leaves)
    )
    first = data.draw(st.integers(min_value=0, max_value=size))
    proof = consistency_proof(first, size, perfect)
    verify_consistency(first, size, root_of(leaves[:first]), root_of(leaves), proof)


def test_leaf_data_is_the_stored_event_length_prefixed() -> None:
    originator = bytes(range(16))
    data = leaf_data(7, originator, 3, "domain.case.events:NoteAdded", b'{"a":1}')
    assert data == (
        b"\x01"
        + (7).to_bytes(8, "big")
        + (16).to_bytes(2, "big")
        + originator
        + (3).to_bytes(8, "big")
        + (28).to_bytes(4, "big")
        + b"domain.case.events:NoteAdded"
        + (7).to_bytes(4, "big")
        + b'{"a":1}'
    )
    assert event_leaf_hash(7, originator, 3, "domain.case.events:NoteAdded", b'{"a":1}') == (
        leaf_hash(data)
    )
    # The same event at another position, or with its bytes moved between fields, differs.
    assert event_leaf_hash(8, originator, 3, "t", b"s") != event_leaf_hash(
        7, originator, 3, "t", b"s"
    )
    assert event_leaf_hash(7, originator, 3, "ts", b"") != event_leaf_hash(
        7, originator, 3, "t", b"s"
    )


def test_an_originator_id_is_its_stored_uuid_bytes_on_either_store() -> None:
    from uuid import UUID

    case_id = UUID("0d2b6f3e-8a1c-4c7e-9f3a-2b1c0d9e8f7a")
    assert originator_bytes(case_id) == case_id.bytes
    assert originator_bytes(case_id.hex) == case_id.bytes  # SQLite stores the hex
    assert originator_bytes(case_id.hex.upper()) != case_id.bytes  # not as Vigil stores it


def test_the_checkpoint_message_is_fixed_text() -> None:
    message = checkpoint_message(1000, ROOTS[8], 1_763_000_000_000, "2657861f97f32172")
    assert message == (
        b"vigil-checkpoint/v1\n1000\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
        b"1763000000000\n2657861f97f32172\n"
    )
    checkpoint = Checkpoint(1000, ROOTS[8], 1_763_000_000_000, "2657861f97f32172", b"sig")
    assert Checkpoint.from_json(checkpoint.to_json()) == checkpoint
