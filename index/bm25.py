"""BM25 scoring exactly as rank-bm25 0.2.2 defines it, split so a query touches only its postings.

rank-bm25 scores a document d for a query q1..qn (duplicates included) as a sum over the query
tokens. For every variant that sum splits into a part that depends on d only through the terms
d contains (the *gain*) and a constant that every document gets for each query token (the
*absent* weight: non-zero only for BM25Plus). Ranking by gain is ranking by score; the score is
gain + sum(absent). No I/O here: callers hand in document frequencies and numpy arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Variant = Literal["okapi", "plus", "l"]
VARIANTS: tuple[Variant, ...] = ("okapi", "plus", "l")

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BM25Params:
    """A variant and its parameters, with rank-bm25's defaults."""

    variant: Variant = "okapi"
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25  # okapi: floor for negative idf, as a fraction of the mean idf
    delta: float | None = None  # plus: 1.0, l: 0.5 (rank-bm25's defaults) when None

    @property
    def d(self) -> float:
        if self.delta is not None:
            return self.delta
        return 1.0 if self.variant == "plus" else 0.5


@dataclass(frozen=True)
class CorpusStats:
    """What BM25 needs to know about the whole corpus."""

    documents: int  # N: every document, empty ones included
    total_length: int  # sum of document lengths in tokens
    mean_raw_idf: float = 0.0  # okapi only: mean of log(N-df+.5)-log(df+.5) over the vocabulary

    @property
    def avgdl(self) -> float:
        return self.total_length / self.documents if self.documents else 0.0


def raw_okapi_idf(documents: int, df: npt.ArrayLike) -> FloatArray:
    """Okapi idf before the epsilon floor, vectorised (used to compute `mean_raw_idf`)."""
    dfs = np.asarray(df, dtype=np.float64)
    return np.log(documents - dfs + 0.5) - np.log(dfs + 0.5)


def idf(params: BM25Params, stats: CorpusStats, df: int) -> float:
    """The idf of a term found in `df` documents (0 for a term the corpus lacks)."""
    if df <= 0:
        return 0.0
    n = stats.documents
    if params.variant == "okapi":
        value = math.log(n - df + 0.5) - math.log(df + 0.5)
        return value if value >= 0 else params.epsilon * stats.mean_raw_idf
    if params.variant == "plus":
        return math.log((n + 1) / df)
    return math.log(n + 1) - math.log(df + 0.5)


def length_norm(params: BM25Params, stats: CorpusStats, lengths: npt.ArrayLike) -> FloatArray:
    """1 - b + b * dl / avgdl for each document length."""
    dl = np.asarray(lengths, dtype=np.float64)
    avgdl = stats.avgdl or 1.0
    return 1.0 - params.b + params.b * dl / avgdl


def gain(
    params: BM25Params, term_idf: float, tf: npt.ArrayLike, norm: npt.ArrayLike
) -> FloatArray:
    """What one query token adds to documents containing it `tf` times, above the absent weight."""
    tfs = np.asarray(tf, dtype=np.float64)
    nrm = np.asarray(norm, dtype=np.float64)
    k1 = params.k1
    if params.variant == "okapi":
        return term_idf * (tfs * (k1 + 1) / (tfs + k1 * nrm))
    if params.variant == "plus":
        return term_idf * ((tfs * (k1 + 1)) / (k1 * nrm + tfs))
    ctd = tfs / nrm
    d = params.d
    return term_idf * tfs * (k1 + 1) * (ctd + d) / (k1 + ctd + d)


def absent(params: BM25Params, term_idf: float) -> float:
    """What one query token adds to every document, containing it or not."""
    return term_idf * params.d if params.variant == "plus" else 0.0


def gain_bound(
    params: BM25Params, stats: CorpusStats, term_idf: float, max_tf: int, min_length: int
) -> float:
    """An upper bound of `gain` over a posting list.

    For every variant the gain grows with tf and falls with document length, so the largest tf
    and the shortest document of the list bound it.
    """
    norm_min = length_norm(params, stats, [min_length])
    return float(gain(params, term_idf, [max_tf], norm_min)[0])
