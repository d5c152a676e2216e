"""BM25 math and exact top-k against rank-bm25 on synthetic corpora (no tokenizer involved)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from index import bm25, topk
from index.postings import PostingList, invert, patch

RANK_BM25 = {"okapi": BM25Okapi, "plus": BM25Plus, "l": BM25L}


def zipf_corpus(seed: int, docs: int = 400, vocab: int = 300) -> list[list[str]]:
    """Documents whose word frequencies look like text: a few common words, many rare ones."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]
    weights = [1 / (i + 1) for i in range(vocab)]
    corpus = [rng.choices(words, weights, k=rng.randint(0, 60)) for _ in range(docs)]
    return corpus


def postings_for(corpus: list[list[str]]) -> dict[str, PostingList]:
    # docno = position + 1, as in the store (docno 0 is never used)
    return {p.term: p for p in invert((i + 1, toks) for i, toks in enumerate(corpus))}


def score_with_index(
    corpus: list[list[str]], query: list[str], variant: bm25.Variant, k: int
) -> tuple[list[int], list[float]]:
    params = bm25.BM25Params(variant=variant)
    plists = postings_for(corpus)
    lengths = np.zeros(len(corpus) + 1, dtype=np.uint32)
    lengths[1:] = [len(d) for d in corpus]
    n_terms = len(plists)
    dfs = np.array([p.df for p in plists.values()], dtype=np.float64)
    stats = bm25.CorpusStats(
        documents=len(corpus),
        total_length=int(lengths.sum()),
        mean_raw_idf=float(bm25.raw_okapi_idf(len(corpus), dfs).mean()) if n_terms else 0.0,
    )
    norm = bm25.length_norm(params, stats, lengths)
    counts: dict[str, int] = {}
    for t in query:
        counts[t] = counts.get(t, 0) + 1
    terms = []
    absent = 0.0
    for t, qf in counts.items():
        p = plists.get(t)
        if p is None:
            continue
        idf = bm25.idf(params, stats, p.df)
        absent += qf * bm25.absent(params, idf)
        min_len = int(lengths[p.docnos].min())
        bound = bm25.gain_bound(params, stats, idf, p.max_tf, min_len)
        terms.append(topk.TermPostings(t, float(qf), idf, p.docnos, p.tfs, bound))
    found = topk.top_docs(terms, norm, params, k)
    return [int(d) - 1 for d in found.docnos], [float(g) + absent for g in found.gains]


@pytest.mark.parametrize("variant", ["okapi", "plus", "l"])
@pytest.mark.parametrize("seed", range(6))
def test_top_k_equals_rank_bm25(variant: bm25.Variant, seed: int) -> None:
    corpus = zipf_corpus(seed)
    ref = RANK_BM25[variant](corpus)
    rng = random.Random(1000 + seed)
    vocab = sorted({t for d in corpus for t in d})
    for _ in range(25):
        # mixes rare and common words, repeats, and words the corpus lacks
        query = rng.choices(vocab, k=rng.randint(1, 6)) + rng.choice([[], ["absent"]])
        scores = ref.get_scores(query)
        docs, got = score_with_index(corpus, query, variant, 10)
        matched = [i for i, d in enumerate(corpus) if set(d) & set(query)]
        expected = sorted(matched, key=lambda i: (-scores[i], i))[:10]
        assert np.allclose(got, [scores[i] for i in expected], rtol=1e-9, atol=1e-9)
        # identical order up to ties
        assert np.allclose([scores[i] for i in docs], [scores[i] for i in expected])
        assert all(got[i] >= got[i + 1] - 1e-12 for i in range(len(got) - 1))


def test_okapi_negative_idf_is_floored_like_rank_bm25() -> None:
    corpus = [["a", "b"], ["a", "c"], ["a"], ["d"]]  # 'a' is in 3 of 4 documents
    ref = BM25Okapi(corpus)
    _docs, got = score_with_index(corpus, ["a"], "okapi", 4)
    assert np.allclose(got, sorted(ref.get_scores(["a"])[[0, 1, 2]], reverse=True))


def test_pruning_still_exact_with_many_common_terms() -> None:
    corpus = zipf_corpus(99, docs=3000, vocab=80)  # long lists for every word
    ref = BM25Okapi(corpus)
    query = ["w0", "w1", "w2", "w3", "w60", "w75"]
    _docs, got = score_with_index(corpus, query, "okapi", 10)
    scores = ref.get_scores(query)
    assert np.allclose(got, np.sort(scores)[::-1][:10])


def test_patch_removes_and_appends() -> None:
    old = PostingList("t", np.array([1, 3, 5], np.uint32), np.array([1, 2, 3], np.uint16))
    new = PostingList("t", np.array([9], np.uint32), np.array([4], np.uint16))
    got = patch(old, np.array([3], np.uint32), new)
    assert got.docnos.tolist() == [1, 5, 9]
    assert got.tfs.tolist() == [1, 3, 4]
