"""RFC 6962 / RFC 9162 (section 2.1) Merkle tree hashing, proofs and their verification.

Pure functions over SHA-256, no I/O:

* ``leaf_hash(d) = SHA-256(0x00 || d)``, ``node_hash(l, r) = SHA-256(0x01 || l || r)``; the
  root of the empty tree is ``SHA-256("")`` (``EMPTY_ROOT``).
* ``CompactRange``: the tree's right edge (one hash per set bit of the size, the "frontier"),
  so appending a leaf and computing the root are O(log n). Appending reports every perfect
  subtree it completes, which is how the ledger stores the upper levels of the tree.
* ``inclusion_proof``/``consistency_proof`` follow RFC 9162 2.1.3.1 (PATH) and 2.1.4.1
  (SUBPROOF) over any source of *perfect* subtree hashes (``PerfectHash(level, index)``: the
  root of leaves ``[index * 2**level, (index + 1) * 2**level)``), so callers decide where node
  hashes come from (a database, memory).
* ``verify_inclusion``/``verify_consistency`` are RFC 9162 2.1.3.2 and 2.1.4.2 verbatim, with
  the edge cases of transparency-dev/merkle (size 0, equal sizes).

Tested against the reference vectors of transparency-dev/merkle (``testonly/constants.go``,
``proof/verify_test.go``) and a naive recursive MTH.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

PerfectHash = Callable[[int, int], bytes]
"""``(level, index)`` -> hash of the perfect subtree over leaves
``[index << level, (index + 1) << level)``; level 0 is a leaf hash."""


class ProofError(ValueError):
    """A proof does not verify (or its arguments are impossible)."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) straight from the RFC's recursive definition (reference, O(n))."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = largest_power_of_two_below(n)
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


@dataclass
class CompactRange:
    """The hashes of the perfect subtrees that make up leaves ``[0, size)``: one per set bit of
    ``size``, largest (leftmost) first. Enough to append and to compute the root."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.hashes) != self.size.bit_count():
            raise ValueError(
                f"a compact range of size {self.size} has {self.size.bit_count()} hashes, "
                f"not {len(self.hashes)}"
            )

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns the perfect subtrees completed, as (level, index, hash)."""
        completed: list[tuple[int, int, bytes]] = []
        size, h, level = self.size, leaf, 0
        hashes = self.hashes
        while size & 1:
            h = node_hash(hashes.pop(), h)
            level += 1
            size >>= 1
            completed.append((level, ((self.size + 1) >> level) - 1, h))
        hashes.append(h)
        self.size += 1
        return completed

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = node_hash(h, r)
        return r

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> CompactRange:
        if len(data) != HASH_SIZE * size.bit_count():
            raise ValueError("the stored frontier does not fit the tree size")
        return cls(size, [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)])

    def copy(self) -> CompactRange:
        return CompactRange(self.size, list(self.hashes))


def range_hash(lo: int, hi: int, perfect: PerfectHash) -> bytes:
    """MTH(D[lo:hi]) for a range whose start is aligned as the RFC's recursion makes it (every
    left part a perfect subtree), from perfect subtree hashes."""
    size = hi - lo
    if size <= 0:
        raise ValueError("an empty range has no subtree hash")
    if size & (size - 1) == 0 and lo % size == 0:
        level = size.bit_length() - 1
        return perfect(level, lo >> level)
    k = largest_power_of_two_below(size)
    return node_hash(range_hash(lo, lo + k, perfect), range_hash(lo + k, hi, perfect))


def inclusion_proof(index: int, size: int, perfect: PerfectHash) -> list[bytes]:
    """PATH(index, D[size]) (RFC 9162 2.1.3.1): the audit path from leaf ``index`` to the root."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    lo, hi, m = 0, size, index
    # Walk down from the root, collecting siblings; the RFC appends them bottom-up.
    while hi - lo > 1:
        k = largest_power_of_two_below(hi - lo)
        if m < k:
            proof.append(range_hash(lo + k, hi, perfect))
            hi = lo + k
        else:
            proof.append(range_hash(lo, lo + k, perfect))
            lo, m = lo + k, m - k
    proof.reverse()
    return proof


def consistency_proof(first: int, second: int, perfect: PerfectHash) -> list[bytes]:
    """PROOF(first, D[second]) (RFC 9162 2.1.4.1): that the tree of size ``first`` is a prefix
    of the tree of size ``second``. Empty when first is 0 or equal to second."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first == 0 or first == second:
        return []
    proof: list[bytes] = []
    lo, hi, m, whole = 0, second, first, True
    while True:
        if m == hi - lo:
            if not whole:
                proof.append(range_hash(lo, hi, perfect))
            break
        k = largest_power_of_two_below(hi - lo)
        if m <= k:
            proof.append(range_hash(lo + k, hi, perfect))
            hi = lo + k
        else:
            proof.append(range_hash(lo, lo + k, perfect))
            lo, m, whole = lo + k, m - k, False
    proof.reverse()
    return proof


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Iterable[bytes]) -> bytes:
    """The root that ``proof`` leads to from ``leaf`` at ``index`` in a tree of ``size``
    (RFC 9162 2.1.3.2 steps 1-4); raises ProofError if the proof cannot be for that position."""
    if index >= size or index < 0:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    _check_hash(leaf, "the leaf hash")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        _check_hash(p, "a proof hash")
        if sn == 0:
            raise ProofError("the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the path to the root")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless ``proof`` shows ``leaf`` at ``index`` in the tree ``root``."""
    _check_hash(root, "the root hash")
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError("the inclusion proof does not lead to the root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless ``proof`` shows the tree ``first_root`` (size ``first``) is a
    prefix of the tree ``second_root`` (size ``second``). RFC 9162 2.1.4.2."""
    if not 0 <= first <= second:
        raise ProofError(f"size {first} cannot be a prefix of size {second} (time travel)")
    if first == second:
        if proof:
            raise ProofError("equal sizes need an empty proof")
        if first_root != second_root:
            raise ProofError("equal sizes with different roots")
        return
    if first == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    _check_hash(first_root, "the first root")
    _check_hash(second_root, "the second root")
    path = list(proof)
    for p in path:
        _check_hash(p, "a proof hash")
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the path to the root")
    if fr != first_root:
        raise ProofError("the proof does not lead to the first root")
    if sr != second_root:
        raise ProofError("the proof does not lead to the second root")
