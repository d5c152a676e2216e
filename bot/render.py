"""Everything the user reads, as Telegram HTML and as plain text for the terminal.

This is the only module that knows HTML. Report and user text is always escaped; cuts are made
in the raw text before escaping, so a message never ends inside a tag or an entity. Every HTML
message fits Telegram's 4096-character limit (counted in UTF-16 units, tags included, which is
stricter than Telegram's own count), and every callback data fits 64 bytes (`bot.callbacks`).

The answer layout is written once against a small `_Style` (HTML or plain), so `answer_plain`
prints exactly what the bot would say, minus markup.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit

from bot import callbacks
from index.highlight import find_spans
from index.models import Hit, Report, SectionKind

if TYPE_CHECKING:
    from index.search import IndexStats, OutlineEntry, SearchResult

MAX_MESSAGE: int = MessageLimit.MAX_TEXT_LENGTH  # 4096
ANSWER_WIDTHS = (180, 130, 90, 50, 24)  # excerpt window sizes tried, widest first
INLINE_DESCRIPTION_WIDTH = 90
REPORTS_PER_PAGE = 8
OUTLINE_PAGE_BUDGET = 3500  # leaves room for the header on every page
DISPLAY_TZ = ZoneInfo("Asia/Shanghai")

Span = tuple[int, int]

# --- fixed texts ------------------------------------------------------------------------------

COMMANDS: tuple[tuple[str, str], ...] = (
    ("ask", "提问，例如 /ask 哪个单位计划开展家庭无障碍改造"),
    ("reports", "收录的报告"),
    ("stats", "资料库概况"),
    ("help", "使用说明"),
)

INDEX_UNAVAILABLE = "资料库暂时不可用（索引还没建好或正在更新），请稍后再试。"
RESULT_EXPIRED = "这条结果已经过期（机器人重启过或时间太久），请重新发送问题。"
PARAGRAPH_GONE = "这段原文已不在资料库中（资料已更新），请重新提问。"
REPORT_GONE = "这份报告已不在资料库中（资料已更新），发送 /reports 查看现有报告。"
BUTTON_EXPIRED = "这个按钮已经失效，请重新提问。"
NO_MORE = "没有更多结果了。"
APOLOGY = "抱歉，处理时出了点问题，请稍后再试。"
INLINE_BUTTON = "私聊提问 · 查看用法"
INLINE_START_PARAMETER = "help"


def ask_usage() -> str:
    """What /ask without a question answers."""
    return "请在命令后面写上问题，例如：\n<code>/ask 哪个单位计划开展家庭无障碍改造？</code>"


def unknown_command() -> str:
    """For a command the bot does not know."""
    return "没有这个命令。直接发问题给我就行，或发送 /help 查看用法。"


# --- styles: the same layout as HTML or as plain text ------------------------------------------


class _Style:
    """Plain text: no escaping, terms in 【】, quotes with a │ margin."""

    def esc(self, text: str) -> str:
        return text

    def bold(self, formatted: str) -> str:
        return formatted

    def italic(self, formatted: str) -> str:
        return formatted

    def mark(self, raw: str) -> str:
        return f"【{raw}】"

    def badge(self, label: str) -> str:
        return f"[{label}]"

    def quote(self, formatted: str) -> str:
        return "\n".join(f"│ {line}" for line in formatted.split("\n"))


class _Html(_Style):
    """Telegram HTML: escaped text, terms in <b>, quotes in <blockquote>."""

    def esc(self, text: str) -> str:
        return html.escape(text, quote=False)

    def bold(self, formatted: str) -> str:
        return f"<b>{formatted}</b>"

    def italic(self, formatted: str) -> str:
        return f"<i>{formatted}</i>"

    def mark(self, raw: str) -> str:
        return f"<b>{self.esc(raw)}</b>"

    def badge(self, label: str) -> str:
        return f"<code>{self.esc(label)}</code>"

    def quote(self, formatted: str) -> str:
        return f"<blockquote>{formatted}</blockquote>"


PLAIN = _Style()
HTML = _Html()


def tg_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """At most `limit` characters of raw text, marked with … when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def circled(n: int) -> str:
    """①…⑳, then ㉑…㊿, then plain numbers."""
    if 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if 21 <= n <= 35:
        return chr(0x3251 + n - 21)
    if 36 <= n <= 50:
        return chr(0x32B1 + n - 36)
    return f"({n})"


def badge_label(kind: SectionKind, years: Sequence[int]) -> str:
    """2024计划 / 2023总结 / 问题, or "" for other sections."""
    if kind == "plan":
        return f"{max(years)}计划" if years else "计划"
    if kind == "summary":
        return f"{min(years)}总结" if years else "总结"
    if kind == "problem":
        return "问题"
    return ""


def year_range(years: Sequence[int]) -> str:
    if not years:
        return ""
    lo, hi = min(years), max(years)
    return str(lo) if lo == hi else f"{lo}–{hi}"


def section_path(section: Sequence[str], *, each: int = 18) -> str:
    """Headings joined by ›, each clipped; deep paths keep the outermost and innermost two."""
    shown = [*section[:1], "…", *section[-2:]] if len(section) > 3 else list(section)
    return " › ".join(clip(s, each) for s in shown)


# --- highlighting and windowing -------------------------------------------------------------

_SENTENCE_END = "。！？；!?;\n"


def spans_for(text: str, terms: Sequence[str]) -> list[Span]:
    """Sorted, merged, in-bounds spans of the question's terms in the original text."""
    return list(_spans(text, tuple(terms)))


@lru_cache(maxsize=256)
def _spans(text: str, terms: tuple[str, ...]) -> tuple[Span, ...]:
    if not terms or not text:
        return ()
    raw = sorted((max(0, s), min(len(text), e)) for s, e in find_spans(text, terms))
    merged: list[Span] = []
    for s, e in raw:
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return tuple(merged)


MAX_WINDOW_CANDIDATES = 200


def choose_window(text: str, spans: Sequence[Span], width: int) -> Span:
    """The [start, end) of text to show: all of it when short, else about `width` characters
    around the region with the most distinct matched terms, snapped to sentence boundaries."""
    n = len(text)
    if n <= width:
        return 0, n
    if not spans:
        return 0, _snap_end(text, 0, width, 0)
    starts = [s for s, _ in spans]
    step = max(1, len(spans) // MAX_WINDOW_CANDIDATES)
    best: tuple[tuple[int, int, int], int] | None = None
    for s in starts[::step]:
        a = max(0, min(s - width // 6, n - width))
        inside = _inside(spans, starts, a, a + width)
        key = (len({text[x:y].casefold() for x, y in inside}), sum(y - x for x, y in inside), -a)
        if best is None or key > best[0]:
            best = (key, a)
    assert best is not None
    a = best[1]
    inside = _inside(spans, starts, a, a + width)
    first = inside[0][0] if inside else a
    if a > 0:  # start at the beginning of the sentence holding the first match, if near
        boundary = max(text.rfind(ch, max(0, a - 20), first) for ch in _SENTENCE_END)
        if boundary >= 0:
            a = boundary + 1
    b = min(n, a + width)
    inside = _inside(spans, starts, a, b)
    last = inside[-1][1] if inside else a
    return a, _snap_end(text, a, b, last)


def _inside(spans: Sequence[Span], starts: Sequence[int], a: int, b: int) -> Sequence[Span]:
    """The spans lying wholly within [a, b) (spans are sorted and disjoint)."""
    lo = bisect.bisect_left(starts, a)
    hi = bisect.bisect_left(starts, b)
    while hi > lo and spans[hi - 1][1] > b:
        hi -= 1
    return spans[lo:hi]


def _snap_end(text: str, a: int, b: int, last: int) -> int:
    """End at a sentence boundary shortly before b (not before `last`), else at b."""
    if b >= len(text):
        return len(text)
    lo = max(last, a + 1, b - 40)
    boundary = max(text.rfind(ch, lo, b) for ch in _SENTENCE_END)
    return boundary + 1 if boundary >= 0 else b


def format_excerpt(style: _Style, text: str, spans: Sequence[Span], window: Span) -> str:
    """text[window] with its spans marked, escaped piece by piece, … where cut."""
    a, b = window
    out: list[str] = ["…"] if a > 0 else []
    pos = a
    for s, e in spans:
        s, e = max(s, a), min(e, b)
        if e <= s:
            continue
        out.append(style.esc(text[pos:s]))
        out.append(style.mark(text[s:e]))
        pos = e
    out.append(style.esc(text[pos:b]))
    if b < len(text):
        out.append("…")
    return "".join(out)


def excerpt(style: _Style, text: str, terms: Sequence[str], width: int) -> str:
    """The highlighted window of a paragraph (without its surrounding whitespace)."""
    text = text.strip()
    spans = spans_for(text, terms)
    return format_excerpt(style, text, spans, choose_window(text, spans, width))


# --- answers --------------------------------------------------------------------------------


def source_line(style: _Style, hit: Hit, *, numbered: bool = True) -> str:
    """① [2024计划] 区残联 · 《title》 · section › path · ¶N"""
    p, r = hit.paragraph, hit.report
    head = []
    if numbered and hit.rank:
        head.append(style.bold(circled(hit.rank)))
    label = badge_label(p.kind, r.years)
    if label:
        head.append(style.badge(label))
    parts = []
    if r.agency:
        parts.append(style.bold(style.esc(clip(r.agency, 20))))
    parts.append(style.esc(f"《{clip(r.title, 40)}》"))
    if p.section:
        parts.append(style.esc(section_path(p.section)))
    parts.append(f"¶{p.no}")
    return " ".join([*head, " · ".join(parts)])


def _also_in(style: _Style, hit: Hit) -> str:
    if not hit.also_in:
        return ""
    names = [clip(r.agency or r.title, 20) for r in hit.also_in[:3]]
    more = f" 等 {len(hit.also_in)} 份" if len(hit.also_in) > 3 else ""
    return style.italic(style.esc("另见：" + "、".join(names) + more))


def hit_block(style: _Style, hit: Hit, terms: Sequence[str], width: int) -> str:
    """Source line, quoted excerpt, and where else the paragraph appears."""
    quoted = style.quote(excerpt(style, hit.paragraph.text, terms, width))
    lines = [source_line(style, hit), quoted]
    also = _also_in(style, hit)
    if also:
        lines.append(also)
    return "\n".join(lines)


def _question_line(style: _Style, question: str) -> str:
    return f"🔎 {style.bold(style.esc(clip(question, 60)))}"


def _count_line(result: SearchResult, hits: Sequence[Hit]) -> str:
    first, last = hits[0].rank, hits[-1].rank
    if first == 1 and result.total <= len(hits):
        return f"找到 {result.total} 段相关原文："
    where = f"第 {first} 段" if first == last else f"第 {first}–{last} 段"
    return f"找到 {result.total} 段相关原文，这是{where}："


def _answer(style: _Style, result: SearchResult, hits: Sequence[Hit], width: int) -> str:
    blocks = [_question_line(style, result.question) + "\n" + _count_line(result, hits)]
    blocks += [hit_block(style, hit, result.terms, width) for hit in hits]
    return "\n\n".join(blocks)


@dataclass(frozen=True)
class _Fit:
    hits: tuple[Hit, ...]
    width: int


def _fit(result: SearchResult) -> _Fit:
    """The widest excerpts (and, in the worst case, fewest hits) whose HTML fits one message."""
    for count in range(len(result.hits), 0, -1):
        for width in ANSWER_WIDTHS:
            if tg_len(_answer(HTML, result, result.hits[:count], width)) <= MAX_MESSAGE:
                return _Fit(result.hits[:count], width)
    return _Fit(result.hits[:1], ANSWER_WIDTHS[-1])  # unreachable: every piece is clipped


def no_results(style: _Style, question: str) -> str:
    return "\n".join(
        [
            _question_line(style, question),
            "没有找到相关的段落。可以试试：",
            "• 换个说法，或只留两三个关键词，如「无障碍改造」",
            "• 发送 /reports 看看收录了哪些报告",
        ]
    )


def answer_html(result: SearchResult) -> str:
    """The answer to a question as one Telegram HTML message (≤ 4096)."""
    if not result.hits:
        return no_results(HTML, result.question)
    fit = _fit(result)
    return _answer(HTML, result, fit.hits, fit.width)


def answer_plain(result: SearchResult) -> str:
    """The same answer as plain text, for the terminal chat."""
    if not result.hits:
        return no_results(PLAIN, result.question)
    fit = _fit(result)
    return _answer(PLAIN, result, fit.hits, fit.width)


def answer_keyboard(result: SearchResult, more: callbacks.More | None) -> InlineKeyboardMarkup:
    """全文 and 来源 for each shown hit, and 更多 when there are further results."""
    hits = _fit(result).hits
    rows = [
        [
            InlineKeyboardButton(
                f"全文{circled(h.rank)}",
                callback_data=callbacks.encode(callbacks.FullText(h.paragraph.id)),
            )
            for h in hits
        ],
        [
            InlineKeyboardButton(
                f"来源{circled(h.rank)}",
                callback_data=callbacks.encode(callbacks.Source(h.report.id)),
            )
            for h in hits
        ],
    ]
    if more is not None:
        rows.append([InlineKeyboardButton("更多结果 ›", callback_data=callbacks.encode(more))])
    return InlineKeyboardMarkup(rows)


def shown_count(result: SearchResult) -> int:
    """How many hits the answer message actually shows (all of them unless space ran out)."""
    return len(_fit(result).hits) if result.hits else 0


def without_button(markup: InlineKeyboardMarkup | None, data: str) -> InlineKeyboardMarkup:
    """A keyboard minus the button carrying `data` (and minus rows left empty)."""
    rows = []
    for row in markup.inline_keyboard if markup else ():
        kept = [b for b in row if b.callback_data != data]
        if kept:
            rows.append(kept)
    return InlineKeyboardMarkup(rows)


# --- the whole paragraph --------------------------------------------------------------------

_SENTENCE = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;\n]+|$)")


def split_text(text: str, budget: int, measure: Callable[[str], int]) -> list[str]:
    """Raw text cut into pieces whose measured size is ≤ budget, at sentence ends if possible."""
    pieces: list[str] = []
    current = ""
    for sentence in (m.group(0) for m in _SENTENCE.finditer(text)):
        if not sentence:
            continue
        if measure(current + sentence) <= budget:
            current += sentence
            continue
        if current:
            pieces.append(current)
            current = ""
        while measure(sentence) > budget:  # one sentence longer than a message: cut it
            cut = _longest_prefix(sentence, budget, measure)
            pieces.append(sentence[:cut])
            sentence = sentence[cut:]
        current = sentence
    if current:
        pieces.append(current)
    return pieces or [""]


def _longest_prefix(text: str, budget: int, measure: Callable[[str], int]) -> int:
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def paragraph_messages(hit: Hit) -> list[str]:
    """The whole paragraph with its source, over as many messages as it takes."""
    header = "📄 " + source_line(HTML, hit, numbered=False)
    overhead = tg_len(header) + tg_len("<blockquote></blockquote>") + 40  # 40: "（12/12）" etc.
    pieces = split_text(
        hit.paragraph.text.strip(), MAX_MESSAGE - overhead, lambda s: tg_len(HTML.esc(s))
    )
    total = len(pieces)
    who = hit.report.agency or hit.report.title
    messages = []
    for i, piece in enumerate(pieces, start=1):
        head = header if i == 1 else f"📄 续 · {HTML.esc(clip(who, 20))} · ¶{hit.paragraph.no}"
        if total > 1:
            head += f"（{i}/{total}）"
        messages.append(f"{head}\n{HTML.quote(HTML.esc(piece))}")
    return messages


def paragraph_plain(hit: Hit) -> str:
    """The whole paragraph with its source, as plain text."""
    quoted = PLAIN.quote(hit.paragraph.text.strip())
    return "📄 " + source_line(PLAIN, hit, numbered=False) + "\n" + quoted


# --- report outline ("来源") ------------------------------------------------------------------


def _outline_header(style: _Style, report: Report) -> str:
    facts = [x for x in (report.agency, year_range(report.years)) if x]
    facts.append(f"共 {report.paragraphs} 段")
    source = report.source + (f"（第 {report.number} 篇）" if report.number > 1 else "")
    return "\n".join(
        [
            "📑 " + style.bold(style.esc(f"《{clip(report.title, 60)}》")),
            style.esc(" · ".join(facts)),
            style.esc(f"文件：{clip(source, 80)}"),
        ]
    )


def _outline_lines(style: _Style, report: Report, entries: Sequence[OutlineEntry]) -> list[str]:
    """Headings indented by depth; each with its paragraph count, and a badge where the
    kind of section changes (2023总结 -> 问题 -> 2024计划)."""
    lines: list[str] = []
    printed: tuple[str, ...] = ()
    last_kind: SectionKind | None = None
    for entry in entries:
        path = entry.section
        common = 0
        while common < min(len(path), len(printed)) and path[common] == printed[common]:
            common += 1
        for depth in range(common, max(len(path) - 1, common)):  # headings with no own text
            lines.append("　" * depth + style.esc(clip(path[depth], 40)))
        label = badge_label(entry.kind, report.years)
        tail = f" · {entry.paragraphs} 段"
        if entry.kind != last_kind and label:
            tail += " " + style.badge(label)
        name = clip(path[-1], 40) if path else "（正文开头）"
        lines.append("　" * max(len(path) - 1, 0) + style.esc(name) + tail)
        printed, last_kind = path, entry.kind
    return lines


def outline_pages(report: Report, entries: Sequence[OutlineEntry]) -> list[str]:
    """The report's outline as HTML pages (one per message), each with the report header."""
    header = _outline_header(HTML, report)
    lines = _outline_lines(HTML, report, entries) or ["（没有段落）"]
    pages: list[list[str]] = [[]]
    size = 0
    for line in lines:
        if pages[-1] and size + tg_len(line) + 1 > OUTLINE_PAGE_BUDGET:
            pages.append([])
            size = 0
        pages[-1].append(line)
        size += tg_len(line) + 1
    total = len(pages)
    out = []
    for i, page in enumerate(pages, start=1):
        counter = f"\n（目录 {i}/{total}）" if total > 1 else ""
        out.append(header + counter + "\n\n" + "\n".join(page))
    return out


def outline_keyboard(report_id: str, page: int, pages: int) -> InlineKeyboardMarkup | None:
    """‹ n/N › under an outline that spans several pages."""
    if pages <= 1:
        return None
    return _pager(page, pages, lambda p: callbacks.OutlinePage(report_id, p))


def outline_plain(report: Report, entries: Sequence[OutlineEntry]) -> str:
    return (
        _outline_header(PLAIN, report) + "\n\n" + "\n".join(_outline_lines(PLAIN, report, entries))
    )


def _pager(
    page: int, pages: int, action: Callable[[int], callbacks.Action]
) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([_pager_row(page, pages, action)])


def _pager_row(
    page: int, pages: int, action: Callable[[int], callbacks.Action]
) -> list[InlineKeyboardButton]:
    """‹ 上一页 · n/N · 下一页 ›"""

    def button(label: str, target: callbacks.Action) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=callbacks.encode(target))

    row = []
    if page > 0:
        row.append(button("‹ 上一页", action(page - 1)))
    row.append(button(f"{page + 1}/{pages}", callbacks.Noop()))
    if page < pages - 1:
        row.append(button("下一页 ›", action(page + 1)))
    return row


# --- /reports, /stats, /start, /help ----------------------------------------------------------


def reports_page(reports: Sequence[Report], page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the report list, with a button per report (its outline) and page turns."""
    if not reports:
        return "📚 资料库里还没有报告。", None
    pages = max(1, -(-len(reports) // REPORTS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    first = page * REPORTS_PER_PAGE
    shown = reports[first : first + REPORTS_PER_PAGE]
    head = f"📚 收录 {len(reports)} 份报告"
    if pages > 1:
        head += f"（第 {page + 1}/{pages} 页）"
    lines = [head, ""]
    for n, report in enumerate(shown, start=first + 1):
        lines.append(f"{n}. " + _report_line(HTML, report))
    lines += ["", "点编号查看该报告的目录。"]
    buttons = [
        InlineKeyboardButton(str(n), callback_data=callbacks.encode(callbacks.Source(r.id)))
        for n, r in enumerate(shown, start=first + 1)
    ]
    rows = [buttons[i : i + 4] for i in range(0, len(buttons), 4)]
    if pages > 1:
        rows.append(_pager_row(page, pages, callbacks.ReportsPage))
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _report_line(style: _Style, report: Report) -> str:
    parts = []
    if report.agency:
        parts.append(style.bold(style.esc(clip(report.agency, 20))))
    parts.append(style.esc(f"《{clip(report.title, 40)}》"))
    facts = [x for x in (year_range(report.years), f"{report.paragraphs} 段") if x]
    return " · ".join(parts) + style.esc("（" + "，".join(facts) + "）")


def reports_plain(reports: Sequence[Report]) -> str:
    if not reports:
        return "📚 资料库里还没有报告。"
    lines = [f"📚 收录 {len(reports)} 份报告", ""]
    lines += [f"{n}. " + _report_line(PLAIN, r) for n, r in enumerate(reports, start=1)]
    return "\n".join(lines)


def _when(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso or "未知"
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(DISPLAY_TZ).strftime("%Y-%m-%d %H:%M（北京时间）")


def stats_text(style: _Style, stats: IndexStats, answered: int) -> str:
    return "\n".join(
        [
            "📊 " + style.bold("资料库概况"),
            f"报告：{stats.reports} 份",
            f"段落：{stats.paragraphs} 段",
            style.esc(f"索引更新：{_when(stats.built_at)}"),
            f"本次启动以来回答了 {answered} 个问题",
        ]
    )


def stats_html(stats: IndexStats, answered: int) -> str:
    """/stats: what the index holds and when it was built."""
    return stats_text(HTML, stats, answered)


EXAMPLES = (
    "哪个单位计划开展家庭无障碍改造？",
    "2023年残疾人康复救助了多少人？",
    "文旅产业存在哪些问题？",
    "2024年养老服务有什么计划？",
)


def start_html(first_name: str = "") -> str:
    """/start: who the bot is and what to ask."""
    hello = f"👋 {HTML.esc(clip(first_name, 30))}，你好！" if first_name else "👋 你好！"
    return "\n".join(
        [
            hello + "我能在工作总结、工作计划和政府工作报告里帮你找原文。",
            "",
            "直接把问题发给我，例如：",
            *(f"• {HTML.esc(q)}" for q in EXAMPLES[:3]),
            "",
            "我会逐字引用最相关的段落，并注明出处：哪份报告、哪个章节、第几段，"
            "以及它是2023年总结、2024年计划还是存在的问题。",
            "",
            "/reports 收录的报告 · /help 使用说明",
        ]
    )


ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("reindex", "按报告文件夹更新索引（/reindex full 全部重建）"),
    ("remove", "删除一份报告所在的文件，例如 /remove 报告编号（不带编号：列出编号）"),
)


def help_html(bot_username: str, *, admin: bool = False) -> str:
    """/help: every way to ask, the buttons, and the commands (and an admin's own)."""
    at = f"@{bot_username}" if bot_username else "@机器人"
    admin_lines = [
        "",
        HTML.bold("管理员"),
        *(f"/{name} {HTML.esc(text)}" for name, text in ADMIN_COMMANDS),
        "私聊发送 .txt、.md、.docx 或 .pdf 文件：加入资料库并更新索引",
    ]
    return "\n".join(
        [
            "📖 " + HTML.bold("使用说明"),
            "",
            HTML.bold("提问"),
            "• 私聊：直接发送问题",
            "• 群里：" + HTML.esc(f"/ask 问题，或 {at} 问题，或回复我的消息"),
            "• 任意聊天：输入 " + HTML.esc(f"{at} 问题") + "，从弹出的结果里选一条发送",
            "",
            HTML.bold("例子"),
            *(f"• {HTML.esc(q)}" for q in EXAMPLES),
            "",
            HTML.bold("答案下的按钮"),
            "• 全文：整段原文",
            "• 来源：所在报告的目录",
            "• 更多结果：下一批相关段落",
            "",
            HTML.bold("标记"),
            f"{HTML.badge('2023总结')} 工作总结 · {HTML.badge('2024计划')} 工作计划 · "
            f"{HTML.badge('问题')} 存在的问题",
            "",
            HTML.bold("命令"),
            *(f"/{name} {HTML.esc(text)}" for name, text in COMMANDS),
            *(admin_lines if admin else []),
            "",
            "提示：关键词越具体越好；问题里的单位名（如“民政局”）也会参与匹配。",
        ]
    )


# --- inline mode ----------------------------------------------------------------------------


def inline_title(hit: Hit) -> str:
    """agency · report, plain text."""
    r = hit.report
    return clip(f"{r.agency} · {r.title}" if r.agency else r.title, 64)


def inline_description(hit: Hit, terms: Sequence[str]) -> str:
    """Badge, section and a short excerpt, plain text without marks."""
    text = hit.paragraph.text.strip()
    spans = spans_for(text, terms)
    window = choose_window(text, spans, INLINE_DESCRIPTION_WIDTH)
    label = badge_label(hit.paragraph.kind, hit.report.years)
    prefix = f"[{label}] " if label else ""
    return prefix + clip(format_excerpt(_Unmarked(), text, spans, window), 120)


class _Unmarked(_Style):
    def mark(self, raw: str) -> str:
        return raw


def inline_message(result: SearchResult, hit: Hit) -> str:
    """The message an inline result sends: the question and that one cited excerpt."""
    for width in ANSWER_WIDTHS:
        text = (
            _question_line(HTML, result.question)
            + "\n\n"
            + hit_block(HTML, hit, result.terms, width)
        )
        if tg_len(text) <= MAX_MESSAGE:
            return text
    return text
