"""Where query terms occur in a paragraph, as spans of the ORIGINAL text.

The text is normalised for matching (index.normalize keeps every character in place), so
a term 党建 finds "D建", 国务院 finds "國務院" and 2024 finds "２０２４", and the spans index
the original string. Rendering (escaping, <b> tags) is bot/render.py's job.

Which terms are highlighted:
* terms of two or more characters, normalised like the text;
* numbers of any length, but only whole numbers: 300 marks "300户", not "3000" or "1.300";
* Latin words only as whole words: "pdf" marks "PDF文件", not "pdfs";
* single Chinese characters and single letters are skipped: a question's 乡 or 县 would
  otherwise mark half the paragraph.

Overlapping and touching matches are merged: 无障碍 + 改造 -> one span over 无障碍改造.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from .normalize import normalize

__all__ = ["find_spans"]

_ASCII_WORD = re.compile(r"[0-9a-z]+(?:\.[0-9]+)?")


def _pattern_for(term: str) -> str | None:
    if _ASCII_WORD.fullmatch(term):
        if term[0].isdigit():
            if not term.replace(".", "").isdigit():
                return None if len(term) < 2 else rf"(?<![0-9a-z.]){re.escape(term)}(?![0-9a-z])"
            # whole numbers only; 300 is not the start of 3000 nor the end of 1.300
            return rf"(?<![0-9.]){re.escape(term)}(?![0-9]|\.[0-9])"
        if len(term) < 2:
            return None
        return rf"(?<![0-9a-z]){re.escape(term)}(?![0-9a-z])"
    if len(term) < 2:
        return None
    return re.escape(term)


@lru_cache(maxsize=256)
def _matcher(terms: frozenset[str]) -> re.Pattern[str] | None:
    patterns = {p for t in terms if (p := _pattern_for(t)) is not None}
    if not patterns:
        return None
    # Longest first, inside a lookahead: every start position reports its longest match,
    # so overlapping occurrences of different terms are all found.
    ordered = sorted(patterns, key=lambda p: (-len(p), p))
    return re.compile("(?=(" + "|".join(ordered) + "))")


def find_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping, merged (start, end) spans of `text` matching any term."""
    normalized_terms = frozenset(normalize(t.strip()) for t in terms if t and t.strip())
    matcher = _matcher(normalized_terms)
    if matcher is None or not text:
        return []
    spans: list[tuple[int, int]] = []
    for m in matcher.finditer(normalize(text)):
        start, end = m.start(1), m.end(1)
        if spans and start <= spans[-1][1]:
            if end > spans[-1][1]:
                spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans
