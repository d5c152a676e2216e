"""index.highlight: spans of the original text that match query terms."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.highlight import find_spans
from index.tokenize import Tokenizer


def marked(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[a:b] for a, b in spans]


def test_normalized_term_marks_the_original_text() -> None:
    text = "市国资委2023年D建工作总结，深化D建品牌创建"
    spans = find_spans(text, ["党建"])
    assert marked(text, spans) == ["D建", "D建"]


def test_traditional_and_full_width() -> None:
    text = "國務院要求２０２４年完成"
    assert marked(text, find_spans(text, ["国务院", "2024"])) == ["國務院", "２０２４"]


def test_spans_sorted_merged_and_non_overlapping() -> None:
    text = "继续实施家庭适老化改造，完成适老化改造共300户"
    spans = find_spans(text, ["适老化", "老化改造", "家庭", "300"])
    assert spans == sorted(spans)
    assert all(a < b <= c for (a, b), (c, _) in itertools.pairwise(spans))
    assert marked(text, spans) == ["家庭适老化改造", "适老化改造", "300"]


def test_touching_terms_merge() -> None:
    text = "实施家庭无障碍改造"
    assert marked(text, find_spans(text, ["无障碍", "改造"])) == ["无障碍改造"]


def test_numbers_match_whole_numbers_only() -> None:
    text = "完成300户，累计3000户，占1.300万的5%"
    assert marked(text, find_spans(text, ["300"])) == ["300"]
    assert find_spans(text, ["300"]) == [(2, 5)]
    assert marked(text, find_spans(text, ["5"])) == ["5"]


def test_latin_words_match_whole_words() -> None:
    text = "上传PDF文件和pdfs目录，PPP项目"
    assert marked(text, find_spans(text, ["pdf", "ppp"])) == ["PDF", "PPP"]


def test_single_characters_are_ignored() -> None:
    text = "乡镇村县区市"
    assert find_spans(text, ["乡", "县", "a", ""]) == []


def test_no_terms_or_no_text() -> None:
    assert find_spans("有内容", []) == []
    assert find_spans("", ["内容"]) == []


def test_tokenizer_terms_highlight_their_paragraph(tokenizer: Tokenizer) -> None:
    question = "国资委在D建品牌创建上有什么打算？"
    paragraph = "2024年，市国资委将持续擦亮“国资先锋”D建品牌，推动D建和业务深度融合。"
    spans = find_spans(paragraph, tokenizer.tokenize(question))
    assert "D建品牌" in marked(paragraph, spans)
    assert "国资委" in marked(paragraph, spans)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("D党建國国务務院２2０0０3300户，。 改造适老化"), max_size=40),
    st.lists(
        st.sampled_from(["党建", "国务院", "2", "300", "改造", "适老化改造", "20"]), max_size=4
    ),
)
def test_spans_are_valid_for_any_text(text: str, terms: list[str]) -> None:
    spans = find_spans(text, terms)
    assert spans == sorted(spans)
    for a, b in spans:
        assert 0 <= a < b <= len(text)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end < start  # disjoint and not touching (touching ones are merged)


@pytest.mark.parametrize("term", ["残疾人", "2024"])
def test_every_occurrence_is_found(term: str) -> None:
    text = f"{term}和{term}，还有{term}"
    assert len(find_spans(text, [term])) == 3
