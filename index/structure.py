"""From cleaned lines to reports: compilation split, headings, section paths and kinds, metadata.

A compilation is split at the lines that repeat its table of contents' titles, in order. Within
a report, heading lines (一、 （一） 1. （1） ① 第一章 一是 #) are structure: they form the section
path of the body paragraphs below them, nested by heading type. A body line that opens with a
numbered lead sentence ("（一）文化事业服务效能稳步提升。一是…") stays a paragraph, and its
lead sentence is also its innermost section label.
"""

from __future__ import annotations

import bisect
import difflib
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from index.clean import Cleaned, normalize_title
from index.models import ParsedParagraph, ParsedReport, SectionKind

# --- headings ---------------------------------------------------------------------------------

_CN_DIGITS = "一二三四五六七八九十"
_ORDINAL = r"[一二三四五六七八九十百零〇\d]{1,4}"
# (type, conventional depth, pattern); a document may skip levels or reorder them.
_MARKERS: tuple[tuple[str, int, re.Pattern[str]], ...] = (
    ("part", 100, re.compile(rf"第{_ORDINAL}(?:部分|编|篇)\s*")),
    ("chapter", 110, re.compile(rf"第{_ORDINAL}章\s*")),
    ("section", 120, re.compile(rf"第{_ORDINAL}节\s*")),
    ("cn", 200, re.compile(rf"[{_CN_DIGITS}]{{1,3}}[、．.]\s*")),
    ("cn_paren", 210, re.compile(rf"[（(][{_CN_DIGITS}]{{1,3}}[）)]\s*")),
    ("num", 220, re.compile(r"\d{1,2}[、．.](?!\d)\s*")),
    ("num_paren", 230, re.compile(r"[（(]\d{1,2}[）)]\s*")),
    ("circled", 240, re.compile(r"[①-⑳]\s*")),
    ("lead", 250, re.compile(rf"[{_CN_DIGITS}]{{1,3}}是")),
)
_MARKDOWN = re.compile(r"(#{1,6})\s+")
_ARTICLE = re.compile(rf"第{_ORDINAL}条")  # a statute's article: body text, not a heading
# Unnumbered headings: "2024年工作谋划:" nests under the numbered heading open above it (its
# depth is set when it opens); 名词解释, 结束语, 附件 close the body and stand at the top.
_PLAIN = ("plain", 150)
_CLOSING = ("closing", 90)
_TERMINATORS = "。！？!?；;：:"
_NO_HEADING_END = ("；", ";", "，", ",", "、")
_HEADING_MAX = 60  # characters of a heading line, marker included
_LABEL_MAX = 50  # characters of a lead sentence used as a section label
_LEAD_HEADING_MAX = 30  # a 一是… line alone is a heading only when this short
_PLAIN_HEADING_MAX = 30
_SENTENCE = re.compile(r"[。！？!?；;，,]")

# --- section kinds ----------------------------------------------------------------------------

_PROBLEM = re.compile(
    r"存在的?(?:主要|突出)?(?:问题|不足|困难|短板)|(?:问题|不足|困难|短板|差距)[和与及、](?:问题|不足|"
    r"困难|短板|差距|挑战|建议)|制约.{0,20}(?:问题|因素|瓶颈)|影响.{0,12}问题|面临的?(?:主要)?(?:困难|"
    r"问题|挑战)|^(?:主要|突出|存在)?问题$|不足之处|薄弱环节|短板弱项"
)
# Strong words say what a section is wherever they stand; weak ones (完成情况, 计划, 安排 ...)
# also name topics ("推进…落实情况跟踪审计"), so they count only when no outer heading signals.
_SUMMARY_STRONG = re.compile(
    r"回顾|工作总结|过去(?:的)?[一两三四五几]年|去年|[一两三四五几]年来|取得的?成[效绩就]"
)
_SUMMARY = re.compile(
    r"总结|回顾|成效|成绩|成就|完成情况|开展情况|进展情况|推进情况|落实情况|执行情况|工作情况|主要做法|"
    r"经验做法|取得|亮点|过去(?:的)?[一两三四五几]年|去年|[一两三四五几]年来|已完成|基本情况"
)
_PLAN_STRONG = re.compile(
    r"下一步|明年|今后|来年|新的一年|展望|工作计划|工作打算|工作安排|工作谋划|工作思路|工作要点"
)
_PLAN = re.compile(
    r"计划|打算|谋划|思路|下一步|明年|今后|来年|新的一年|展望|目标任务|工作任务|主要任务|重点任务|"
    r"工作要点|工作重点|努力方向|预期目标|今年|工作安排|重点安排|具体安排|安排部署|任务"
)
_STRUCTURAL = re.compile(r"名词解释|附件|附表|前言|结束语|结语|概况")
_GENRE = re.compile(
    r"报告|总结|计划|规划|要点|方案|意见|通知|办法|条例|规定|决定|细则|汇编|讲话|致辞|纲要|公报|白皮书|"
    r"章程|述职|汇报|工作|[^办]法$|法[（(]"
)
_INTRO = re.compile(r"如下[：:。]?$")  # "现将…情况汇报如下：" announces the section that follows

# --- metadata ---------------------------------------------------------------------------------

_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
_SPACED_DIGITS = re.compile(r"(?<=\d) (?=\d)")
_CN_YEAR = re.compile(r"([〇零一二三四五六七八九]{4})\s*年")
_CN_YEAR_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_FULL_DATE = re.compile(r"\d{1,4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日")
_TEXT_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)\s*年")
_DATE_LINE = re.compile(
    r"^(?:\d{4}|[〇零一二三四五六七八九]{4})\s*年\s*[\d一二三四五六七八九十]{1,3}\s*月"
    r"(?:\s*[\d一二三四五六七八九十]{1,3}\s*日)?$"
)
_ORGANS = (
    r"人民政府|政府|国务院|委员会|管委会|办事处|办公室|残联|妇联|团委|工会|科协|文联|侨联|工商联|常委会|"
    r"政协|法院|检察院|中心|公司|集团|局|委|办|厅|署|院|部|队|所|站|街道"
)
_LEVELS = "省市县区旗州盟乡镇"
_ORG_END = re.compile(rf"(?:{_ORGANS}|[{_LEVELS}])$")
_TITLE_GENRE = re.compile(r"(人民政府|政府)?工作(?:报告|总结|计划|要点|情况|思路)|总结|计划|报告")
_REDACTED = re.compile(r"[XxＸｘ×*＊某]")
_STOP_CHARS = "年在全我本各该的和与及对为是了由将向从以于经等之其此并至到月日号个"
_NOT_AFTER = {  # 文化市场 and 城区域 name no place
    "市": "场民政容值面级直属长",
    "区": "域间块位别分",
    "县": "域级",
    "乡": "村镇土亲贤愁情风里",
}
# Two-character words ending in a level character that are not place names (城乡, 社区, 超市 ...).
_NOT_PLACE_WORDS = (
    "城乡城市城区社区景区园区片区辖区山区库区城镇乡镇村镇集镇小区街区地区灾区矿区牧区老区校区"
    "厂区营区湾区验区范区发区护区能区业区都市超市夜市上市集市门市股市楼市省市县市区县市县县乡"
    "下乡返乡回乡家乡故乡同乡老乡水乡重镇名镇强镇小镇古镇大县强县点县"
)
_NOT_PLACE = frozenset(_NOT_PLACE_WORDS[i : i + 2] for i in range(0, len(_NOT_PLACE_WORDS), 2))
# Domain words -> the bureau's name part; the first three combine as 文化旅游体育局.
_DOMAINS: tuple[tuple[str, str], ...] = (
    ("文化", "文化"),
    ("旅游", "旅游"),
    ("体育", "体育"),
    ("民政", "民政"),
    ("审计", "审计"),
    ("统计", "统计"),
    ("商务", "商务"),
    ("应急", "应急管理"),
    ("水利", "水利"),
    ("教育", "教育"),
    ("卫生", "卫生健康"),
    ("财政", "财政"),
    ("公安", "公安"),
    ("交通", "交通运输"),
    ("农业", "农业农村"),
    ("林业", "林业"),
    ("自然资源", "自然资源"),
    ("生态环境", "生态环境"),
    ("住建", "住房和城乡建设"),
    ("人社", "人力资源和社会保障"),
    ("市场监管", "市场监督管理"),
    ("医保", "医疗保障"),
    ("退役军人", "退役军人事务"),
    ("司法", "司法"),
    ("税务", "税务"),
)
_COMBINABLE = ("文化", "旅游", "体育")
_AGENCY_SCAN = 200_000  # characters of a report looked at for its agency


@dataclass(frozen=True)
class Heading:
    """One entry of a section path."""

    type: str  # marker type: cn (一、), cn_paren (（一）), num (1.), md2 (##), plain, ...
    rank: int  # conventional depth of the type; smaller is outer
    label: str  # shown in the section path
    words: str  # what may signal the section's kind: the label without its numbering
    inline: bool = False  # the lead sentence of a body paragraph, not a heading line


@dataclass(frozen=True)
class Line:
    """A classified report line: a heading, or a body paragraph (maybe with a lead label)."""

    text: str
    heading: Heading | None = None  # set: the line is a heading, not a paragraph
    label: Heading | None = None  # body line opening with a numbered lead sentence
    marker: tuple[str, int] | None = None  # (type, rank) of a body line's numbering


@dataclass(frozen=True)
class Chunk:
    """The lines of one report inside a file."""

    title: str | None  # None: find it in the lines
    lines: tuple[str, ...]


# --- public API -------------------------------------------------------------------------------


def parse_reports(cleaned: Cleaned, *, stem: str, source: str) -> list[ParsedReport]:
    """The reports in a file's cleaned lines; reports without body paragraphs are left out."""
    reports = []
    for number, chunk in enumerate(split_reports(cleaned, stem=stem), 1):
        report = parse_report(chunk, stem=stem, source=source, number=number)
        if report.paragraphs:
            reports.append(report)
    return reports


def split_reports(cleaned: Cleaned, *, stem: str = "") -> list[Chunk]:
    """A compilation's reports, found at the lines that repeat its TOC titles, in TOC order.

    Without a usable table of contents the whole file is one report. Body text before the first
    report (an editor's preface) becomes a report of its own, titled like the compilation.
    """
    lines = cleaned.lines
    toc = cleaned.toc
    if toc is None:
        return [Chunk(None, lines)]
    front = lines[: toc.at]
    front_titles = {normalize_title(line) for line in front}
    titles = [
        t
        for t in toc.titles
        if normalize_title(t) and normalize_title(t) not in front_titles and not _marker(t)
    ]
    report_like = sum(1 for t in titles if _GENRE.search(t) or years_in(t))
    starts = _find_titles(titles, lines, toc.at) if report_like * 2 >= len(titles) else []
    if len(starts) < 2:
        return [Chunk(None, lines)]
    chunks = []
    preface = [line for line in front if not is_title_like(line)]
    preface += lines[toc.at : starts[0]]
    if preface:
        compilation = next((line for line in front if is_title_like(line)), stem)
        chunks.append(Chunk(compilation, tuple(preface)))
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        chunks.append(Chunk(_strip_markdown_heading(lines[start]), lines[start + 1 : end]))
    return chunks


def parse_report(chunk: Chunk, *, stem: str, source: str, number: int) -> ParsedReport:
    """One report's metadata and body paragraphs (headings folded into section paths)."""
    lines = list(chunk.lines)
    if chunk.title is None:
        title, used = find_title(lines, stem)
        lines = lines[used:]
    else:
        title = chunk.title
    lines, signature = _drop_signature(lines)
    classified = classify(lines)
    years = report_years(title, classified)
    paragraphs = build_paragraphs(classified, plan_year=_plan_year(title, years), title=title)
    text = "\n".join(lines)
    return ParsedReport(
        title=title,
        agency=report_agency(title, text, signature),
        years=years,
        source=source,
        number=number,
        paragraphs=paragraphs,
    )


def find_title(lines: Sequence[str], stem: str) -> tuple[str, int]:
    """The report's title and how many leading lines it used up.

    The first short title-like line among the first three (before body text starts), else the
    file name stem; the stem wins when it says more (政府工作报告 in 2024年…政府工作报告.txt).
    """
    for i, line in enumerate(lines[:3]):
        text = _strip_markdown_heading(line)
        if is_title_like(text):
            if _says_more(stem, text):
                return stem, i + 1
            return text, i + 1
        if len(line) > 40 or _SENTENCE.search(line) or _marker(line):
            break  # body text or the first heading: no title line
    return stem, 0


def is_title_like(line: str) -> bool:
    """A short line naming a kind of document (…工作总结, …报告, …条例), not a sentence."""
    text = _strip_markdown_heading(line)
    if len(text) > _HEADING_MAX or _SENTENCE.search(text) or _FULL_DATE.search(text):
        return False
    if text != line and line.startswith("# "):
        return True
    return _marker(text) is None and _GENRE.search(text) is not None


def classify(lines: Sequence[str]) -> list[Line]:
    """Tell heading lines from body lines.

    A numbered short line next to another short line numbered alike is a list item, not a
    heading: "（六）…；（七）…。" in a statute's article.
    """
    classified = [_classify_line(line) for line in lines]
    listish = [_list_like(line) for line in classified]
    for i, line in enumerate(classified):
        heading = line.heading
        if heading is None or heading.type in ("plain", "closing") or heading.type[:2] == "md":
            continue
        for j in (i - 1, i + 1):
            if 0 <= j < len(classified) and listish[j] and _type_of(classified[j]) == heading.type:
                classified[i] = Line(line.text, marker=(heading.type, heading.rank))
                break
    return classified


def build_paragraphs(
    lines: Sequence[Line], *, plan_year: int | None, title: str = ""
) -> tuple[ParsedParagraph, ...]:
    """Body paragraphs with their section paths and kinds.

    A paragraph's kind is its innermost section's signal when strong, or when no outer section
    signals anything; else the outer one's. Without any signal: what the opening sentence
    announces ("现将…开展情况汇报如下：") until the first signalling heading, else the title's
    kind when it names only one (…工作总结), else "other". A top-level section without a
    signal that follows a plan section continues the plan (a 政府工作报告's task chapters).
    A heading line closed before any paragraph came under it was no heading: it is a paragraph.
    """
    outline = _Outline(plan_year, _title_kind(title))
    for line in lines:
        if line.heading is not None:
            outline.open_section(line.heading, line.text)
        else:
            outline.add_body(line)
    return outline.finish()


def section_kind(text: str, plan_year: int | None = None) -> SectionKind | None:
    """The kind a heading's words signal: problem, summary or plan; None when they do not.

    When the report's plan year is known, a heading naming that year (or a later one) is a plan
    and one naming only earlier years a summary.
    """
    return _signal(text, plan_year)[0]


def _signal(text: str, plan_year: int | None) -> tuple[SectionKind | None, bool]:
    """(kind, strong): see `section_kind`; weak signals yield to an outer heading's."""
    if _PROBLEM.search(text):
        return "problem", True
    years = years_in(text)
    if plan_year is not None and years:
        if min(years) >= plan_year:
            return "plan", True
        if max(years) < plan_year:
            return "summary", True
    for summary_words, plan_words, strong in (
        (_SUMMARY_STRONG, _PLAN_STRONG, True),
        (_SUMMARY, _PLAN, False),
    ):
        summary, plan = summary_words.search(text), plan_words.search(text)
        if summary and not plan:
            return "summary", strong
        if plan and not summary:
            return "plan", strong
    return None, False


def years_in(text: str) -> tuple[int, ...]:
    """Years named in `text` (2023, ２０２３, 二〇二三年), in order of appearance, no repeats."""
    text = _SPACED_DIGITS.sub("", unicodedata.normalize("NFKC", text))  # 1 9 9 8 年
    found = [int(y) for y in _YEAR.findall(text)]
    found += [int(y.translate(_CN_YEAR_DIGITS)) for y in _CN_YEAR.findall(text)]
    return tuple(dict.fromkeys(found))


def report_years(title: str, lines: Sequence[Line] = ()) -> tuple[int, ...]:
    """Years the report is about: from its title, else its headings, else the most named year."""
    years = years_in(title)
    if not years:
        years = tuple(y for line in lines if line.heading for y in years_in(line.heading.label))
    if not years:
        text = unicodedata.normalize("NFKC", "\n".join(line.text for line in lines[:200]))
        counts = Counter(_TEXT_YEAR.findall(text))
        years = (int(counts.most_common(1)[0][0]),) if counts else ()
    return tuple(sorted(set(years)))


def report_agency(title: str, text: str, signature: str = "") -> str:
    """Best-effort agency: the one the title names, qualified by the place the text names.

    区残联 -> 埇桥区残联 when the text says 埇桥区残联; a title without an agency takes it from
    the text ("我局" + the place and the domain named most often); "" when unknown.
    """
    text = text[:_AGENCY_SCAN]
    agency = title_agency(title)
    if not agency and signature and not _REDACTED.search(signature):
        agency = signature
    if agency and agency[0] in _LEVELS:
        return _qualify(agency, text)
    return agency or _agency_from_text(text)


def title_agency(title: str) -> str:
    """The agency a title names: 区残联 (区残联2023年…), 北京市政府 (2026年北京市政府工作报告)."""
    year = _YEAR.search(title)
    before = title[: year.start()] if year else ""
    before = before.strip(" \t　:：-—_()（）《》").removeprefix("关于")
    after = re.sub(r"^\s*年?度?", "", title[year.end() :] if year else title)
    genre = _TITLE_GENRE.search(after)
    if before:  # 区残联2023年工作总结, 博野县2024年政府工作报告
        if genre and genre.start() == 0 and genre.group(1):
            return before + genre.group(1)
        return before if _ORG_END.search(before) else ""
    if genre is None or genre.start() == 0:
        return ""
    agency = after[: genre.start()].strip().removeprefix("中华人民共和国")
    if genre.group(1) and not agency.endswith(("国务院", "政府")):
        agency += genre.group(1)  # 2026年北京市政府工作报告
    return agency if _ORG_END.search(agency) else ""


# --- helpers: titles and splitting ------------------------------------------------------------


def _find_titles(titles: Sequence[str], lines: Sequence[str], after: int) -> list[int]:
    """Line indexes where the titles start, increasing; titles not found are left out."""
    positions: dict[str, list[int]] = {}
    for i in range(after, len(lines)):
        if len(lines[i]) <= 200:
            positions.setdefault(normalize_title(_strip_markdown_heading(lines[i])), []).append(i)
    found: list[int | None] = []
    last = after - 1
    for title in titles:  # exact (normalised) matches, in order
        candidates = positions.get(normalize_title(title), [])
        k = bisect.bisect_right(candidates, last)
        found.append(candidates[k] if k < len(candidates) else None)
        last = found[-1] if found[-1] is not None else last
    for n, title in enumerate(titles):  # near matches between the neighbours found
        if found[n] is None:
            low = max((f for f in found[:n] if f is not None), default=after - 1)
            high = min((f for f in found[n + 1 :] if f is not None), default=len(lines))
            found[n] = _near_title(title, lines, low + 1, high)
    return [f for f in found if f is not None]


def _near_title(title: str, lines: Sequence[str], start: int, end: int) -> int | None:
    """The first line in [start, end) nearly equal to `title` (typos, extra words)."""
    want = normalize_title(title)
    for i in range(start, end):
        if not 0.75 * len(title) <= len(lines[i]) <= 1.4 * len(title) + 4:
            continue
        have = normalize_title(lines[i])
        matcher = difflib.SequenceMatcher(None, want, have, autojunk=False)
        if matcher.quick_ratio() >= 0.85 and matcher.ratio() >= 0.85:
            return i
    return None


def _says_more(stem: str, title: str) -> bool:
    short, long = normalize_title(title), normalize_title(stem)
    return bool(short) and short in long and len(long) > len(short)


def _strip_markdown_heading(line: str) -> str:
    match = _MARKDOWN.match(line)
    return line[match.end() :].rstrip("# \t") if match else line


def _drop_signature(lines: list[str]) -> tuple[list[str], str]:
    """Lines without a closing signature block (agency line + date line), and the agency."""
    if not lines or not _DATE_LINE.match(lines[-1]):
        return lines, ""
    lines = lines[:-1]
    last = lines[-1] if lines else ""
    if len(last) <= 30 and not _SENTENCE.search(last) and _ORG_END.search(last):
        return lines[:-1], last
    return lines, ""


# --- helpers: headings ------------------------------------------------------------------------


def heading_marker(line: str) -> str | None:
    """The numbering a line starts with (一、 （一） 1. （1） ① 第一章 一是 ##), if any."""
    found = _marker(line)
    return line[: found[2]].strip() if found else None


def _marker(line: str) -> tuple[str, int, int] | None:
    """(type, rank, end) of the numbering a line starts with."""
    match = _MARKDOWN.match(line)
    if match:
        return f"md{len(match.group(1))}", len(match.group(1)), match.end()
    for type_, rank, pattern in _MARKERS:
        match = pattern.match(line)
        if match:
            return type_, rank, match.end()
    return None


def _classify_line(text: str) -> Line:
    found = _marker(text)
    if found is None:
        if _is_plain_heading(text):
            kind = _CLOSING if _STRUCTURAL.search(text) else _PLAIN
            return Line(text, heading=Heading(*kind, _label(text), text))
        return Line(text)
    type_, rank, end = found
    rest = text[end:].strip()
    if type_.startswith("md"):
        words = rest.rstrip("# \t")
        return Line(text, heading=Heading(type_, rank, words, words)) if words else Line(text)
    lead, tail = _split_lead(rest)
    marker_text = text[:end].strip()
    if lead and not tail and _heading_shaped(text, type_):
        return Line(text, heading=Heading(type_, rank, _label(text), lead))
    if lead and tail and len(lead) <= _LABEL_MAX:
        # A lead sentence is body text: it labels the paragraph but signals no kind.
        lead_label = Heading(type_, rank, _label(f"{marker_text}{lead}"), "", inline=True)
        return Line(text, label=lead_label, marker=(type_, rank))
    return Line(text, marker=(type_, rank))


def _split_lead(rest: str) -> tuple[str, str]:
    """(lead sentence, the text after it); lead is "" when the first sentence is long prose."""
    for i, ch in enumerate(rest[: _HEADING_MAX + 1]):
        if ch in _TERMINATORS:
            return rest[:i].strip(), rest[i + 1 :].strip()
    return (rest, "") if len(rest) <= _HEADING_MAX else ("", rest)


def _heading_shaped(text: str, type_: str) -> bool:
    if len(text) > _HEADING_MAX or text.endswith(_NO_HEADING_END):
        return False
    return type_ != "lead" or len(text) <= _LEAD_HEADING_MAX


def _is_plain_heading(text: str) -> bool:
    """An unnumbered short heading such as "2024年工作谋划:" or "存在的问题"."""
    if len(text) > _PLAIN_HEADING_MAX or _SENTENCE.search(text) or text.endswith("。"):
        return False
    if _ARTICLE.match(text) or _FULL_DATE.search(text):
        return False
    return any(p.search(text) for p in (_PROBLEM, _SUMMARY, _PLAN, _STRUCTURAL))


def _label(text: str) -> str:
    return " ".join(text.split()).rstrip("。：:；;")


def _list_like(line: Line) -> bool:
    """A heading candidate, or a short numbered line with no lead sentence of its own."""
    if line.heading is not None:
        return True
    return line.marker is not None and line.label is None and len(line.text) <= 150


def _type_of(line: Line) -> str | None:
    if line.heading is not None:
        return line.heading.type
    return line.marker[0] if line.marker else None


@dataclass
class _Section:
    heading: Heading
    text: str  # the heading's line, kept in case it turns out to be body text
    used: bool = False  # a paragraph came under it


class _Outline:
    """The sections open at the current line while a report is read from top to bottom."""

    def __init__(self, plan_year: int | None, title_kind: SectionKind | None) -> None:
        self.plan_year = plan_year
        self.title_kind = title_kind
        self.default = title_kind
        self.open: list[_Section] = []
        self.signals: dict[Heading, tuple[SectionKind | None, bool]] = {}
        self.previous_top: tuple[SectionKind | None, bool] = (None, False)
        self.paragraphs: list[ParsedParagraph] = []

    def open_section(self, heading: Heading, text: str) -> None:
        if heading.type == "plain":  # nests under the innermost numbered heading
            keep = len(self.open)
            while keep and self.open[keep - 1].heading.type in ("plain", "lead"):
                keep -= 1
            while keep and self.open[keep - 1].heading.inline:
                keep -= 1
            self._close_from(keep)
            if self.open and self.open[-1].heading.type[:2] != "md":
                heading = replace(heading, rank=self.open[-1].heading.rank + 5)
        self.close(heading.type, heading.rank)
        self.open.append(_Section(heading, text))
        found = self.signal(heading)
        if found[0] is not None:
            self.default = self.title_kind
        if len(self.open) == 1:  # a new top-level section
            continues_plan = self.previous_top == ("plan", True) and heading.type != "closing"
            if found[0] is None and continues_plan:
                self.signals[heading] = found = ("plan", True)
            self.previous_top = found

    def add_body(self, line: Line) -> None:
        if line.marker is not None:
            self.close(*line.marker)
        if line.label is not None:
            self.open_section(line.label, line.text)
        self._add(line.text)
        if not self.open and _INTRO.search(line.text):
            self.default = _signal(line.text, self.plan_year)[0] or self.default

    def finish(self) -> tuple[ParsedParagraph, ...]:
        self._close_from(0)
        return tuple(self.paragraphs)

    def close(self, type_: str, rank: int) -> None:
        """Close the sections a heading of this type ends: its sibling and everything deeper."""
        if type_ not in ("plain", "closing"):
            for i, section in enumerate(self.open):
                if section.heading.type == type_:
                    self._close_from(i)
                    return
        markdown = type_[:2] == "md"
        keep = len(self.open)
        while keep:
            top = self.open[keep - 1].heading
            top_markdown = top.type[:2] == "md"
            if top_markdown and (not markdown or top.rank < rank):
                break
            if not top_markdown and not markdown and top.rank <= rank:
                break
            keep -= 1
        self._close_from(keep)

    def signal(self, heading: Heading) -> tuple[SectionKind | None, bool]:
        if heading not in self.signals:
            self.signals[heading] = _signal(heading.words, self.plan_year)
        return self.signals[heading]

    def kind(self) -> SectionKind:
        found = [self.signal(s.heading) for s in self.open if self.signal(s.heading)[0]]
        for n in range(len(found) - 1, -1, -1):
            if found[n][1] or n == 0:
                return found[n][0] or "other"
        return self.default or "other"

    def _close_from(self, keep: int) -> None:
        """Close the sections from index `keep` on; heading lines nothing came under (sections
        opened after the last paragraph) become paragraphs, in document order."""
        closed = self.open[keep:]
        del self.open[keep:]
        for section in closed:
            if not section.used and not section.heading.inline:
                self._add(section.text)

    def _add(self, text: str) -> None:
        section = tuple(s.heading.label for s in self.open)
        number = len(self.paragraphs) + 1
        self.paragraphs.append(ParsedParagraph(number, text, section, self.kind()))
        for open_section in self.open:
            open_section.used = True


def _title_kind(title: str) -> SectionKind | None:
    """The kind a title names unambiguously: …工作总结 (summary), …工作要点 (plan)."""
    summary, plan = _SUMMARY_STRONG.search(title), _PLAN_STRONG.search(title)
    if bool(summary) == bool(plan):
        return None
    return "summary" if summary else "plan"


def _plan_year(title: str, years: tuple[int, ...]) -> int | None:
    """The year whose work is planned: the later of two, or the one a plan-like title names."""
    if len(years) >= 2:
        return max(years)
    if not years:
        return None
    if _PLAN.search(title) or "政府工作报告" in title:
        return years[0]
    if _SUMMARY.search(title):
        return years[0] + 1
    return None


# --- helpers: agency --------------------------------------------------------------------------


def _qualify(agency: str, text: str) -> str:
    """区残联 -> 埇桥区残联 when the text names the place; 市 + 水利 -> 市水利局."""
    level, rest = agency[0], agency[1:]
    if rest:
        named = _place_names(text, agency)
        if named:
            return named.most_common(1)[0][0] + agency
    place = _dominant(_place_names(text, level))
    if rest:
        return place + agency if place else agency
    qualified = place + level
    if level in "乡镇":
        return qualified
    domain = _domain(text)
    return f"{qualified}{domain}局" if domain else qualified


def _agency_from_text(text: str) -> str:
    """From the text: 我局 + the place and the domain named most often (无为市文化旅游体育局)."""
    organs = Counter(re.findall(r"我(局|委|办|院|中心|厅|乡|镇|街道)", text))
    if not organs:
        return ""
    organ = organs.most_common(1)[0][0]
    if organ in ("乡", "镇", "街道"):
        place = _dominant(_place_names(text, organ))
        return place + organ if place else ""
    domain = _domain(text)
    if not domain:
        return ""
    places = []
    for level in "市县区":
        names = _place_names(text, level)
        if name := _dominant(names):
            places.append((names[name], name + level))
    place = max(places)[1] if places else ""
    return f"{place}{domain}{organ}"


def _place_names(text: str, suffix: str) -> Counter[str]:
    """Place names written right before `suffix`: 埇桥 before 区残联, 无为 before 市."""
    level = suffix[0]
    pattern = re.compile(rf"([\u4e00-\u9fff]{{1,5}}){re.escape(suffix)}")
    runs = []
    for match in pattern.finditer(text):
        if len(suffix) == 1 and text[match.end() : match.end() + 1] in _NOT_AFTER.get(level, ""):
            continue
        run = match.group(1)
        cut = max(run.rfind(c) for c in _LEVELS)  # 宿州市埇桥 -> 埇桥: keep the innermost place
        run = run[cut + 1 :].lstrip(_STOP_CHARS)
        if len(run) >= 2 and not _REDACTED.search(run):
            runs.append(run)
    suffixes = Counter(run[-k:] for run in runs for k in range(2, len(run) + 1))
    names: Counter[str] = Counter()
    for run in runs:  # the longest ending as frequent as its two last characters
        endings = [run[-k:] for k in range(2, len(run) + 1)]
        name = [e for e in endings if suffixes[e] == suffixes[endings[0]]][-1]
        if name[-1] + level not in _NOT_PLACE:
            names[name] += 1
    return names


def _dominant(names: Counter[str]) -> str:
    """The most named place when named at least twice and twice as often as the next one."""
    ranked = names.most_common(2)
    if not ranked or ranked[0][1] < 2:
        return ""
    if len(ranked) > 1 and ranked[0][1] < 2 * ranked[1][1]:
        return ""
    return ranked[0][0]


def _domain(text: str) -> str:
    """The field the text is about (水利, 文化旅游体育 ...), when one clearly dominates."""
    counts = {name: text.count(word) for word, name in _DOMAINS}
    ranked = sorted(counts.values(), reverse=True)
    top = ranked[0]
    if top < 5:
        return ""
    leaders = {name for name, n in counts.items() if n >= 0.4 * top}
    if leaders <= set(_COMBINABLE):  # 文化 + 旅游 (+ 体育): one combined bureau
        return "".join(name for name in _COMBINABLE if counts[name] >= 0.25 * top)
    if top < 2 * ranked[1]:
        return ""
    return max(counts, key=lambda name: counts[name])
