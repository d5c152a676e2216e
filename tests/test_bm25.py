"""BM25 math and exact top-k against rank-bm25 on synthetic corpora (no tokenizer involved)."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from index import bm25, topk
from index.postings import PostingList, PostingsBuilder, chunk_postings, invert, patch

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


@pytest.mark.parametrize("dense_probe", [0, 10**9])  # candidates probed by search / by scoring
@pytest.mark.parametrize("variant", ["okapi", "plus", "l"])
def test_every_pruning_path_stays_exact(
    monkeypatch: pytest.MonkeyPatch, variant: bm25.Variant, dense_probe: int
) -> None:
    # prune before every list, keep few lists "short": theta from single lists and unions
    monkeypatch.setattr(topk, "PRUNE_MIN_POSTINGS", 1)
    monkeypatch.setattr(topk, "SMALL_LIST", 40)
    monkeypatch.setattr(topk, "DENSE_PROBE", dense_probe)
    params = bm25.BM25Params(variant=variant)
    for seed in range(3):
        corpus = zipf_corpus(50 + seed, docs=1500, vocab=120)
        ref = RANK_BM25[variant](corpus)
        plists = postings_for(corpus)
        lengths = np.array([0] + [len(d) for d in corpus], dtype=np.uint32)
        dfs = np.array([p.df for p in plists.values()], dtype=np.float64)
        mean_idf = float(bm25.raw_okapi_idf(len(corpus), dfs).mean())
        stats = bm25.CorpusStats(len(corpus), int(lengths.sum()), mean_idf)
        norm = bm25.length_norm(params, stats, lengths)
        rng = random.Random(seed)
        vocab = sorted(plists)
        for _ in range(20):
            query = rng.choices(vocab, k=rng.randint(1, 8))
            scores = ref.get_scores(query)
            terms, absent = [], 0.0
            for t, qf in Counter(query).items():
                p, idf = plists[t], bm25.idf(params, stats, plists[t].df)
                bound = bm25.gain_bound(params, stats, idf, p.max_tf, int(lengths[p.docnos].min()))
                terms.append(topk.TermPostings(t, float(qf), idf, p.docnos, p.tfs, bound))
                absent += qf * bm25.absent(params, idf)
            matched = np.sort(scores[[i for i, d in enumerate(corpus) if set(d) & set(query)]])
            for k in (1, 3, 10):
                found = topk.top_docs(terms, norm, params, k)
                got = found.gains + absent
                assert np.allclose(got, matched[::-1][:k], rtol=1e-9, atol=1e-9)
                assert np.allclose(scores[found.docnos - 1], got, rtol=1e-9, atol=1e-9)


def test_gains_match_bm25_gain_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    norm = rng.uniform(0.3, 3.0, 1000)
    docnos = np.sort(rng.choice(1000, 300, replace=False)).astype(np.uint32)
    tfs = rng.integers(1, 40, 300).astype(np.uint16)
    for variant in ("okapi", "plus", "l"):
        params = bm25.BM25Params(variant=variant)
        t = topk.TermPostings("t", 1.0, 2.345, docnos, tfs, 0.0)
        expected = bm25.gain(params, 2.345, tfs, norm[docnos])
        assert np.array_equal(topk._gains(params, t, None, norm), expected)


def test_patch_is_a_rebuild() -> None:
    corpus = zipf_corpus(7, docs=300)
    old = postings_for(corpus)
    gone = np.array([3, 50, 51, 299], dtype=np.uint32)  # docnos (position + 1)
    added = [(301 + i, doc) for i, doc in enumerate(zipf_corpus(8, docs=20))]
    new = {p.term: p for p in invert(added)}
    kept = [(i + 1, d) for i, d in enumerate(corpus) if i + 1 not in set(gone.tolist())]
    expected = {p.term: p for p in invert(kept + added)}
    for term in set(old) | set(new):
        got = patch(old.get(term), gone, new.get(term))
        if term in expected:
            assert got.docnos.tolist() == expected[term].docnos.tolist()
            assert got.tfs.tolist() == expected[term].tfs.tolist()
        else:
            assert got.df == 0


def test_builder_merges_chunks_like_invert() -> None:
    corpus = zipf_corpus(9, docs=700)
    builder = PostingsBuilder()
    for start in range(0, len(corpus), 128):
        builder.add(chunk_postings(corpus[start : start + 128]), start + 1)
    got = list(builder.lists())
    expected = list(invert((i + 1, d) for i, d in enumerate(corpus)))
    assert [p.term for p in got] == sorted(p.term for p in expected)
    by_term = {p.term: p for p in expected}
    for p in got:
        assert p.docnos.tolist() == by_term[p.term].docnos.tolist()
        assert p.tfs.tolist() == by_term[p.term].tfs.tolist()
