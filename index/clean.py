"""Remove what is not report text: markers, adverts, tables of contents, page numbers, blanks.

The table of contents is not thrown away unread: its titles are what `structure` uses to split
a compilation into reports.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# ##paidbegin## / ##paidend## and the like, also in the middle of a paragraph.
MARKER = re.compile(r"##\w{1,40}##")
PAGE_NUMBER = re.compile(
    r"^[-–—－_·•\s]*(?:\d{1,4}|[ivx]{1,5}|第\s*[\d一二三四五六七八九十百]{1,4}\s*页(?:\s*[,，/／]?\s*共\s*\d{1,4}\s*页)?"
    r"|共\s*\d{1,4}\s*页\s*[,，]?\s*第\s*\d{1,4}\s*页|\d{1,4}\s*[/／]\s*\d{1,4}"
    r"|page\s*\d{1,4}(?:\s*of\s*\d{1,4})?)[-–—－_·•\s]*$",
    re.IGNORECASE,
)
TOC_HEADERS = frozenset({"目录", "目次", "contents", "tableofcontents"})
# "title<TAB>12", "title……12", "title....12"; inside a TOC block also "title 12".
TOC_ENTRY = re.compile(r"^(?P<title>.*?[^\s.…·．\-_—])(?:\t+|\s*[.…·．\-_—]{3,})\s*\d{1,4}$")
TOC_ENTRY_LOOSE = re.compile(r"^(?P<title>.*?[^\s.…·．\-_—])(?:\s+|\s*[.…·．\-_—]{2,})\s*\d{1,4}$")
_TOC_ENTRY_MAX = 120
_SENTENCE_PUNCTUATION = re.compile(r"[。！？!?；;，,]")

# Promotion vocabulary. Strong: words report text practically never uses. Weak: channels and
# calls to action that a report may name now and then (公众号, 下载, 关注 ...).
_STRONG = re.compile(
    r"素材库|素材|代笔|代写|客服|谨防假冒|认准|唯一平台|接单|好评如潮|svip|vip|范文|文库|有意加入|"
    r"欢迎加入|小伙伴|写作群|材料群|会员群|网盘群|每天更新|每日更新|更新材料|持续更新|关注公众号|"
    r"回复关键词|免费领取|领取资料|资料包|全套资料|下载全部|点击链接|长按识别|获取更多",
    re.IGNORECASE,
)
_WEAK = re.compile(
    r"公众号|网盘|微信|扫码|扫一扫|二维码|关注|下载|一键|会员|原创|付费|联系方式|请联系|qq|vx|链接|"
    r"转发|收藏|点赞|私信|领取",
    re.IGNORECASE,
)
_ADVERT_MAX = 500


@dataclass(frozen=True)
class Toc:
    """A table of contents: its entries' titles (page numbers removed) and where it stood."""

    titles: tuple[str, ...]
    at: int  # index in the cleaned lines where the block was (lines before it: front matter)


@dataclass(frozen=True)
class Cleaned:
    """Report text lines (stripped, non-empty) and the first table of contents found."""

    lines: tuple[str, ...]
    toc: Toc | None


def clean_lines(lines: Sequence[str]) -> Cleaned:
    """Remove markers, adverts, page numbers, empty lines and table-of-contents blocks."""
    kept = []
    for raw in lines:
        line = strip_markers(raw).strip()
        if line and not is_page_number(line) and not is_advert(line):
            kept.append(line)
    blocks = find_toc_blocks(kept)
    toc = None
    if blocks and blocks[0][2]:
        toc = Toc(titles=blocks[0][2], at=blocks[0][0])
    for start, end, _ in reversed(blocks):
        del kept[start:end]
    return Cleaned(lines=tuple(kept), toc=toc)


def strip_markers(line: str) -> str:
    """The line without `##word##` markers."""
    return MARKER.sub("", line) if "##" in line else line


def is_page_number(line: str) -> bool:
    """A bare page number: `12`, `- 12 -`, `第3页`, `3/10`, `Page 3 of 10`."""
    return len(line) <= 30 and PAGE_NUMBER.match(line) is not None


def is_advert(line: str) -> bool:
    """A line dominated by promotion vocabulary (素材库, 会员, 客服, 公众号, 扫码, 代笔 ...)."""
    if len(line) > _ADVERT_MAX:
        return False
    strong = len(set(_STRONG.findall(line.lower())))
    weak = len(set(_WEAK.findall(line.lower())))
    return strong >= 2 or (strong >= 1 and weak >= 2)


def normalize_title(text: str) -> str:
    """A title for comparison: width-folded, lower-case, without whitespace and punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if ch.isalnum())


def find_toc_blocks(lines: Sequence[str]) -> list[tuple[int, int, tuple[str, ...]]]:
    """Table-of-contents blocks as (start, end, entry titles): a 目录 line and its entries, or a
    run of three or more `title<TAB>page` lines. Entries naming the TOC itself are left out."""
    blocks: list[tuple[int, int, tuple[str, ...]]] = []
    later: dict[str, int] | None = None  # short line -> last index, for entries without page
    i = 0
    while i < len(lines):
        if len(lines[i]) <= 20 and normalize_title(lines[i]) in TOC_HEADERS:
            if later is None:
                later = {normalize_title(s): n for n, s in enumerate(lines) if len(s) <= 80}
            end, titles = _toc_entries(lines, i + 1, later)
            blocks.append((i, end, titles))
            i = end
            continue
        end = i
        while end < len(lines) and _is_entry(lines[end], TOC_ENTRY):
            end += 1
        if end - i >= 3:
            blocks.append((i, end, tuple(_entry_title(s) for s in lines[i:end])))
            i = end
            continue
        i += 1
    return blocks


def _toc_entries(
    lines: Sequence[str], start: int, later: dict[str, int]
) -> tuple[int, tuple[str, ...]]:
    titles = []
    end = start
    while end < len(lines):
        line = lines[end]
        if _is_entry(line, TOC_ENTRY_LOOSE):
            title = _entry_title(line)
        elif _is_unnumbered_entry(line, end, later):
            title = line
        else:
            break
        if normalize_title(title) not in TOC_HEADERS:
            titles.append(title)
        end += 1
    return end, tuple(titles)


def _is_entry(line: str, pattern: re.Pattern[str]) -> bool:
    return len(line) <= _TOC_ENTRY_MAX and pattern.match(line) is not None


def _is_unnumbered_entry(line: str, at: int, later: dict[str, int]) -> bool:
    """A short title line without a page number that appears again further down."""
    if len(line) > 60 or _SENTENCE_PUNCTUATION.search(line):
        return False
    return later.get(normalize_title(line), -1) > at


def _entry_title(line: str) -> str:
    match = TOC_ENTRY_LOOSE.match(line) or TOC_ENTRY.match(line)
    return match.group("title").strip() if match else line.strip()
