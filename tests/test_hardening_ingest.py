"""Ingestion fuzzing (issue 8): random bytes, damaged .docx and .pdf, a 50 MB line, odd encodings,
deep folders, link loops, unreadable files. Nothing crashes, every bad file is reported with a
reason, every good file is indexed — and it all takes seconds."""

from __future__ import annotations

import io
import os
import pathlib
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import opencc
import pytest
from corpus import split_sample
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_loaders import make_docx, make_pdf

from index import limits, loaders
from index.build import build_index
from index.ingest import ingest, parse_file
from index.limits import MAX_LINE_CHARS, split_line
from index.loaders import UnreadableFile, lines_from_bytes
from index.search import SearchIndex

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the project
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
MAGICS = [b"", b"%PDF-1.4\n", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\xef\xbb\xbf"]
MAGICS += [b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"{\\rtf1", b"\x1f\x8b", b"\x89PNG"]
PAGE = ["一、2023年工作总结", "完成475户改造。"]
_DOCX = make_docx()
WORDS = [["Alpha", "Beta", "Gamma"], ["Delta", "Epsilon", "Zeta"], ["Eta", "Theta", "Iota"]]
CN_WORDS = [["甲", "乙", "丙"], ["丁", "戊", "己"], ["庚", "辛", "壬"]]
_PDF = make_pdf([[f"{word}：推进乡村振兴。" for word in w] for w in CN_WORDS[:2]], cjk=True)
TOO_DEEP = "too/" + "d/" * (limits.MAX_FOLDER_DEPTH - 1) + "d"  # the first folder not read


def read(data: bytes) -> list[str] | str:
    """The lines, or the reason the file cannot be used; anything else fails the test."""
    try:
        lines = lines_from_bytes(data)
    except UnreadableFile as exc:
        assert exc.reason and "\n" not in exc.reason
        return exc.reason
    assert isinstance(lines, list) and any(lines)
    return lines


# --- bytes ---------------------------------------------------------------------------------------


@FUZZ
@given(magic=st.sampled_from(MAGICS), body=st.binary(max_size=3000))
def test_random_bytes_are_read_or_refused_with_a_reason(magic: bytes, body: bytes) -> None:
    read(magic + body)


@FUZZ
@given(
    text=st.text(
        alphabet=st.sampled_from(
            list("区残联工作总结计划一二三、（）。，；：\n\r\t #*-|0123456789ab")
        ),
        max_size=400,
    ),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "gb18030", "big5"]),
    suffix=st.sampled_from([".txt", ".md"]),
)
def test_random_text_in_any_encoding_parses_or_is_refused(
    tmp_path_factory: pytest.TempPathFactory, text: str, encoding: str, suffix: str
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / f"report{suffix}"
    path.write_bytes(text.encode(encoding, errors="replace"))
    try:
        reports = parse_file(path, path.name)
    except UnreadableFile as exc:
        assert exc.reason
        return
    for report in reports:
        assert report.title
        assert all(p.text and len(p.text) <= MAX_LINE_CHARS for p in report.paragraphs)


def _cuts(size: int, count: int = 40) -> Iterator[int]:
    yield from sorted({0, 1, 4, 100, size - 1, *range(0, size, max(1, size // count))})


@pytest.mark.parametrize("kind", ["docx", "pdf", "cjk pdf"])
def test_truncated_documents_are_reported_not_crashed_on(kind: str) -> None:
    if kind == "docx":
        data = _DOCX
    elif kind == "pdf":
        data = make_pdf([[f"{word} roads and schools were built." for word in w] for w in WORDS])
    else:
        data = make_pdf([[f"{word}：推进乡村振兴。" for word in w] for w in CN_WORDS], cjk=True)
    assert isinstance(read(data), list)  # whole: readable
    reasons = set()
    for cut in _cuts(len(data)):
        outcome = read(data[:cut])
        if isinstance(outcome, str):
            reasons.add(outcome)
    assert reasons  # some cuts are refused, each with a one-line reason
    assert all(any(w in r for w in ("truncated", "damaged", "empty", "text")) for r in reasons)


@settings(FUZZ, max_examples=25)  # each example parses a whole document: slower
@given(data=st.data())
def test_flipped_bytes_in_documents(data: Any) -> None:
    original = data.draw(st.sampled_from([_DOCX, _PDF]))
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.integers(0, 255))
    read(bytes(damaged))


def test_a_docx_that_unpacks_too_large_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaders, "_MAX_UNPACKED", 1000)
    assert read(_DOCX) == f".docx too large unpacked ({_unpacked(_DOCX) >> 20} MB)"


def _unpacked(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(info.file_size for info in archive.infolist())


# --- long lines ----------------------------------------------------------------------------------


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("推进振兴。，；a ")), max_size=3000))
def test_split_line_keeps_every_character(text: str) -> None:
    pieces = split_line(text, 100)
    assert "".join(pieces) == text
    assert all(len(p) <= 100 for p in pieces) and all(pieces[:-1])
    for piece in pieces[:-1]:  # cut after a sentence end when the piece's second half has one
        if any(ch in "。；" for ch in piece[50:]):
            assert piece.endswith(("。", "；"))


def test_a_long_line_becomes_paragraphs_and_a_huge_file_is_refused(tmp_path: Path) -> None:
    sentence = "推进乡村振兴，加强高标准农田建设，完成无障碍改造475户。"
    line = tmp_path / "one-line.txt"
    line.write_text("县农业农村局2023年工作总结\n" + sentence * 4000, encoding="utf-8")
    started = time.perf_counter()
    [report] = parse_file(line, line.name)
    assert len(report.paragraphs) >= 4000 * len(sentence) // MAX_LINE_CHARS
    assert "".join(p.text for p in report.paragraphs).endswith(sentence * 10)
    assert all(len(p.text) <= MAX_LINE_CHARS for p in report.paragraphs)

    huge = tmp_path / "fifty-megabytes.txt"
    with huge.open("w", encoding="utf-8") as f:  # 50 MB in one line
        for _ in range(50):
            f.write(sentence * (1_000_000 // len(sentence.encode())))
    with pytest.raises(UnreadableFile, match=r"too much text \([\d,]+ characters; the limit is"):
        parse_file(huge, huge.name)
    assert time.perf_counter() - started < 5


# --- a folder of everything ----------------------------------------------------------------------


def _write(path: Path, data: bytes | str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding, "replace"))
    return path


def _deep(root: Path, levels: int) -> Path:
    folder = root
    for _ in range(levels):
        folder = folder / "d"
        folder.mkdir()  # one at a time: Path.mkdir(parents=True) recurses too
    return folder


@pytest.fixture
def messy_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    """A folder of good and bad files; returns it and {good file: a phrase from it}."""
    root = tmp_path / "reports"
    parts = list(split_sample().values())
    trad = opencc.OpenCC("s2t").convert(parts[4])
    good: dict[str, str] = {
        "utf8.txt": parts[0],
        "sub/gbk.md": parts[1],
        "utf16.txt": parts[2],
        "big5.txt": parts[4],  # (written in traditional characters, found in simplified)
    }
    _write(root / "utf8.txt", parts[0])
    _write(root / "sub/gbk.md", parts[1], "gb18030")
    _write(root / "utf16.txt", b"\xff\xfe" + parts[2].encode("utf-16-le"))
    _write(root / "big5.txt", trad, "big5")
    _write(root / "报告.docx", _DOCX)
    good["报告.docx"] = "区残联2023年工作总结\n实施家庭无障碍改造300户。"
    pdf_page = ["一、2023年工作总结", "数字乡村示范点建设完成12个。"]
    _write(root / "scan.pdf", make_pdf([pdf_page], cjk=True))
    good["scan.pdf"] = "\n".join(pdf_page)
    long = "县林业局2023年工作总结\n" + "完成植树造林3000亩，森林覆盖率稳步提升。" * 3000
    _write(root / "one-line.txt", long)
    good["one-line.txt"] = long
    _write(_deep(root, 20) / "deep.txt", parts[5])
    good["d/" * 20 + "deep.txt"] = parts[5]

    bad = {
        "random.txt": os.urandom(5000),
        "truncated.docx": _DOCX[: len(_DOCX) // 2],
        "truncated.pdf": _PDF[: len(_PDF) // 2],
        "empty.txt": b"",
        "blank.md": b" \n\t\n",
        "picture.pdf": b"\x89PNG\r\n\x1a\n" + os.urandom(300),
        "old.doc": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
        "program.exe": b"MZ" + os.urandom(100),
        "denied.txt": parts[6],
    }
    for name, data in bad.items():
        _write(root / name, data)
    sentence = "推进乡村振兴。"
    with (root / "fifty-megabytes.txt").open("w", encoding="utf-8") as f:
        for _ in range(50):
            f.write(sentence * (1_000_000 // len(sentence.encode())))
    os.mkfifo(root / "pipe.txt")  # never read (it would block)
    (root / "dangling.txt").symlink_to(root / "nowhere.txt")
    (root / "loop").symlink_to(root)  # a folder containing itself
    (root / "sub" / "up").symlink_to(root / "sub")
    (root / "too").mkdir()
    _write(_deep(root / "too", limits.MAX_FOLDER_DEPTH + 5) / "lost.txt", parts[7])

    # Permission denied: root reads anything, so the file system is told to refuse this one.
    real_open = pathlib.Path.open

    def refusing_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "denied.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", refusing_open)
    return root, good


BAD_FILES = {
    "random.txt": "binary",
    "truncated.docx": "truncated",
    "truncated.pdf": "truncated",
    "empty.txt": "empty",
    "blank.md": "empty",
    "picture.pdf": "image",
    "old.doc": ".doc",
    "program.exe": "unsupported file type",
    "denied.txt": "Permission denied",
    "fifty-megabytes.txt": "too much text",
    "pipe.txt": "not a regular file",
    "dangling.txt": "broken symbolic link",
    TOO_DEEP: "nested more than",
}


def _check_skipped(skipped: Any) -> None:
    reasons = {s.path: s.reason for s in skipped}
    for name, expected in BAD_FILES.items():
        assert name in reasons, (name, sorted(reasons))
        assert expected in reasons[name], (name, reasons[name])
    assert set(reasons) == set(BAD_FILES), set(reasons) ^ set(BAD_FILES)


def test_ingest_a_messy_folder(messy_folder: tuple[Path, dict[str, str]]) -> None:
    root, good = messy_folder
    started = time.perf_counter()
    result = ingest([root], root=root)
    assert time.perf_counter() - started < 10
    _check_skipped(result.skipped)
    sources = [r.source for r in result.reports]
    assert set(sources) == set(good)  # each good file, once (links lead to no duplicates)
    assert len(sources) == len(good)


def test_build_a_messy_folder(messy_folder: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, good = messy_folder
    db = tmp_path / "reportbot.db"
    started = time.perf_counter()
    report = build_index(db, [root], root=root)
    assert time.perf_counter() - started < 20
    _check_skipped(report.skipped)
    assert set(good) <= set(report.added)
    index = SearchIndex.open(db)
    try:
        assert {r.source for r in index.reports()} == set(good)
        for source, text in good.items():  # each good file answers a phrase of its own
            phrase = _phrase(text)
            sources = {h.report.source for h in index.search(phrase, top=10).hits}
            assert source in sources, (source, phrase)
    finally:
        index.close()


def _phrase(text: str) -> str:
    """A body line's first 24 characters (a line long enough to be a paragraph, not a title)."""
    lines = [line.strip() for line in text.splitlines() if len(line.strip()) >= 12]
    return lines[min(2, len(lines) - 1)][:24]
