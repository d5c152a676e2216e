"""Composition root: builds the python-telegram-bot `Application` and runs it.

`build_application(settings)` wires the token (and a local Bot API server when
TELEGRAM_API_BASE_URL is set), HTML defaults, flood control, the typed `BotData`, every handler
in one ordered block and one error handler. `run_polling(settings)` is `reportbot serve`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from telegram import Bot, BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import admin, callbacks, handlers, render
from bot.guard import Guard
from bot.retry import RetryingRateLimiter
from bot.settings import Settings
from bot.state import BotData, Context, IndexOpener, open_search_index

logger = logging.getLogger(__name__)

BotApplication = Application[ExtBot[None], Context, dict[Any, Any], dict[Any, Any], BotData, None]

RATE_LIMIT_RETRIES = 3  # a 429 is waited out (retry_after) and retried this many times
CONCURRENT_UPDATES = 8  # one slow answer must not hold up everyone else
ALLOWED_UPDATES = (Update.MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY)

NO_TOKEN = (
    "TELEGRAM_BOT_TOKEN is not set. Get a token from @BotFather, then "
    "`export TELEGRAM_BOT_TOKEN=...` and run `reportbot serve` again "
    "(or try the bot in this terminal with `reportbot chat`)."
)
REJECTED_TOKEN = (
    "Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized). Copy the token again from "
    "@BotFather (/mybots -> API Token), set TELEGRAM_BOT_TOKEN and retry."
)


class BotStartupError(Exception):
    """The bot cannot start; the message says why and what to do (never holds the token)."""


def add_handlers(application: BotApplication) -> None:
    """Every handler, in the order PTB tries them (first match wins)."""
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    new = filters.UpdateType.MESSAGE  # edited messages are not questions
    text = filters.TEXT & ~filters.COMMAND
    # allowlists, admin-only actions, upload size, rate limit: before everything else
    application.add_handler(TypeHandler(Update, Guard(application.bot_data.settings)), group=-1)
    application.add_handlers(
        [
            # commands
            CommandHandler("start", handlers.start_command, filters=new),
            CommandHandler("help", handlers.help_command, filters=new),
            CommandHandler("ask", handlers.ask_command, filters=new),
            CommandHandler("reports", handlers.reports_command, filters=new),
            CommandHandler("stats", handlers.stats_command, filters=new),
            # admin commands (bot/admin.py; they check settings.admins themselves too)
            CommandHandler("reindex", admin.reindex_command, filters=new),
            CommandHandler("remove", admin.remove_command, filters=new),
            MessageHandler(private & new & filters.Document.ALL, admin.document_upload),
            CallbackQueryHandler(admin.remove_button, pattern=admin.PATTERN),
            # buttons
            CallbackQueryHandler(handlers.full_text_button, pattern=callbacks.PATTERN_FULL),
            CallbackQueryHandler(handlers.more_button, pattern=callbacks.PATTERN_MORE),
            CallbackQueryHandler(handlers.source_button, pattern=callbacks.PATTERN_SOURCE),
            CallbackQueryHandler(handlers.outline_page_button, pattern=callbacks.PATTERN_OUTLINE),
            CallbackQueryHandler(handlers.reports_page_button, pattern=callbacks.PATTERN_REPORTS),
            CallbackQueryHandler(handlers.noop_button, pattern=callbacks.PATTERN_NOOP),
            CallbackQueryHandler(handlers.stale_button),
            # inline mode
            InlineQueryHandler(handlers.inline_query),
            # plain messages: questions
            MessageHandler(private & new & text, handlers.private_question),
            MessageHandler(groups & new & text, handlers.group_message),
            MessageHandler(private & new & filters.COMMAND, handlers.unknown_command),
        ]
    )
    application.add_error_handler(handlers.error_handler)


async def post_init(application: BotApplication) -> None:
    """Open the index and register the command menu."""
    await application.bot_data.open_index()
    commands = [BotCommand(name, text) for name, text in render.COMMANDS]
    try:
        await application.bot.set_my_commands(commands)
    except TelegramError as exc:  # the menu is a nicety: never fail startup over it
        logger.warning("setMyCommands failed: %s: %s", type(exc).__name__, exc)
    logger.info("bot @%s ready", application.bot.username)


async def post_shutdown(application: BotApplication) -> None:
    """Close the index."""
    await application.bot_data.close_index()


def build_application(
    settings: Settings, *, index_opener: IndexOpener = open_search_index
) -> BotApplication:
    """The configured Application; the index opens in post_init (via `index_opener`)."""
    if not settings.token:
        raise BotStartupError(NO_TOKEN)
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .context_types(ContextTypes(bot_data=BotData))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .rate_limiter(RetryingRateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if settings.api_base_url:  # a local Bot API server (or the tests' stand-in)
        builder = builder.base_url(settings.api_base_url).base_file_url(settings.api_file_url)
    application: BotApplication = builder.build()  # type: ignore[assignment]
    application.bot_data.configure(settings, index_opener)
    add_handlers(application)
    return application


async def check_token(settings: Settings) -> str:
    """Ask the Bot API who we are; the bot's username, or BotStartupError saying what is wrong."""
    if not settings.token:
        raise BotStartupError(NO_TOKEN)
    bot = (
        Bot(settings.token, base_url=settings.api_base_url, base_file_url=settings.api_file_url)
        if settings.api_base_url
        else Bot(settings.token)
    )
    try:
        async with bot:
            return bot.username
    except InvalidToken:
        raise BotStartupError(REJECTED_TOKEN) from None
    except NetworkError as exc:
        where = settings.api_base_url or "api.telegram.org"
        raise BotStartupError(
            f"Cannot reach the Telegram Bot API at {where} ({type(exc).__name__}). "
            "Check the network, or TELEGRAM_API_BASE_URL if you use a local Bot API server."
        ) from None


def run_polling(settings: Settings, *, index_opener: IndexOpener = open_search_index) -> int:
    """`reportbot serve`: check the token, then poll until Ctrl-C / SIGTERM; the exit code.

    A missing or rejected token, or an unreachable Bot API, is a one-paragraph message on
    stderr (never containing the token) and exit code 2.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        username = loop.run_until_complete(check_token(settings))
        logger.info("starting @%s (long poll %ss)", username, settings.poll_timeout)
        application = build_application(settings, index_opener=index_opener)
        application.run_polling(
            timeout=settings.poll_timeout, allowed_updates=list(ALLOWED_UPDATES), close_loop=True
        )
    except InvalidToken:  # revoked between the check and the first poll
        return _startup_failed(BotStartupError(REJECTED_TOKEN))
    except BotStartupError as exc:
        return _startup_failed(exc)
    finally:
        if not loop.is_closed():
            loop.close()
        asyncio.set_event_loop(None)
    return 0


def _startup_failed(exc: BotStartupError) -> int:
    print(f"Error: {exc}", file=sys.stderr)
    return 2
