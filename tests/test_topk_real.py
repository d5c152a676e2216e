"""The served BM25 top 10 (`SearchIndex.bm25_top`) equals rank-bm25's on a few thousand real
report paragraphs from /work/shared/corpora, for the 100 benchmark questions, with the pruning
tuned as shipped and forced on for every list."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from corpus import questions
from rank_bm25 import BM25Okapi

from index import topk
from index.build import build_index
from index.search import SearchIndex

CORPORA = Path("/work/shared/corpora")
pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason="needs /work/shared/corpora")


@pytest.fixture(scope="module")
def real_index(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("gwr")
    for path in sorted(CORPORA.glob("national-gwr/*.txt"))[-30:]:  # the 30 latest reports
        shutil.copy(path, folder / path.name)
    db = folder / "index.db"
    build_index(db, [folder], root=folder, tokenizer=tokenizer)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT docno, tokens FROM paragraphs ORDER BY docno").fetchall()
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) > 3000
    index = SearchIndex.open(db, tokenizer)
    yield index, BM25Okapi([r[1].split() for r in rows])
    index.close()


@pytest.mark.parametrize("forced", [False, True])
def test_bm25_top_equals_rank_bm25(
    real_index: Any, tokenizer: Any, monkeypatch: pytest.MonkeyPatch, forced: bool
) -> None:
    if forced:
        monkeypatch.setattr(topk, "PRUNE_MIN_POSTINGS", 1)
        monkeypatch.setattr(topk, "SMALL_LIST", 64)
    index, ref = real_index
    for q in questions():
        tokens = tokenizer.tokenize(q)
        got = index.bm25_top(tokens, 10)
        scores = ref.get_scores(tokens)
        matched = np.flatnonzero(scores > 0)
        best = np.sort(scores[matched])[::-1][:10]
        assert np.allclose([s for _, s in got], best, rtol=1e-9), q
        # the documents are rank-bm25's best, up to the order of tied ones
        assert np.allclose([scores[d - 1] for d, _ in got], best, rtol=1e-9), q
