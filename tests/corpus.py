"""Test helpers for index builds: the bundled sample split into one file per report, and the
content of an index file keyed by stable ids (never by docnos, which builds may renumber)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from index import store
from index.search import SearchIndex

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "reports"
QUESTIONS = Path(__file__).resolve().parent.parent / "benchmarks" / "questions.txt"


def sample_text() -> str:
    return next(SAMPLE_DIR.glob("*.txt")).read_text(encoding="utf-8")


def split_sample(text: str | None = None) -> dict[str, str]:
    """The sample compilation as {report title: its text}, one entry per report, in order.

    The titles come from the table of contents (lines "title<TAB>page"); each report runs from
    its title line in the body to the next report's title line.
    """
    lines = (text if text is not None else sample_text()).splitlines()
    toc = lines.index("目录")
    titles: list[str] = []
    for line in lines[toc + 1 :]:
        if "\t" in line:
            title = line.split("\t")[0].strip()
            if title != "目录" and "汇编" not in title:
                titles.append(title)
        elif titles and line.strip():
            break
    starts: list[int] = []
    j = toc + 1
    for title in titles:
        while lines[j].strip() != title or "\t" in lines[j]:
            j += 1
        starts.append(j)
        j += 1
    starts.append(len(lines))
    return {
        title: "\n".join(lines[starts[n] : starts[n + 1]]) + "\n" for n, title in enumerate(titles)
    }


def write_reports(folder: Path, parts: dict[str, str]) -> list[Path]:
    """Write each report to `folder`/NN.txt; returns the paths in order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, text in enumerate(parts.values()):
        path = folder / f"{n:02d}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def make_docx(text: str) -> bytes:
    """A .docx with one paragraph per line of `text`."""
    import io

    import docx

    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def questions() -> list[str]:
    return [q for q in QUESTIONS.read_text(encoding="utf-8").splitlines() if q.strip()]


def copy_index(src: Path, dst: Path) -> None:
    """A consistent copy of an index file (SQLite's backup API: safe with WAL)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    sqlite3.connect(dst).close()


def index_content(db_path: Path) -> dict[str, Any]:
    """Everything a build stored, keyed by ids so that two builds of one corpus compare equal."""
    db = store.connect(db_path, create=False)
    try:
        with store.read_snapshot(db):
            doc_ids = dict(db.execute("SELECT docno, id FROM paragraphs").fetchall())
            ordinals = dict(db.execute("SELECT ordinal, id FROM reports").fetchall())
            paragraphs = {
                row[0]: tuple(row[1:])
                for row in db.execute(
                    "SELECT id, report_id, no, section, kind, text, tokens, length FROM paragraphs"
                )
            }
            reports = {
                row[0]: tuple(row[1:])
                for row in db.execute(
                    "SELECT id, title, agency, years, source, number, paragraphs FROM reports"
                )
            }
            files = {
                row[0]: tuple(row[1:])
                for row in db.execute(
                    "SELECT source, sha256, size, status, reason, reports FROM files"
                )
            }
            terms: dict[str, Any] = {}
            for term, df, max_tf, min_length, blob in db.execute(
                "SELECT term, df, max_tf, min_length, postings FROM terms"
            ):
                docnos, tfs = store.decode_postings(blob, df)
                assert len(docnos) == df > 0, term
                assert bool(np.all(docnos[1:] > docnos[:-1])), f"{term}: docnos not ascending"
                assert max_tf == int(tfs.max()), term
                postings = sorted(
                    (doc_ids[int(d)], int(t)) for d, t in zip(docnos, tfs, strict=True)
                )
                terms[term] = (df, max_tf, min_length, postings)
            lengths = store.get_array(db, "doc_length", np.uint32)
            kinds = store.get_array(db, "doc_kind", np.uint8)
            owners = store.get_array(db, "doc_report", np.int32)
            arrays = {
                pid: (int(lengths[d]), int(kinds[d]), ordinals[int(owners[d])])
                for d, pid in doc_ids.items()
            }
            unused = np.setdiff1d(np.arange(len(lengths)), np.fromiter(doc_ids, dtype=np.int64))
            assert not lengths[unused].any() and (owners[unused] == -1).all()
            meta = store.get_meta(db)
    finally:
        db.close()
    for key in ("built_at", "generation"):
        meta.pop(key, None)
    return {
        "meta": meta,
        "paragraphs": paragraphs,
        "reports": reports,
        "files": files,
        "terms": terms,
        "arrays": arrays,
    }


def ranking(index: SearchIndex, question: str, top: int = 10) -> list[tuple[str, float]]:
    """(paragraph id, score) of the top answers, ties in id order (docnos break ties in the
    search, and two builds may number paragraphs differently)."""
    hits = index.search(question, top=top).hits
    return sorted(((h.paragraph.id, h.score) for h in hits), key=lambda x: (-x[1], x[0]))
