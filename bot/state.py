"""What the bot keeps between updates: the typed `BotData` PTB creates via `ContextTypes`.

It holds the `SearchIndex` (opened in `post_init`, closed in `post_shutdown`, reopened on
demand when it was not there at startup), the reports `Library` admins change (bot/admin.py),
recent questions for 更多 buttons, and a counter.
Index calls run in a worker thread: the search is synchronous and may take tens of ms.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from telegram.ext import CallbackContext, ExtBot

from bot.callbacks import QuestionMemory
from bot.settings import Settings
from index.library import Library
from index.store import IndexUnavailable, unavailable

if TYPE_CHECKING:
    from index.search import SearchIndex

logger = logging.getLogger(__name__)

T = TypeVar("T")
IndexOpener = Callable[[Path], "SearchIndex"]


def open_search_index(db_path: Path) -> SearchIndex:
    """The default opener: the real index file (raises IndexUnavailable when unusable)."""
    from index.search import SearchIndex

    return SearchIndex.open(db_path)


def _library(settings: Settings) -> Library:
    # One worker: the build runs in a thread of the bot, and forking a threaded process to
    # tokenize in parallel is asking for deadlocks.
    return Library(settings.reports_dir, settings.db_path, workers=1)


class BotData:
    """The bot's shared state; `Context.bot_data` is one of these."""

    def __init__(self) -> None:
        self.settings = Settings()
        self.opener: IndexOpener = open_search_index
        self.index: SearchIndex | None = None
        self.library = _library(self.settings)  # the reports folder admins change
        self.questions = QuestionMemory()
        self.answered = 0
        self._open_lock = threading.Lock()

    def configure(self, settings: Settings, opener: IndexOpener) -> None:
        """Set what `post_init` needs; called once by `build_application`."""
        self.settings = settings
        self.opener = opener
        self.library = _library(settings)

    def _ensure_index(self) -> SearchIndex:
        with self._open_lock:
            if self.index is None:
                self.index = self.opener(self.settings.db_path)
                logger.info("index opened: %s", self.settings.db_path)
            return self.index

    async def open_index(self) -> bool:
        """Open the index now; False (and a warning) when it is not there yet."""
        try:
            await asyncio.to_thread(self._ensure_index)
        except IndexUnavailable as exc:
            logger.warning("index unavailable, will retry on the next question: %s", exc)
            return False
        return True

    async def close_index(self) -> None:
        """Close the index if open."""
        with self._open_lock:
            index, self.index = self.index, None
        if index is not None:
            await asyncio.to_thread(index.close)

    async def call(self, fn: Callable[[SearchIndex], T]) -> T:
        """Run fn(index) in a worker thread; raises IndexUnavailable when there is no index."""

        def run() -> T:
            index = self._ensure_index()
            try:
                return fn(index)
            except sqlite3.DatabaseError as exc:  # damaged, locked, deleted under us...
                raise self._failed(index, exc) from exc

        return await asyncio.to_thread(run)

    def _failed(self, index: SearchIndex, exc: sqlite3.DatabaseError) -> IndexUnavailable:
        """Log an SQLite error as one line; unless it is a lock (which passes), forget the
        index so that the next question opens the file afresh (it may have been rebuilt)."""
        problem = unavailable(self.settings.db_path, exc)
        logger.warning("index failed: %s", problem)
        if not getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            with self._open_lock:
                if self.index is index:
                    self.index = None  # not closed: other threads may be reading it still
        return problem


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
