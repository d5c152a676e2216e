"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# --- bot: the index it searches, and a local Bot API ----------------------------------------


@pytest.fixture
def index_opener(sample_db: Path, tokenizer: Any) -> Callable[[Path], Any]:
    """How the bot opens its index in tests: the real index over the bundled sample (built
    once per session, `sample_db`), whatever path the bot's settings name. Tests that need the
    fake's edge-case paragraphs (> 4096 characters, `< > &`) open `fakes.FakeSearchIndex`."""
    from index.search import SearchIndex

    return lambda _path: SearchIndex.open(sample_db, tokenizer)


@pytest.fixture
def search_index(index_opener: Callable[[Path], Any], tmp_path: Path) -> Iterator[Any]:
    """An open index like the bot's, for tests that need to know what it will answer."""
    index = index_opener(tmp_path / "reportbot.db")
    yield index
    index.close()


@pytest.fixture
def bot_api() -> Iterator[Any]:
    """The local stand-in for the Telegram Bot API (tests/botapi.py), serving on 127.0.0.1."""
    from botapi import BotAPIServer

    with BotAPIServer() as api:
        yield api


# --- index: the tokenizer ------------------------------------------------------------------


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    """The tokenizer over the bundled dictionaries (data/dict), built once per test session."""
    from index.tokenize import default_tokenizer

    return default_tokenizer()


@pytest.fixture(scope="session")
def sample_text() -> str:
    """The bundled sample compilation (14 reports; 党 written as D, numbers redacted as XX)."""
    folder = Path(__file__).resolve().parent.parent / "data" / "reports"
    return next(folder.glob("*.txt")).read_text(encoding="utf-8")


# --- index: the bundled sample, built once -------------------------------------------------

REPORTS_DIR = Path(__file__).resolve().parent.parent / "data" / "reports"


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> Path:
    """An index file over the bundled sample (data/reports), built once per test session.

    Treat it as read-only; copy it (or build your own) to change it."""
    from index.build import build_index

    db = tmp_path_factory.mktemp("sample-index") / "reportbot.db"
    build_index(db, [REPORTS_DIR], root=REPORTS_DIR, tokenizer=tokenizer)
    return db


@pytest.fixture(scope="session")
def sample_index(sample_db: Path, tokenizer: Any) -> Iterator[Any]:
    """A `SearchIndex` open on the bundled sample (read-only, shared by the session)."""
    from index.search import SearchIndex

    index = SearchIndex.open(sample_db, tokenizer)
    yield index
    index.close()
