"""`reportbot health`: can the index answer? For container healthchecks and monitoring.

Opens the index, checks that it holds paragraphs and asks it a question taken from one of its
own paragraphs, which must come back as a hit. Imports nothing from Telegram, so it is quick.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from index.search import SearchIndex
from index.store import IndexUnavailable

PROBE_CHARS = 40  # the test question: the start of a stored paragraph
PROBE_TRIES = 20  # paragraphs tried for one with searchable words


class Unhealthy(Exception):
    """The index cannot serve answers; the message says why and what to do."""


@dataclass(frozen=True)
class Health:
    reports: int
    paragraphs: int
    built_at: str
    probe: str  # the test question asked
    ms: int  # time to open the index and answer the test question

    def describe(self) -> str:
        return (
            f"ok: {self.reports} reports, {self.paragraphs} paragraphs (built {self.built_at}); "
            f"test query answered in {self.ms} ms"
        )


def check_index(db_path: Path) -> Health:
    """Health of the index at `db_path`, or `Unhealthy` (missing, corrupt, empty, no answer)."""
    started = time.perf_counter()
    try:
        index = SearchIndex.open(db_path)
    except IndexUnavailable as exc:
        raise Unhealthy(str(exc)) from exc
    try:
        stats = index.stats()
        if stats.paragraphs == 0:
            raise Unhealthy(
                f"the index at {db_path} holds no paragraphs: put report files in the reports "
                "folder (REPORTBOT_REPORTS_DIR) and run `reportbot index build`"
            )
        probe = _probe(index, db_path)
    except Unhealthy:
        raise
    except Exception as exc:  # corrupt pages, schema trouble: whatever it is, say it
        raise Unhealthy(
            f"the index at {db_path} failed a test query ({type(exc).__name__}: {exc}): "
            "rebuild it with `reportbot index build --full`"
        ) from exc
    finally:
        index.close()
    ms = round((time.perf_counter() - started) * 1000)
    return Health(stats.reports, stats.paragraphs, stats.built_at, probe, ms)


def _probe(index: SearchIndex, db_path: Path) -> str:
    """A test question that found a hit: the start of one of the first stored paragraphs.

    A paragraph of only numbers or stopwords finds nothing, so a few are tried.
    """
    questions = _questions(index)
    for question in questions:
        if index.search(question, top=1).hits:
            return question
    raise Unhealthy(
        f"the index at {db_path} found nothing for {len(questions)} test queries "
        f"(the first: {questions[0]!r}): rebuild it with `reportbot index build --full`"
        if questions
        else f"the index at {db_path} lists no paragraphs: rebuild it with `reportbot index build`"
    )


def _questions(index: SearchIndex) -> list[str]:
    questions: list[str] = []
    for report in index.reports():
        for paragraph in index.report_paragraphs(report.id):
            questions.append(" ".join(paragraph.text.split())[:PROBE_CHARS])
            if len(questions) >= PROBE_TRIES:
                return questions
    return questions
