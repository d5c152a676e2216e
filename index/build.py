"""Build or update the index: files -> reports -> paragraphs -> tokens -> postings, incrementally.

Unchanged files (same content hash, same tokenizer) are not read again; changed files are
re-parsed; deleted files' reports are removed. All writes happen in one transaction, so a reader
sees the old index or the new one, and a build killed at any moment leaves the old one serving.
Corpus statistics are recomputed from what is stored, so an incremental build ranks exactly as a
full rebuild would.

With a lot of text, worker processes read, parse and tokenize batches of files and hand back
rows ready to insert plus each batch's postings (`index.postings.chunk_postings`); this process
only writes them, in file order, while the workers go on. A full build inverts everything with
numpy at the end; an update patches just the posting lists of the terms it touched.
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlite_utils import Database

from index import bm25, store
from index.ingest import iter_candidates, parse_file, source_name
from index.loaders import UnreadableFile
from index.models import SECTION_KINDS, ParsedReport, SkippedFile
from index.postings import ChunkPostings, PostingList, PostingsBuilder, chunk_postings, patch
from index.tokenize import Tokenizer, default_tokenizer

logger = logging.getLogger(__name__)

DEFAULT_PARAMS = bm25.BM25Params()
# Read and tokenize in worker processes when the files to read hold at least this many bytes.
PARALLEL_MIN_BYTES = 12_000_000  # (10k paragraphs: one process is faster; 100k: 1.4x slower)
# Files go to the workers in batches of about this many bytes (a few thousand paragraphs).
BATCH_BYTES = 1 << 20
# SQLite page cache of the build's connection, in KiB (the default 2 MB thrashes at 1M rows).
BUILD_CACHE_KIB = 256 * 1024
WAL_LIMIT_BYTES = 64 << 20
# Posting lists fetched per query when patching.
PATCH_FETCH = 500

Progress = Callable[[str, int, int], None]  # (stage, done, total)
ParseFile = Callable[[Path, str], list[ParsedReport]]  # (path, source) -> reports

_KIND_CODE = {k: i for i, k in enumerate(SECTION_KINDS)}
_NO_KIND = 255  # doc_kind of a docno without a paragraph


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


# --- reading files (in worker processes when there are many) --------------------------------

ReportRow = tuple[str, str, str, str, str, int, int]  # id, title, agency, years, source, no, n
ParagraphRow = tuple[str, str, int, str, str, str, str, int]  # id .. text, tokens, length


@dataclass(frozen=True)
class _FileRead:
    source: str
    reports: list[ReportRow]
    reason: str | None  # why the file was skipped


@dataclass(frozen=True)
class _Batch:
    """Some files read, parsed and tokenized: rows to insert and their postings."""

    files: list[_FileRead]
    paragraphs: list[ParagraphRow]
    owners: npt.NDArray[np.int64]  # per paragraph: index of its report among the batch's
    kinds: npt.NDArray[np.uint8]  # per paragraph: index into SECTION_KINDS
    postings: ChunkPostings


def _now_readable(state: _FileState, parse: ParseFile) -> bool:
    """Whether a file skipped before now yields reports (the reason may have been fixed)."""
    try:
        return bool(parse(state.path, state.source))
    except Exception:
        return False


def reasons_of(read: dict[str, _FileRead]) -> set[str]:
    """Sources that were read but skipped, with a reason."""
    return {source for source, f in read.items() if f.reason is not None}


def _read_batch(items: Sequence[tuple[Path, str]], tok: Tokenizer, parse: ParseFile) -> _Batch:
    files: list[_FileRead] = []
    rows: list[tuple[str, str, int, str, str, str]] = []
    owners: list[int] = []
    kinds: list[int] = []
    n_reports = 0
    for path, source in items:
        try:
            reports = parse(path, source)
        except UnreadableFile as exc:
            files.append(_FileRead(source, [], exc.reason))
            continue
        except Exception as exc:  # a parser bug must not lose the other files
            logger.exception("failed to parse %s", source)
            files.append(
                _FileRead(source, [], f"could not be parsed ({type(exc).__name__}: {exc})")
            )
            continue
        report_rows: list[ReportRow] = []
        titles: Counter[str] = Counter()
        for report in reports:
            rid = report_id(source, report.title, titles[report.title])
            titles[report.title] += 1
            texts: Counter[str] = Counter()
            for p in report.paragraphs:
                section = json.dumps(list(p.section), ensure_ascii=False)
                pid = paragraph_id(rid, p.text, texts[p.text])
                rows.append((pid, rid, p.no, section, p.kind, p.text))
                texts[p.text] += 1
                owners.append(n_reports)
                kinds.append(_KIND_CODE.get(p.kind, _KIND_CODE["other"]))
            years = json.dumps(list(report.years))
            row = (rid, report.title, report.agency, years, source, report.number)
            report_rows.append((*row, len(report.paragraphs)))
            n_reports += 1
        files.append(_FileRead(source, report_rows, None))
    tokens = tok.tokenize_many([r[5] for r in rows])
    return _Batch(
        files=files,
        paragraphs=[(*r, " ".join(t), len(t)) for r, t in zip(rows, tokens, strict=True)],
        owners=np.asarray(owners, dtype=np.int64),
        kinds=np.asarray(kinds, dtype=np.uint8),
        postings=chunk_postings(tokens),
    )


_worker: tuple[Tokenizer, ParseFile] | None = None


def _init_worker(tok: Tokenizer, parse: ParseFile) -> None:
    global _worker
    _worker = (tok, parse)


def _read_batch_in_worker(items: list[tuple[Path, str]]) -> _Batch:
    assert _worker is not None
    return _read_batch(items, *_worker)


def _batches(files: Sequence[_FileState]) -> list[list[tuple[Path, str]]]:
    out: list[list[tuple[Path, str]]] = []
    size = BATCH_BYTES
    for s in files:
        if size >= BATCH_BYTES:
            out.append([])
            size = 0
        out[-1].append((s.path, s.source))
        size += s.size
    return out


def _read_all(
    files: Sequence[_FileState],
    tok: Tokenizer,
    parse: ParseFile,
    workers: int | None,
    progress: Progress | None,
) -> Iterator[_Batch]:
    """Batches of `files` read, in order; in worker processes when there is a lot to read."""
    batches = _batches(files)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    done = 0
    if workers <= 1 or len(batches) < 2 or sum(s.size for s in files) < PARALLEL_MIN_BYTES:
        results: Iterable[_Batch] = (_read_batch(b, tok, parse) for b in batches)
        pool = None
    else:
        # fork: the workers start with this process's tokenizer (and dictionary) in memory
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker,
            initargs=(tok, parse),
        )
        results = pool.map(_read_batch_in_worker, batches)
    try:
        for batch in results:
            yield batch
            done += len(batch.files)
            if progress:
                progress("read", done, len(files))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


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
    parse: ParseFile | None = None,
) -> BuildReport:
    """Make the index at `db_path` reflect exactly the report files under `paths`.

    `parse` reads one file into reports (default: `index.ingest.parse_file`); `workers` caps
    the worker processes (default: one per CPU; 1 reads everything in this process)."""
    started = time.perf_counter()
    db_path = Path(db_path)
    tok = tokenizer or default_tokenizer()
    with build_lock(db_path):
        db = store.connect(db_path)
        try:
            db.execute(f"PRAGMA cache_size = -{BUILD_CACHE_KIB}")
            # a full build of 1M paragraphs writes ~800 MB of WAL: give the disk back after it
            db.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
            return _build(
                db,
                [Path(p) for p in paths],
                root,
                tok,
                parse or parse_file,
                full,
                workers,
                progress,
                started,
            )
        finally:
            db.close()


def _build(
    db: Database,
    paths: list[Path],
    root: Path | None,
    tok: Tokenizer,
    parse: ParseFile,
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
    if retry and not (full or added or changed or removed) and "generation" in meta:
        # Only files that were skipped before: write nothing unless one reads now.
        retry = [s for s in retry if _now_readable(s, parse)]
        for s in same:
            if known[s.source]["status"] == "skipped" and s not in retry:
                skipped.append(SkippedFile(s.source, known[s.source]["reason"] or "skipped"))
    to_read = added + changed + (same if full else retry)
    replaced = [s.source for s in changed] + removed
    timings["scan"] = time.perf_counter() - started
    if not (to_read or replaced) and "generation" in meta:
        # Nothing to do: no write, so readers keep their snapshot (and 1M-row arrays).
        return BuildReport(
            unchanged=tuple(s.source for s in unchanged),
            skipped=tuple(skipped),
            reports=db.execute("SELECT count(*) FROM reports").fetchone()[0],
            paragraphs=int(meta["documents"]),
            seconds=time.perf_counter() - started,
            details=timings,
        )

    # 2. In one transaction: remove what is gone, add what was read, fix postings and stats.
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with store.write_transaction(db):
        t0 = time.perf_counter()
        empty = full or db.execute("SELECT 1 FROM terms LIMIT 1").fetchone() is None
        docs = _DocArrays.empty() if full else _DocArrays.load(db)
        if full:
            for table in ("paragraphs", "reports", "terms"):
                db.execute(f"DELETE FROM {table}")
            gone_docnos, gone_terms = np.zeros(0, np.uint32), set[str]()
        else:
            gone_docnos, gone_terms = _delete_sources(db, replaced)
            docs.clear(gone_docnos)
        last = db.execute("SELECT coalesce(max(docno), 0) FROM paragraphs").fetchone()[0]
        builder = PostingsBuilder()
        read: dict[str, _FileRead] = {}
        next_docno = last + 1
        writing = 0.0  # of which this process spent inserting (the rest: waiting for workers)
        for batch in _read_all(to_read, tok, parse, workers, progress):
            t1 = time.perf_counter()
            ordinals = _insert(db, batch, next_docno)
            docs.append(next_docno, batch, ordinals)
            builder.add(batch.postings, next_docno)
            next_docno += len(batch.paragraphs)
            writing += time.perf_counter() - t1
            for f in batch.files:
                read[f.source] = f
                if f.reason is not None:
                    skipped.append(SkippedFile(f.source, f.reason))
        timings["read"] = time.perf_counter() - t0
        timings["insert"] = writing

        t0 = time.perf_counter()
        docs.save(db)
        if empty:
            _write_postings(db, builder.lists(), docs.lengths)
        else:
            added_lists = {p.term: p for p in builder.lists()}
            _patch_postings(db, docs.lengths, gone_docnos, gone_terms, added_lists)
        stats = _corpus_stats(db, docs)
        timings["postings"] = time.perf_counter() - t0
        _record_files(db, states, read, removed, unchanged, now)
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
    timings["total"] = time.perf_counter() - started
    return BuildReport(
        # a file skipped before that reads now is new to the index
        added=tuple(s.source for s in [*added, *retry] if s.source not in reasons_of(read)),
        changed=tuple(s.source for s in changed),
        removed=tuple(removed),
        unchanged=tuple(s.source for s in unchanged),
        skipped=tuple(skipped),
        reports=n_reports,
        paragraphs=stats.documents,
        seconds=time.perf_counter() - started,
        full=empty,
        details=timings,
    )


@dataclass
class _DocArrays:
    """Per-docno arrays the query path keeps in memory: length, section kind, report ordinal."""

    lengths: npt.NDArray[np.uint32]
    kinds: npt.NDArray[np.uint8]
    owners: npt.NDArray[np.int32]  # report ordinal; -1: no paragraph has this docno

    @classmethod
    def empty(cls) -> _DocArrays:
        return cls(
            np.zeros(1, np.uint32), np.full(1, _NO_KIND, np.uint8), np.full(1, -1, np.int32)
        )

    @classmethod
    def load(cls, db: Database) -> _DocArrays:
        lengths = store.get_array(db, "doc_length", np.uint32).copy()
        if not len(lengths):
            return cls.empty()
        return cls(
            lengths,
            store.get_array(db, "doc_kind", np.uint8).copy(),
            store.get_array(db, "doc_report", np.int32).copy(),
        )

    def clear(self, docnos: npt.NDArray[np.uint32]) -> None:
        self.lengths[docnos] = 0
        self.kinds[docnos] = _NO_KIND
        self.owners[docnos] = -1

    def append(self, first_docno: int, batch: _Batch, ordinals: npt.NDArray[np.int32]) -> None:
        """The arrays of `batch`'s paragraphs, docnos `first_docno`..; any gap before them is
        docnos without a paragraph."""
        size = first_docno + len(batch.paragraphs)
        if size > len(self.lengths):
            grow = max(size, 2 * len(self.lengths)) - len(self.lengths)  # amortised
            self.lengths = np.concatenate((self.lengths, np.zeros(grow, np.uint32)))
            self.kinds = np.concatenate((self.kinds, np.full(grow, _NO_KIND, np.uint8)))
            self.owners = np.concatenate((self.owners, np.full(grow, -1, np.int32)))
        self.lengths[first_docno:size] = batch.postings.lengths
        self.kinds[first_docno:size] = batch.kinds
        self.owners[first_docno:size] = ordinals[batch.owners]

    def save(self, db: Database) -> None:
        last = int(np.flatnonzero(self.owners >= 0)[-1]) if (self.owners >= 0).any() else 0
        store.put_array(db, "doc_length", self.lengths[: last + 1])
        store.put_array(db, "doc_kind", self.kinds[: last + 1])
        store.put_array(db, "doc_report", self.owners[: last + 1])


def _delete_sources(db: Database, sources: list[str]) -> tuple[npt.NDArray[np.uint32], set[str]]:
    """Delete the reports and paragraphs of `sources`; return their docnos and terms."""
    docnos: list[int] = []
    terms: set[str] = set()
    for source in sources:
        rids = [r[0] for r in db.execute("SELECT id FROM reports WHERE source = ?", [source])]
        for rid in rids:
            for docno, toks in db.execute(
                "SELECT docno, tokens FROM paragraphs WHERE report_id = ?", [rid]
            ):
                docnos.append(docno)
                terms.update(toks.split())
            db.execute("DELETE FROM paragraphs WHERE report_id = ?", [rid])
        db.execute("DELETE FROM reports WHERE source = ?", [source])
    return np.asarray(docnos, dtype=np.uint32), terms


def _insert(db: Database, batch: _Batch, first_docno: int) -> npt.NDArray[np.int32]:
    """Insert the batch's reports and paragraphs; return the reports' ordinals."""
    ordinals: list[int] = []
    for f in batch.files:
        for row in f.reports:
            cur = db.conn.execute(
                "INSERT INTO reports(id, title, agency, years, source, number, paragraphs) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            ordinals.append(int(cur.lastrowid or 0))
    db.conn.executemany(
        "INSERT INTO paragraphs(docno, id, report_id, no, section, kind, text, tokens, length) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ((first_docno + i, *row) for i, row in enumerate(batch.paragraphs)),
    )
    return np.asarray(ordinals, dtype=np.int32)


def _term_row(plist: PostingList, lengths: np.ndarray) -> tuple[str, int, int, int, bytes]:
    return (
        plist.term,
        plist.df,
        plist.max_tf,
        int(lengths[plist.docnos].min()),
        store.encode_postings(plist.docnos, plist.tfs),
    )


def _write_postings(db: Database, lists: Iterable[PostingList], lengths: np.ndarray) -> None:
    db.conn.executemany(
        "INSERT INTO terms(term, df, max_tf, min_length, postings) VALUES (?, ?, ?, ?, ?)",
        (_term_row(p, lengths) for p in lists),
    )


def _patch_postings(
    db: Database,
    lengths: np.ndarray,
    gone_docnos: npt.NDArray[np.uint32],
    gone_terms: set[str],
    added: dict[str, PostingList],
) -> None:
    """Remove `gone_docnos` from the lists of `gone_terms` and append the `added` lists."""
    terms = sorted(gone_terms | set(added))
    for i in range(0, len(terms), PATCH_FETCH):
        part = terms[i : i + PATCH_FETCH]
        stored = store.fetch_terms(db, part)
        rows, emptied = [], []
        for term in part:
            row = stored.get(term)
            old = None
            if row is not None:
                old = PostingList(term, *store.decode_postings(row[3], row[0]))
            plist = patch(old, gone_docnos, added.get(term))
            if plist.df:
                rows.append(_term_row(PostingList(term, plist.docnos, plist.tfs), lengths))
            else:
                emptied.append((term,))
        db.conn.executemany(
            "INSERT INTO terms(term, df, max_tf, min_length, postings) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(term) DO UPDATE SET df = excluded.df, max_tf = excluded.max_tf, "
            "min_length = excluded.min_length, postings = excluded.postings",
            rows,
        )
        db.conn.executemany("DELETE FROM terms WHERE term = ?", emptied)


def _corpus_stats(db: Database, docs: _DocArrays) -> bm25.CorpusStats:
    n = int(np.count_nonzero(docs.owners >= 0))  # every paragraph, empty ones included
    dfs = np.fromiter((r[0] for r in db.execute("SELECT df FROM terms")), dtype=np.float64)
    # Row order depends on the build's history; summing in a fixed order makes the mean (and so
    # every Okapi score) bit-identical between an incremental update and a full rebuild.
    dfs.sort()
    mean_raw = float(bm25.raw_okapi_idf(n, dfs).mean()) if len(dfs) else 0.0
    return bm25.CorpusStats(
        documents=n, total_length=int(docs.lengths.sum(dtype=np.int64)), mean_raw_idf=mean_raw
    )


def _record_files(
    db: Database,
    states: list[_FileState],
    read: dict[str, _FileRead],
    removed: list[str],
    unchanged: list[_FileState],
    now: str,
) -> None:
    db.conn.executemany("DELETE FROM files WHERE source = ?", [(s,) for s in removed])
    keep = {s.source for s in unchanged}
    rows = []
    for s in states:
        if s.source in keep:
            continue
        f = read.get(s.source)
        if f is not None and f.reason is None:
            status, reason, n = "indexed", None, len(f.reports)
        else:
            status, reason, n = "skipped", f.reason if f else "skipped", 0
        rows.append((s.source, s.sha256, s.size, status, reason, n, now))
    db.conn.executemany(
        "INSERT INTO files(source, sha256, size, status, reason, reports, indexed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(source) DO UPDATE SET "
        "sha256 = excluded.sha256, size = excluded.size, status = excluded.status, "
        "reason = excluded.reason, reports = excluded.reports, "
        "indexed_at = excluded.indexed_at",
        rows,
    )
