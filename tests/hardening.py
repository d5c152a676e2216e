"""Helpers for the tests/test_hardening_*.py tests (issue 8): a bot with chosen settings over a
chosen index, polling the local Bot API stand-in, and the questions meant to break it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from botapi import ALICE, BotAPIServer, Call

from bot.app import BotApplication
from bot.guard import Guard
from bot.settings import Settings

# Questions meant to break something: each must get a sensible reply everywhere.
BAD_QUESTIONS: dict[str, str] = {
    "empty": "",
    "whitespace": " \t\u3000 \n ",
    "punctuation": "？？！！。。，，……——“”《》",
    "emoji": "😀🎉👍🏽🇨🇳👨‍👩‍👧",
    "very long": ("如何推进乡村振兴和高标准农田建设？" * 600)[:10_000],
    "very long ascii": "a" * 10_000,
    "control characters": "乡村\x00振兴\x07\x08\x1b[31m\r\n\x7f\x85养老",
    "zero-width and bidi": "乡\u200b村\u200d振\u200c兴\u202e\u2066\ufeff\u00ad",
    "html": '<b>乡村振兴</b> <a href="x">&amp;</a> </blockquote> <script>alert(1)</script> &',
    "markdown": "*乡村* _振兴_ `code` [链接](http://x) ~~删~~ ||剧透|| # 标题",
    "sql and fts": "' \" * NEAR( OR -- ; DROP TABLE paragraphs; -- 乡村振兴 AND 1=1 /* */ MATCH",
    "file path": "../../data/reportbot.db /etc/passwd C:\\Windows\\system32\\config",
    "leading slash path": "/etc/passwd",  # to Telegram (and the bot): a command
    "url": "https://example.com/a?b=1&c=2#frag 乡村振兴 http://127.0.0.1:8080/",
    "mixed scripts": "Привет 乡村振兴 مرحبا こんにちは 한국어 ελληνικά 國務院",
    "surrogate": "乡村\udcff振兴",
}


def bot_settings(api: BotAPIServer, db: Path, **env: str) -> Settings:
    """Settings for a bot on the stand-in over the index at `db`; `env` adds variables."""
    return Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "REPORTBOT_DB": str(db),
            "REPORTBOT_POLL_TIMEOUT": "1",
            **env,
        }
    )


def guard_of(app: BotApplication) -> Guard:
    """The Guard instance the app runs in handler group -1."""
    [handler] = app.handlers[-1]
    guard = handler.callback
    assert isinstance(guard, Guard)
    return guard


class Clock:
    """A monotonic clock a test can move forward (for the guard's windows)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def send(
    api: BotAPIServer, text: str, *, user: dict[str, Any] = ALICE, count: int = 1
) -> list[Call]:
    """A private message; waits for `count` new bot messages in that chat and returns them."""
    before = len(api.sent(user["id"]))
    api.private_text(text, user=user)
    sent = await api.wait_sent(before + count, chat_id=user["id"], timeout=10)
    return sent[before:]


async def nothing_more(api: BotAPIServer, chat_id: int, count: int, pause: float = 0.3) -> None:
    """Assert that the chat still has exactly `count` bot messages after a pause."""
    await asyncio.sleep(pause)
    assert len(api.sent(chat_id)) == count, [c.params.get("text") for c in api.sent(chat_id)]


def document_message(
    api: BotAPIServer,
    *,
    user: dict[str, Any] = ALICE,
    chat: dict[str, Any] | None = None,
    file_id: str = "file1",
    file_name: str = "report.txt",
    file_size: int = 1000,
    caption: str | None = None,
) -> dict[str, Any]:
    """Push a message carrying a document (an upload) into a chat; returns the message."""
    chat = chat or {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    message = api._new_message(chat, user, caption or "", None)
    message.pop("text", None)
    message.pop("entities", None)
    message["document"] = {
        "file_id": file_id,
        "file_unique_id": f"u{file_id}",
        "file_name": file_name,
        "file_size": file_size,
    }
    if caption:
        message["caption"] = caption
    api.push({"message": message})
    return message
