"""index.clean: what is not report text goes; the table of contents is read, then removed."""

from __future__ import annotations

import pytest

from index.clean import clean_lines, is_advert, is_page_number, strip_markers
from index.loaders import split_lines

SAMPLE_ADVERTS = [
    "【哒哒素材库】——每天更新材料1000多篇内部高质量素材，会员群+网盘群同步每日更新，一键精准搜索、"
    "一键快速查找、一键极速下载，有意加入请联系：1 4367，：9 649564",
    "欢迎加入“哒哒素材库svip会员”，9000万字材料，轻松解决您的各类素材需求！添加客服：cwk,"
    "请各位小伙伴认准哒哒，哒哒唯一平台（公众号：哒哒君、：cwk），谨防假冒！",
    "【哒哒代笔】——原创高质量保障、高度保密，各类代笔（润笔），好评如潮！PPT设计、各类杂志报刊网站"
    "(共产党员网等)代发布业务，持续接单中，需要的小伙伴请代笔客服：cwk",
]


@pytest.mark.parametrize(
    "line",
    [
        *SAMPLE_ADVERTS,
        "【笔杆子写作群】每日更新范文，扫码添加客服微信，一键下载",
        "关注公众号，回复“总结”，一键下载全部资料",
        "更多精彩范文请访问XX文库，VIP会员免费下载",
    ],
)
def test_adverts(line: str) -> None:
    assert is_advert(line)


@pytest.mark.parametrize(
    "line",
    [
        "依托政务服务微信公众号，实现扫码办理、一键查询，群众满意度持续提升。",
        "落实政府购买服务优惠政策，关注群众急难愁盼，联系服务群众“最后一公里”。",
        "持续加强特定人群安全宣传教育，通过抖音定点推送的方式向有效特定人群推送安全提示。",
        "上线“云游无为”AAA小程序，提高群众知晓率。",
        "工会会员普惠服务覆盖率达95%，原创文艺作品30件。",
    ],
)
def test_report_sentences_are_not_adverts(line: str) -> None:
    assert not is_advert(line)


def test_markers_go_even_mid_paragraph() -> None:
    line = "二是水利改革成效显著##paidbegin##。主动为企服务##付费内容##，探索节水新举措。"
    assert strip_markers(line) == "二是水利改革成效显著。主动为企服务，探索节水新举措。"
    assert clean_lines(["##paidend##", "正文。"]).lines == ("正文。",)


@pytest.mark.parametrize(
    "line", ["12", "- 12 -", "—3—", "第3页", "第 3 页 共 10 页", "3/10", "ii"]
)
def test_page_numbers(line: str) -> None:
    assert is_page_number(line)


@pytest.mark.parametrize("line", ["2023年12月", "12345政府热线", "（一）", "一、总结", "1.5亿元"])
def test_not_page_numbers(line: str) -> None:
    assert not is_page_number(line)


def test_empty_lines_and_surrounding_whitespace_go() -> None:
    assert clean_lines(["", "　　正文一。  ", "   ", "正文二。"]).lines == ("正文一。", "正文二。")


def test_toc_block_is_removed_and_its_titles_kept() -> None:
    lines = [
        "工作总结汇编",
        "目 录",
        "",
        "区残联2023年工作总结\t1",
        "县商务局2023年工作总结……………………5",
        "乡2023年工作总结 .......... 9",
        "区残联2023年工作总结",
        "正文。",
    ]
    cleaned = clean_lines(lines)
    assert cleaned.lines == ("工作总结汇编", "区残联2023年工作总结", "正文。")
    assert cleaned.toc is not None
    assert cleaned.toc.titles == (
        "区残联2023年工作总结",
        "县商务局2023年工作总结",
        "乡2023年工作总结",
    )
    assert cleaned.toc.at == 1


def test_toc_entries_without_page_numbers_when_they_reappear() -> None:
    lines = [
        "目录",
        "一、工作总结",
        "二、工作计划",
        "一、工作总结",
        "正文。",
        "二、工作计划",
        "正文。",
    ]
    cleaned = clean_lines(lines)
    assert cleaned.lines == ("一、工作总结", "正文。", "二、工作计划", "正文。")
    assert cleaned.toc is not None and cleaned.toc.titles == ("一、工作总结", "二、工作计划")


def test_toc_without_header() -> None:
    lines = ["第一章 总则\t1", "第二章 规划\t3", "第三章 附则\t9", "第一章 总则", "第一条 正文。"]
    assert clean_lines(lines).lines == ("第一章 总则", "第一条 正文。")


def test_a_lone_number_table_is_not_a_toc() -> None:
    lines = ["指标 | 完成 12", "正文。"]
    assert clean_lines(lines).lines == ("指标 | 完成 12", "正文。")


def test_sample_keeps_no_junk(sample_text: str) -> None:
    cleaned = clean_lines(split_lines(sample_text))
    text = "\n".join(cleaned.lines)
    assert "##" not in text
    for word in ("素材库", "客服", "代笔", "谨防假冒"):
        assert word not in text
    assert "目录" not in cleaned.lines
    assert not any(line.endswith("\t1") or "\t" in line for line in cleaned.lines)
    assert cleaned.toc is not None and len(cleaned.toc.titles) == 15  # compilation title + 14
    assert len(cleaned.lines) == 349
