"""Question analysis: what a question asks for, beyond its words.

    question -> terms to score (weighted; synonyms and translations at lower weight)
             -> wanted section kind (plan / summary / problem), years, scope (which reports
                it names by agency or place), and whether it asks "which agency" or "how many"

Pure functions over the question, the tokenizer and the lexicon; no I/O, no index access
beyond the list of reports it is given to recognise agencies and places.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from index import lexicon
from index.models import Report, SectionKind
from index.normalize import normalize
from index.tokenize import Tokenizer

# Lower weights for words the question did not say itself.
SYNONYM_WEIGHT = 0.4
TRANSLATION_WEIGHT = 1.0
SCOPE_TERM_WEIGHT = 0.3

_PROBLEM = re.compile(r"问题|不足|短板|困难|瓶颈|挑战|薄弱|欠缺|差距|难点|风险|隐患|制约|弱项")
_PLAN = re.compile(
    r"计划|打算|明年|下一步|下步|将要|将会|准备|谋划|安排|思路|今后|来年|下一年|未来|规划|目标|部署"
)
_SUMMARY = re.compile(
    r"去年|今年|完成|取得|成效|成绩|成果|做了|干了|开展了|实现了|建了|建成|落实了|效果|"
    r"亮点|经验|情况|是怎么|是如何|了哪些|了什么|了多少|了几|已经|上一年|过去"
)
_AGENCY_Q = re.compile(r"哪个|哪些|哪家|哪里|哪儿|哪位|谁|什么单位|什么部门|什么地方|哪一")
_NUMBER_Q = re.compile(r"多少|几[个家户人次项所条处名万亿天年月]|比例|百分|多大|数量|规模|几成")
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-9]\d)(?!\d)")

_EN_WORD = re.compile(r"[a-z][a-z']*")
# "哪个单位 / 哪些乡镇 / which agency": the noun only frames the question; it is not a topic.
_FRAMING = re.compile(
    r"(?:哪个|哪些|哪家|哪一个|哪一|什么|是否有)(单位|部门|机构|机关|地方|地区|乡镇|街道|乡|镇|县|区|市|局)"
)
_EN_FRAMING = re.compile(
    r"\b(?:which|what)\s+(agency|agencies|unit|units|department|departments|office|offices|"
    r"county|counties|town|towns|township|townships|district|districts|city|cities|place|places|"
    r"government|governments|bureau|bureaus)\b"
)
# Words that only say what KIND of section is wanted; the kind is a ranking signal, so they
# are not expanded into their synonyms (计划 -> 安排, 谋划, 思路 … would only add noise).
_NOT_EXPANDED = re.compile(
    _PROBLEM.pattern + "|" + _PLAN.pattern + "|" + _SUMMARY.pattern + r"|单位|部门|机构|地方|工作"
)
_EN_PLAN = re.compile(r"\b(plan|plans|planned|planning|will|next year|going to|intend|aim)\b")
_EN_SUMMARY = re.compile(r"\b(did|done|achieve\w*|complet\w*|last year|accomplish\w*|result\w*)\b")
_EN_PROBLEM = re.compile(r"\b(problem\w*|issue\w*|shortcoming\w*|difficult\w*|weakness\w*)\b")
_EN_AGENCY = re.compile(r"\b(which|who|whom|where)\b")
_EN_NUMBER = re.compile(r"\b(how many|how much|number of|percentage|share)\b")

# Words an agency name is made of, after its place: 区残联 -> 残联, 县商务局 -> 商务局.
_AGENCY_TAIL = re.compile(
    r"(委员会|管理局|服务中心|中心|委|局|办|厅|院|所|站|队|残联|妇联|团委|总工会|工会|政府|人民政府)$"
)
_PLACE_SUFFIX = re.compile(r"^(.{1,8}?(?:省|市|自治州|州|地区|盟|区|县|旗|镇|乡|街道))")


@dataclass(frozen=True)
class WeightedTerm:
    term: str
    weight: float
    origin: str = "question"  # "question", "synonym", "translation" or "scope"


@dataclass(frozen=True)
class Query:
    """A question, understood."""

    question: str
    terms: tuple[WeightedTerm, ...]  # what to score paragraphs with
    highlight: tuple[str, ...]  # terms to mark in quotes (the question's own and expansions)
    kind: SectionKind | None = None  # the section kind the wording asks for
    years: tuple[int, ...] = ()  # years the question names
    relative_year: int = 0  # +1 for 明年, -1 for 去年, 0 otherwise
    scope: dict[int, float] = field(default_factory=dict)  # report ordinal -> match strength
    scope_words: tuple[str, ...] = ()  # the agency / place words that set the scope
    wants_agency: bool = False
    wants_number: bool = False
    english: bool = False

    @property
    def plain(self) -> bool:
        """True when no ranking feature applies: the ranking is then exactly BM25."""
        return not (
            self.kind
            or self.years
            or self.relative_year
            or self.scope
            or self.wants_agency
            or self.wants_number
            or any(t.origin != "question" for t in self.terms)
        )


@dataclass(frozen=True)
class ReportKey:
    """How a report can be named in a question."""

    ordinal: int
    agency: str  # normalised full agency, e.g. 埇桥区残联
    core: str  # the agency without its place, e.g. 残联
    place: str  # e.g. 埇桥区
    place_short: str  # e.g. 埇桥


@dataclass(frozen=True)
class ScopeIndex:
    """The names reports go by, for finding them in a question without a scan over reports."""

    keys: dict[int, ReportKey]
    by_agency: dict[str, list[int]]  # full agency (3+ characters)
    by_core: dict[str, list[int]]  # agency without its place, when it ends like an agency
    by_place: dict[str, list[int]]  # place and its short form (2+ characters)
    longest: int


def report_keys(reports: dict[int, Report]) -> ScopeIndex:
    keys: dict[int, ReportKey] = {}
    by_agency: dict[str, list[int]] = {}
    by_core: dict[str, list[int]] = {}
    by_place: dict[str, list[int]] = {}
    for ordinal, r in reports.items():
        agency = normalize(r.agency or "").replace("xx", "")
        m = _PLACE_SUFFIX.match(agency)
        place = m.group(1) if m and len(m.group(1)) < len(agency) else ""
        core = agency[len(place) :] if place else agency
        short = place[:-1] if len(place) >= 3 else ""
        keys[ordinal] = ReportKey(ordinal, agency, core, place, short)
        if len(agency) >= 3:
            by_agency.setdefault(agency, []).append(ordinal)
        if len(core) >= 2 and _AGENCY_TAIL.search(core):
            by_core.setdefault(core, []).append(ordinal)
        for p in {place, short}:
            if len(p) >= 2:
                by_place.setdefault(p, []).append(ordinal)
    names = [*by_agency, *by_core, *by_place]
    return ScopeIndex(keys, by_agency, by_core, by_place, max(map(len, names), default=0))


def find_scope(question: str, index: ScopeIndex) -> tuple[dict[int, float], list[str]]:
    """Reports the question names, by agency (strong) or by place or agency kind (weaker)."""
    q = normalize(question)
    agency_hits: dict[int, str] = {}
    core_hits: dict[int, str] = {}
    place_hits: dict[int, str] = {}
    for start in range(len(q)):
        for end in range(start + 2, min(len(q), start + index.longest) + 1):
            name = q[start:end]
            for table, hits in (
                (index.by_agency, agency_hits),
                (index.by_core, core_hits),
                (index.by_place, place_hits),
            ):
                for ordinal in table.get(name, ()):
                    if len(name) > len(hits.get(ordinal, "")):
                        hits[ordinal] = name
    scope: dict[int, float] = {}
    words: list[str] = []

    def note(ordinal: int, strength: float, word: str) -> None:
        scope[ordinal] = max(strength, scope.get(ordinal, 0.0))
        if word not in words:
            words.append(word)

    for ordinal in sorted({*agency_hits, *core_hits, *place_hits}):
        if ordinal in agency_hits:
            note(ordinal, 1.0, agency_hits[ordinal])
        elif ordinal in core_hits and ordinal in place_hits:
            note(ordinal, 1.0, place_hits[ordinal])
            note(ordinal, 1.0, core_hits[ordinal])
        elif ordinal in core_hits:
            # 区民政局 vs 市民政局: the level written before the core decides between them
            core = core_hits[ordinal]
            level = q[max(0, q.find(core) - 1)]
            place = index.keys[ordinal].place
            same_level = bool(place) and place[-1] == level
            note(ordinal, 0.8 if same_level or level not in "省市区县乡镇" else 0.35, core)
        else:
            note(ordinal, 0.7, place_hits[ordinal])
    return scope, words


def _without_words(tokens: list[str], words: Sequence[str], tok: Tokenizer) -> list[str]:
    """Drop the tokens of words that only set the scope or frame the question.

    (区应急管理局 -> 区, 应急管理局, 应急 …; 哪个单位 -> 单位). Keeps all when nothing is left."""
    drop: Counter[str] = Counter()
    for word in words:
        drop.update(tok.tokenize(word))
    kept = []
    for t in tokens:
        if drop[t] > 0:
            drop[t] -= 1
        else:
            kept.append(t)
    return kept if kept else tokens


@cache
def _synonym_keys() -> tuple[str, ...]:
    return tuple(sorted(lexicon.load_synonyms(), key=len, reverse=True))


def synonym_expansions(question: str) -> list[str]:
    """Other wordings of the topic phrases the question uses, longest phrases first."""
    q = normalize(question)
    table = lexicon.load_synonyms()
    out: list[str] = []
    taken = [False] * len(q)
    for key in _synonym_keys():
        if len(key) < 2:
            continue
        start = q.find(key)
        if start < 0 or all(taken[start : start + len(key)]):
            continue
        for i in range(start, start + len(key)):
            taken[i] = True
        if _NOT_EXPANDED.fullmatch(key):
            continue
        out.extend(v for v in table[key] if v not in out and not _NOT_EXPANDED.fullmatch(v))
    return out


def _is_english(question: str) -> bool:
    letters = sum(1 for c in question if c.isascii() and c.isalpha())
    cjk = sum(1 for c in question if "\u4e00" <= c <= "\u9fff")
    return letters >= 4 and letters > 2 * cjk


def translate_english(question: str, skip: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Chinese terms for an English question: glossary phrases, longest first; place pinyin."""
    text = " ".join(_EN_WORD.findall(normalize(question)))
    words = text.split()
    glossary = lexicon.load_glossary()
    pinyin = lexicon.place_pinyin()
    out: list[str] = []
    i = 0
    while i < len(words):
        for n in range(min(5, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + n])
            found = glossary.get(phrase)
            if found is None and n == 1 and phrase.endswith("s"):
                found = glossary.get(phrase[:-1])
            if found is None and n <= 2:
                names = pinyin.get(lexicon.pinyin_key(phrase))
                if names and len(lexicon.pinyin_key(phrase)) >= 4:
                    found = names[:1]
            if found and phrase in skip:
                i += n
                break
            if found:
                out.extend(f for f in found[:2] if f not in out)
                i += n
                break
        else:
            i += 1
    return out


def analyze(
    question: str,
    tok: Tokenizer,
    keys: ScopeIndex | None = None,
    has_term: object = None,
) -> Query:
    """Understand a question. `has_term(term) -> bool` keeps expansions the index can match."""
    q = normalize(question)
    english = _is_english(question)
    tokens = tok.tokenize(question)
    keys = keys or report_keys({})
    scope, scope_words = find_scope(question, keys)
    framing = [m.group(1) for m in _FRAMING.finditer(q)]
    body = _without_words(tokens, [*scope_words, *framing], tok) if scope or framing else tokens

    weights: dict[str, WeightedTerm] = {}
    for term, n in Counter(body).items():
        weights[term] = WeightedTerm(term, float(n))

    def add(term: str, weight: float, origin: str) -> None:
        if term in weights or (callable(has_term) and not has_term(term)):
            return
        weights[term] = WeightedTerm(term, weight, origin)

    # The words of a named agency still say what the question is about (统计局 -> 统计), but
    # weakly: at full weight every paragraph that names the agency would outrank the answer.
    for word in scope_words:
        for t in tok.tokenize(word):
            if len(t) >= 2:
                add(t, SCOPE_TERM_WEIGHT, "scope")

    if english:
        framing_en = {m.group(1) for m in _EN_FRAMING.finditer(q)}
        for zh in translate_english(question, skip=framing_en):
            for t in tok.tokenize(zh):
                add(t, TRANSLATION_WEIGHT, "translation")
        scope_en, words_en = find_scope(" ".join(translate_english(question)), keys)
        for o, s in scope_en.items():
            scope[o] = max(scope.get(o, 0.0), s)
        scope_words += [w for w in words_en if w not in scope_words]
    source = " ".join(translate_english(question)) if english else question
    for word in [*scope_words, *framing]:  # names and framing are not topics to paraphrase
        source = normalize(source).replace(word, " ")
    phrases = synonym_expansions(source)
    for phrase in phrases:
        for t in tok.tokenize(phrase):
            if len(t) >= 2:  # 五经普 -> 五经, 经, 普: single characters only add noise
                add(t, SYNONYM_WEIGHT, "synonym")

    kind: SectionKind | None = None
    if _PROBLEM.search(q) or (english and _EN_PROBLEM.search(q)):
        kind = "problem"
    elif _PLAN.search(q) or (english and _EN_PLAN.search(q)):
        kind = "plan"
    elif _SUMMARY.search(q) or (english and _EN_SUMMARY.search(q)):
        kind = "summary"
    relative = (
        1
        if ("明年" in q or "来年" in q or "next year" in q)
        else (-1 if ("去年" in q or "last year" in q) else 0)
    )
    years = tuple(int(y) for y in _YEAR.findall(q))

    # Mark the question's words and whole synonym phrases, not every token of a synonym.
    own = [t for t, w in weights.items() if w.origin != "synonym"]
    highlight = tuple(dict.fromkeys([*tokens, *own, *phrases]))
    return Query(
        question=question,
        terms=tuple(weights.values()),
        highlight=highlight,
        kind=kind,
        years=years,
        relative_year=relative,
        scope=scope,
        scope_words=tuple(scope_words),
        wants_agency=bool(_AGENCY_Q.search(q) or (english and _EN_AGENCY.search(q))),
        wants_number=bool(_NUMBER_Q.search(q) or (english and _EN_NUMBER.search(q))),
        english=english,
    )
