"""Each ranking feature, alone (on made-up candidates) and on the bundled sample."""

from __future__ import annotations

import re
from typing import Any

import pytest

from index import rank
from index.models import Report, SectionKind
from index.query import Query, WeightedTerm, analyze, find_scope, report_keys
from index.search import SearchIndex

R1 = Report(
    "r1", "县商务局2023年度工作总结和2024年度工作计划", "县商务局", (2023, 2024), "a.txt", 1
)
R2 = Report("r2", "区民政局2023年工作总结暨2024年工作计划", "区民政局", (2023, 2024), "a.txt", 2)
R3 = Report("r3", "市民政局2023年度工作总结和2024年工作计划", "市民政局", (2023, 2024), "a.txt", 3)


def cand(
    docno: int,
    bm25: float,
    *,
    report: Report = R1,
    ordinal: int = 1,
    kind: SectionKind = "other",
    section: tuple[str, ...] = (),
    text: str = "",
    context: frozenset[str] = frozenset(),
    idf: dict[str, float] | None = None,
) -> rank.Candidate:
    text = text or distinct_text(docno)
    return rank.Candidate(docno, bm25, report, ordinal, kind, section, text, context, idf or {})


def distinct_text(seed: int) -> str:
    """A paragraph-length text unlike any other seed's (so none are folded as duplicates)."""
    return "".join(chr(0x4E00 + (seed * 997 + i * 31) % 20000) for i in range(40))


def plain(**kw: Any) -> Query:
    terms = kw.pop("terms", (WeightedTerm("养老", 1.0),))
    return Query(question="q", terms=terms, highlight=(), **kw)


def order(query: Query, candidates: list[rank.Candidate]) -> list[int]:
    return [r.candidate.docno for r in rank.rerank(query, candidates, 10)]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- each factor on made-up candidates ---------------------------------------------------------


def test_no_feature_keeps_bm25_order() -> None:
    cs = [cand(1, 3.0), cand(2, 5.0), cand(3, 4.0)]
    assert order(plain(), cs) == [2, 3, 1]
    assert plain().plain


def test_section_kind_asked_for_wins_over_slightly_better_bm25() -> None:
    cs = [cand(1, 10.0, kind="summary"), cand(2, 8.0, kind="plan")]
    assert order(plain(kind="plan"), cs) == [2, 1]
    assert order(plain(kind="summary"), cs) == [1, 2]
    assert order(plain(), cs) == [1, 2]


def test_kind_is_a_signal_not_a_filter() -> None:
    cs = [cand(1, 30.0, kind="summary"), cand(2, 8.0, kind="plan")]
    assert order(plain(kind="plan"), cs) == [1, 2]  # a much better summary still shows


def test_a_paragraph_stating_problems_counts_as_a_problem_section() -> None:
    text = "我们也清醒地认识到，全县经济社会发展还面临许多困难和挑战，主要是：产业规模偏弱。"
    cs = [cand(1, 10.0, kind="summary"), cand(2, 8.0, kind="summary", text=text)]
    assert order(plain(kind="problem"), cs) == [2, 1]
    assert order(plain(), cs) == [1, 2]


def test_year_in_question_picks_plan_or_summary_by_the_reports_years() -> None:
    assert rank.wanted_kind(plain(years=(2024,)), R1) == "plan"
    assert rank.wanted_kind(plain(years=(2023,)), R1) == "summary"
    assert rank.wanted_kind(plain(years=(2019,)), R1) is None


def test_section_path_and_title_are_a_weaker_field() -> None:
    q = plain(terms=(WeightedTerm("残疾人", 1.0),))
    idf = {"残疾人": 2.0}
    cs = [cand(1, 5.0, idf=idf), cand(2, 4.9, context=frozenset({"残疾人"}), idf=idf)]
    assert order(q, cs) == [2, 1]
    ranked = rank.rerank(q, cs, 2)
    assert ranked[0].score == pytest.approx(4.9 + rank.CONTEXT_WEIGHT * 2.0)


def test_named_report_is_boosted() -> None:
    cs = [cand(1, 10.0, report=R2, ordinal=2), cand(2, 7.0, report=R1, ordinal=1)]
    assert order(plain(scope={1: 1.0}), cs) == [2, 1]


def test_figures_help_how_many_questions() -> None:
    cs = [cand(1, 10.0), cand(2, 9.5, text="全年共完成改造7989户，" + distinct_text(2))]
    assert order(plain(wants_number=True), cs) == [2, 1]
    assert order(plain(), cs) == [1, 2]


@pytest.mark.parametrize(
    "text",
    [
        "2023年12月20日",
        "XX市XX区民政局",
        "政 府 工 作 报 告",
        "——在XX县第十八届人民代表大会第三次会议上",
        "二、存在问题",
        "[1]双千工程：2020年起，连续五年，每年招商引资入库1000个以上项目。",
    ],
)
def test_lines_that_are_not_answers_lose(text: str) -> None:
    cs = [cand(1, 10.0, text=text), cand(2, 5.5)]
    assert order(plain(), cs) == [2, 1]


def test_which_agency_questions_spread_over_reports() -> None:
    cs = [
        cand(1, 10.0, report=R1, ordinal=1),
        cand(2, 9.5, report=R1, ordinal=1),
        cand(3, 9.0, report=R1, ordinal=1),
        cand(4, 8.0, report=R2, ordinal=2),
        cand(5, 7.0, report=R3, ordinal=3),
    ]
    assert order(plain(), cs)[:3] == [1, 2, 3]
    top3 = order(plain(wants_agency=True), cs)[:3]
    assert top3 == [1, 4, 5]


def test_near_identical_paragraphs_are_shown_once_with_other_sources() -> None:
    text = "继续实施经济困难高龄老年人家庭适老化改造，提升老年助餐水平，完善政策保障助餐服务。"
    cs = [
        cand(1, 9.0, text=text, report=R2, ordinal=2),
        cand(2, 8.0, text=text + "。", report=R3, ordinal=3),
        cand(3, 5.0),
    ]
    ranked = rank.rerank(plain(), cs, 10)
    assert [r.candidate.docno for r in ranked] == [1, 3]
    assert ranked[0].also_in == (R3,)


# --- question analysis --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("区应急管理局明年在道路交通安全上打算怎么做？", "plan"),
        ("县商务局2023年是怎么促进消费的？", "summary"),
        ("县统计局工作中存在哪些问题？", "problem"),
        ("What problems does the audit bureau report?", "problem"),
        ("无为市博物馆在哪", None),
    ],
)
def test_section_kind_cues(tokenizer: Any, question: str, kind: str | None) -> None:
    assert analyze(question, tokenizer).kind == kind


def test_agency_and_number_questions(tokenizer: Any) -> None:
    assert analyze("哪个单位计划开展家庭无障碍改造？", tokenizer).wants_agency
    assert analyze("市民政局今年给多少户困难老人做了适老化改造？", tokenizer).wants_number
    q = analyze("哪个单位计划开展家庭无障碍改造？", tokenizer)
    assert "单位" not in {t.term for t in q.terms}  # 哪个单位 frames the question


def test_scope_prefers_the_agency_at_the_level_named() -> None:
    keys = report_keys({1: R1, 2: R2, 3: R3})
    scope, words = find_scope("市民政局今年给多少户困难老人做了适老化改造？", keys)
    assert scope[3] == 1.0 and scope.get(2, 0) < scope[3]
    assert "市民政局" in words


def test_synonyms_expand_at_lower_weight(tokenizer: Any) -> None:
    q = analyze("区民政局是怎么帮街头流浪汉回家的？", tokenizer)
    weights = {t.term: t for t in q.terms}
    assert any(t.origin == "synonym" and "流浪" in term for term, t in weights.items())
    assert all(t.weight < 1 for t in q.terms if t.origin == "synonym")


def test_intent_words_are_not_expanded(tokenizer: Any) -> None:
    q = analyze("哪个单位计划开展家庭无障碍改造？", tokenizer)
    expanded = {t.term for t in q.terms if t.origin == "synonym"}
    assert not expanded & {"安排", "谋划", "思路", "工作", "部门"}


def test_english_question_is_translated(tokenizer: Any) -> None:
    q = analyze("which agency planned home-accessibility renovations", tokenizer)
    assert q.english and q.kind == "plan" and q.wants_agency
    terms = {t.term for t in q.terms}
    assert {"无障碍", "改造"} <= terms
    assert "单位" not in terms


# --- on the sample ------------------------------------------------------------------------------


def test_plan_question_gets_the_plan_paragraph(sample_index: SearchIndex) -> None:
    hits = sample_index.search("区应急管理局明年在道路交通安全上打算怎么做？").hits
    assert "组织开展头盔佩戴监测" in squash(hits[0].paragraph.text)
    assert hits[0].paragraph.kind == "plan"


def test_problem_question_gets_the_problem_paragraph(sample_index: SearchIndex) -> None:
    hits = sample_index.search("县统计局工作中存在哪些问题？").hits
    assert "企业统计人员变动频繁" in squash(hits[0].paragraph.text)


def test_named_agency_words_stay_as_weak_terms(tokenizer: Any, sample_index: SearchIndex) -> None:
    query = sample_index.analyze("县统计局工作中存在哪些问题？")
    weak = {t.term: t.weight for t in query.terms if t.origin == "scope"}
    assert "统计" in weak and all(w < 1 for w in weak.values())
    assert not [t for t in query.terms if t.origin == "synonym" and "统计" in t.term]


def test_paraphrase_finds_the_report_wording(sample_index: SearchIndex) -> None:
    hits = sample_index.search("区民政局去年新开了几家给老人吃饭的餐厅？").hits
    assert any("新增银龄餐厅10家" in squash(h.paragraph.text) for h in hits)


def test_agency_question_shows_several_agencies(sample_index: SearchIndex) -> None:
    hits = sample_index.search("哪些单位在做第五次经济普查？", top=4).hits
    assert len({h.report.id for h in hits}) >= 2
    assert len({h.report.id for h in hits[:2]}) == 2  # the runner-up comes from another report


def test_english_question_finds_the_chinese_paragraph(sample_index: SearchIndex) -> None:
    hits = sample_index.search("which agency planned home-accessibility renovations").hits
    assert any("实施家庭无障碍改造300户" in squash(h.paragraph.text) for h in hits)
    pinyin = sample_index.search("Yongqiao disabled rehabilitation 2023").hits
    assert pinyin and pinyin[0].report.agency == "埇桥区残联"


def test_explain_says_why(sample_index: SearchIndex) -> None:
    hit = sample_index.search("区应急管理局明年在道路交通安全上打算怎么做？", explain=True).hits[0]
    text = "\n".join(hit.explain)
    assert "bm25" in text and "plan section" in text and "report named" in text


def test_filter_words_in_a_chat_question_are_understood(sample_index: SearchIndex) -> None:
    """`/ask 养老 计划 民政局`: the agency word scopes, the kind word steers, the rest is topic."""
    hits = sample_index.search("养老 计划 民政局").hits
    assert all("民政局" in h.report.agency for h in hits)
    assert hits[0].paragraph.kind == "plan" and "养老" in hits[0].paragraph.text
