"""index.library: the reports folder as admins change it (safe names, content checks, no
overwrites, removal to the trash, one build at a time)."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from corpus import make_docx, split_sample
from pypdf import PdfWriter

from index.build import BuildInProgress, build_lock
from index.library import INCOMING, TRASH, Library, Rejected, file_name_for, safe_name
from index.search import SearchIndex


def report_text(n: int = 1) -> str:
    return list(split_sample().values())[n]


def blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.fixture
def library(tmp_path: Path, tokenizer: Any) -> Library:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "existing.txt").write_text(report_text(0), encoding="utf-8")
    return Library(folder, tmp_path / "index.db", tokenizer=tokenizer)


@pytest.mark.parametrize(
    ("sent", "saved"),
    [
        ("区残联2023年工作总结.txt", "区残联2023年工作总结.txt"),
        ("../../etc/cron.d/x.txt", "x.txt"),
        ("..\\..\\windows\\x.md", "x.md"),
        ("/abs/path.txt", "path.txt"),
        (".hidden.txt", "hidden.txt"),
        ("...", ""),
        ("..", ""),
        ("~$lock.docx", "lock.docx"),
        ("report\u202etxt.exe", "reporttxt.exe"),  # a right-to-left override hides .exe
        ("a\x00b\nc.txt", "ab c.txt"),
        ('what?<>:"|*.txt', "what_______.txt"),
        ("  spaced   out .txt ", "spaced out .txt"),
    ],
)
def test_safe_name(sent: str, saved: str) -> None:
    assert safe_name(sent) == saved


def test_the_name_ends_as_the_content_is() -> None:
    assert file_name_for("总结.txt", "text") == ("总结.txt", False, False)
    assert file_name_for("总结.MD", "text") == ("总结.MD", False, False)
    assert file_name_for("总结.txt", "docx") == ("总结.docx", False, True)
    assert file_name_for("总结.pdf", "text") == ("总结.txt", False, True)
    assert file_name_for("总结", "pdf") == ("总结.pdf", False, True)
    assert file_name_for("v1.2 总结", "text") == ("v1.2 总结.txt", False, True)
    assert file_name_for("", "text") == ("report.txt", False, False)
    assert file_name_for("../.x.txt", "text") == ("x.txt", True, False)
    long_name, cleaned, _ = file_name_for("长" * 200 + ".txt", "text")
    assert len(long_name.encode()) <= 180 and long_name.endswith(".txt") and not cleaned


def test_add_checks_the_content_and_never_overwrites(library: Library) -> None:
    folder = library.folder
    before = (folder / "existing.txt").read_bytes()

    new = library.add(report_text(1).encode(), "区残联.txt")
    assert (new.name, new.reports, new.duplicate, new.clashed) == ("区残联.txt", 1, False, False)
    assert new.paragraphs > 5 and (folder / "区残联.txt").read_text() == report_text(1)

    again = library.add(report_text(1).encode(), "区残联.txt")
    assert again.duplicate and again.name == "区残联.txt"

    clash = library.add(report_text(2).encode(), "existing.txt")
    assert clash.clashed and clash.name == "existing (2).txt"
    assert (folder / "existing.txt").read_bytes() == before

    escaped = library.add(report_text(3).encode(), "../../outside.txt")
    assert escaped.cleaned and escaped.name == "outside.txt"
    assert (folder / "outside.txt").exists() and not (folder.parent / "outside.txt").exists()

    word = library.add(make_docx(report_text(4)), "报告.txt")  # a Word file named .txt
    assert word.retyped and word.name == "报告.docx" and word.reports == 1

    for data, name, why in [
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "scan.pdf", "image"),
        (bytes(range(256)) * 4, "data.txt", "binary"),
        (b"", "empty.txt", "empty"),
        (blank_pdf(), "scan.pdf", "no text layer"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "old.doc", "old Word"),
    ]:
        with pytest.raises(Rejected, match=why):
            library.add(data, name)
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        [INCOMING, "existing.txt", "existing (2).txt", "outside.txt", "区残联.txt", "报告.docx"]
    )
    assert list((folder / INCOMING).iterdir()) == []  # nothing left half-checked


def test_a_file_the_index_holds_under_another_name_is_a_duplicate(library: Library) -> None:
    library.build()
    copy = library.add((library.folder / "existing.txt").read_bytes(), "copy.txt")
    assert copy.duplicate and copy.name == "existing.txt"


def test_take_out_moves_the_file_to_the_trash(library: Library, tmp_path: Path) -> None:
    library.build()
    target = library.take_out("existing.txt")
    assert target.parent == library.folder / TRASH and target.read_text() == report_text(0)
    assert not (library.folder / "existing.txt").exists()
    report = library.build()
    assert report.removed == ("existing.txt",) and report.reports == 0

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.txt").write_text("x")
    (library.folder / "link").symlink_to(outside)
    for source in ["../outside/x.txt", str(outside / "x.txt"), "link/x.txt", "missing.txt", ""]:
        with pytest.raises(Rejected):
            library.take_out(source)
    assert (outside / "x.txt").exists()


def test_one_build_at_a_time_and_never_from_a_missing_folder(
    library: Library, tmp_path: Path
) -> None:
    library.build()
    with build_lock(library.db_path), pytest.raises(BuildInProgress):
        library.build()  # another process is building

    started, release = threading.Event(), threading.Event()
    slow = Library(library.folder, library.db_path, tokenizer=library.tokenizer)
    real_build = slow.build

    def hold() -> None:
        with slow._busy:
            started.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    started.wait(10)
    assert slow.building
    with pytest.raises(BuildInProgress):
        real_build()
    release.set()
    holder.join()
    assert not slow.building and real_build(wait=1).reports == 1

    gone = Library(tmp_path / "unmounted", library.db_path)
    with pytest.raises(FileNotFoundError):
        gone.build()
    index = SearchIndex(library.db_path, library.tokenizer)
    assert len(index.reports()) == 1  # the index was not emptied
    index.close()
    assert os.path.exists(library.db_path)
