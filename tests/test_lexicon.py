"""index.lexicon and the data files in data/dict/."""

from __future__ import annotations

import re

import pytest

from index.lexicon import load_glossary, load_synonyms, pinyin_key, place_pinyin, places
from index.normalize import normalize
from index.tokenize import DICT_DIR, Tokenizer, read_entries

DATA_FILES = ["userdict.txt", "places.txt", "stopwords.txt", "synonyms.txt", "en_glossary.tsv"]


@pytest.mark.parametrize("name", DATA_FILES)
def test_data_files_are_utf8_with_a_header(name: str) -> None:
    lines = (DICT_DIR / name).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ")
    assert len([x for x in lines if x.strip() and not x.startswith("#")]) >= 100


def test_synonyms_are_symmetric_and_normalized() -> None:
    syn = load_synonyms()
    assert "老年人" in syn["老人"]
    assert "老人" in syn["老年人"]
    assert {"助餐", "老年助餐"} <= set(syn["吃饭"])
    assert "残疾人" in syn["残障人士"]
    assert "应急管理局" in syn["应急局"]
    assert "2024年" in syn["明年"]
    for term, others in syn.items():
        assert term not in others
        assert normalize(term) == term
        assert all(normalize(o) == o for o in others)
    assert "d建" not in syn and "D建" not in syn  # D建 is 党建 after normalisation
    assert len({frozenset((k, *v)) for k, v in syn.items()}) >= 100


def test_synonyms_are_cached() -> None:
    assert load_synonyms() is load_synonyms()


def test_glossary() -> None:
    gl = load_glossary()
    assert gl["accessibility"][0] == "无障碍"
    assert gl["elderly"][0] == "老年人"
    assert gl["home accessibility renovation"] == ("家庭无障碍改造",)
    assert {"单位", "部门"} <= set(gl["agency"])
    assert "残疾人" in gl["disabled"]
    assert gl["rural"][0] == "农村"
    assert len(gl) >= 300
    for key in gl:
        assert key == key.lower() == " ".join(key.split())


def test_places_file_has_full_and_short_names() -> None:
    pl = places()
    assert pl["埇桥区"] == pl["埇桥"] == ("341302",)
    assert pl["无为市"] == pl["无为"]
    assert pl["内蒙古"] == pl["内蒙古自治区"]
    assert pl["恩施州"] == ("4228",)
    assert "泾" not in pl  # short forms have at least two characters
    assert len(pl) > 5000


def test_place_pinyin() -> None:
    pp = place_pinyin()
    assert pp["yongqiao"] == ("埇桥",)
    assert pp["yongqiaoqu"] == ("埇桥区",)
    assert "无为" in pp["wuwei"]
    assert "朝阳" in pp["chaoyang"]  # a heteronym read the place-name way
    assert pp["luan"][0] == "六安"
    assert all(re.fullmatch("[a-z]+", k) for k in pp)


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Yǒng Qiáo", "yongqiao"),
        ("Lǚ-liáng", "lvliang"),
        ("lü", "lv"),
        ("nu:", "nv"),
        ("ＷＵＷＥＩ", "wuwei"),
    ],
)
def test_pinyin_key(typed: str, key: str) -> None:
    assert pinyin_key(typed) == key


def test_userdict_words_are_normalized_and_not_stopwords(tokenizer: Tokenizer) -> None:
    words = [f[0] for f in read_entries(DICT_DIR / "userdict.txt")]
    assert len(words) >= 300
    assert len(set(words)) == len(words)
    for w in words:
        assert normalize(w) == w
        assert w not in tokenizer.stopwords


def test_userdict_words_come_out_whole(tokenizer: Tokenizer) -> None:
    words = [f[0] for f in read_entries(DICT_DIR / "userdict.txt")]
    split = [w for w in words if w not in tokenizer.segment(w)]
    assert split == []


def test_stopwords_are_principled(tokenizer: Tokenizer) -> None:
    for w in (
        "哪个",
        "哪些",
        "请问",
        "什么",
        "怎么样",
        "如何",
        "怎么",
        "吗",
        "呢",
        "的",
        "了",
        "在",
        "和",
        "是",
        "有",
        "对",
    ):
        assert w in tokenizer.stopwords
    for w in ("工作", "计划", "问题", "完成", "2024", "总结", "打算", "多少", "今年", "明年"):
        assert w not in tokenizer.stopwords
    assert len(tokenizer.stopwords) < 200
