"""`SearchIndex`: a question in, ranked and cited paragraphs out.

The query path reads only the postings of the question's terms (plus the paragraphs it returns)
from SQLite; per-document lengths, kinds and owners are arrays kept in memory. A rebuilt index
is picked up on the next query without a restart.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlite_utils import Database

from index import bm25, store, topk
from index.models import SECTION_KINDS, Hit, Paragraph, Report, SectionKind
from index.normalize import normalize
from index.query import Query, ScopeIndex, analyze, report_keys
from index.rank import Candidate, Ranked, rerank
from index.tokenize import Tokenizer, default_tokenizer

logger = logging.getLogger(__name__)

RERANK_POOL = 30  # BM25 candidates the ranking features look at
SCOPED_POOL = 20  # more candidates from the reports a question names
WEAK_MIN_IDF = 2.0  # synonyms more common than this (in over ~13% of paragraphs) are left out
MAX_WEAK_TERMS = 8  # at most this many synonym terms per question, the rarest
MAX_QUESTION_CHARS = 500  # a longer question is cut here
CONTEXT_CACHE_SIZE = 50_000


@dataclass(frozen=True)
class Filters:
    """Optional restrictions; None means no restriction."""

    agency: str | None = None  # substring of the report's agency or title
    report_id: str | None = None
    year: int | None = None
    kind: SectionKind | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.agency, self.report_id, self.year, self.kind))


@dataclass(frozen=True)
class SearchResult:
    question: str
    terms: tuple[str, ...]  # normalised query terms, for highlighting
    hits: tuple[Hit, ...]
    total: int  # paragraphs that matched (at least this many when pruning cut in)


@dataclass(frozen=True)
class OutlineEntry:
    section: tuple[str, ...]
    kind: SectionKind
    paragraphs: int


@dataclass(frozen=True)
class IndexStats:
    reports: int
    paragraphs: int
    built_at: str


@dataclass(frozen=True)
class WeightedTerm:
    term: str
    weight: float


@dataclass(frozen=True)
class _Snapshot:
    """What one committed build looks like, as the query path needs it in memory."""

    generation: int
    stats: bm25.CorpusStats
    params: bm25.BM25Params
    norm: npt.NDArray[np.float64]  # 1 - b + b * dl / avgdl, by docno
    kinds: npt.NDArray[np.uint8]  # index into SECTION_KINDS, 255 for no paragraph
    owners: npt.NDArray[np.int32]  # report ordinal, -1 for no paragraph
    reports: dict[int, Report]  # by ordinal
    by_id: dict[str, int]  # report id -> ordinal
    built_at: str


def _load_snapshot(db: Database) -> _Snapshot:
    meta = store.get_meta(db)
    if "generation" not in meta:
        raise store.IndexUnavailable("the index is empty: build it with `reportbot index build`")
    p = meta.get("bm25", {})
    params = bm25.BM25Params(
        variant=p.get("variant", "okapi"),
        k1=p.get("k1", 1.5),
        b=p.get("b", 0.75),
        epsilon=p.get("epsilon", 0.25),
        delta=p.get("delta"),
    )
    stats = bm25.CorpusStats(
        documents=int(meta["documents"]),
        total_length=int(meta["total_length"]),
        mean_raw_idf=float(meta["mean_raw_idf"]),
    )
    lengths = store.get_array(db, "doc_length", np.uint32)
    reports: dict[int, Report] = {}
    for row in db.execute(  # `paragraphs`: the build counts them (a GROUP BY costs 0.1 s at 1M)
        "SELECT ordinal, id, title, agency, years, source, number, paragraphs FROM reports "
        "ORDER BY ordinal"
    ):
        reports[row[0]] = Report(
            id=row[1],
            title=row[2],
            agency=row[3],
            years=tuple(json.loads(row[4])),
            source=row[5],
            number=row[6],
            paragraphs=row[7],
        )
    return _Snapshot(
        generation=int(meta["generation"]),
        stats=stats,
        params=params,
        norm=bm25.length_norm(params, stats, lengths),
        kinds=store.get_array(db, "doc_kind", np.uint8),
        owners=store.get_array(db, "doc_report", np.int32),
        reports=reports,
        by_id={r.id: o for o, r in reports.items()},
        built_at=str(meta.get("built_at", "")),
    )


class SearchIndex:
    """A read-only view of one index file, safe to use from several threads."""

    def __init__(self, db_path: str | Path, tokenizer: Tokenizer | None = None) -> None:
        self.db_path = Path(db_path)
        self.tokenizer = tokenizer or default_tokenizer()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[Database] = []
        self._keys: dict[int, ScopeIndex] = {}
        self._context_cache: dict[tuple[str, str], frozenset[str]] = {}
        db = self._db()
        with store.read_snapshot(db):
            self._snapshot = _load_snapshot(db)

    @classmethod
    def open(cls, db_path: str | Path, tokenizer: Tokenizer | None = None) -> SearchIndex:
        """Open an existing index; raises `store.IndexUnavailable` saying why it cannot."""
        try:
            return cls(db_path, tokenizer)
        except sqlite3.DatabaseError as exc:  # e.g. a damaged page read while loading
            raise store.unavailable(db_path, exc) from exc

    # --- connections and freshness ----------------------------------------------------------

    def _db(self) -> Database:
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = store.connect(self.db_path, create=False)
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    def _current(self, db: Database) -> _Snapshot:
        """The snapshot matching the read transaction in progress, reloaded when rebuilt."""
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        generation = int(json.loads(row[0])) if row else -1
        snap = self._snapshot
        if generation != snap.generation:
            snap = _load_snapshot(db)
            with self._lock:
                self._snapshot = snap
            logger.info("index reloaded: generation %d", generation)
        return snap

    def refresh(self) -> bool:
        """Pick up a rebuilt index now; True when it changed."""
        db = self._db()
        before = self._snapshot.generation
        with store.read_snapshot(db):
            return self._current(db).generation != before

    def close(self) -> None:
        with self._lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    # --- searching ----------------------------------------------------------------------------

    def analyze(self, question: str) -> Query:
        """What the question asks for (terms, section kind, named reports …)."""
        return analyze(question, self.tokenizer, self._snapshot_keys())

    def _snapshot_keys(self) -> ScopeIndex:
        snap = self._snapshot
        keys = self._keys.get(snap.generation)
        if keys is None:
            keys = report_keys(snap.reports)
            self._keys = {snap.generation: keys}
        return keys

    def search(
        self,
        question: str,
        *,
        top: int = 3,
        offset: int = 0,
        filters: Filters | None = None,
        explain: bool = False,
    ) -> SearchResult:
        """The best `top` paragraphs after `offset`, most useful first."""
        top, offset = max(0, top), max(0, offset)
        question = question[:MAX_QUESTION_CHARS]
        db = self._db()
        with store.read_snapshot(db):
            snap = self._current(db)
            query = self.analyze(question)
            terms = [WeightedTerm(t.term, t.weight) for t in query.terms]
            pool = max(RERANK_POOL, 2 * (offset + top))
            own = {t.term for t in query.terms if t.origin != "synonym"}
            weak = {t.term for t in query.terms if t.origin in ("synonym", "scope")}
            found, idfs = self._top_docs(db, snap, terms, pool, filters, own, weak=weak)
            gains = dict(zip(found.docnos.tolist(), found.gains.tolist(), strict=True))
            if query.scope:
                # The reports the question names get their own candidates: their best
                # paragraphs may sit below the overall pool and still win after the boost.
                named, _ = self._top_docs(
                    db, snap, terms, SCOPED_POOL, filters, within=set(query.scope), weak=weak
                )
                for docno, gain in zip(named.docnos.tolist(), named.gains.tolist(), strict=True):
                    gains.setdefault(docno, gain)
            rows = self._candidate_rows(db, list(gains))
            candidates = [
                self._candidate(snap, docno, gain, rows[docno], idfs)
                for docno, gain in gains.items()
                if docno in rows
            ]
            base = self._absent_total(snap, terms)
        ranked = rerank(query, candidates, offset + top)[offset:]
        hits = tuple(
            Hit(
                rank=offset + i + 1,
                score=r.score + base,
                paragraph=rows[r.candidate.docno][0],
                report=r.candidate.report,
                also_in=r.also_in,
                explain=self._explain(r, query) if explain else (),
            )
            for i, r in enumerate(ranked)
        )
        return SearchResult(
            question=question, terms=query.highlight, hits=hits, total=found.matched
        )

    def _candidate_rows(self, db: Database, docnos: list[int]) -> dict[int, tuple[Paragraph, str]]:
        if not docnos:
            return {}
        rows = db.execute(
            "SELECT docno, id, report_id, no, section, kind, text FROM paragraphs "
            f"WHERE docno IN ({','.join('?' * len(docnos))})",
            docnos,
        )
        return {row[0]: (self._paragraph(row[1:]), str(row[4])) for row in rows}

    def _candidate(
        self,
        snap: _Snapshot,
        docno: int,
        gain: float,
        row: tuple[Paragraph, str],
        idfs: dict[str, float],
    ) -> Candidate:
        para, section_key = row
        ordinal = snap.by_id[para.report_id]
        report = snap.reports[ordinal]
        return Candidate(
            docno=docno,
            bm25=gain,
            report=report,
            ordinal=ordinal,
            kind=para.kind,
            section=para.section,
            text=para.text,
            context_terms=self._context_terms(report, section_key, para.section),
            term_idf=idfs,
            pid=para.id,
        )

    def _context_terms(
        self, report: Report, section_key: str, section: tuple[str, ...]
    ) -> frozenset[str]:
        """Tokens of a paragraph's section path and report title (cached per section)."""
        key = (report.id, section_key)
        found = self._context_cache.get(key)
        if found is None:
            if len(self._context_cache) > CONTEXT_CACHE_SIZE:
                self._context_cache.clear()
            found = frozenset(self.tokenizer.tokenize(" ".join((*section, report.title))))
            self._context_cache[key] = found
        return found

    def _explain(self, r: Ranked, query: Query) -> tuple[str, ...]:
        c = r.candidate
        per_term = []
        text = normalize(c.text)
        for t in query.terms:
            if t.term in c.term_idf and t.term in text:
                per_term.append(
                    f"{t.term}×{t.weight:g} ({t.origin}, idf {c.term_idf[t.term]:.2f})"
                )
        lines = [f"score {r.score:.3f}", *r.why]
        if per_term:
            lines.append("matched terms: " + ", ".join(per_term))
        if query.kind:
            lines.append(f"question asks for: {query.kind}")
        if query.scope_words:
            lines.append("question names: " + ", ".join(query.scope_words))
        return tuple(lines)

    def bm25_top(self, tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(docno, score) of the k best paragraphs for raw query tokens: plain rank-bm25."""
        terms = [WeightedTerm(t, float(n)) for t, n in Counter(tokens).items()]
        db = self._db()
        with store.read_snapshot(db):
            snap = self._current(db)
            found, _ = self._top_docs(db, snap, terms, k, None)
            base = self._absent_total(snap, terms)
        return [(int(d), float(g) + base) for d, g in zip(found.docnos, found.gains, strict=True)]

    def _absent_total(self, snap: _Snapshot, terms: Sequence[WeightedTerm]) -> float:
        """What every paragraph scores for the query (non-zero for BM25Plus only)."""
        if snap.params.variant != "plus" or not terms:
            return 0.0
        rows = store.fetch_terms(self._db(), (t.term for t in terms))
        return sum(
            t.weight * bm25.absent(snap.params, bm25.idf(snap.params, snap.stats, rows[t.term][0]))
            for t in terms
            if t.term in rows
        )

    def _top_docs(
        self,
        db: Database,
        snap: _Snapshot,
        terms: Sequence[WeightedTerm],
        k: int,
        filters: Filters | None,
        count_terms: set[str] | None = None,
        within: set[int] | None = None,
        weak: set[str] | None = None,
    ) -> tuple[topk.TopDocs, dict[str, float]]:
        """Exact BM25 top k over weighted terms, and the idf of each term the index has."""
        rows = store.fetch_terms(db, (t.term for t in terms))
        postings: list[topk.TermPostings] = []
        idfs: dict[str, float] = {}
        for t in terms:
            row = rows.get(t.term)
            if row is None:
                continue
            df, max_tf, min_length, blob = row
            term_idf = idfs[t.term] = bm25.idf(snap.params, snap.stats, df)
            docnos, tfs = store.decode_postings(blob, df)
            bound = bm25.gain_bound(snap.params, snap.stats, term_idf, max_tf, min_length)
            postings.append(topk.TermPostings(t.term, t.weight, term_idf, docnos, tfs, bound))
        if weak:
            # A synonym as common as "建设" says little and costs a long posting list; of the
            # rest, the rarest few carry the paraphrase.
            rare = sorted(
                (p for p in postings if p.term in weak and p.idf >= WEAK_MIN_IDF),
                key=lambda p: -p.idf,
            )[:MAX_WEAK_TERMS]
            keep = {p.term for p in rare}
            postings = [p for p in postings if p.term not in weak or p.term in keep]
        if within is not None:
            postings = self._only_reports(snap, postings, within)
        allowed = self._allowed(snap, filters) if filters else None
        found = topk.top_docs(postings, snap.norm, snap.params, k, allowed)
        if count_terms is not None:
            found = replace(
                found, matched=self._count_matching(snap, postings, count_terms, allowed)
            )
        return found, idfs

    @staticmethod
    def _only_reports(
        snap: _Snapshot, postings: list[topk.TermPostings], ordinals: set[int]
    ) -> list[topk.TermPostings]:
        """The postings of paragraphs in the given reports (no corpus-wide mask)."""
        lut = np.zeros(max(snap.reports, default=0) + 2, dtype=bool)  # [-1] stays False
        lut[list(ordinals)] = True
        out = []
        for p in postings:
            keep = lut[snap.owners[p.docnos]]
            if keep.any():
                out.append(replace(p, docnos=p.docnos[keep], tfs=p.tfs[keep]))
        return out

    @staticmethod
    def _count_matching(
        snap: _Snapshot,
        postings: list[topk.TermPostings],
        terms: set[str],
        allowed: npt.NDArray[np.bool_] | None,
    ) -> int:
        """Paragraphs holding at least one of `terms` (the question's own words)."""
        mask = np.zeros(len(snap.norm), dtype=bool)
        for p in postings:
            if p.term in terms:
                mask[p.docnos] = True
        if allowed is not None:
            mask &= allowed[: len(mask)]
        return int(mask.sum())

    def _allowed(self, snap: _Snapshot, filters: Filters) -> npt.NDArray[np.bool_]:
        mask = np.ones(len(snap.owners), dtype=bool)
        if filters.kind is not None:
            mask &= snap.kinds == SECTION_KINDS.index(filters.kind)
        ordinals: set[int] | None = None
        if filters.report_id is not None:
            ordinals = (
                {snap.by_id[filters.report_id]} if filters.report_id in snap.by_id else set()
            )
        if filters.agency:
            needle = normalize(filters.agency)
            chosen = {
                o
                for o, r in snap.reports.items()
                if needle in normalize(r.agency) or needle in normalize(r.title)
            }
            ordinals = chosen if ordinals is None else ordinals & chosen
        if filters.year is not None:
            chosen = {o for o, r in snap.reports.items() if filters.year in r.years}
            ordinals = chosen if ordinals is None else ordinals & chosen
        if ordinals is not None:
            mask &= np.isin(
                snap.owners, np.fromiter(ordinals, dtype=np.int32, count=len(ordinals))
            )
        return mask

    # --- reading stored things --------------------------------------------------------------

    @staticmethod
    def _paragraph(row: Sequence[object]) -> Paragraph:
        kind = str(row[4])
        return Paragraph(
            id=str(row[0]),
            report_id=str(row[1]),
            no=int(row[2]),  # type: ignore[call-overload]
            section=tuple(json.loads(str(row[3]))),
            kind=kind if kind in SECTION_KINDS else "other",  # type: ignore[arg-type]
            text=str(row[5]),
        )

    def _report_of(self, snap: _Snapshot, rid: str) -> Report:
        return snap.reports[snap.by_id[rid]]

    def paragraph(self, paragraph_id: str) -> Hit | None:
        """One paragraph with its report (rank 0), or None when a reindex removed it."""
        db = self._db()
        with store.read_snapshot(db):
            snap = self._current(db)
            row = db.execute(
                "SELECT id, report_id, no, section, kind, text FROM paragraphs WHERE id = ?",
                [paragraph_id],
            ).fetchone()
        if row is None:
            return None
        para = self._paragraph(row)
        return Hit(rank=0, score=0.0, paragraph=para, report=self._report_of(snap, para.report_id))

    def report(self, report_id: str) -> Report | None:
        db = self._db()
        with store.read_snapshot(db):
            snap = self._current(db)
        ordinal = snap.by_id.get(report_id)
        return snap.reports[ordinal] if ordinal is not None else None

    def reports(self) -> list[Report]:
        db = self._db()
        with store.read_snapshot(db):
            snap = self._current(db)
        return list(snap.reports.values())

    def report_paragraphs(self, report_id: str) -> list[Paragraph]:
        db = self._db()
        rows = db.execute(
            "SELECT id, report_id, no, section, kind, text FROM paragraphs "
            "WHERE report_id = ? ORDER BY no",
            [report_id],
        ).fetchall()
        return [self._paragraph(r) for r in rows]

    def outline(self, report_id: str) -> list[OutlineEntry]:
        """The report's sections in order, with their kinds and paragraph counts."""
        out: list[OutlineEntry] = []
        for para in self.report_paragraphs(report_id):
            if out and out[-1].section == para.section and out[-1].kind == para.kind:
                last = out[-1]
                out[-1] = OutlineEntry(last.section, last.kind, last.paragraphs + 1)
            else:
                out.append(OutlineEntry(para.section, para.kind, 1))
        return out

    def stats(self) -> IndexStats:
        db = self._db()
        with store.read_snapshot(db):
            snap = self._current(db)
        return IndexStats(
            reports=len(snap.reports), paragraphs=snap.stats.documents, built_at=snap.built_at
        )
