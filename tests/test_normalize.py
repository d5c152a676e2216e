"""index.normalize: length-preserving matching form of text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.normalize import normalize

SAMPLE_D = [
    ("D建工作", "党建工作"),
    ("认真学习贯彻D的二十大精神", "认真学习贯彻党的二十大精神"),
    ("D委书记", "党委书记"),
    ("老D员", "老党员"),
    ("开展主题D日活动", "开展主题党日活动"),
    ("书记上D课2次", "书记上党课2次"),
    ("D组书记", "党组书记"),
    ("全面从严治D，", "全面从严治党,"),
    ("（D委）", "(党委)"),
    ("1.D建引领", "1.党建引领"),
    ("听D话、跟D走", "听党话、跟党走"),
    ("Ｄ建", "党建"),
    ("d建", "党建"),
    ("中共XXD委", "中共xx党委"),  # XX redacts a name; the D after it is still 党
]

LATIN_D = [
    "DNA检测",
    "3D打印",
    "PDF文件",
    "D-class",
    "R&D经费投入",
    "C、D级危房",
    "D级危房",
    "D字签证",
    "D片区",
    "维生素D",
    "d)颅底骨折",
    "D",
    "ABCD",
    "U.S.D",
]


@pytest.mark.parametrize(("text", "expected"), SAMPLE_D)
def test_sample_d_becomes_dang(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize("text", LATIN_D)
def test_latin_d_stays_a_letter(text: str) -> None:
    out = normalize(text)
    assert "党" not in out
    assert out == out.lower()


def test_full_width_ascii_and_spaces() -> None:
    assert normalize("２０２４年ＰＰＰ项目　增长８．５％！") == "2024年ppp项目 增长8.5%!"
    assert normalize("\u00a0a\u2003b\u3000c") == " a b c"
    assert normalize("ＡＢＣａｂｃ") == "abcabc"


def test_latin_lowercased_but_newlines_and_tabs_kept() -> None:
    assert normalize("Hello\tWORLD\nÉcole") == "hello\tworld\nécole"


def test_traditional_to_simplified() -> None:
    assert normalize("國務院關於殘疾人") == "国务院关于残疾人"
    assert normalize("國務院") == normalize("国务院")


def test_kangxi_radicals_and_compatibility_ideographs() -> None:
    # PDF text layers write 工 and 长 with Kangxi radicals (U+2F2F, U+2FA7)
    assert normalize("\u2f2f作") == "工作"
    assert normalize("\u2fa7江") == "长江"


def test_simplified_text_unchanged() -> None:
    text = "2023年以来，我局在市委、市政府的坚强领导下，各项工作有序开展。"
    assert normalize(text) == text.replace("，", ",")


def test_empty() -> None:
    assert normalize("") == ""


def test_length_preserved_on_the_sample(sample_text: str) -> None:
    out = normalize(sample_text)
    assert len(out) == len(sample_text)
    # every D of the sample that stands for 党 is converted; DNA, FDI, EOD stay Latin
    assert out.count("党") - sample_text.count("党") == sample_text.count("D") - 3


def test_char_i_maps_to_char_i() -> None:
    text = "D建引领，國務院ＤＮＡ２０２４"
    assert normalize(text) == "党建引领,国务院dna2024"


_chars = st.one_of(
    st.characters(codec="utf-8"),  # anything, including astral and combining characters
    st.sampled_from("D dＤ党建國務院發展後臺乾隆著作覆蓋３Ａ，。（）İßﬁ\u3000\u00a0\u2f2f\uf900"),
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_chars, max_size=60))
def test_length_preserved_property(text: str) -> None:
    assert len(normalize(text)) == len(text)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from("D建的A3-&.、，國务院 "), max_size=30))
def test_d_rule_only_touches_d(text: str) -> None:
    out = normalize(text)
    for a, b in zip(text, out, strict=True):
        if a != b:
            assert (a, b) in {("D", "党"), ("D", "d"), ("A", "a"), ("，", ","), ("國", "国")}


def test_lone_surrogates_do_not_crash() -> None:
    assert normalize("x\ud800國") == "x\ud800国"
