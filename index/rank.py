"""Re-ranking BM25 candidates with what the question asks for. Pure functions, no I/O.

    score = (bm25 + context bonus) x kind x scope x year x figures x answer-likeness

then, for "which agency" questions, a greedy pick that lets other reports reach the top, and
near-identical paragraphs folded into one hit. Each factor is 1 when its feature does not apply,
so a question with no feature is ranked exactly by BM25.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from index.models import Report, SectionKind
from index.normalize import normalize
from index.query import Query

CONTEXT_WEIGHT = 0.35  # share of a term's idf that a match in the section path / title earns
KIND_BOOST = 1.6  # the section kind the question asks for
SCOPE_BOOST = 6.0  # x (1 + SCOPE_BOOST * strength) for reports the question names
YEAR_SECTION_BOOST = 1.25  # the section path names a year the question names
YEAR_REPORT_BOOST = 1.1  # the report is about a year the question names
FIGURES_BOOST = 1.15  # paragraphs with figures, for "how many" questions
SHORT_PENALTY = 0.5  # paragraphs too short to answer anything
NOT_ANSWER_PENALTY = 0.2  # dates, signatures, session lines, titles
NOTE_PENALTY = 0.5  # glossary notes and footnotes ([1]…, 注：…)
AGENCY_DECAY = 0.7  # per paragraph already picked from the same report, for "which agency"
SHORT_CHARS = 25  # shorter than this and not a sentence: a fragment
MIN_CHARS = 12  # shorter than this: a fragment, sentence or not

_DIGITS = re.compile(r"\d")
_CLAUSE = re.compile(r"[，。；！？,;!?]")
# A paragraph that states problems inside a review section (common in 政府工作报告).
_STATES_PROBLEMS = re.compile(
    r"清醒(地)?(认识|看)到|存在.{0,10}(问题|不足|短板|困难|差距)|困难和(问题|挑战)|问题和不足|"
    r"短板弱项|不足之处|主要是[:：]"
)
_DATE_LINE = re.compile(r"^[\s\d〇零一二三四五六七八九十年月日号.\-/（）()]{4,20}$")
_SESSION_LINE = re.compile(r"(人民代表大会|政协).{0,20}(会议|上)|^[—\-－]{1,2}\s*在")
_NOTE = re.compile(r"^(\[\d{1,3}\]|［\d{1,3}］|注[:：]|注释[:：]|名词解释)")
_SIGNATURE = re.compile(
    r"^[\u4e00-\u9fffx]{0,16}(人民政府|委员会|局|办公室|残联|政府|办事处|中心|委|办)$"
)
_BARE_HEADING = re.compile(
    r"^([一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[）)]|\d+[.、．])[^。；;，,]{0,18}$"
)


@dataclass(frozen=True)
class Candidate:
    docno: int
    bm25: float
    report: Report
    ordinal: int  # the report's ordinal, as Query.scope names reports
    kind: SectionKind
    section: tuple[str, ...]
    text: str
    context_terms: frozenset[str]  # tokens of the section path and the report title
    term_idf: dict[str, float] = field(default_factory=dict, compare=False)
    pid: str = ""  # the paragraph id: breaks exact ties the same way in every build


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    score: float
    why: tuple[str, ...]
    also_in: tuple[Report, ...] = ()


def wanted_kind(query: Query, report: Report) -> SectionKind | None:
    """The section kind the question asks for, in this report's terms."""
    if query.kind is not None:
        return query.kind
    years = sorted(report.years)
    if len(years) >= 2:
        for y in query.years:
            if y == years[-1]:
                return "plan"
            if y == years[0]:
                return "summary"
    return None


def answer_likeness(text: str) -> tuple[float, str]:
    """1.0 for a paragraph that can answer; less for dates, signatures, headings, stubs."""
    t = normalize(text[:120]).strip()
    compact = t.replace(" ", "")
    if len(t) > 2 * len(compact) - 2 and len(compact) <= 12:  # 政 府 工 作 报 告
        return NOT_ANSWER_PENALTY, "spaced-out title"
    if _DATE_LINE.match(t) or _SIGNATURE.match(compact) or _BARE_HEADING.match(compact):
        return NOT_ANSWER_PENALTY, "not an answer (a date, signature or bare heading)"
    if _SESSION_LINE.search(t) and len(t) < 60:
        return NOT_ANSWER_PENALTY, "not an answer (a session line)"
    if _NOTE.match(t):
        return NOTE_PENALTY, "a glossary note"
    if len(compact) < MIN_CHARS or (len(compact) < SHORT_CHARS and not _CLAUSE.search(t)):
        return SHORT_PENALTY, f"a fragment ({len(compact)} chars)"
    return 1.0, ""


def score(query: Query, c: Candidate, weights: dict[str, float]) -> Ranked:
    why = [f"bm25 {c.bm25:.2f}"]
    ctx = (
        sum(weights[t] * c.term_idf.get(t, 0.0) for t in c.context_terms if t in weights)
        * CONTEXT_WEIGHT
    )
    total = c.bm25 + ctx
    if ctx:
        why.append(f"+{ctx:.2f} section path / title")
    kind = wanted_kind(query, c.report)
    paragraph_kind = c.kind
    if kind == "problem" and paragraph_kind != "problem" and _STATES_PROBLEMS.search(c.text[:120]):
        paragraph_kind = "problem"
    if kind is not None and paragraph_kind == kind:
        total *= KIND_BOOST
        why.append(f"x{KIND_BOOST} {kind} section, as asked")
    strength = query.scope.get(c.ordinal, 0.0)
    if strength:
        factor = 1 + SCOPE_BOOST * strength
        total *= factor
        why.append(f"x{factor:.2f} report named in the question")
    if query.years:
        path = "".join(c.section)
        if any(str(y) in path for y in query.years):
            total *= YEAR_SECTION_BOOST
            why.append(f"x{YEAR_SECTION_BOOST} section about {'/'.join(map(str, query.years))}")
        elif any(y in c.report.years for y in query.years):
            total *= YEAR_REPORT_BOOST
            why.append(f"x{YEAR_REPORT_BOOST} report about {'/'.join(map(str, query.years))}")
    if query.wants_number and _DIGITS.search(c.text):
        total *= FIGURES_BOOST
        why.append(f"x{FIGURES_BOOST} has figures")
    factor, reason = answer_likeness(c.text)
    if factor != 1.0:
        total *= factor
        why.append(f"x{factor} {reason}")
    return Ranked(c, total, tuple(why))


def rerank(query: Query, candidates: Sequence[Candidate], limit: int) -> list[Ranked]:
    """The best `limit` candidates for the question, most useful first."""
    weights = {t.term: t.weight for t in query.terms}
    scored = sorted(
        (score(query, c, weights) for c in candidates),
        key=lambda r: (-r.score, r.candidate.pid, r.candidate.docno),
    )
    scored = fold_duplicates(scored)
    if query.wants_agency:
        scored = spread_reports(scored, limit)
    return scored[:limit]


def spread_reports(ranked: list[Ranked], limit: int) -> list[Ranked]:
    """Greedy pick that discounts each further paragraph from an already-picked report."""
    pool = list(ranked)
    out: list[Ranked] = []
    picked: dict[str, int] = {}
    while pool and len(out) < limit:
        best_i, best_s = 0, float("-inf")
        for i, r in enumerate(pool):
            s = r.score * AGENCY_DECAY ** picked.get(r.candidate.report.id, 0)
            if s > best_s + 1e-12:
                best_i, best_s = i, s
        r = pool.pop(best_i)
        n = picked.get(r.candidate.report.id, 0)
        if n:
            r = Ranked(
                r.candidate,
                best_s,
                (*r.why, f"x{AGENCY_DECAY**n:.2f} same report again"),
                r.also_in,
            )
        picked[r.candidate.report.id] = n + 1
        out.append(r)
    return out + pool


_NOT_WORD = re.compile(r"[\W_]+")


def _shingles(squashed: str) -> set[str]:
    return {squashed[i : i + 3] for i in range(max(len(squashed) - 2, 1))}


def fold_duplicates(ranked: list[Ranked], threshold: float = 0.85) -> list[Ranked]:
    """Keep the best of near-identical paragraphs; name the other reports in `also_in`.

    Near-identical means 3-character shingles overlapping by `threshold` (Jaccard). Only pairs
    that share their first or last characters are compared, so this stays linear.
    """
    kept: list[Ranked] = []
    texts: list[str] = []
    shingles: dict[int, set[str]] = {}
    by_edge: dict[str, list[int]] = {}
    for r in ranked:
        text = _NOT_WORD.sub("", r.candidate.text)
        edges = ("^" + text[:8], "$" + text[-8:])
        same = None
        mine: set[str] | None = None
        for i in {i for e in edges for i in by_edge.get(e, ())}:
            other = texts[i]
            if min(len(text), len(other)) < threshold * max(len(text), len(other)):
                continue
            if mine is None:
                mine = _shingles(text)
            theirs = shingles.setdefault(i, _shingles(other))
            if len(mine & theirs) >= threshold * len(mine | theirs):
                same = i
                break
        if same is None:
            for e in edges:
                by_edge.setdefault(e, []).append(len(kept))
            kept.append(r)
            texts.append(text)
            continue
        k = kept[same]
        report = r.candidate.report
        if report.id != k.candidate.report.id and report not in k.also_in:
            kept[same] = Ranked(k.candidate, k.score, k.why, (*k.also_in, report))
    return kept
