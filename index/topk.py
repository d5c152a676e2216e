"""Exact top-k BM25 over a few posting lists (term-at-a-time with MaxScore pruning). No I/O.

Terms are scored from the one with the largest upper bound down (rare words first) into a dense
accumulator. Before each long list the k-th best score among documents already seen gives a
lower bound `theta` of the final k-th score; once it beats what the remaining terms could still
add together, no unseen document can reach the top k. The remaining (long, common-word) lists
are then only probed, with a binary search, for the seen documents that can still get there.

Nothing here sorts, deduplicates or scans long arrays beyond scoring them: theta comes from the
k-th best scores within short lists, candidates from the scored lists' documents above a
threshold.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from index import bm25

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Pruning is tried only before lists at least this long (shorter ones are cheaper to score).
PRUNE_MIN_POSTINGS = 2048
# Comparisons with theta keep this much relative slack so rounding never drops a true top-k doc.
SLACK = 1e-9
# Probe a list by scoring it whole when it is at most this many times longer than the candidates.
DENSE_PROBE = 8
# Scored lists this short are merged (deduplicated) to find theta; longer ones count alone.
SMALL_LIST = 8192


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
    matched: int  # documents matching at least one term: a lower bound (the longest list)
    exhaustive: bool  # False when pruning skipped documents that could not reach the top


_buffers = threading.local()


def _accumulator(size: int) -> FloatArray:
    """A zeroed per-thread array of at least `size` scores; callers zero what they touch."""
    buf: FloatArray | None = getattr(_buffers, "acc", None)
    if buf is None or len(buf) < size:
        buf = np.zeros(max(size, 1024), dtype=np.float64)
        _buffers.acc = buf
    return buf[:size]


def _kth_largest(values: FloatArray, k: int) -> float:
    if len(values) < k:
        return -np.inf
    return float(np.partition(values, len(values) - k)[len(values) - k])


def _gains(
    params: bm25.BM25Params, t: TermPostings, where: npt.NDArray[np.intp] | None, norm: FloatArray
) -> FloatArray:
    """Weighted gains of `t` for its postings at positions `where` (all when None).

    For okapi and plus this is `bm25.gain` computed in place, operation for operation (so
    bit for bit) the same, with two temporary arrays instead of six."""
    tfs, docnos = (t.tfs, t.docnos) if where is None else (t.tfs[where], t.docnos[where])
    if params.variant == "l":
        g = bm25.gain(params, t.idf, tfs, norm[docnos])
    else:
        k1 = params.k1
        den = norm[docnos]
        den *= k1
        g = tfs.astype(np.float64)
        den += g  # tf + k1 * norm
        g *= k1 + 1
        g /= den
        g *= t.idf
    if t.weight != 1.0:
        g *= t.weight
    return g


def _probe(
    t: TermPostings, cand: npt.NDArray[np.uint32], norm: FloatArray, params: bm25.BM25Params
) -> FloatArray:
    """What `t` adds to each candidate (0 where the candidate lacks the term)."""
    if len(cand) * DENSE_PROBE >= len(t.docnos):
        # many candidates: scoring the whole list into a zeroed scratch array is cheaper
        scratch = _accumulator(len(norm))
        try:
            scratch[t.docnos] = _gains(params, t, None, norm)
            return scratch[cand]
        finally:
            scratch[t.docnos] = 0.0
    out = np.zeros(len(cand), dtype=np.float64)
    pos = np.searchsorted(t.docnos, cand)
    np.minimum(pos, len(t.docnos) - 1, out=pos)
    hit = t.docnos[pos] == cand
    if hit.any():
        out[hit] = _gains(params, t, pos[hit], norm)
    return out


def _union(lists: list[npt.NDArray[np.uint32]]) -> npt.NDArray[np.uint32]:
    """The documents of short lists, each once (sorting beats np.unique's hashing here)."""
    if len(lists) == 1:
        return lists[0]
    docs = np.sort(np.concatenate(lists))
    return docs[np.concatenate(([True], docs[1:] != docs[:-1]))]


def _lower_bound(
    acc: FloatArray, lists: list[npt.NDArray[np.uint32]], k: int, budget: int
) -> float:
    """A lower bound of the k-th best score in `acc`: the k-th best among the documents of the
    short scored lists together, or of one longer list (looking at most at `budget` postings)."""
    best = -np.inf
    small: list[npt.NDArray[np.uint32]] = []
    for docnos in sorted(lists, key=len):
        if len(docnos) > budget:
            break
        budget -= len(docnos)
        if len(docnos) <= SMALL_LIST:
            small.append(docnos)
        elif len(docnos) >= k:
            best = max(best, _kth_largest(acc[docnos], k))
    if small:
        best = max(best, _kth_largest(acc[_union(small)], k))
    return best


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
    if any(t.idf < 0 for t in terms):  # okapi's floor can be negative on tiny corpora
        return _top_docs_unpruned(terms, norm, params, k)
    matched = max(len(t.docnos) for t in terms)  # a lower bound, free
    terms.sort(key=lambda t: t.weight * t.bound, reverse=True)
    rest = [0.0] * (len(terms) + 1)  # rest[i]: the most terms i.. can add to any document
    for i in range(len(terms) - 1, -1, -1):
        rest[i] = rest[i + 1] + terms[i].weight * terms[i].bound

    acc = _accumulator(len(norm))
    scored: list[npt.NDArray[np.uint32]] = []
    theta = -np.inf
    i = 0
    try:
        while i < len(terms):
            t = terms[i]
            if i > 0 and len(t.docnos) >= PRUNE_MIN_POSTINGS:
                theta = max(theta, _lower_bound(acc, scored, k, len(t.docnos) // 2))
                if theta * (1 - SLACK) > rest[i]:
                    break  # no unseen document can reach the top k any more
            acc[t.docnos] += _gains(params, t, None, norm)
            scored.append(t.docnos)
            i += 1
        if i == len(terms):  # a cheap theta just to leave out most scored documents
            budget = max(min(map(len, scored)), 4 * SMALL_LIST)
            theta = max(theta, _lower_bound(acc, scored, k, budget))
        # candidates: scored documents whose score (plus what unscored terms may add) can
        # still reach theta, each taken once (then marked in `acc` with -inf)
        floor = max(theta * (1 - SLACK) - rest[i] * (1 + SLACK), 0.0)  # gains are > 0
        found, found_scores = [], []
        for docnos in scored:
            above = docnos[acc[docnos] >= floor]
            found.append(above)
            found_scores.append(acc[above])
            acc[above] = -np.inf
        cand, scores = np.concatenate(found), np.concatenate(found_scores)
    finally:
        for docnos in scored:
            acc[docnos] = 0.0
    if i < len(terms):
        cand, scores = _finish(terms[i:], rest[i:], cand, scores, theta, norm, params, k)
    return _best(cand, scores, k, matched, exhaustive=i == len(terms))


def _finish(
    terms: list[TermPostings],
    rest: list[float],
    cand: npt.NDArray[np.uint32],
    scores: FloatArray,
    theta: float,
    norm: FloatArray,
    params: bm25.BM25Params,
    k: int,
) -> tuple[npt.NDArray[np.uint32], FloatArray]:
    """Add the remaining terms to the candidates that can still reach the top k."""
    # Raise theta first: full scores of the best few candidates are real scores.
    if len(cand) > 4 * k:
        best = np.argpartition(-scores, 2 * k)[: 2 * k]
        full = scores[best].copy()
        for t in terms:
            full += _probe(t, cand[best], norm, params)
        theta = max(theta, _kth_largest(full, k))
    for j, t in enumerate(terms):
        alive = scores + rest[j] * (1 + SLACK) >= theta * (1 - SLACK)
        if not alive.all():
            cand, scores = cand[alive], scores[alive]
        scores = scores + _probe(t, cand, norm, params)
    return cand, scores


def _best(
    cand: npt.NDArray[np.uint32], scores: FloatArray, k: int, matched: int, exhaustive: bool
) -> TopDocs:
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        cand, scores = cand[part], scores[part]
    cand_i = cand.astype(np.int64)
    order = np.lexsort((cand_i, -scores))
    return TopDocs(cand_i[order], scores[order], matched, exhaustive)


def _top_docs_unpruned(
    terms: list[TermPostings], norm: FloatArray, params: bm25.BM25Params, k: int
) -> TopDocs:
    """Every matching document scored (used when some gain is negative)."""
    docs = np.unique(np.concatenate([t.docnos for t in terms]))
    scores = np.zeros(len(docs), dtype=np.float64)
    for t in terms:
        scores += _probe(t, docs, norm, params)
    return _best(docs, scores, k, len(docs), exhaustive=True)


def _restrict(t: TermPostings, allowed: npt.NDArray[np.bool_]) -> TermPostings:
    keep = allowed[t.docnos]
    if keep.all():
        return t
    return TermPostings(t.term, t.weight, t.idf, t.docnos[keep], t.tfs[keep], t.bound)
