"""bot/render.py and bot/callbacks.py: escaping, highlighting, windowing, splitting, limits."""

from __future__ import annotations

import re

import pytest
from botapi import parse_html, utf16_len
from fakes import FakeSearchIndex

from bot import callbacks, render
from index.models import Hit, Paragraph, Report
from index.search import IndexStats, OutlineEntry, SearchResult

LIMIT = 4096


@pytest.fixture(scope="module")
def fake() -> FakeSearchIndex:
    return FakeSearchIndex.sample()


def make_hit(
    text: str,
    *,
    rank: int = 1,
    agency: str = "区残联",
    title: str = "区残联2023年工作总结和2024年工作计划",
    section: tuple[str, ...] = ("二、2024年工作谋划", "4.优化无障碍环境建设"),
    kind: str = "plan",
    years: tuple[int, ...] = (2023, 2024),
    pid: str = "p" * 16,
    rid: str = "r" * 16,
) -> Hit:
    report = Report(rid, title, agency, years, "汇编.txt", 2, paragraphs=60)
    paragraph = Paragraph(pid, rid, 41, section, kind, text)  # type: ignore[arg-type]
    return Hit(rank, 1.0, paragraph, report)


def result_of(question: str, terms: tuple[str, ...], *hits: Hit, total: int = 0) -> SearchResult:
    return SearchResult(question, terms, tuple(hits), total or len(hits))


def assert_sendable(text: str) -> str:
    """Valid Telegram HTML, ≤ 4096 even counting tags; returns the visible text."""
    assert utf16_len(text) <= LIMIT
    return parse_html(text)


def all_callback_data(markup) -> list[str]:
    return [b.callback_data for row in markup.inline_keyboard for b in row]


# --- escaping and highlighting ----------------------------------------------------------------


def test_report_text_is_escaped_and_never_read_as_markup(fake: FakeSearchIndex) -> None:
    result = fake.search("资金拨付 整改 监管")
    text = render.answer_html(result)
    visible = assert_sendable(text)
    symbols = next(h for h in result.hits if "<b>整改</b>" in h.paragraph.text)
    assert "率&lt;60%" in text and "&amp;轻<b>监管</b>" in text
    assert "“&lt;b&gt;" in text  # the report's literal "<b>" stays text
    assert "“<b>整改</b>”" in visible  # ...and is what the reader sees
    assert "&amp;amp;" in text  # a literal "&amp;" in the report is escaped once more
    assert symbols.paragraph.text[:20] in visible


def test_question_with_html_and_markdown_characters() -> None:
    question = "<script>alert(1)</script> & *加粗* _斜体_ `代码` [链接](http://x) ~删除~ ||剧透||"
    result = result_of(question, ("加粗",), make_hit("本段提到*加粗*与<i>标签</i>&符号。"))
    text = render.answer_html(result)
    visible = assert_sendable(text)
    assert "&lt;script&gt;" in text and "<script>" not in text
    assert "*加粗*" in visible or "加粗" in visible
    assert "<i>标签</i>" in visible  # report text shown verbatim
    assert render.answer_plain(result).count("【加粗】") == 1


def test_terms_are_bold_in_html_and_marked_in_plain() -> None:
    hit = make_hit("完善残疾人家庭无障碍改造扶持政策，实施家庭无障碍改造300户。")
    result = result_of("家庭无障碍改造", ("家庭", "无障碍", "改造"), hit)
    text = render.answer_html(result)
    quote = text[text.index("<blockquote>") :]
    assert quote.count("<b>家庭无障碍改造</b>") == 2  # adjacent spans merge into one
    plain = render.answer_plain(result)
    assert "【家庭无障碍改造】" in plain and "<b>" not in plain


def test_spans_are_merged_and_clipped() -> None:
    text = "无障碍改造无障碍"
    assert render.spans_for(text, ("无障碍", "障碍改造", "改造")) == [(0, 8)]
    assert render.spans_for(text, ()) == []
    assert render.spans_for("", ("无障碍",)) == []


# --- windowing -------------------------------------------------------------------------------


def test_short_paragraph_is_shown_whole() -> None:
    text = "做好文物保护工作。"
    assert render.choose_window(text, [(2, 4)], 200) == (0, len(text))


def test_long_paragraph_is_cut_around_the_best_region(fake: FakeSearchIndex) -> None:
    result = fake.search("高标准农田")
    hit = result.hits[0]
    assert len(hit.paragraph.text) > LIMIT
    text = render.answer_html(result)
    assert_sendable(text)
    quote = re.search(r"<blockquote>(.*?)</blockquote>", text, re.S)
    assert quote is not None
    excerpt = quote.group(1)
    assert excerpt.startswith("…") and excerpt.endswith("…")
    assert "<b>高标准农田</b>" in excerpt
    assert len(parse_html(excerpt)) <= render.ANSWER_WIDTHS[0] + 25
    assert excerpt.startswith("…第70项")  # snapped to the start of the matching sentence


def test_window_prefers_the_region_with_most_distinct_terms() -> None:
    filler = "各项工作有序推进。" * 40
    text = (
        filler
        + "养老服务提质增效。"
        + filler
        + "养老机构新增护理型养老床位，养老服务从业人员培训。"
        + filler
    )
    spans = render.spans_for(text, ("养老", "床位", "培训"))
    a, b = render.choose_window(text, spans, 60)
    assert "床位" in text[a:b] and "培训" in text[a:b]


def test_window_without_matches_starts_at_the_beginning() -> None:
    text = "第一句话。" * 100
    a, b = render.choose_window(text, [], 50)
    assert a == 0 and b <= 50 and text[b - 1] == "。"


# --- message limits ----------------------------------------------------------------------------


def test_every_answer_fits_one_message_whatever_the_input() -> None:
    nasty = "&<>" * 3000
    hits = [
        make_hit(
            nasty + "无障碍" + nasty,
            rank=i,
            agency="&" * 200,
            title="<" * 300,
            section=tuple(">" * 100 for _ in range(8)),
            pid=f"{i:016d}",
        )
        for i in (1, 2, 3)
    ]
    result = result_of("<&>" * 2000, ("无障碍", "&", "<"), *hits, total=99)
    text = render.answer_html(result)
    assert_sendable(text)
    assert render.shown_count(result) >= 1
    for data in all_callback_data(render.answer_keyboard(result, callbacks.More(3, key="k"))):
        assert callbacks.byte_length(data) <= callbacks.MAX_BYTES


def test_whole_paragraph_is_split_without_breaking_tags_or_entities(fake: FakeSearchIndex) -> None:
    long_hit = fake.search("高标准农田").hits[0]
    messages = render.paragraph_messages(long_hit)
    assert len(messages) >= 2
    pieces = []
    for i, message in enumerate(messages, start=1):
        visible = assert_sendable(message)
        assert f"（{i}/{len(messages)}）" in visible
        pieces.append(parse_html(re.search(r"<blockquote>(.*)</blockquote>", message, re.S)[1]))
    assert "".join(pieces) == long_hit.paragraph.text
    assert "¶" in messages[0] and "县审计局" in messages[0]


def test_split_measures_escaped_length() -> None:
    text = "&" * 5000 + "。" + "<结束>"
    pieces = render.split_text(text, 1000, lambda s: len(render.HTML.esc(s)))
    assert "".join(pieces) == text
    assert all(len(render.HTML.esc(p)) <= 1000 for p in pieces)
    messages = render.paragraph_messages(make_hit(text))
    for message in messages:
        assert_sendable(message)


def test_short_paragraph_is_one_message() -> None:
    messages = render.paragraph_messages(make_hit("做好文物保护工作。"))
    assert len(messages) == 1 and "（1/1）" not in messages[0]


# --- layout ------------------------------------------------------------------------------------


def test_deep_section_paths_keep_the_outermost_and_innermost_headings() -> None:
    path = ("一、总结", "（一）安全", "1.防汛", "（1）演练", "①重点区域")
    assert render.section_path(path) == "一、总结 › … › （1）演练 › ①重点区域"


def test_source_line_cites_agency_report_section_paragraph_and_kind() -> None:
    line = render.source_line(render.PLAIN, make_hit("x"))
    assert line == (
        "① [2024计划] 区残联 · 《区残联2023年工作总结和2024年工作计划》 · "
        "二、2024年工作谋划 › 4.优化无障碍环境建设 · ¶41"
    )
    no_agency = render.source_line(
        render.PLAIN, make_hit("x", agency="", section=(), kind="other")
    )
    assert no_agency == "① 《区残联2023年工作总结和2024年工作计划》 · ¶41"


@pytest.mark.parametrize(
    ("kind", "years", "label"),
    [
        ("plan", (2023, 2024), "2024计划"),
        ("summary", (2023, 2024), "2023总结"),
        ("problem", (2023, 2024), "问题"),
        ("other", (2023, 2024), ""),
        ("plan", (), "计划"),
        ("summary", (2022,), "2022总结"),
    ],
)
def test_badge(kind: str, years: tuple[int, ...], label: str) -> None:
    assert render.badge_label(kind, years) == label  # type: ignore[arg-type]


def test_plain_answer_is_the_html_answer_without_markup(fake: FakeSearchIndex) -> None:
    result = fake.search("哪个单位计划开展家庭无障碍改造？")
    visible = parse_html(render.answer_html(result))
    plain = render.answer_plain(result)
    unmarked = re.sub(r"\[(\d*(?:计划|总结)|问题)\]", r"\1", plain)
    unmarked = unmarked.replace("【", "").replace("】", "").replace("│ ", "")
    assert unmarked == visible
    assert "找到 7 段相关原文，这是第 1–3 段" in plain
    assert "另见：区民政局" in plain


def test_answer_header_and_numbering_on_later_pages(fake: FakeSearchIndex) -> None:
    result = fake.search("哪个单位计划开展家庭无障碍改造？", offset=3)
    text = render.answer_html(result)
    assert "这是第 4–6 段" in text and "<b>④</b>" in text
    assert [b.text for b in render.answer_keyboard(result, None).inline_keyboard[0]] == [
        "全文④",
        "全文⑤",
        "全文⑥",
    ]


def test_nothing_found_suggests_what_to_do() -> None:
    text = render.answer_html(result_of("<完全无关>", ()))
    visible = assert_sendable(text)
    assert "没有找到" in visible and "/reports" in visible and "<完全无关>" in visible
    assert "没有找到" in render.answer_plain(result_of("x", ()))


def test_outline_lists_sections_with_counts_and_the_file(fake: FakeSearchIndex) -> None:
    report = next(r for r in fake.reports() if r.agency == "区残联")
    pages = render.outline_pages(report, fake.outline(report.id))
    assert len(pages) == 1
    visible = assert_sendable(pages[0])
    assert "文件：2023年工作总结和2024年工作计划汇编（14篇）.txt（第 2 篇）" in visible
    assert "一、2023年指标任务和重点工作完成情况" in visible
    lines = visible.split("\n")
    assert "　(二)业务工作" in lines
    assert "　　1.残疾预防： · 1 段 2023总结" in lines  # a badge where the kind changes...
    assert "　　2.实施困难残疾人康复工程： · 1 段" in lines  # ...not on every line
    assert "　2.加强残疾人康复服务 · 1 段 2024计划" in lines


def test_long_outline_is_paged() -> None:
    report = Report("r1", "某县2023年工作总结", "某县", (2023,), "a.txt", 1, paragraphs=900)
    entries = [
        OutlineEntry((f"第{i}部分：" + "很长的标题" * 10, f"（{i}）小节"), "summary", 3)
        for i in range(300)
    ]
    pages = render.outline_pages(report, entries)
    assert len(pages) > 1
    for page in pages:
        assert_sendable(page)
    keyboard = render.outline_keyboard("r1", 1, len(pages))
    assert keyboard is not None
    labels = [b.text for b in keyboard.inline_keyboard[0]]
    assert labels == ["‹ 上一页", f"2/{len(pages)}", "下一页 ›"]
    assert render.outline_keyboard("r1", 0, 1) is None


def test_reports_list_pages() -> None:
    reports = [
        Report(f"{i:016x}", f"第{i}份报告", f"单位{i}", (2023, 2024), "a.txt", i, 10)
        for i in range(1, 21)
    ]
    text, keyboard = render.reports_page(reports, 1)
    visible = assert_sendable(text)
    assert "收录 20 份报告（第 2/3 页）" in visible and "9. " in visible and "17. " not in visible
    assert keyboard is not None
    data = all_callback_data(keyboard)
    assert data[0] == callbacks.encode(callbacks.Source(reports[8].id))
    assert callbacks.encode(callbacks.ReportsPage(0)) in data
    assert callbacks.encode(callbacks.ReportsPage(2)) in data
    assert render.reports_page([], 0) == ("📚 资料库里还没有报告。", None)


def test_stats_show_build_time_in_beijing_time() -> None:
    text = render.stats_html(IndexStats(14, 1234, "2024-01-15T08:30:00+00:00"), 5)
    visible = assert_sendable(text)
    assert "报告：14 份" in visible and "段落：1234 段" in visible
    assert "2024-01-15 16:30（北京时间）" in visible and "5 个问题" in visible


def test_start_and_help_are_valid_and_give_examples() -> None:
    start = assert_sendable(render.start_html("<Alice&>"))
    assert "<Alice&>" in start and "哪个单位计划开展家庭无障碍改造？" in start
    help_text = assert_sendable(render.help_html("reportbot_test_bot"))
    assert "@reportbot_test_bot" in help_text and "/ask" in help_text and "全文" in help_text


def test_inline_texts(fake: FakeSearchIndex) -> None:
    result = fake.search("无障碍改造")
    hit = result.hits[0]
    assert render.inline_title(hit) == "区残联 · 区残联2023年工作总结和2024年工作计划"
    description = render.inline_description(hit, result.terms)
    assert description.startswith("[2024计划] ") and len(description) <= 140
    assert "<" not in description
    message = assert_sendable(render.inline_message(result, hit))
    assert "无障碍改造" in message and "¶" in message


# --- callback data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        callbacks.FullText("a1b2c3d4e5f6a7b8"),
        callbacks.Source("a1b2c3d4e5f6a7b8"),
        callbacks.OutlinePage("a1b2c3d4e5f6a7b8", 12),
        callbacks.More(3, question="哪个单位计划开展家庭无障碍改造？"),
        callbacks.More(9, question="a:b:c"),
        callbacks.More(30, key="0123456789ab"),
        callbacks.ReportsPage(4),
        callbacks.Noop(),
    ],
)
def test_callback_data_round_trips(action: callbacks.Action) -> None:
    data = callbacks.encode(action)
    assert callbacks.byte_length(data) <= callbacks.MAX_BYTES
    assert callbacks.decode(data) == action


@pytest.mark.parametrize("data", [None, "", "zz", "f:", "m:x:q:问", "m:3:z:abc", "o:abc", "r:a"])
def test_unknown_callback_data_decodes_to_none(data: str | None) -> None:
    assert callbacks.decode(data) is None


def test_more_keeps_short_questions_inline_and_long_ones_by_key() -> None:
    memory = callbacks.QuestionMemory()
    short = "哪个单位计划开展家庭无障碍改造"  # 15 characters, 45 bytes
    assert callbacks.more_action(short, 3, memory) == callbacks.More(3, question=short)
    long = "请问2024年哪些单位计划开展困难重度残疾人家庭无障碍改造，目标是多少户？"
    action = callbacks.more_action(long, 3, memory)
    assert action.key and not action.question
    assert callbacks.byte_length(callbacks.encode(action)) <= callbacks.MAX_BYTES
    assert memory.recall(action.key) == long
    with pytest.raises(ValueError):
        callbacks.encode(callbacks.More(3, question=long))


def test_question_memory_forgets_the_least_recently_used() -> None:
    memory = callbacks.QuestionMemory(capacity=2)
    a, b = memory.remember("问题甲"), memory.remember("问题乙")
    assert memory.recall(a) == "问题甲"  # a is now the most recent
    c = memory.remember("问题丙")
    assert memory.recall(b) is None and memory.recall(a) == "问题甲" and memory.recall(c)
    assert len(memory) == 2


def test_answer_keyboard(fake: FakeSearchIndex) -> None:
    result = fake.search("哪个单位计划开展家庭无障碍改造？")
    more = callbacks.more_action(result.question, 3, callbacks.QuestionMemory())
    keyboard = render.answer_keyboard(result, more)
    rows = [[b.text for b in row] for row in keyboard.inline_keyboard]
    assert rows == [["全文①", "全文②", "全文③"], ["来源①", "来源②", "来源③"], ["更多结果 ›"]]
    for data in all_callback_data(keyboard):
        assert callbacks.byte_length(data) <= callbacks.MAX_BYTES
    assert len(render.answer_keyboard(result, None).inline_keyboard) == 2
    stripped = render.without_button(keyboard, callbacks.encode(more))
    assert len(stripped.inline_keyboard) == 2


def test_excerpt_drops_surrounding_whitespace_without_an_ellipsis() -> None:
    hit = make_hit("\u3000\u30002023年，在区委区政府的坚强领导下，应急管理工作稳步推进。\n")
    text = render.answer_html(result_of("应急管理", ("应急管理",), hit))
    assert (
        "<blockquote>2023年，在区委区政府的坚强领导下，<b>应急管理</b>工作稳步推进。</blockquote>"
        in text
    )
