"""One async function per kind of update: input -> search -> render -> reply.

Private chats: any text is a question. Groups: `/ask question`, a message mentioning the bot, or
a reply to the bot; everything else is ignored, and answers reply to the question. Buttons carry
stable ids (see `bot.callbacks`), so old ones keep working or say plainly that they expired.
A failed send is logged and never stops the bot; anything else ends in `error_handler`.
"""

from __future__ import annotations

import html
import logging
import re
import time
from typing import TYPE_CHECKING, TypeVar

from telegram import (
    CallbackQuery,
    Chat,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, MessageLimit
from telegram.error import BadRequest, TelegramError

from bot import callbacks, render
from bot import question as asking
from bot.state import Context
from index.store import IndexUnavailable

if TYPE_CHECKING:
    from index.search import IndexStats, SearchIndex, SearchResult

logger = logging.getLogger(__name__)

PAGE_SIZE = 3  # hits per answer
INLINE_RESULTS = 5
MAX_QUESTION = asking.MAX_QUESTION  # characters searched; a longer question is cut, with a note
INLINE_CACHE_SECONDS = 30


# --- small helpers ------------------------------------------------------------------------------


def clean_question(text: str) -> str:
    """One line without control or invisible characters, at most MAX_QUESTION characters."""
    return asking.clean_question(text)[0]


async def say(
    context: Context,
    chat_id: int,
    text: str,
    *,
    reply_to: int | None = None,
    keyboard: InlineKeyboardMarkup | None = None,
) -> Message | None:
    """Send one HTML message; on failure log it and return None instead of raising."""
    try:
        return await context.bot.send_message(
            chat_id,
            text,
            reply_markup=keyboard,
            reply_parameters=(
                ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
            ),
        )
    except TelegramError as exc:
        logger.warning("send failed chat=%s: %s: %s", chat_id, type(exc).__name__, exc)
        return None


async def _typing(context: Context, chat_id: int) -> None:
    try:
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
    except TelegramError as exc:
        logger.debug("chat action failed chat=%s: %s", chat_id, exc)


async def _edit(query: CallbackQuery, text: str, keyboard: InlineKeyboardMarkup | None) -> None:
    try:
        await query.edit_message_text(text, reply_markup=keyboard)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            logger.warning("edit failed: %s", exc)
    except TelegramError as exc:
        logger.warning("edit failed: %s: %s", type(exc).__name__, exc)


def _reply_to(message: Message) -> int | None:
    """Answers reply to the question in groups, and simply follow it in private chats."""
    return None if message.chat.type == Chat.PRIVATE else message.message_id


def _log_question(
    how: str, update: Update, question: str, result: SearchResult, started: float
) -> None:
    user = update.effective_user
    chat = update.effective_chat
    logger.info(
        "question via=%s user=%s chat=%s len=%d hits=%d total=%d ms=%.0f",
        how,
        user.id if user else "-",
        chat.type if chat else "inline",
        len(question),
        len(result.hits),
        result.total,
        (time.perf_counter() - started) * 1000,
    )


async def _send_answer(
    context: Context,
    chat_id: int,
    result: SearchResult,
    offset: int,
    reply_to: int | None,
    note: str = "",
) -> None:
    if not result.hits:
        text = render.NO_MORE if offset else render.answer_html(result)
        await say(context, chat_id, _with_note(note, text), reply_to=reply_to)
        return
    shown = render.shown_count(result)
    more = None
    if result.total > offset + shown:
        more = callbacks.more_action(result.question, offset + shown, context.bot_data.questions)
    keyboard = render.answer_keyboard(result, more)
    text = _with_note(note, render.answer_html(result))
    await say(context, chat_id, text, reply_to=reply_to, keyboard=keyboard)


def _with_note(note: str, answer: str) -> str:
    """The answer with a note (plain text) above it, when both fit in one message."""
    if not note:
        return answer
    text = f"{html.escape(note)}\n\n{answer}"
    return text if render.tg_len(text) <= MessageLimit.MAX_TEXT_LENGTH else answer


async def answer_question(update: Update, context: Context, text: str, how: str) -> None:
    """Search for a question and reply with the cited answer (shared by every way to ask)."""
    message = update.effective_message
    if message is None:
        return
    question, cut = asking.clean_question(text)
    reply_to = _reply_to(message)
    if not question:
        await say(context, message.chat_id, render.ask_usage(), reply_to=reply_to)
        return
    await _typing(context, message.chat_id)
    started = time.perf_counter()
    try:
        result = await context.bot_data.call(lambda ix: ix.search(question, top=PAGE_SIZE))
    except IndexUnavailable:
        await say(context, message.chat_id, render.INDEX_UNAVAILABLE, reply_to=reply_to)
        return
    context.bot_data.answered += 1
    _log_question(how, update, question, result, started)
    note = asking.cut_note() if cut else ""
    await _send_answer(context, message.chat_id, result, 0, reply_to, note)


# --- messages and commands ----------------------------------------------------------------------


async def private_question(update: Update, context: Context) -> None:
    """Private chat: any text message is a question."""
    if update.message and update.message.text:
        await answer_question(update, context, update.message.text, "private")


async def group_message(update: Update, context: Context) -> None:
    """Group: answer a message that mentions the bot or replies to it; ignore the rest."""
    message = update.message
    if message is None or not message.text:
        return
    me = f"@{context.bot.username}".lower()
    mentioned = any(
        value.lower() == me for value in message.parse_entities([MessageEntity.MENTION]).values()
    )
    replied = message.reply_to_message
    to_bot = bool(replied and replied.from_user and replied.from_user.id == context.bot.id)
    if not (mentioned or to_bot):
        return
    question = re.sub(re.escape(me), " ", message.text, flags=re.IGNORECASE)
    await answer_question(update, context, question, "mention" if mentioned else "reply")


async def ask_command(update: Update, context: Context) -> None:
    """/ask question: the way to ask in groups (works in private chats too)."""
    message = update.message
    if message and message.text:
        question = re.sub(r"^/\S*", "", message.text, count=1)
        await answer_question(update, context, question, "ask")


async def start_command(update: Update, context: Context) -> None:
    """/start: greeting with example questions (/start help from inline mode: the help)."""
    message = update.message
    if message is None:
        return
    if context.args and context.args[0] == render.INLINE_START_PARAMETER:
        text = render.help_html(context.bot.username)
    else:
        user = update.effective_user
        text = render.start_html(user.first_name if user else "")
    await say(context, message.chat_id, text, reply_to=_reply_to(message))


async def help_command(update: Update, context: Context) -> None:
    """/help: how to ask, what the buttons do, the commands (admins: theirs too)."""
    message = update.message
    if message:
        user = update.effective_user
        admin = user is not None and user.id in context.bot_data.settings.admins
        text = render.help_html(context.bot.username, admin=admin)
        await say(context, message.chat_id, text, reply_to=_reply_to(message))


async def reports_command(update: Update, context: Context) -> None:
    """/reports: the indexed reports, a page at a time, each with a button to its outline."""
    message = update.message
    if message is None:
        return
    try:
        reports = await context.bot_data.call(lambda ix: ix.reports())
    except IndexUnavailable:
        await say(context, message.chat_id, render.INDEX_UNAVAILABLE, reply_to=_reply_to(message))
        return
    text, keyboard = render.reports_page(reports, 0)
    await say(context, message.chat_id, text, reply_to=_reply_to(message), keyboard=keyboard)


async def stats_command(update: Update, context: Context) -> None:
    """/stats: how many reports and paragraphs, and when the index was built."""
    message = update.message
    if message is None:
        return

    def fresh_stats(ix: SearchIndex) -> IndexStats:
        ix.refresh()
        return ix.stats()

    try:
        stats = await context.bot_data.call(fresh_stats)
    except IndexUnavailable:
        await say(context, message.chat_id, render.INDEX_UNAVAILABLE, reply_to=_reply_to(message))
        return
    text = render.stats_html(stats, context.bot_data.answered)
    await say(context, message.chat_id, text, reply_to=_reply_to(message))


async def unknown_command(update: Update, context: Context) -> None:
    """Private chat: a command the bot does not have."""
    if update.message:
        await say(context, update.message.chat_id, render.unknown_command())


# --- buttons ------------------------------------------------------------------------------------


def _origin(query: CallbackQuery) -> tuple[int, int | None] | None:
    """(chat id, message to reply to) for what a button should send; None for inline messages."""
    message = query.message
    if message is None:
        return None
    reply_to = None if message.chat.type == Chat.PRIVATE else message.message_id
    return message.chat.id, reply_to


A = TypeVar("A")


async def _decoded(update: Update, kind: type[A]) -> A | None:
    """Answer the button press first; then its action, or None for data of another kind."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    action = callbacks.decode(query.data)
    return action if isinstance(action, kind) else None


async def _pressed(update: Update, kind: type[A]) -> tuple[A, int, int | None] | None:
    """`_decoded`, with the chat and message to reply to (None for a button on an inline
    message, which has no chat to send to)."""
    action = await _decoded(update, kind)
    assert update.callback_query is not None
    origin = _origin(update.callback_query)
    if action is None or origin is None:
        return None
    return action, *origin


async def full_text_button(update: Update, context: Context) -> None:
    """全文: the whole paragraph, over several messages when it is long."""
    pressed = await _pressed(update, callbacks.FullText)
    if pressed is None:
        return
    action, chat_id, reply_to = pressed
    try:
        hit = await context.bot_data.call(lambda ix: ix.paragraph(action.paragraph_id))
    except IndexUnavailable:
        await say(context, chat_id, render.INDEX_UNAVAILABLE, reply_to=reply_to)
        return
    if hit is None:
        await say(context, chat_id, render.PARAGRAPH_GONE, reply_to=reply_to)
        return
    for text in render.paragraph_messages(hit):
        if await say(context, chat_id, text, reply_to=reply_to) is None:
            break


async def more_button(update: Update, context: Context) -> None:
    """更多: the next results for the same question, as a new message."""
    pressed = await _pressed(update, callbacks.More)
    if pressed is None:
        return
    action, chat_id, reply_to = pressed
    # (callback data can be forged: the question in it is cleaned like a typed one)
    question = clean_question(action.question) or context.bot_data.questions.recall(action.key)
    if not question:
        await say(context, chat_id, render.RESULT_EXPIRED, reply_to=reply_to)
        return
    await _typing(context, chat_id)
    started = time.perf_counter()
    try:
        result = await context.bot_data.call(
            lambda ix: ix.search(question, top=PAGE_SIZE, offset=action.offset)
        )
    except IndexUnavailable:
        await say(context, chat_id, render.INDEX_UNAVAILABLE, reply_to=reply_to)
        return
    _log_question("more", update, question, result, started)
    await _send_answer(context, chat_id, result, action.offset, reply_to)
    query = update.callback_query
    assert query is not None
    message = query.message
    if isinstance(message, Message) and message.reply_markup:  # 更多 was pressed: drop it
        remaining = render.without_button(message.reply_markup, query.data or "")
        if remaining == message.reply_markup:
            return  # not one of this message's buttons (forged data): nothing to drop
        try:
            await query.edit_message_reply_markup(remaining)
        except TelegramError as exc:
            logger.debug("could not drop the 更多 button: %s", exc)


async def source_button(update: Update, context: Context) -> None:
    """来源: the report's outline (sections, paragraph counts, file) as a new message."""
    pressed = await _pressed(update, callbacks.Source)
    if pressed is None:
        return
    action, chat_id, reply_to = pressed
    try:
        found = await context.bot_data.call(
            lambda ix: (ix.report(action.report_id), ix.outline(action.report_id))
        )
    except IndexUnavailable:
        await say(context, chat_id, render.INDEX_UNAVAILABLE, reply_to=reply_to)
        return
    report, entries = found
    if report is None:
        await say(context, chat_id, render.REPORT_GONE, reply_to=reply_to)
        return
    pages = render.outline_pages(report, entries)
    keyboard = render.outline_keyboard(report.id, 0, len(pages))
    await say(context, chat_id, pages[0], reply_to=reply_to, keyboard=keyboard)


async def outline_page_button(update: Update, context: Context) -> None:
    """‹ › under an outline: show another page of it, in place."""
    action = await _decoded(update, callbacks.OutlinePage)
    query = update.callback_query
    if action is None or query is None:
        return
    try:
        report, entries = await context.bot_data.call(
            lambda ix: (ix.report(action.report_id), ix.outline(action.report_id))
        )
    except IndexUnavailable:
        await _edit(query, render.INDEX_UNAVAILABLE, None)
        return
    if report is None:
        await _edit(query, render.REPORT_GONE, None)
        return
    pages = render.outline_pages(report, entries)
    page = min(max(action.page, 0), len(pages) - 1)
    await _edit(query, pages[page], render.outline_keyboard(report.id, page, len(pages)))


async def reports_page_button(update: Update, context: Context) -> None:
    """‹ › under /reports: show another page of the list, in place."""
    action = await _decoded(update, callbacks.ReportsPage)
    query = update.callback_query
    if action is None or query is None:
        return
    try:
        reports = await context.bot_data.call(lambda ix: ix.reports())
    except IndexUnavailable:
        await _edit(query, render.INDEX_UNAVAILABLE, None)
        return
    text, keyboard = render.reports_page(reports, action.page)
    await _edit(query, text, keyboard)


async def noop_button(update: Update, context: Context) -> None:
    """A page counter: nothing to do but stop the button's spinner."""
    if update.callback_query:
        await update.callback_query.answer()


async def stale_button(update: Update, context: Context) -> None:
    """A button this version does not understand (from an old release): say so."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    origin = _origin(query)
    if origin:
        await say(context, origin[0], render.BUTTON_EXPIRED, reply_to=origin[1])


# --- inline mode --------------------------------------------------------------------------------


async def inline_query(update: Update, context: Context) -> None:
    """@bot question in any chat: offer the top results as articles to send."""
    query = update.inline_query
    if query is None:
        return
    question = clean_question(query.query)
    if not question:
        return
    started = time.perf_counter()
    articles = []
    try:
        result = await context.bot_data.call(lambda ix: ix.search(question, top=INLINE_RESULTS))
    except IndexUnavailable:
        result = None
    if result is not None:
        _log_question("inline", update, question, result, started)
        articles = [
            InlineQueryResultArticle(
                id=hit.paragraph.id,
                title=render.inline_title(hit),
                description=render.inline_description(hit, result.terms),
                input_message_content=InputTextMessageContent(render.inline_message(result, hit)),
            )
            for hit in result.hits
        ]
    button = InlineQueryResultsButton(
        text=render.INLINE_BUTTON, start_parameter=render.INLINE_START_PARAMETER
    )
    try:
        await query.answer(articles, button=button, cache_time=INLINE_CACHE_SECONDS)
    except TelegramError as exc:  # e.g. the query is already too old
        logger.warning("inline answer failed: %s: %s", type(exc).__name__, exc)


# --- errors -------------------------------------------------------------------------------------


async def error_handler(update: object, context: Context) -> None:
    """Log the exception with the update id, then apologise in the chat it came from."""
    update_id = update.update_id if isinstance(update, Update) else None
    logger.error("update %s failed", update_id, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat:
        message = update.effective_message
        reply_to = _reply_to(message) if message else None
        await say(context, update.effective_chat.id, render.APOLOGY, reply_to=reply_to)
