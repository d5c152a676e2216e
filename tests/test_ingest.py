"""index.ingest: files and folders -> ParsedReports, and a reason for every file skipped."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from pypdf import PdfWriter
from test_loaders import make_docx, make_pdf

import index.ingest
from index.ingest import (
    ingest,
    iter_candidates,
    iter_report_files,
    parse_file,
    source_name,
    strip_markdown,
)
from index.loaders import UnreadableFile

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPORA = SHARED / "corpora"

REPORT = "\n".join(
    [
        "县统计局2023年工作总结",
        "一、主要成绩",
        "突泉县统计局完成经济普查。",
        "二、存在问题",
        "人员变动频繁。",
    ]
)


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# --- finding files ----------------------------------------------------------------------------


def test_folders_are_walked_recursively_in_sorted_order(tmp_path: Path) -> None:
    for name in ["b.txt", "a/z.md", "a/c.docx", "C.PDF", "d.text", "e.markdown", "a/b/x.txt"]:
        write(tmp_path / name, "x")
    for name in [".hidden.txt", ".git/config.txt", "~$lock.docx", "a/.cache/y.txt"]:
        write(tmp_path / name, "x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_report_files([tmp_path])]
    assert found == ["C.PDF", "a/b/x.txt", "a/c.docx", "a/z.md", "b.txt", "d.text", "e.markdown"]


def test_unsupported_files_in_folders_are_skipped_with_a_reason(tmp_path: Path) -> None:
    write(tmp_path / "report.txt", REPORT)
    write(tmp_path / "table.xlsx", b"PK")
    write(tmp_path / "README", "x")
    reasons = {p.name: why for p, why in iter_candidates([tmp_path])}
    assert reasons == {
        "README": "unsupported file type",
        "report.txt": None,
        "table.xlsx": "unsupported file type .xlsx",
    }


def test_given_files_are_read_whatever_their_name(tmp_path: Path) -> None:
    given = write(tmp_path / "notes.data", REPORT)
    assert list(iter_report_files([given])) == [given]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlink_cycles_and_duplicates_are_walked_once(tmp_path: Path) -> None:
    write(tmp_path / "reports/a.txt", REPORT)
    (tmp_path / "reports/loop").symlink_to(tmp_path / "reports")
    (tmp_path / "reports/again.txt").symlink_to(tmp_path / "reports/a.txt")
    (tmp_path / "reports/broken.txt").symlink_to(tmp_path / "missing.txt")
    found = list(iter_candidates([tmp_path / "reports", tmp_path / "reports/a.txt"]))
    assert [(p.name, why) for p, why in found] == [
        ("a.txt", None),
        ("broken.txt", "broken symbolic link"),
    ]


def test_source_is_relative_to_root_when_under_it(tmp_path: Path) -> None:
    assert source_name(tmp_path / "a/b.txt", tmp_path) == "a/b.txt"
    assert source_name(Path("elsewhere/c.txt"), tmp_path) == "elsewhere/c.txt"
    assert source_name(Path("c.txt"), None) == "c.txt"


# --- parsing ----------------------------------------------------------------------------------


def test_mixed_folder_good_files_indexed_bad_ones_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    write(folder / "utf8.txt", REPORT)
    write(folder / "gbk.txt", REPORT.replace("县统计局", "县审计局").encode("gbk"))
    write(folder / "notes.md", "# 区残联2024年工作要点\n\n- **实施**家庭无障碍改造300户。\n")
    write(folder / "word.docx", make_docx())
    text_pdf = make_pdf([["Report 2023", "We built 300 ramps this year."]])
    write(folder / "sub/text.pdf", text_pdf)
    write(folder / "empty.txt", b"")
    write(folder / "binary.txt", bytes(range(256)) * 16)
    write(folder / "old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    write(folder / "broken.docx", make_docx()[:2000])
    write(folder / "scan.pdf", blank_pdf())
    write(folder / "junk.txt", "##paidend##\n- 3 -\n\n【XX素材库】会员群每天更新，添加客服下载\n")
    write(folder / "photo.png", b"\x89PNG")

    result = ingest([folder], root=tmp_path)

    assert sorted((s.path, s.reason) for s in result.skipped) == [
        ("reports/binary.txt", "binary file, not text"),
        ("reports/broken.docx", "damaged .docx: file is truncated or corrupt"),
        ("reports/empty.txt", "empty file"),
        ("reports/junk.txt", "no report text found"),
        ("reports/old.doc", "old Word .doc format: save it as .docx"),
        ("reports/photo.png", "unsupported file type .png"),
        ("reports/scan.pdf", "PDF has no text layer (scanned image?)"),
    ]
    by_source = {r.source: r for r in result.reports}
    assert list(by_source) == [
        "reports/gbk.txt",
        "reports/notes.md",
        "reports/sub/text.pdf",
        "reports/utf8.txt",
        "reports/word.docx",
    ]
    assert by_source["reports/gbk.txt"].title == "县审计局2023年工作总结"
    assert by_source["reports/utf8.txt"].agency == "突泉县统计局"
    assert [p.kind for p in by_source["reports/utf8.txt"].paragraphs] == ["summary", "problem"]
    notes = by_source["reports/notes.md"]
    assert notes.title == "区残联2024年工作要点"
    assert [p.text for p in notes.paragraphs] == ["实施家庭无障碍改造300户。"]
    assert notes.paragraphs[0].kind == "plan"
    word = by_source["reports/word.docx"]
    assert word.title == "区残联2023年工作总结"
    assert "指标 | 目标 | 完成" in [p.text for p in word.paragraphs]
    assert by_source["reports/sub/text.pdf"].paragraphs[-1].text == "We built 300 ramps this year."


def test_one_failing_file_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "a.txt", REPORT)
    write(tmp_path / "b.txt", REPORT)
    real = index.ingest.parse_reports

    def flaky(cleaned, *, stem, source):
        if stem == "a":
            raise RuntimeError("boom")
        return real(cleaned, stem=stem, source=source)

    monkeypatch.setattr(index.ingest, "parse_reports", flaky)
    result = ingest([tmp_path], root=tmp_path)
    assert [r.source for r in result.reports] == ["b.txt"]
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("a.txt", "unexpected error: RuntimeError: boom")
    ]


def test_missing_path_is_skipped(tmp_path: Path) -> None:
    result = ingest([tmp_path / "nope.txt"])
    assert result.reports == []
    assert result.skipped[0].reason == "no such file or folder"


def test_parse_file_without_report_text(tmp_path: Path) -> None:
    path = write(tmp_path / "toc-only.txt", "目录\n第一章\t1\n第二章\t2\n- 1 -\n")
    with pytest.raises(UnreadableFile, match="no report text found"):
        parse_file(path, "toc-only.txt")


def test_strip_markdown() -> None:
    lines = [
        "---",
        "title: x",
        "---",
        "# 2023年**工作**总结 #",
        "> 引言：*重要*",
        "- 第一项 [链接](http://x)",
        "* ~~删除~~ `代码`",
        "1. 有序项保留编号",
        "| 指标 | 完成 |",
        "|---|---|",
        "| 康复 | 5041人 |",
        "```",
        "<!-- 注释 -->正文",
        "***",
    ]
    assert strip_markdown(lines) == [
        "# 2023年工作总结",
        "引言：重要",
        "第一项 链接",
        "删除 代码",
        "1. 有序项保留编号",
        "指标 | 完成",
        "康复 | 5041人",
        "正文",
    ]


# --- real files nobody here wrote -------------------------------------------------------------

CORPUS_FILES = [
    "national-gwr/2024年中华人民共和国国务院政府工作报告.txt",
    "national-gwr/2023年中华人民共和国国务院政府工作报告.txt",
    "provincial-gwr-2026/2026年北京市政府工作报告.txt",
    "baoding-county-gwr/2020年唐县政府工作报告.txt",
    "laws-regulations/杭州市绩效管理条例(2015-10-14).txt",
]


@pytest.fixture(scope="module")
def corpus() -> dict[str, object]:
    if not all((CORPORA / name).is_file() for name in CORPUS_FILES):
        pytest.skip("the shared corpora (../shared/corpora) are not here")
    result = ingest([CORPORA / name for name in CORPUS_FILES], root=CORPORA)
    assert result.skipped == []
    return {r.source: r for r in result.reports}


def test_corpus_titles_years_agencies(corpus: dict) -> None:  # type: ignore[type-arg]
    with (CORPORA / "MANIFEST.tsv").open(encoding="utf-8") as manifest:
        titles = {row["file"]: row["title"] for row in csv.DictReader(manifest, delimiter="\t")}
    assert {source: report.title for source, report in corpus.items()} == {
        name: titles[name] for name in CORPUS_FILES
    }
    national = corpus[CORPUS_FILES[0]]
    assert (national.years, national.agency) == ((2024,), "国务院")
    assert corpus[CORPUS_FILES[2]].agency == "北京市政府"
    assert corpus[CORPUS_FILES[3]].agency == "唐县政府"


def test_corpus_every_line_is_a_paragraph_a_heading_or_the_title(corpus: dict) -> None:  # type: ignore[type-arg]
    for source, report in corpus.items():
        texts = {p.text for p in report.paragraphs}
        labels = {label for p in report.paragraphs for label in p.section}
        for line in (CORPORA / source).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and line not in texts and line not in report.title:
                assert " ".join(line.split()).rstrip("。：:；;") in labels, (source, line)


def test_corpus_government_work_report_kinds(corpus: dict) -> None:  # type: ignore[type-arg]
    national = corpus[CORPUS_FILES[0]]
    kinds: dict[str, set[str]] = {}
    for paragraph in national.paragraphs:
        if paragraph.section:
            kinds.setdefault(paragraph.section[0], set()).add(paragraph.kind)
    assert kinds == {
        "一、2023年工作回顾": {"summary"},
        "二、2024年经济社会发展总体要求和政策取向": {"plan"},
        "三、2024年政府工作任务": {"plan"},
    }
    task = next(p for p in national.paragraphs if p.text.startswith("推动产业链供应链优化升级"))
    assert task.section == (
        "三、2024年政府工作任务",
        "（一）大力推进现代化产业体系建设，加快发展新质生产力",
    )
    earlier = corpus[CORPUS_FILES[1]]  # 2023: 过去一年和五年工作回顾 / 对今年政府工作的建议
    tops = {p.section[0]: p.kind for p in earlier.paragraphs if p.section}
    assert tops == {"一、过去一年和五年工作回顾": "summary", "二、对今年政府工作的建议": "plan"}
    beijing = corpus[CORPUS_FILES[2]]
    assert {p.kind for p in beijing.paragraphs if p.section[:1] == ("一、2025年工作回顾",)} == {
        "summary"
    }
    assert {p.kind for p in beijing.paragraphs if p.section[:1] == ("三、2026年重点工作",)} == {
        "plan"
    }


def test_corpus_statute_chapters_are_headings(corpus: dict) -> None:  # type: ignore[type-arg]
    law = corpus[CORPUS_FILES[4]]
    assert law.years == (2015,)
    assert law.paragraphs[0].section == ()  # the enactment dates above 第一章
    first_article = next(p for p in law.paragraphs if p.text.startswith("第一条"))
    assert first_article.section == ("第一章 总则",)
    assert all(p.kind == "other" for p in law.paragraphs)
    assert all(not p.text.startswith("第二章") for p in law.paragraphs)
