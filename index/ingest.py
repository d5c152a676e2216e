"""Files and folders in, `ParsedReport`s out; a file that cannot be used is skipped, with a reason.

read (loaders) -> markdown marks off (.md) -> clean -> split and structure -> ParsedReport
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.clean import clean_lines
from index.limits import MAX_FOLDER_DEPTH, check_text_size, split_long_lines
from index.loaders import UnreadableFile, read_lines
from index.models import ParsedReport, SkippedFile
from index.structure import parse_reports

logger = logging.getLogger(__name__)

REPORT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".text", ".docx", ".pdf"})
# Looked at too, so that the user learns "old Word .doc format: save it as .docx".
SNIFFED_SUFFIXES = REPORT_SUFFIXES | {".doc"}
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})


@dataclass(frozen=True)
class IngestResult:
    """What ingestion produced: the reports, and the files it could not use."""

    reports: list[ParsedReport]
    skipped: list[SkippedFile]


def ingest(paths: Sequence[Path], root: Path | None = None) -> IngestResult:
    """Parse every report file in `paths` (files and folders); one bad file never stops the rest.

    A report's `source` is its path relative to `root` when it lies under it, else as given.
    """
    reports: list[ParsedReport] = []
    skipped: list[SkippedFile] = []
    for path, reason in iter_candidates(paths):
        source = source_name(path, root)
        if reason is None:
            try:
                reports.extend(parse_file(path, source))
                continue
            except UnreadableFile as exc:
                reason = exc.reason
            except Exception as exc:  # a bug must not stop the other files
                logger.exception("ingesting %s failed", source)
                reason = f"unexpected error: {type(exc).__name__}: {exc}"
        logger.info("skipped %s: %s", source, reason)
        skipped.append(SkippedFile(path=source, reason=reason))
    return IngestResult(reports=reports, skipped=skipped)


def parse_file(path: Path, source: str) -> list[ParsedReport]:
    """The reports in one file (a compilation yields several); raises `UnreadableFile`."""
    lines = read_lines(path)
    check_text_size(lines)  # before any slow step (index/limits.py)
    lines = split_long_lines(lines)
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        lines = strip_markdown(lines)
    reports = parse_reports(clean_lines(lines), stem=path.stem, source=source)
    if not reports:
        raise UnreadableFile("no report text found")
    return reports


def iter_report_files(paths: Sequence[Path]) -> Iterator[Path]:
    """The files to read: given files as they are, and report files found in given folders."""
    return (path for path, reason in iter_candidates(paths) if reason is None)


def iter_candidates(paths: Sequence[Path]) -> Iterator[tuple[Path, str | None]]:
    """Every file in `paths` with the reason it is skipped (None: read it), in sorted order.

    Folders are walked recursively in name order, following symbolic links but entering each
    real folder once (no loop on link cycles); hidden files and Office lock files (~$x.docx)
    are ignored. A file reached twice (through a link) is read once.
    """
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: dict[tuple[int, int], Path] = {}
    for path in paths:
        found: Iterator[tuple[Path, str | None]]
        if path.is_dir():
            found = _walk(path, seen_dirs)
        elif path.exists():
            found = iter([(path, None)])
        else:
            missing = "broken symbolic link" if path.is_symlink() else "no such file or folder"
            found = iter([(path, missing)])
        for file, reason in found:
            if reason is None:
                key = _identity(file)
                if key in seen_files:
                    continue  # the same file again, through a link or a repeated argument
                seen_files[key] = file
            yield file, reason


def source_name(path: Path, root: Path | None) -> str:
    """`path` relative to `root` when it lies under it, else as given (always with `/`)."""
    if root is not None:
        try:
            return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def _walk(
    folder: Path, seen: set[tuple[int, int]], depth: int = 0
) -> Iterator[tuple[Path, str | None]]:
    key = _identity(folder)
    if key in seen:
        return
    seen.add(key)
    if depth > MAX_FOLDER_DEPTH:  # (each level is a Python frame: no RecursionError)
        yield folder, f"folder nested more than {MAX_FOLDER_DEPTH} levels deep: not read"
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        yield folder, f"cannot open folder: {exc.strerror or exc}"
        return
    for entry in entries:
        if entry.name.startswith((".", "~$")):
            continue
        path = folder / entry.name
        try:
            is_dir = entry.is_dir()  # follows symbolic links
            is_file = entry.is_file()
        except OSError:
            is_dir = is_file = False
        if is_dir:
            yield from _walk(path, seen, depth + 1)
        elif not is_file:
            yield path, "broken symbolic link" if entry.is_symlink() else "not a regular file"
        elif path.suffix.lower() in SNIFFED_SUFFIXES:
            yield path, None
        else:
            suffix = path.suffix.lower()
            yield path, f"unsupported file type {suffix}" if suffix else "unsupported file type"


def _identity(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (-1, hash(os.path.abspath(path)))
    return (stat.st_dev, stat.st_ino)


# --- Markdown ---------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+]|[-*+]\s*\[[ xX]\])\s+")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_HEADING = re.compile(r"^\s*(#{1,6})\s+(.*?)\s*#*\s*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|~~)(?=\S)(.+?)(?<=\S)\1")
_CODE = re.compile(r"`([^`]*)`")
_HTML_COMMENT = re.compile(r"<!--.*?-->")


def strip_markdown(lines: Sequence[str]) -> list[str]:
    """Markdown to plain lines: `#` marks stay (as headings, the structure reads them), while
    emphasis, links, bullets, quotes, rules, fences, table rules and front matter go."""
    out = []
    in_front_matter = bool(lines) and lines[0].strip() == "---"
    in_comment = False
    for n, line in enumerate(lines):
        if in_front_matter:
            in_front_matter = n == 0 or line.strip() not in ("---", "...")
            continue
        if in_comment:
            in_comment = "-->" not in line
            line = line.split("-->", 1)[1] if not in_comment else ""
        line = _HTML_COMMENT.sub("", line)
        if "<!--" in line:
            line, in_comment = line.split("<!--", 1)[0], True
        if _FENCE.match(line) or _RULE.match(line) or _TABLE_SEPARATOR.match(line):
            continue
        out.append(_strip_inline(line))
    return out


def _strip_inline(line: str) -> str:
    heading = _HEADING.match(line)
    if heading:
        return f"{heading.group(1)} {_inline(heading.group(2))}"
    line = _QUOTE.sub("", line)
    line = _BULLET.sub("", line)
    if line.strip().startswith("|") and line.strip().endswith("|"):
        line = " | ".join(cell.strip() for cell in line.strip()[1:-1].split("|"))
    return _inline(line)


def _inline(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    return _EMPHASIS.sub(r"\2", text)
