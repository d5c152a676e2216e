"""Build or update the index: files -> reports -> paragraphs -> tokens -> postings, incrementally.

Unchanged files (same content hash, same tokenizer) are not read again; changed files are
re-parsed; deleted files' reports are removed. All writes happen in one transaction, so a reader
sees the old index or the new one, and a build killed at any moment leaves the old one serving.
Corpus statistics are recomputed from what is stored, so an incremental build ranks exactly as a
full rebuild would.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlite_utils import Database

from index import bm25, store
from index.ingest import iter_candidates, parse_file, source_name
from index.loaders import UnreadableFile
from index.models import SECTION_KINDS, ParsedReport, SkippedFile
from index.postings import PostingList, invert, patch
from index.tokenize import Tokenizer, default_tokenizer

logger = logging.getLogger(__name__)

DEFAULT_PARAMS = bm25.BM25Params()
# Re-invert everything instead of patching postings when this share of paragraphs changes.
FULL_REINDEX_SHARE = 0.25
# Segment in worker processes when there is at least this much text.
PARALLEL_MIN_CHARS = 2_000_000

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class BuildInProgress(Exception):
    """Another build holds the lock on this index."""


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for people (CLI, /reindex) and tests."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[SkippedFile, ...] = ()
    reports: int = 0
    paragraphs: int = 0
    seconds: float = 0.0
    full: bool = False
    details: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass(frozen=True)
class _FileState:
    path: Path
    source: str
    sha256: str
    size: int


def report_id(source: str, title: str, occurrence: int) -> str:
    key = f"{source}\x00{title}\x00{occurrence}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]


def paragraph_id(rid: str, text: str, occurrence: int) -> str:
    key = f"{rid}\x00{occurrence}\x00{text}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


@contextmanager
def build_lock(db_path: Path) -> Iterator[None]:
    """One build at a time per index file (an advisory lock the OS drops if we die)."""
    lock_path = Path(f"{db_path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildInProgress(f"another build of {db_path} is running") from exc
        yield
    finally:
        os.close(fd)


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# --- tokenizing in worker processes ---------------------------------------------------------

_worker_tokenizer: Tokenizer | None = None


def _init_worker(tokenizer: Tokenizer | None) -> None:
    global _worker_tokenizer
    _worker_tokenizer = tokenizer or default_tokenizer()


def _tokenize_chunk(texts: list[str]) -> list[list[str]]:
    assert _worker_tokenizer is not None
    return [_worker_tokenizer.tokenize(t) for t in texts]


def tokenize_all(
    texts: Sequence[str],
    tokenizer: Tokenizer,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> list[list[str]]:
    """Tokens of every text, in order; in worker processes when there is a lot of text."""
    total_chars = sum(len(t) for t in texts)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers <= 1 or total_chars < PARALLEL_MIN_CHARS:
        out = []
        for i, text in enumerate(texts):
            out.append(tokenizer.tokenize(text))
            if progress and i % 2000 == 0:
                progress("tokenize", i, len(texts))
        if progress:
            progress("tokenize", len(texts), len(texts))
        return out
    chunk = 2000
    chunks = [list(texts[i : i + chunk]) for i in range(0, len(texts), chunk)]
    ctx = multiprocessing.get_context("fork")
    out = []
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(tokenizer,)
    ) as pool:
        for tokens in pool.map(_tokenize_chunk, chunks):
            out.extend(tokens)
            if progress:
                progress("tokenize", len(out), len(texts))
    return out


# --- the build ------------------------------------------------------------------------------


def build_index(
    db_path: str | Path,
    paths: Sequence[str | Path],
    *,
    root: Path | None = None,
    tokenizer: Tokenizer | None = None,
    full: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
) -> BuildReport:
    """Make the index at `db_path` reflect exactly the report files under `paths`."""
    started = time.perf_counter()
    db_path = Path(db_path)
    tok = tokenizer or default_tokenizer()
    with build_lock(db_path):
        db = store.connect(db_path)
        try:
            return _build(
                db, [Path(p) for p in paths], root, tok, full, workers, progress, started
            )
        finally:
            db.close()


def _build(
    db: Database,
    paths: list[Path],
    root: Path | None,
    tok: Tokenizer,
    full: bool,
    workers: int | None,
    progress: Progress | None,
    started: float,
) -> BuildReport:
    timings: dict[str, float] = {}
    meta = store.get_meta(db)
    if meta.get("tokenizer_version") != tok.version or meta.get("schema") != store.SCHEMA_VERSION:
        full = True
    known = {row["source"]: row for row in db.query("SELECT * FROM files")}

    # 1. Which files are new, changed, unchanged or gone.
    skipped: list[SkippedFile] = []
    states: list[_FileState] = []
    seen: set[str] = set()
    for item, why_not in iter_candidates(paths):
        source = source_name(item, root)
        if why_not is not None:
            skipped.append(SkippedFile(source, why_not))
            continue
        if source in seen:
            continue
        seen.add(source)
        try:
            sha, size = _sha256(item)
        except OSError as exc:
            skipped.append(SkippedFile(source, f"cannot read: {exc.strerror or exc}"))
            continue
        states.append(_FileState(item, source, sha, size))
    added = [s for s in states if s.source not in known]
    same = [s for s in states if s.source in known and known[s.source]["sha256"] == s.sha256]
    changed = [s for s in states if s.source in known and known[s.source]["sha256"] != s.sha256]
    removed = sorted(set(known) - {s.source for s in states})
    # Skipped files are tried again every time: the reason may have been fixed.
    retry = [s for s in same if known[s.source]["status"] == "skipped"]
    unchanged = [] if full else [s for s in same if known[s.source]["status"] != "skipped"]
    to_parse = added + changed + (same if full else retry)
    timings["scan"] = time.perf_counter() - started

    # 2. Parse what needs parsing; one bad file never stops the others.
    t0 = time.perf_counter()
    parsed: dict[str, list[ParsedReport]] = {}
    reasons: dict[str, str] = {}
    for i, s in enumerate(to_parse):
        try:
            parsed[s.source] = parse_file(s.path, s.source)
        except UnreadableFile as exc:
            reasons[s.source] = str(exc)
            skipped.append(SkippedFile(s.source, str(exc)))
        except Exception as exc:  # a parser bug must not lose the other files
            logger.exception("failed to parse %s", s.source)
            reasons[s.source] = f"could not be parsed ({type(exc).__name__}: {exc})"
            skipped.append(SkippedFile(s.source, reasons[s.source]))
        if progress:
            progress("read", i + 1, len(to_parse))
    timings["parse"] = time.perf_counter() - t0

    # 3. Tokenize the new paragraphs (outside the write transaction: it is the slow part).
    t0 = time.perf_counter()
    new_rows = _paragraph_rows(parsed)
    tokens = tokenize_all([r["text"] for r in new_rows], tok, workers=workers, progress=progress)
    timings["tokenize"] = time.perf_counter() - t0

    # 4. Write everything in one transaction.
    t0 = time.perf_counter()
    replaced_sources = (
        [s.source for s in changed] + removed + ([s.source for s in same] if full else [])
    )
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with store.write_transaction(db):
        total_before = db.execute("SELECT count(*) FROM paragraphs").fetchone()[0]
        gone_docnos, gone_tokens = _delete_sources(db, replaced_sources, full)
        first_docno = (
            1
            if full
            else (db.execute("SELECT coalesce(max(docno), 0) FROM paragraphs").fetchone()[0] + 1)
        )
        if full:
            db.execute("DELETE FROM paragraphs")
            db.execute("DELETE FROM reports")
            db.execute("DELETE FROM terms")
        _insert(db, parsed, new_rows, tokens, first_docno)
        lengths = _write_arrays(db)
        share = (len(gone_docnos) + len(new_rows)) / max(total_before, 1)
        full_invert = full or share > FULL_REINDEX_SHARE or total_before == 0
        if full_invert:
            _reinvert(db, lengths)
        else:
            new_docs = [(first_docno + i, toks) for i, toks in enumerate(tokens)]
            _patch_postings(db, lengths, gone_docnos, gone_tokens, new_docs)
        stats = _corpus_stats(db)
        _record_files(db, states, parsed, reasons, removed, unchanged, now)
        generation = int(meta.get("generation", 0)) + 1
        store.set_meta(
            db,
            {
                "schema": store.SCHEMA_VERSION,
                "tokenizer_version": tok.version,
                "built_at": now,
                "generation": generation,
                "documents": stats.documents,
                "total_length": stats.total_length,
                "mean_raw_idf": stats.mean_raw_idf,
                "bm25": {
                    "variant": DEFAULT_PARAMS.variant,
                    "k1": DEFAULT_PARAMS.k1,
                    "b": DEFAULT_PARAMS.b,
                    "epsilon": DEFAULT_PARAMS.epsilon,
                    "delta": DEFAULT_PARAMS.d,
                },
            },
        )
        n_reports = db.execute("SELECT count(*) FROM reports").fetchone()[0]
    timings["write"] = time.perf_counter() - t0
    return BuildReport(
        added=tuple(s.source for s in added),
        changed=tuple(s.source for s in changed),
        removed=tuple(removed),
        unchanged=tuple(s.source for s in unchanged),
        skipped=tuple(skipped),
        reports=n_reports,
        paragraphs=stats.documents,
        seconds=time.perf_counter() - started,
        full=full_invert,
        details=timings,
    )


def _paragraph_rows(parsed: dict[str, list[ParsedReport]]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for source, reports in parsed.items():
        titles: Counter[str] = Counter()
        for report in reports:
            rid = report_id(source, report.title, titles[report.title])
            titles[report.title] += 1
            texts: Counter[str] = Counter()
            for p in report.paragraphs:
                rows.append(
                    {
                        "id": paragraph_id(rid, p.text, texts[p.text]),
                        "report_id": rid,
                        "no": p.no,
                        "section": json.dumps(list(p.section), ensure_ascii=False),
                        "kind": p.kind,
                        "text": p.text,
                    }
                )
                texts[p.text] += 1
    return rows


def _delete_sources(
    db: Database, sources: list[str], full: bool
) -> tuple[np.ndarray, list[list[str]]]:
    """Delete the reports and paragraphs of `sources`; return their docnos and tokens."""
    docnos: list[int] = []
    tokens: list[list[str]] = []
    for source in sources:
        rids = [r[0] for r in db.execute("SELECT id FROM reports WHERE source = ?", [source])]
        for rid in rids:
            if not full:
                for docno, toks in db.execute(
                    "SELECT docno, tokens FROM paragraphs WHERE report_id = ?", [rid]
                ):
                    docnos.append(docno)
                    tokens.append(toks.split())
            db.execute("DELETE FROM paragraphs WHERE report_id = ?", [rid])
        db.execute("DELETE FROM reports WHERE source = ?", [source])
    return np.asarray(docnos, dtype=np.uint32), tokens


def _insert(
    db: Database,
    parsed: dict[str, list[ParsedReport]],
    rows: list[dict[str, object]],
    tokens: list[list[str]],
    first_docno: int,
) -> None:
    counts: Counter[str] = Counter(str(r["report_id"]) for r in rows)
    for source, reports in parsed.items():
        titles: Counter[str] = Counter()
        for report in reports:
            rid = report_id(source, report.title, titles[report.title])
            titles[report.title] += 1
            db.execute(
                "INSERT INTO reports(id, title, agency, years, source, number, paragraphs) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    rid,
                    report.title,
                    report.agency,
                    json.dumps(list(report.years)),
                    source,
                    report.number,
                    counts[rid],
                ],
            )
    db.conn.executemany(
        "INSERT INTO paragraphs(docno, id, report_id, no, section, kind, text, tokens, length) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                first_docno + i,
                r["id"],
                r["report_id"],
                r["no"],
                r["section"],
                r["kind"],
                r["text"],
                " ".join(toks),
                len(toks),
            )
            for i, (r, toks) in enumerate(zip(rows, tokens, strict=True))
        ),
    )


def _write_arrays(db: Database) -> np.ndarray:
    """Per-docno arrays the query path keeps in memory: length, kind, report ordinal."""
    max_docno = db.execute("SELECT coalesce(max(docno), 0) FROM paragraphs").fetchone()[0]
    lengths = np.zeros(max_docno + 1, dtype=np.uint32)
    kinds = np.full(max_docno + 1, 255, dtype=np.uint8)
    owners = np.full(max_docno + 1, -1, dtype=np.int32)
    kind_code = {k: i for i, k in enumerate(SECTION_KINDS)}
    rows = db.execute(
        "SELECT p.docno, p.length, p.kind, r.ordinal FROM paragraphs p "
        "JOIN reports r ON r.id = p.report_id"
    ).fetchall()
    if rows:
        docno, length, kind, ordinal = zip(*rows, strict=True)
        idx = np.asarray(docno, dtype=np.int64)
        lengths[idx] = length
        kinds[idx] = [kind_code.get(k, kind_code["other"]) for k in kind]
        owners[idx] = ordinal
    store.put_array(db, "doc_length", lengths)
    store.put_array(db, "doc_kind", kinds)
    store.put_array(db, "doc_report", owners)
    return lengths


def _put_posting(db: Database, plist: PostingList, lengths: np.ndarray) -> None:
    if plist.df == 0:
        db.execute("DELETE FROM terms WHERE term = ?", [plist.term])
        return
    db.execute(
        "INSERT INTO terms(term, df, max_tf, min_length, postings) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(term) DO UPDATE SET df = excluded.df, max_tf = excluded.max_tf, "
        "min_length = excluded.min_length, postings = excluded.postings",
        [
            plist.term,
            plist.df,
            plist.max_tf,
            int(lengths[plist.docnos].min()),
            store.encode_postings(plist.docnos, plist.tfs),
        ],
    )


def _reinvert(db: Database, lengths: np.ndarray) -> None:
    db.execute("DELETE FROM terms")
    docs = (
        (docno, toks.split()) for docno, toks in db.execute("SELECT docno, tokens FROM paragraphs")
    )
    rows = (
        (
            p.term,
            p.df,
            p.max_tf,
            int(lengths[p.docnos].min()),
            store.encode_postings(p.docnos, p.tfs),
        )
        for p in invert(docs)
    )
    db.conn.executemany(
        "INSERT INTO terms(term, df, max_tf, min_length, postings) VALUES (?, ?, ?, ?, ?)", rows
    )


def _patch_postings(
    db: Database,
    lengths: np.ndarray,
    gone_docnos: np.ndarray,
    gone_tokens: list[list[str]],
    new_docs: list[tuple[int, list[str]]],
) -> None:
    gone_terms = {t for toks in gone_tokens for t in toks}
    added = {p.term: p for p in invert(new_docs)}
    for term in sorted(gone_terms | set(added)):
        row = store.fetch_terms(db, [term]).get(term)
        old = None
        if row is not None:
            docnos, tfs = store.decode_postings(row[3], row[0])
            old = PostingList(term, docnos, tfs)
        plist = patch(old, gone_docnos, added.get(term))
        _put_posting(db, PostingList(term, plist.docnos, plist.tfs), lengths)


def _corpus_stats(db: Database) -> bm25.CorpusStats:
    n, total = db.execute("SELECT count(*), coalesce(sum(length), 0) FROM paragraphs").fetchone()
    dfs = np.fromiter((r[0] for r in db.execute("SELECT df FROM terms")), dtype=np.float64)
    mean_raw = float(bm25.raw_okapi_idf(n, dfs).mean()) if len(dfs) else 0.0
    return bm25.CorpusStats(documents=n, total_length=total, mean_raw_idf=mean_raw)


def _record_files(
    db: Database,
    states: list[_FileState],
    parsed: dict[str, list[ParsedReport]],
    reasons: dict[str, str],
    removed: list[str],
    unchanged: list[_FileState],
    now: str,
) -> None:
    for source in removed:
        db.execute("DELETE FROM files WHERE source = ?", [source])
    keep = {s.source for s in unchanged}
    for s in states:
        if s.source in keep:
            continue
        if s.source in parsed:
            status, reason, n = "indexed", None, len(parsed[s.source])
        else:
            status, reason, n = "skipped", reasons.get(s.source, "skipped"), 0
        db.execute(
            "INSERT INTO files(source, sha256, size, status, reason, reports, indexed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(source) DO UPDATE SET "
            "sha256 = excluded.sha256, size = excluded.size, status = excluded.status, "
            "reason = excluded.reason, reports = excluded.reports, "
            "indexed_at = excluded.indexed_at",
            [s.source, s.sha256, s.size, status, reason, n, now],
        )
