"""The search core over the bundled sample: golden answers, exact BM25, filters, lookups."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index import store
from index.search import Filters, SearchIndex


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def top_texts(index: SearchIndex, question: str, top: int = 3, **kw: Any) -> list[str]:
    return [squash(h.paragraph.text) for h in index.search(question, top=top, **kw).hits]


def corpus_tokens(db_path: Any) -> tuple[list[int], list[list[str]]]:
    db = store.connect(db_path, create=False)
    try:
        rows = db.execute("SELECT docno, tokens FROM paragraphs ORDER BY docno").fetchall()
    finally:
        db.close()
    return [r[0] for r in rows], [r[1].split() for r in rows]


# --- golden answers: fixed corpus, fixed questions, expected paragraphs ----------------------

GOLDEN = [
    # (question, a string the first answer contains)
    ("哪个单位计划开展家庭无障碍改造？", "实施家庭无障碍改造300户"),
    ("区应急管理局明年在道路交通安全上打算怎么做？", "组织开展头盔佩戴监测"),
    ("县审计局认为内部审计存在什么问题？", "内部审计独立性不强"),
    ("埇桥区去年有多少残疾人得到了康复救助？", "为5041名残疾人提供康复救助"),
    ("无为市博物馆是哪天开馆的？", "并于10月1日开馆"),
]


@pytest.mark.parametrize(("question", "expected"), GOLDEN)
def test_golden_first_answer(sample_index: SearchIndex, question: str, expected: str) -> None:
    assert expected in top_texts(sample_index, question, top=1)[0]


def test_example_question_cites_its_source(sample_index: SearchIndex) -> None:
    hit = sample_index.search("哪个单位计划开展家庭无障碍改造？").hits[0]
    assert hit.report.title == "区残联2023年工作总结和2024年工作计划"
    assert hit.report.agency == "埇桥区残联"
    assert hit.paragraph.kind == "plan"
    assert hit.paragraph.no > 0
    assert any("2024" in s for s in hit.paragraph.section)
    assert hit.report.source.endswith(".txt")


# --- exact BM25 -------------------------------------------------------------------------------

QUERIES = [
    "家庭 无障碍改造",
    "党建 品牌",
    "老年 助餐 服务",
    "安全生产 执法 检查",
    "统计 数据 质量",
    "农村 电商 人才 物流",
    "审计 整改",
    "消防 安全 电动自行车",
    "工作",  # in most paragraphs: negative idf, floored as rank-bm25 does
]


@pytest.mark.parametrize("query", QUERIES)
def test_scores_and_top10_equal_rank_bm25(
    sample_db: Any, sample_index: SearchIndex, tokenizer: Any, query: str
) -> None:
    docnos, corpus = corpus_tokens(sample_db)
    assert docnos == list(range(1, len(docnos) + 1))  # a full build numbers paragraphs 1..N
    reference = BM25Okapi(corpus)
    tokens = tokenizer.tokenize(query)
    scores = reference.get_scores(tokens)
    got = sample_index.bm25_top(tokens, 10)
    expected = sorted(
        (i for i in range(len(corpus)) if set(corpus[i]) & set(tokens)),
        key=lambda i: (-scores[i], i),
    )[:10]
    assert np.allclose([s for _, s in got], [scores[i] for i in expected], rtol=1e-9)
    # same documents up to ties (equal scores may swap)
    assert np.allclose([scores[d - 1] for d, _ in got], [scores[i] for i in expected])


def test_plain_question_is_ranked_exactly_by_bm25(
    sample_index: SearchIndex, tokenizer: Any
) -> None:
    """Where no ranking feature applies, search() orders exactly as BM25 does."""
    question = "羽毛球邀请赛 马拉松"
    query = sample_index.analyze(question)
    assert query.plain
    result = sample_index.search(question, top=5, explain=True)
    for hit in result.hits:
        # no context match, no boost, no penalty: only the bm25 line and the terms
        assert [line for line in hit.explain if line.startswith(("x", "+"))] == []
    bm25 = sample_index.bm25_top(tokenizer.tokenize(question), 5)
    assert [h.score for h in result.hits] == pytest.approx([s for _, s in bm25])


def test_nothing_matches_gives_no_hits(sample_index: SearchIndex) -> None:
    result = sample_index.search("量子芯片光刻")
    assert result.hits == ()
    assert result.total == 0


def test_question_words_carry_no_weight(sample_index: SearchIndex) -> None:
    a = top_texts(sample_index, "请问哪个单位计划开展家庭无障碍改造？")
    b = top_texts(sample_index, "计划开展家庭无障碍改造的单位")
    assert a[0] == b[0]


def test_party_written_as_d_matches_党(sample_index: SearchIndex) -> None:
    hits = sample_index.search("国资委党建品牌", top=3).hits
    assert hits and any("D建" in h.paragraph.text for h in hits)


def test_traditional_question_matches_simplified_text(sample_index: SearchIndex) -> None:
    simplified = top_texts(sample_index, "家庭无障碍改造")
    traditional = top_texts(sample_index, "家庭無障礙改造")
    assert simplified == traditional


# --- pages, filters, lookups --------------------------------------------------------------------


def test_offset_continues_the_same_ranking(sample_index: SearchIndex) -> None:
    q = "养老服务"
    six = sample_index.search(q, top=6).hits
    page2 = sample_index.search(q, top=3, offset=3).hits
    assert [h.paragraph.id for h in page2] == [h.paragraph.id for h in six[3:6]]
    assert [h.rank for h in page2] == [4, 5, 6]


def test_filters_restrict_results(sample_index: SearchIndex) -> None:
    hits = sample_index.search("养老", top=10, filters=Filters(agency="民政局", kind="plan")).hits
    assert hits
    assert all("民政局" in h.report.agency and h.paragraph.kind == "plan" for h in hits)
    rid = hits[0].report.id
    only = sample_index.search("养老", top=10, filters=Filters(report_id=rid)).hits
    assert {h.report.id for h in only} == {rid}
    assert sample_index.search("养老", filters=Filters(year=1999)).hits == ()


def test_paragraph_report_outline_stats(sample_index: SearchIndex) -> None:
    hit = sample_index.search("家庭无障碍改造").hits[0]
    again = sample_index.paragraph(hit.paragraph.id)
    assert again is not None and again.paragraph == hit.paragraph
    assert sample_index.paragraph("0000000000000000") is None
    assert sample_index.report(hit.report.id) == hit.report
    outline = sample_index.outline(hit.report.id)
    assert sum(e.paragraphs for e in outline) == hit.report.paragraphs
    assert {e.kind for e in outline} >= {"summary", "plan"}
    stats = sample_index.stats()
    assert stats.reports == 14 and stats.paragraphs > 150 and stats.built_at


def test_missing_index_says_how_to_build(tmp_path: Any) -> None:
    with pytest.raises(store.IndexUnavailable, match="reportbot index build"):
        SearchIndex.open(tmp_path / "none.db")
