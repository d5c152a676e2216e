"""Checks every update passes before any handler sees it.

`Guard` runs as a `TypeHandler(Update, guard)` in handler group -1 (`bot/app.py`), so the
checks live in one place, in this order:

1. allowlists: when REPORTBOT_ALLOWED_USERS or REPORTBOT_ALLOWED_CHATS is set, only those
   users (anywhere) and those chats (anyone in them) get answers; admins always do;
2. admin-only actions (/reindex, /remove, sending a file, the admin buttons) by anyone else are
   refused, whatever the admin handlers (bot/admin.py, which check again) do themselves;
3. uploads larger than REPORTBOT_MAX_UPLOAD_MB are refused before anything downloads them;
4. a per-user rate limit (REPORTBOT_RATE_LIMIT questions a minute, a sliding window; inline
   queries, sent as the user types, get three times as many; admins are not limited).

An update that fails a check gets a polite answer and goes no further (ApplicationHandlerStop).
A refusal is said at most once a minute per user, chat and kind, so a flood of messages never
becomes a flood of replies; a refused button press is always answered (its spinner stops),
with a pop-up only the first time. In groups only what is addressed to the bot (a command, a
mention, a reply to it) is counted or answered.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Hashable

from telegram import (
    Chat,
    InlineQueryResultsButton,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.settings import Settings
from bot.state import Context

logger = logging.getLogger(__name__)

ADMIN_COMMANDS = frozenset({"reindex", "remove"})
ADMIN_CALLBACK_PREFIX = "adm:"  # bot/admin.py's buttons (confirm or cancel a removal)
WINDOW = 60.0  # seconds of the rate limit's sliding window, and between two same refusals
INLINE_FACTOR = 3  # inline queries allowed per window, as a multiple of the rate limit
HELP_PARAMETER = "help"  # /start parameter of the inline refusal button (as render's)

NOT_ALLOWED = "抱歉，这个机器人只对指定的用户和群组开放。如需使用，请联系管理员。"
NOT_ALLOWED_SHORT = "未获授权使用这个机器人"
ADMIN_ONLY = "抱歉，只有管理员可以更新资料库、删除或上传报告。"
RATE_LIMITED = "您提问有点频繁（每分钟最多 {limit} 个问题），请 {seconds} 秒后再试。"
RATE_LIMITED_SHORT = "提问太频繁，请稍后再试"
UPLOAD_TOO_LARGE = "文件太大（{size:.1f} MB），上限是 {limit} MB。请拆分后再发送。"


# --- rate limit -------------------------------------------------------------------------------


class RateLimiter:
    """At most `limit` events per `window` seconds per key, over a sliding window."""

    def __init__(self, limit: int, window: float = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[Hashable, deque[float]] = {}
        self._hits = 0

    def hit(self, key: Hashable, now: float) -> float:
        """Count an event; 0.0 when it is allowed, else the seconds until one would be (the
        refused event is not counted, so retrying early does not push the wait further)."""
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return events[0] + self.window - now
        events.append(now)
        self._hits += 1
        if self._hits % 1000 == 0:
            self._forget(now)
        return 0.0

    def _forget(self, now: float) -> None:
        """Drop keys with no event in the window, so many one-off users do not add up."""
        for key in [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.window]:
            del self._events[key]

    def __len__(self) -> int:
        return len(self._events)


class Notices:
    """Whether to say something now, or whether it was said to this key too recently."""

    def __init__(self) -> None:
        self._until: dict[Hashable, float] = {}

    def due(self, key: Hashable, now: float, quiet_for: float) -> bool:
        """True (and quiet for `quiet_for` seconds from now) unless said within that time."""
        if self._until.get(key, 0.0) > now:
            return False
        if len(self._until) > 10_000:
            self._until = {k: t for k, t in self._until.items() if t > now}
        self._until[key] = now + quiet_for
        return True


# --- what an update is --------------------------------------------------------------------------


def command_of(message: Message, bot_username: str) -> str | None:
    """The command a message starts with, lower case, if it is meant for this bot."""
    text = message.text or message.caption or ""
    if not text.startswith("/"):
        return None
    name, _, target = text.split(maxsplit=1)[0][1:].partition("@")
    if target and target.lower() != bot_username.lower():
        return None  # /reindex@otherbot in a group
    return name.lower() or None


def addressed(message: Message, bot_id: int, bot_username: str) -> bool:
    """Private chat, or in a group a command, a mention of the bot or a reply to it."""
    if message.chat.type == Chat.PRIVATE or command_of(message, bot_username):
        return True
    replied = message.reply_to_message
    if replied and replied.from_user and replied.from_user.id == bot_id:
        return True
    me = f"@{bot_username}".lower()
    mentions = message.parse_entities([MessageEntity.MENTION]) if message.text else {}
    return any(value.lower() == me for value in mentions.values())


def is_admin(settings: Settings, user_id: int | None) -> bool:
    return user_id is not None and user_id in settings.admins


def is_allowed(settings: Settings, user_id: int, chat_id: int | None) -> bool:
    """With no allowlist, anyone; else listed users anywhere, anyone in listed chats, admins."""
    if not (settings.allowed_users or settings.allowed_chats):
        return True
    return (
        user_id in settings.allowed_users
        or user_id in settings.admins
        or (chat_id is not None and chat_id in settings.allowed_chats)
    )


# --- the guard ----------------------------------------------------------------------------------


class Guard:
    """The checks above, as a callback for `TypeHandler(Update, ...)` in group -1."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.questions = RateLimiter(settings.rate_limit)
        self.inline = RateLimiter(settings.rate_limit * INLINE_FACTOR)
        self.notices = Notices()

    async def __call__(self, update: object, context: Context) -> None:
        if not isinstance(update, Update) or update.effective_user is None:
            return
        settings = context.bot_data.settings
        user_id = update.effective_user.id
        chat = update.effective_chat
        message = update.message
        to_bot = message is not None and addressed(message, context.bot.id, context.bot.username)
        if not is_allowed(settings, user_id, chat.id if chat else None):
            await self._refuse(update, context, NOT_ALLOWED, NOT_ALLOWED_SHORT, "allow", to_bot)
        admin = is_admin(settings, user_id)
        if not admin and self._admin_action(update, context, to_bot):
            await self._refuse(update, context, ADMIN_ONLY, ADMIN_ONLY, "admin", to_bot)
        if message is not None and message.document is not None:
            size, limit = message.document.file_size or 0, settings.max_upload_mb
            if size > limit * 1024 * 1024:
                text = UPLOAD_TOO_LARGE.format(size=size / (1024 * 1024), limit=limit)
                await self._refuse(update, context, text, text, None, to_bot)
        if settings.rate_limit and not admin:
            await self._limit(update, context, to_bot)

    def _admin_action(self, update: Update, context: Context, to_bot: bool) -> bool:
        query, message = update.callback_query, update.message
        if query is not None:
            return (query.data or "").startswith(ADMIN_CALLBACK_PREFIX)
        if message is None:
            return False
        if message.document is not None:
            return True  # files are reports to add; only admins add reports
        return to_bot and command_of(message, context.bot.username) in ADMIN_COMMANDS

    async def _limit(self, update: Update, context: Context, to_bot: bool) -> None:
        assert update.effective_user is not None
        user_id = update.effective_user.id
        now = self.clock()
        if update.inline_query is not None:
            if not update.inline_query.query.strip():
                return  # not answered anyway
            if self.inline.hit(user_id, now):
                await self._refuse(update, context, "", RATE_LIMITED_SHORT, "rate-inline", True)
            return
        if update.callback_query is None and not to_bot:
            return  # group chatter the bot does not answer
        wait = self.questions.hit(user_id, now)
        if wait:
            limit = context.bot_data.settings.rate_limit
            text = RATE_LIMITED.format(limit=limit, seconds=max(1, round(wait)))
            await self._refuse(update, context, text, RATE_LIMITED_SHORT, "rate", to_bot, wait)

    async def _refuse(
        self,
        update: Update,
        context: Context,
        text: str,
        short: str,
        kind: str | None,
        to_bot: bool,
        quiet_for: float = WINDOW,
    ) -> None:
        """Answer politely (unless said recently), then stop the update here."""
        assert update.effective_user is not None
        user_id = update.effective_user.id
        chat = update.effective_chat
        message = update.message if to_bot and chat is not None else None
        if update.callback_query is None and update.inline_query is None and message is None:
            raise ApplicationHandlerStop  # not for the bot (group chatter, edits): no answer
        key = (user_id, chat.id if chat else None, kind)
        say = kind is None or self.notices.due(key, self.clock(), quiet_for)
        if say:
            where = chat.id if chat else "-"
            logger.info("refused (%s) user=%s chat=%s", kind or "upload", user_id, where)
        try:
            if update.callback_query is not None:  # always answered: stops the spinner
                await update.callback_query.answer(text if say else None, show_alert=say)
            elif update.inline_query is not None:  # no message to repeat: the list says it
                button = InlineQueryResultsButton(text=short, start_parameter=HELP_PARAMETER)
                await update.inline_query.answer([], button=button, cache_time=0, is_personal=True)
            elif say and message is not None and chat is not None:
                reply = None
                if chat.type != Chat.PRIVATE:  # in groups, answer the message
                    reply = ReplyParameters(message.message_id, allow_sending_without_reply=True)
                await context.bot.send_message(chat.id, text, reply_parameters=reply)
        except TelegramError as exc:
            logger.warning("refusal not delivered: %s: %s", type(exc).__name__, exc)
        raise ApplicationHandlerStop
