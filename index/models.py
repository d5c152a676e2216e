"""The values that flow through the index: parsed reports in, stored paragraphs and hits out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SectionKind = Literal["summary", "plan", "problem", "other"]
SECTION_KINDS: tuple[SectionKind, ...] = ("summary", "plan", "problem", "other")


@dataclass(frozen=True)
class ParsedParagraph:
    """One body paragraph as ingestion found it (headings are structure, not paragraphs)."""

    no: int  # 1-based position among the report's body paragraphs
    text: str  # the original text, verbatim except for removed junk (markers, adverts)
    section: tuple[str, ...]  # heading path, outermost first; () before the first heading
    kind: SectionKind  # kind of the innermost section that has one; "other" if none


@dataclass(frozen=True)
class ParsedReport:
    """One report read from a file; a compilation file yields several."""

    title: str
    agency: str  # best effort; "" when unknown
    years: tuple[int, ...]  # years the report is about, e.g. (2023, 2024)
    source: str  # the file it came from, relative to the reports folder when inside it
    number: int  # 1-based position within a compilation; 1 for an ordinary file
    paragraphs: tuple[ParsedParagraph, ...]


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not indexed, and the one-line reason why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Report:
    """A stored report."""

    id: str
    title: str
    agency: str
    years: tuple[int, ...]
    source: str
    number: int
    paragraphs: int = 0


@dataclass(frozen=True)
class Paragraph:
    """A stored paragraph: the unit of search and citation."""

    id: str
    report_id: str
    no: int
    section: tuple[str, ...]
    kind: SectionKind
    text: str


@dataclass(frozen=True)
class Hit:
    """One ranked answer: a paragraph, its report, and why it ranked here."""

    rank: int
    score: float
    paragraph: Paragraph
    report: Report
    also_in: tuple[Report, ...] = ()  # other reports holding a near-identical paragraph
    explain: tuple[str, ...] = field(default=(), compare=False)
