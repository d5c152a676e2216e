"""Exact top-k BM25 over a few posting lists (term-at-a-time with MaxScore pruning). No I/O.

Terms are scored from the one with the largest upper bound down. Once the k-th best partial
score beats what all the remaining terms could still add, no document outside the current
candidates can reach the top k, so the remaining (usually long, common-word) lists are only
probed for those candidates with a binary search instead of being scored in full.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from index import bm25

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TermPostings:
    """One query term's postings and weights, ready to score."""

    term: str
    weight: float  # how many times the query holds the term (x any down-weighting)
    idf: float
    docnos: npt.NDArray[np.uint32]
    tfs: npt.NDArray[np.uint16]
    bound: float  # upper bound of the (unweighted) gain over this list


@dataclass(frozen=True)
class TopDocs:
    docnos: IntArray  # best first; ties broken by docno
    gains: FloatArray
    matched: int  # documents matching at least one term (a lower bound when pruning cut in)
    exhaustive: bool  # False when pruning skipped documents that could not reach the top


_buffers = threading.local()


def _accumulator(size: int) -> FloatArray:
    buf: FloatArray | None = getattr(_buffers, "acc", None)
    if buf is None or len(buf) < size:
        buf = np.zeros(max(size, 1024), dtype=np.float64)
        _buffers.acc = buf
    return buf


def _kth_largest(values: FloatArray, k: int) -> float:
    if len(values) < k:
        return -np.inf
    return float(np.partition(values, len(values) - k)[len(values) - k])


def top_docs(
    terms: list[TermPostings],
    norm: FloatArray,
    params: bm25.BM25Params,
    k: int,
    allowed: npt.NDArray[np.bool_] | None = None,
) -> TopDocs:
    """The k documents with the highest weighted gain sum, exactly; `allowed` masks docnos."""
    empty = TopDocs(np.zeros(0, np.int64), np.zeros(0), 0, True)
    if allowed is not None:
        terms = [_restrict(t, allowed) for t in terms]
    terms = [t for t in terms if len(t.docnos) and t.weight > 0 and t.idf != 0]
    if not terms or k <= 0:
        return empty
    terms.sort(key=lambda t: t.weight * t.bound, reverse=True)
    bounds = np.array([t.weight * t.bound for t in terms])
    rest = np.concatenate((np.cumsum(bounds[::-1])[::-1], [0.0]))  # rest[i]: terms i.. add

    acc = _accumulator(len(norm))
    seen: list[npt.NDArray[np.uint32]] = []
    cand: npt.NDArray[np.uint32] | None = None
    i = 0
    try:
        while i < len(terms):
            t = terms[i]
            if i > 0 and rest[i] > 0:
                cand = np.unique(np.concatenate(seen)) if len(seen) > 1 else seen[0]
                theta = _kth_largest(acc[cand], k)
                if theta > rest[i]:
                    break  # nobody outside `cand` can reach the top k any more
                cand = None
            acc[t.docnos] += t.weight * bm25.gain(params, t.idf, t.tfs, norm[t.docnos])
            seen.append(t.docnos)
            i += 1
        if cand is None:
            cand = np.unique(np.concatenate(seen)) if len(seen) > 1 else seen[0]
        scores = acc[cand].copy()
    finally:
        for docnos in seen:
            acc[docnos] = 0.0
    matched = len(cand)
    exhaustive = i == len(terms)
    cand_i = cand.astype(np.int64)

    # Probe the remaining terms only for candidates that can still make the top k.
    for j in range(i, len(terms)):
        theta = _kth_largest(scores, k)
        alive = scores + rest[j] >= theta
        if not alive.all():
            cand_i, scores = cand_i[alive], scores[alive]
        t = terms[j]
        pos = np.searchsorted(t.docnos, cand_i)
        inside = pos < len(t.docnos)
        hit = np.zeros(len(cand_i), dtype=bool)
        hit[inside] = t.docnos[pos[inside]] == cand_i[inside]
        if hit.any():
            where = pos[hit]
            scores[hit] += t.weight * bm25.gain(params, t.idf, t.tfs[where], norm[cand_i[hit]])

    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        cand_i, scores = cand_i[part], scores[part]
    order = np.lexsort((cand_i, -scores))
    return TopDocs(cand_i[order], scores[order], matched, exhaustive)


def _restrict(t: TermPostings, allowed: npt.NDArray[np.bool_]) -> TermPostings:
    keep = allowed[t.docnos]
    if keep.all():
        return t
    return TermPostings(t.term, t.weight, t.idf, t.docnos[keep], t.tfs[keep], t.bound)
