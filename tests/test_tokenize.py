"""index.tokenize: one tokenizer for paragraphs and questions."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from index.tokenize import Tokenizer, default_tokenizer, tokenizer_version


def test_default_tokenizer_is_cached(tokenizer: Tokenizer) -> None:
    assert default_tokenizer() is tokenizer


def test_traditional_matches_simplified(tokenizer: Tokenizer) -> None:
    assert tokenizer.tokenize("國務院") == tokenizer.tokenize("国务院")
    assert tokenizer.tokenize("殘疾人聯合會") == tokenizer.tokenize("残疾人联合会")


def test_full_width_digits_and_letters(tokenizer: Tokenizer) -> None:
    assert tokenizer.tokenize("２０２４年ＰＰＰ项目") == tokenizer.tokenize("2024年PPP项目")
    assert "2024" in tokenizer.tokenize("２０２４年")
    assert "ppp" in tokenizer.tokenize("ＰＰＰ项目")


def test_numbers_and_latin_words_are_tokens(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokenize("实施家庭无障碍改造300户，增长8.5%，DNA检测，5G基站")
    assert {"300", "8.5", "dna", "5g"} <= set(tokens)


def test_punctuation_whitespace_and_stopwords_dropped(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokenize("请问，哪个单位在 2024 年计划开展家庭无障碍改造吗？")
    for dropped in ("请问", "哪个", "在", "吗", "，", "？", " "):
        assert dropped not in tokens
    assert {"单位", "2024", "计划", "开展"} <= set(tokens)


def test_meaningful_report_words_are_not_stopwords(tokenizer: Tokenizer) -> None:
    for word in ("工作", "计划", "问题", "完成", "2024", "打算", "明年"):
        assert word not in tokenizer.stopwords
        assert word in tokenizer.tokenize(f"关于{word}")


def test_redaction_placeholder_dropped(tokenizer: Tokenizer) -> None:
    assert "xx" not in tokenizer.tokenize("XX区应急管理局完成XX户")


@pytest.mark.parametrize(
    "word",
    [
        "埇桥区",
        "埇桥",
        "无为市",
        "无障碍改造",
        "适老化改造",
        "银龄餐厅",
        "四好农村路",
        "高标准农田",
        "老年助餐",
        "双招双引",
        "一户多残",
        "残疾预防",
        "河长制",
        "放管服",
        "暖民心",
        "宿州市",
    ],
)
def test_domain_words_and_places_come_out_whole(tokenizer: Tokenizer, word: str) -> None:
    assert word in tokenizer.tokenize(f"今年{word}工作成效明显")


def test_segmentation_keeps_place_names_whole(tokenizer: Tokenizer) -> None:
    seg = tokenizer.segment("2023年埇桥区残联以新时代中国特色社会主义思想为指导")
    assert "埇桥区" in seg
    assert "残联" in seg


def test_long_words_also_yield_the_words_inside(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokenize("继续实施家庭适老化改造")
    assert {"家庭适老化改造", "适老化改造", "适老化", "改造", "家庭"} <= set(tokens)
    # the question's word matches the paragraph's longer compound
    assert set(tokenizer.tokenize("适老化改造")) <= set(tokens)


def test_question_and_paragraph_agree(tokenizer: Tokenizer) -> None:
    question = set(tokenizer.tokenize("国资委2024年在党建品牌创建上有什么打算？"))
    paragraph = set(tokenizer.tokenize("持续打造“国资先锋”D建品牌，推动D建与业务深度融合"))
    assert {"党建", "党建品牌", "品牌"} <= question & paragraph


def test_sample_d_is_party(tokenizer: Tokenizer) -> None:
    assert "党建" in tokenizer.tokenize("D建工作")
    assert "党的二十大" in tokenizer.tokenize("认真学习贯彻D的二十大精神")
    assert "党" not in "".join(tokenizer.tokenize("DNA 3D打印 PDF"))


def test_segment_covers_every_character(tokenizer: Tokenizer) -> None:
    text = "区民政局2023年工作总结，增长８．５％"
    assert len("".join(tokenizer.segment(text))) == len(text)


def test_tokenize_many(tokenizer: Tokenizer) -> None:
    texts = ["无障碍改造", "国务院"]
    assert tokenizer.tokenize_many(texts) == [tokenizer.tokenize(t) for t in texts]


def test_empty_and_punctuation_only(tokenizer: Tokenizer) -> None:
    assert tokenizer.tokenize("") == []
    assert tokenizer.tokenize("，。！？ \n") == []


def test_pickles_cheaply_and_tokenizes_the_same(tokenizer: Tokenizer) -> None:
    data = pickle.dumps(tokenizer)
    assert len(data) < 1000  # the settings, not the dictionary
    clone = pickle.loads(data)
    assert clone.version == tokenizer.version
    text = "埇桥区残联实施家庭无障碍改造300户"
    assert clone.tokenize(text) == tokenizer.tokenize(text)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory, tokenizer: Tokenizer) -> Path:
    """A cache directory for extra tokenizers, seeded with jieba's pickled main dictionary."""
    import jieba

    path = tmp_path_factory.mktemp("tokenizer-cache")
    for name in (f"jieba-main-{jieba.__version__}.pkl", "jieba.cache"):
        if (tokenizer.cache_dir / name).exists():
            shutil.copy(tokenizer.cache_dir / name, path)
    return path


def _copy_dicts(tmp_path: Path) -> Path:
    from index.tokenize import DICT_DIR

    target = tmp_path / "dict"
    shutil.copytree(DICT_DIR, target)
    return target


def test_version_changes_with_a_dictionary_file(tmp_path: Path, tokenizer: Tokenizer) -> None:
    dict_dir = _copy_dicts(tmp_path)
    assert tokenizer_version(dict_dir) == tokenizer.version == tokenizer_version()
    versions = {tokenizer.version}
    for name, entry in [
        ("userdict.txt", "候鸟驿站"),
        ("places.txt", "新村镇"),
        ("stopwords.txt", "建设"),
    ]:
        with (dict_dir / name).open("a", encoding="utf-8") as f:
            f.write(entry + "\n")
        versions.add(tokenizer_version(dict_dir))
    assert len(versions) == 4


def test_version_changes_with_hmm(tokenizer: Tokenizer) -> None:
    assert tokenizer_version(hmm=True) != tokenizer.version


def test_a_new_dictionary_word_takes_effect(
    tmp_path: Path, cache: Path, tokenizer: Tokenizer
) -> None:
    assert "候鸟驿站" not in tokenizer.tokenize("建设候鸟驿站")
    dict_dir = _copy_dicts(tmp_path)
    with (dict_dir / "userdict.txt").open("a", encoding="utf-8") as f:
        f.write("候鸟驿站\n")
    assert "候鸟驿站" in Tokenizer(dict_dir, cache_dir=cache).tokenize("建设候鸟驿站")

    # a damaged cache file is rebuilt, not trusted
    (cache / f"jieba-{tokenizer_version(dict_dir)}.pkl").write_bytes(b"not a pickle")
    assert "候鸟驿站" in Tokenizer(dict_dir, cache_dir=cache).tokenize("建设候鸟驿站")


def test_own_jieba_instance_leaves_the_global_alone(tokenizer: Tokenizer) -> None:
    import jieba

    assert tokenizer._jieba is not jieba.dt
    assert not jieba.dt.FREQ.get("埇桥区")


def test_redaction_marks_are_not_words(tokenizer) -> None:  # type: ignore[no-untyped-def]
    tokens = tokenizer.tokenize("年收入超X万元，投资XX万元，建成XXX平方米")
    assert not [t for t in tokens if set(t) == {"x"}]
    assert "万元" in tokens and tokenizer.tokenize("x86 xylophone") == ["x86", "xylophone"]
