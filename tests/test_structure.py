"""index.structure: compilation split, headings -> section paths, section kinds, metadata."""

from __future__ import annotations

import pytest

from index.clean import clean_lines
from index.loaders import split_lines
from index.models import ParsedReport
from index.structure import (
    find_title,
    parse_reports,
    report_agency,
    section_kind,
    title_agency,
    years_in,
)

SAMPLE_TITLES = [
    "2023年工作总结和2024年工作计划",
    "区残联2023年工作总结和2024年工作计划",
    "区民政局2023年工作总结暨2024年工作计划",
    "区应急管理局2023年工作总结和2024年工作计划",
    "市2023年工作总结及2024年工作计划",
    "市国资委2023年D建工作总结2024年工作计划",
    "市民政局2023年度工作总结和2024年工作计划",
    "县商务局2023年度工作总结和2024年度工作计划",
    "县审计局2023年工作总结和2024工作计划",
    "县统计局2023年工作总结和2024年工作计划",
    "乡2023年度工作总结及2024年度工作计划",
    "乡2023年工作总结及2024年工作计划",
    "乡2023年政务公开工作总结及2024年工作计划",
    "镇2023年工作总结及2024年工作计划",
]


def parse(text: str, stem: str = "report") -> list[ParsedReport]:
    return parse_reports(clean_lines(split_lines(text)), stem=stem, source=f"{stem}.txt")


def one(text: str, stem: str = "report") -> ParsedReport:
    (report,) = parse(text, stem)
    return report


@pytest.fixture(scope="module")
def sample(sample_text: str) -> list[ParsedReport]:
    return parse(sample_text, stem="2023年工作总结和2024年工作计划汇编（14篇）")


def paragraph_with(report: ParsedReport, words: str):
    (found,) = [p for p in report.paragraphs if words in p.text]
    return found


# --- the bundled sample -----------------------------------------------------------------------


def test_sample_is_fourteen_reports_in_toc_order(sample: list[ParsedReport]) -> None:
    assert [r.title for r in sample] == SAMPLE_TITLES
    assert [r.number for r in sample] == list(range(1, 15))
    assert all(r.years == (2023, 2024) for r in sample)
    assert all(r.source == "2023年工作总结和2024年工作计划汇编（14篇）.txt" for r in sample)


def test_sample_agencies(sample: list[ParsedReport]) -> None:
    agencies = [r.agency for r in sample]
    assert agencies[1] == "埇桥区残联"  # 区残联, qualified by the place the text names
    assert agencies[0] == "无为市文化旅游体育局"  # no agency in the title: 我局 + place + domain
    assert agencies[4] == "市水利局"  # bare 市 + the domain the text is about
    assert agencies[9] == "突泉县统计局"
    assert agencies[2] == "区民政局"  # the text only names XX区: redacted, not a place
    assert agencies[10:] == ["乡", "乡", "乡", "镇"]


def test_paragraphs_are_numbered_body_lines(sample: list[ParsedReport]) -> None:
    for report in sample:
        assert [p.no for p in report.paragraphs] == list(range(1, len(report.paragraphs) + 1))
        assert all(p.text == p.text.strip() and p.text for p in report.paragraphs)
    texts = {p.text for r in sample for p in r.paragraphs}
    for heading in ("一、2023年工作总结", "二、存在的问题", "(二)业务工作", "2024年工作谋划:"):
        assert heading not in texts
    assert sum(len(r.paragraphs) for r in sample) == 232


def test_section_kinds_in_the_sample(sample: list[ParsedReport]) -> None:
    disabled = sample[1]
    plan = paragraph_with(disabled, "实施家庭无障碍改造300户")
    assert plan.kind == "plan"
    assert plan.section == ("二、2024年工作谋划", "4.优化无障碍环境建设")
    done = paragraph_with(disabled, "完成475户困难重度残疾人家庭无障碍改造")
    assert done.kind == "summary"
    assert done.section == (
        "一、2023年指标任务和重点工作完成情况",
        "(二)业务工作",
        "3.残疾人无障碍环境建设",
    )
    for report in sample:
        for paragraph in report.paragraphs:
            if any("问题" in label or "不足" in label for label in paragraph.section[:1]):
                assert paragraph.kind == "problem", (report.title, paragraph.section)
    assert paragraph_with(sample[9], "企业统计人员变动频繁").kind == "problem"
    assert paragraph_with(sample[8], "内部审计独立性不强").kind == "problem"


def test_lead_sentence_labels_its_paragraph_and_the_text_stays_whole(
    sample: list[ParsedReport],
) -> None:
    paragraph = paragraph_with(sample[0], "市级图书馆、文化馆")
    assert paragraph.text.startswith("（一）文化事业服务效能稳步提升。一是市级图书馆")
    assert len(paragraph.text) > 500
    assert paragraph.section == ("一、2023年工作总结", "（一）文化事业服务效能稳步提升")
    assert paragraph.kind == "summary"


def test_a_sub_heading_word_does_not_override_its_section(sample: list[ParsedReport]) -> None:
    # "（二）持续开展重大政策贯彻落实情况跟踪审计工作" says 落实情况, but it is a 2024 task
    paragraph = paragraph_with(sample[8], "双创产业园项目等5个跟踪审计项目")
    assert paragraph.section[-1] == "（二）持续开展重大政策贯彻落实情况跟踪审计工作"
    assert paragraph.kind == "plan"


def test_intro_sentence_sets_the_kind_before_any_heading(sample: list[ParsedReport]) -> None:
    # 市民政局: "现将我局全年重点工作开展情况汇报如下：" then 一是…六是 without a heading
    assert paragraph_with(sample[6], "开展农村留守儿童牵手行动").kind == "summary"
    assert paragraph_with(sample[6], "提升老年助餐水平").kind == "plan"


def test_signature_and_date_are_not_paragraphs(sample: list[ParsedReport]) -> None:
    texts = [p.text for p in sample[2].paragraphs]
    assert "2023年12月15日" not in texts
    assert "XX市XX区民政局" not in texts


# --- headings ---------------------------------------------------------------------------------


def test_heading_nesting() -> None:
    report = one(
        "\n".join(
            [
                "区残联2023年工作总结",
                "一、2023年工作总结",
                "（一）康复工作",
                "1.康复救助",
                "为5041名残疾人提供康复救助。",
                "（1）辅具适配",
                "完成辅具适配300件。",
                "2.托养服务",
                "为580名残疾人提供托养服务。",
                "（二）就业工作",
                "扶持69人就业。",
                "二、存在的问题",
                "专业人才缺少。",
            ]
        )
    )
    assert report.title == "区残联2023年工作总结"
    assert [(p.section, p.kind) for p in report.paragraphs] == [
        (("一、2023年工作总结", "（一）康复工作", "1.康复救助"), "summary"),
        (("一、2023年工作总结", "（一）康复工作", "1.康复救助", "（1）辅具适配"), "summary"),
        (("一、2023年工作总结", "（一）康复工作", "2.托养服务"), "summary"),
        (("一、2023年工作总结", "（二）就业工作"), "summary"),
        (("二、存在的问题",), "problem"),
    ]


def test_chapters_and_articles_of_a_statute() -> None:
    report = one(
        "\n".join(
            [
                "某市燃气管理条例",
                "第一章  总则",
                "第一条 为了加强燃气管理，制定本条例。",
                "第二条 燃气经营者应当遵守下列规定：",
                "（一）依法取得许可；",
                "（二）保障安全供气；",
                "（三）法律、法规规定的其他义务。",
                "第二章 经营管理",
                "第三条 燃气经营者应当建立安全制度。",
            ]
        ),
        stem="某市燃气管理条例(2020-01-01)",
    )
    assert report.title == "某市燃气管理条例(2020-01-01)"
    assert report.years == (2020,)
    assert [(p.text[:6], p.section) for p in report.paragraphs] == [
        ("第一条 为了", ("第一章 总则",)),
        ("第二条 燃气", ("第一章 总则",)),
        ("（一）依法取", ("第一章 总则",)),
        ("（二）保障安", ("第一章 总则",)),
        ("（三）法律、", ("第一章 总则",)),
        ("第三条 燃气", ("第二章 经营管理",)),
    ]
    assert {p.kind for p in report.paragraphs} == {"other"}


def test_a_heading_with_nothing_under_it_is_a_paragraph() -> None:
    report = one(
        "一、总结\n（一）用地单位范围内的，由用地单位负责。\n（二）其他的，由街道负责；以此类推。"
    )
    assert [p.text for p in report.paragraphs] == [
        "（一）用地单位范围内的，由用地单位负责。",
        "（二）其他的，由街道负责；以此类推。",
    ]


def test_short_lead_in_alone_is_a_heading() -> None:
    report = one(
        "一、2024年工作计划\n一是加强组织领导\n成立工作专班，定期调度。\n二是强化督查\n每月通报。"
    )
    assert [p.section for p in report.paragraphs] == [
        ("一、2024年工作计划", "一是加强组织领导"),
        ("一、2024年工作计划", "二是强化督查"),
    ]


def test_markdown_headings() -> None:
    report = one(
        "# 2023年工作总结\n## 一、主要成绩\n完成任务。\n### 亮点\n创新做法。\n"
        "## 二、下一步打算\n继续努力。"
    )
    assert report.title == "2023年工作总结"
    assert [(p.section, p.kind) for p in report.paragraphs] == [
        (("一、主要成绩",), "summary"),
        (("一、主要成绩", "亮点"), "summary"),
        (("二、下一步打算",), "plan"),
    ]


def test_unnumbered_sub_heading_nests_under_the_numbered_one() -> None:
    report = one(
        "一、过去五年工作回顾\n五年来的主要工作\n成绩很大。\n二、对今年政府工作的建议\n要做的事。"
    )
    assert [(p.section, p.kind) for p in report.paragraphs] == [
        (("一、过去五年工作回顾", "五年来的主要工作"), "summary"),
        (("二、对今年政府工作的建议",), "plan"),
    ]


def test_plan_chapters_after_the_plan_section_stay_plan() -> None:
    report = one(
        "2015年政府工作报告\n一、2014年工作回顾\n成绩。\n二、2015年工作总体部署\n部署。\n"
        "三、把改革开放扎实推向纵深\n改革。\n《政府工作报告》名词解释\n[1]解释。"
    )
    assert [p.kind for p in report.paragraphs] == ["summary", "plan", "plan", "other"]


# --- section kinds, years, titles, agencies ---------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "plan_year", "kind"),
    [
        ("二、存在的问题", None, "problem"),
        ("四、制约经济社会发展或影响工作成效的问题", 2024, "problem"),
        ("二、存在的不足", None, "problem"),
        ("三、下一步工作", None, "plan"),
        ("二、2024年工作谋划", 2024, "plan"),
        ("五、2024年工作度划及举措", 2024, "plan"),
        ("一、2023年重点工作举措", 2024, "summary"),
        ("一、2023年工作回顾", 2024, "summary"),
        ("过去一年工作回顾", None, "summary"),
        ("今年工作安排", None, "plan"),
        ("二、2024年经济社会发展总体要求和政策取向", 2024, "plan"),
        ("二、关于1 9 9 8 年政府工作的建议", 1998, "plan"),
        ("（一）以经济建设为重点", 2024, None),
        ("2023年工作总结和2024年工作计划", 2024, None),
    ],
)
def test_section_kind(heading: str, plan_year: int | None, kind: str | None) -> None:
    assert section_kind(heading, plan_year) == kind


def test_years_in() -> None:
    assert years_in("县审计局2023年工作总结和2024工作计划") == (2023, 2024)
    assert years_in("二〇二三年工作总结，２０２４年计划") == (2024, 2023)
    assert years_in("12345热线，1.5亿元，第14篇") == ()


@pytest.mark.parametrize(
    ("title", "agency"),
    [
        ("区残联2023年工作总结和2024年工作计划", "区残联"),
        ("市国资委2023年D建工作总结2024年工作计划", "市国资委"),
        ("乡2023年政务公开工作总结及2024年工作计划", "乡"),
        ("2023年工作总结和2024年工作计划", ""),
        ("2024年中华人民共和国国务院政府工作报告", "国务院"),
        ("2026年北京市政府工作报告", "北京市政府"),
        ("2013年徐水区人民政府工作报告", "徐水区人民政府"),
        ("博野县2024年政府工作报告", "博野县政府"),
        ("2023年北京市文化和旅游局工作总结", "北京市文化和旅游局"),
        ("1989年政府工作报告", ""),
        ("杭州市绩效管理条例(2015-10-14)", ""),
    ],
)
def test_title_agency(title: str, agency: str) -> None:
    assert title_agency(title) == agency


def test_agency_is_qualified_by_the_place_the_text_names() -> None:
    text = "2023年埇桥区残联以新思想为指导。区残联为5041名残疾人服务。埇桥区残联获评先进。"
    assert report_agency("区残联2023年工作总结", text) == "埇桥区残联"
    assert report_agency("区残联2023年工作总结", "XX区残联开展工作。XX区残联获奖。") == "区残联"
    town = "2023年，城关镇经济稳步增长。城关镇完成投资XX亿元。我镇获评先进。"
    assert report_agency("镇2023年工作总结", town) == "城关镇"


def test_agency_from_the_text_when_the_title_names_none() -> None:
    text = (
        "2023年以来，我局在市委领导下开展工作。" + "宁国市文化旅游活动丰富，宁国市文化馆开放。" * 3
    )
    assert report_agency("2023年工作总结", text) == "宁国市文化旅游局"
    assert report_agency("2023年工作总结", "没有机关自称的正文。") == ""


def test_title_from_text_or_file_name() -> None:
    assert find_title(["政府工作报告", "各位代表："], "2024年国务院政府工作报告") == (
        "2024年国务院政府工作报告",
        1,
    )
    assert find_title(["县统计局2023年工作总结", "正文。"], "report") == (
        "县统计局2023年工作总结",
        1,
    )
    assert find_title(["2020年1月21日在唐县人民代表大会上", "各位代表："], "唐县报告") == (
        "唐县报告",
        0,
    )
    assert find_title(["一、2023年工作总结", "正文。"], "stem") == ("stem", 0)


def test_without_toc_a_file_is_one_report() -> None:
    reports = parse(
        "县统计局2023年工作总结\n一、主要成绩\n完成任务。\n区残联2023年工作总结\n正文。"
    )
    assert [r.title for r in reports] == ["县统计局2023年工作总结"]


def test_toc_titles_match_nearly_equal_lines_and_a_preface_is_kept() -> None:
    reports = parse(
        "\n".join(
            [
                "工作总结汇编",
                "目录",
                "区残联2023年工作总结\t1",
                "县商务局 2023年工作总结\t5",
                "编者按：本汇编收录两篇总结。",
                "区残联2023年工作总结",
                "一、主要成绩",
                "完成任务。",
                "县商务局2023年工作总结（定稿）",
                "一、主要成绩",
                "促进消费。",
            ]
        )
    )
    assert [(r.number, r.title) for r in reports] == [
        (1, "工作总结汇编"),
        (2, "区残联2023年工作总结"),
        (3, "县商务局2023年工作总结（定稿）"),
    ]
    assert [p.text for p in reports[0].paragraphs] == ["编者按：本汇编收录两篇总结。"]
    assert [p.text for p in reports[2].paragraphs] == ["促进消费。"]


def test_a_chapter_toc_does_not_split_a_report() -> None:
    reports = parse("目录\n前言\t1\n总体要求\t2\n前言\n正文一。\n总体要求\n正文二。")
    assert len(reports) == 1
