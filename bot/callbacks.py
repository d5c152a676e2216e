"""Callback data for inline buttons: small typed actions <-> strings of at most 64 bytes.

Buttons must keep working after a restart or a reindex, so the data names stable things:
paragraph and report ids (content hashes), page numbers, and for 更多 the question itself when
it fits, else a short key into the bot's memory of recent questions (`QuestionMemory`). When a
key is no longer remembered, the handler says plainly that the result has expired.

    f:<paragraph id>             全文: the whole paragraph, as new messages
    s:<report id>                来源: a report's outline, as a new message
    o:<report id>:<page>         a page of an outline, edited in place
    m:<offset>:q:<question>      更多: results from offset on, question inline
    m:<offset>:k:<key>           更多: question remembered under key
    r:<page>                     a page of /reports, edited in place
    x                            a button that does nothing (a page counter)
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from telegram.constants import InlineKeyboardButtonLimit

MAX_BYTES: int = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA  # 64


@dataclass(frozen=True)
class FullText:
    """Show a whole paragraph."""

    paragraph_id: str


@dataclass(frozen=True)
class Source:
    """Show a report's outline as a new message."""

    report_id: str


@dataclass(frozen=True)
class OutlinePage:
    """Turn the page of an outline message."""

    report_id: str
    page: int


@dataclass(frozen=True)
class More:
    """The next results of a question: either the question itself or a key to it."""

    offset: int
    question: str = ""
    key: str = ""


@dataclass(frozen=True)
class ReportsPage:
    """Turn the page of the /reports list."""

    page: int


@dataclass(frozen=True)
class Noop:
    """A label-only button."""


Action = FullText | Source | OutlinePage | More | ReportsPage | Noop

# Handler patterns, one per action kind (PTB matches them against the raw data).
PATTERN_FULL = r"^f:"
PATTERN_SOURCE = r"^s:"
PATTERN_OUTLINE = r"^o:"
PATTERN_MORE = r"^m:"
PATTERN_REPORTS = r"^r:"
PATTERN_NOOP = r"^x$"


def byte_length(data: str) -> int:
    """Length as Telegram counts callback data: UTF-8 bytes."""
    return len(data.encode("utf-8"))


def _format(action: Action) -> str:
    match action:
        case FullText(paragraph_id):
            data = f"f:{paragraph_id}"
        case Source(report_id):
            data = f"s:{report_id}"
        case OutlinePage(report_id, page):
            data = f"o:{report_id}:{page}"
        case More(offset, question, key):
            data = f"m:{offset}:k:{key}" if key else f"m:{offset}:q:{question}"
        case ReportsPage(page):
            data = f"r:{page}"
        case Noop():
            data = "x"
    return data


def encode(action: Action) -> str:
    """The callback data for an action; ValueError when it would exceed 64 bytes."""
    data = _format(action)
    if byte_length(data) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data[:20]!r}…")
    return data


def decode(data: str | None) -> Action | None:
    """The action behind callback data; None for data this version does not understand."""
    if not data:
        return None
    kind, _, rest = data.partition(":")
    try:
        if kind == "f" and rest:
            return FullText(rest)
        if kind == "s" and rest:
            return Source(rest)
        if kind == "o":
            report_id, _, page = rest.rpartition(":")
            return OutlinePage(report_id, int(page)) if report_id else None
        if kind == "m":
            offset, _, rest = rest.partition(":")
            how, _, value = rest.partition(":")
            if not value or how not in ("q", "k"):
                return None
            if int(offset) < 0:  # never made by this bot: forged data
                return None
            if how == "q":
                return More(int(offset), question=value)
            return More(int(offset), key=value)
        if kind == "r":
            return ReportsPage(int(rest))
        if data == "x":
            return Noop()
    except ValueError:
        return None
    return None


def question_key(question: str) -> str:
    """A short stable key for a question (the same question always gets the same key)."""
    return hashlib.blake2s(question.encode("utf-8"), digest_size=6).hexdigest()


def more_action(question: str, offset: int, memory: QuestionMemory) -> More:
    """更多 for a question: inline when it fits in 64 bytes (survives restarts), else by key."""
    inline = More(offset, question=question)
    if byte_length(_format(inline)) <= MAX_BYTES:
        return inline
    return More(offset, key=memory.remember(question))


class QuestionMemory:
    """Recent questions by key, least recently used forgotten first; lives in bot_data."""

    def __init__(self, capacity: int = 5000) -> None:
        self.capacity = capacity
        self._questions: OrderedDict[str, str] = OrderedDict()

    def remember(self, question: str) -> str:
        """Keep a question and return its key."""
        key = question_key(question)
        self._questions[key] = question
        self._questions.move_to_end(key)
        while len(self._questions) > self.capacity:
            self._questions.popitem(last=False)
        return key

    def recall(self, key: str) -> str | None:
        """The question under key, or None when it was forgotten (or never known here)."""
        question = self._questions.get(key)
        if question is not None:
            self._questions.move_to_end(key)
        return question

    def __len__(self) -> int:
        return len(self._questions)
