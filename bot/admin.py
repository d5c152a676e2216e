"""Admin chat commands: keep the reports folder and its index current from Telegram.

Admins are the user ids in REPORTBOT_ADMINS. They can:

- /reindex [full]: update the index from the reports folder, and hear what was added, changed
  and removed, and how long it took. One build at a time: another request meanwhile is told
  that one is running;
- send a .txt, .md, .docx or .pdf file in a private chat: it is checked (size, type by
  content, reports found in it), saved under a safe name that never replaces a file, indexed,
  and the reply says which reports and how many paragraphs it added, or why it was not added;
- /remove REPORT_ID: the report's file goes to the folder's `.trash/` (undo: move it back and
  /reindex) and the index is updated; when the file is a compilation holding several reports,
  the bot first says so and waits for a confirmation button. /remove alone lists the ids.

Everyone else is refused politely and nothing changes (`bot/guard.py` refuses them first; the
handlers check again). Builds run in a worker thread, so the bot keeps answering meanwhile, and
the bot's `SearchIndex` picks the new index up at once.

Callback data: `adm:rm:<report id>:<8 hex of the file's sha256>` (confirm a removal; the hash
makes sure the file is still the one the admin saw) and `adm:x` (cancel).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from bot import handlers
from bot.guard import ADMIN_ONLY, is_admin
from bot.handlers import _reply_to, say
from bot.render import HTML, clip
from bot.state import Context
from index.build import BuildInProgress, BuildReport
from index.library import NewFile, Rejected, sha256_of
from index.models import Report
from index.store import IndexUnavailable

if TYPE_CHECKING:
    from index.search import SearchIndex

logger = logging.getLogger(__name__)

PATTERN = r"^adm:"
CONFIRM_PREFIX = "adm:rm:"
CANCEL = "adm:x"
MB = 1024 * 1024
PROGRESS_AFTER = 2.0  # seconds a build runs before the admin is told it is under way
BUILD_WAIT = 120.0  # seconds an upload or removal waits for a build already running
LIST_AT_MOST = 10  # file names shown per kind of change
REPORTS_LISTED = 40  # reports /remove lists

BUILD_RUNNING = "⏳ 索引正在更新（一次只能进行一个），请等它完成后再发送。"
PROGRESS = "⏳ 正在更新索引…"
REMOVE_CANCELLED = "已取消，没有删除任何文件。"


# --- small helpers --------------------------------------------------------------------------


def _log_build_failure(message: str, name: str, exc: BaseException) -> None:
    """A busy index is a warning (another build runs); anything else is an error."""
    level = logging.WARNING if isinstance(exc, BuildInProgress) else logging.ERROR
    logger.log(level, message, name, exc_info=exc)


async def _admin(update: Update, context: Context) -> bool:
    """True for an admin; anyone else gets the polite refusal (False)."""
    user = update.effective_user
    if is_admin(context.bot_data.settings, user.id if user else None):
        return True
    logger.info("admin action refused: user=%s", user.id if user else "-")
    if update.callback_query is not None:
        await update.callback_query.answer(ADMIN_ONLY, show_alert=True)
    elif update.effective_message is not None:
        message = update.effective_message
        await say(context, message.chat_id, HTML.esc(ADMIN_ONLY), reply_to=_reply_to(message))
    return False


async def _build(
    context: Context,
    chat_id: int,
    reply_to: int | None,
    *,
    full: bool = False,
    wait: float = 0.0,
) -> BuildReport:
    """One build in a worker thread (saying it is under way when it takes a while), then the
    bot's index reloads; raises BuildInProgress when another build holds on past `wait`."""
    library = context.bot_data.library
    task = asyncio.ensure_future(asyncio.to_thread(library.build, full=full, wait=wait))
    try:
        report = await asyncio.wait_for(asyncio.shield(task), PROGRESS_AFTER)
    except TimeoutError:
        await say(context, chat_id, PROGRESS, reply_to=reply_to)
        report = await task
    try:
        await context.bot_data.call(lambda ix: ix.refresh())
    except IndexUnavailable as exc:
        logger.warning("index not reloaded after the build: %s", exc)
    logger.info(
        "admin build: %d added, %d changed, %d removed in %.2f s",
        len(report.added),
        len(report.changed),
        len(report.removed),
        report.seconds,
    )
    return report


def _names(items: Sequence[str]) -> str:
    shown = "、".join(HTML.esc(clip(name, 60)) for name in items[:LIST_AT_MOST])
    more = f" 等 {len(items)} 个" if len(items) > LIST_AT_MOST else ""
    return shown + more


def build_html(report: BuildReport) -> str:
    """What a build did, for the admin: files added, changed, removed, skipped; time; totals."""
    skipped = {s.path for s in report.skipped}
    added = [a for a in report.added if a not in skipped]
    changed = [c for c in report.changed if c not in skipped]
    how = "全部重建" if report.full else "增量更新"
    if report.changed_anything or report.full:
        lines = [f"✅ 索引已更新（{how}，用时 {report.seconds:.2f} 秒）"]
    else:
        lines = [f"✅ 索引已是最新：没有文件新增、修改或删除（检查用时 {report.seconds:.2f} 秒）"]
    if added:
        lines.append(f"➕ 新增 {len(added)} 个文件：{_names(added)}")
    if changed:
        lines.append(f"✏️ 修改 {len(changed)} 个文件：{_names(changed)}")
    if report.removed:
        lines.append(f"➖ 删除 {len(report.removed)} 个文件：{_names(report.removed)}")
    if report.skipped:
        lines.append(f"⚠️ 跳过 {len(report.skipped)} 个文件：")
        lines += [
            f"• {HTML.esc(clip(s.path, 60))}：{HTML.esc(clip(s.reason, 120))}"
            for s in report.skipped[:LIST_AT_MOST]
        ]
    lines.append(f"📚 现有 {report.reports} 份报告，{report.paragraphs} 段。")
    return "\n".join(lines)


def _report_line(report: Report) -> str:
    return f"• 《{HTML.esc(clip(report.title, 40))}》 <code>{HTML.esc(report.id)}</code>"


async def _edit(query: CallbackQuery, text: str) -> None:
    """Replace the message under a button (and its buttons) with `text`."""
    await handlers._edit(query, text, None)


# --- /reindex -------------------------------------------------------------------------------


async def reindex_command(update: Update, context: Context) -> None:
    """/reindex [full] (admins): build -> what was added, changed and removed, and the time."""
    message = update.message
    if message is None or not await _admin(update, context):
        return
    reply_to = _reply_to(message)
    args = context.args or []
    full = bool(args) and args[0].lower() in ("full", "--full", "全部")
    try:
        report = await _build(context, message.chat_id, reply_to, full=full)
    except BuildInProgress:
        await say(context, message.chat_id, BUILD_RUNNING, reply_to=reply_to)
        return
    except Exception as exc:  # the index is as it was: say why, keep running
        logger.exception("reindex failed")
        text = f"❌ 索引更新失败，原索引未变：{HTML.esc(clip(str(exc), 300))}"
        await say(context, message.chat_id, text, reply_to=reply_to)
        return
    await say(context, message.chat_id, build_html(report), reply_to=reply_to)


# --- uploads --------------------------------------------------------------------------------


def upload_html(new: NewFile, reports: Sequence[Report], build: BuildReport) -> str:
    """What became of an uploaded file, once indexed."""
    name = HTML.esc(new.name)
    skipped = next((s for s in build.skipped if s.path == new.name), None)
    if skipped is not None:
        return (
            f"⚠️ 文件已保存为 {name}，但没有收录：{HTML.esc(skipped.reason)}。\n"
            f"可以用 /reindex 重试，或从报告文件夹删除它。"
        )
    paragraphs = sum(r.paragraphs for r in reports)
    lines = [f"✅ 已收录 {name}：{len(reports)} 份报告，{paragraphs} 段"]
    lines += [_report_line(r) for r in reports[:LIST_AT_MOST]]
    if len(reports) > LIST_AT_MOST:
        lines.append(f"… 等 {len(reports)} 份")
    if new.cleaned:
        original = HTML.esc(clip(new.requested, 80))
        lines.append(f"ℹ️ 原文件名“{original}”含有路径或特殊字符，已整理为 {name}。")
    if new.retyped:
        lines.append(f"ℹ️ 文件扩展名与内容不符，已按内容保存为 {name}。")
    if new.clashed:
        lines.append(
            "ℹ️ 报告文件夹里已有同名的另一个文件，它没有被改动；新文件另存为 "
            f"{name}。如果新文件是要替换旧的，请用 /remove 删除旧报告。"
        )
    lines.append(
        f"⏱ 索引更新用时 {build.seconds:.2f} 秒；现有 {build.reports} 份报告，"
        f"{build.paragraphs} 段。"
    )
    return "\n".join(lines)


async def document_upload(update: Update, context: Context) -> None:
    """A file in a private chat (admins): check -> save -> index -> which reports it added."""
    message = update.message
    if message is None or message.document is None or not await _admin(update, context):
        return
    document = message.document
    chat_id = message.chat_id
    requested = document.file_name or ""
    shown = HTML.esc(clip(requested or "这个文件", 80))
    limit = context.bot_data.settings.max_upload_mb
    if (document.file_size or 0) > limit * MB:
        size = (document.file_size or 0) / MB
        await say(context, chat_id, f"❌ {shown} 太大（{size:.1f} MB），上限是 {limit} MB。")
        return
    try:
        data = bytes(await (await document.get_file()).download_as_bytearray())
    except TelegramError as exc:
        logger.warning("download failed: %s: %s", type(exc).__name__, exc)
        await say(context, chat_id, f"❌ 没能下载 {shown}，请再发送一次。")
        return
    if len(data) > limit * MB:
        await say(context, chat_id, f"❌ {shown} 太大，上限是 {limit} MB。")
        return
    library = context.bot_data.library
    try:
        new = await asyncio.to_thread(library.add, data, requested)
    except Rejected as exc:
        await say(context, chat_id, f"❌ 没有收录 {shown}：{HTML.esc(exc.reason)}。")
        return
    except OSError as exc:  # e.g. a full disk: nothing was added
        logger.exception("saving an upload failed")
        await say(context, chat_id, f"❌ 没能保存 {shown}：{HTML.esc(str(exc))}")
        return
    if new.duplicate:
        text = f"ℹ️ 内容完全相同的文件已在资料库中：{HTML.esc(new.name)}，没有重复添加。"
        await say(context, chat_id, text)
        return
    logger.info("upload saved as %s (%d bytes)", new.name, len(data))
    try:
        build = await _build(context, chat_id, None, wait=BUILD_WAIT)
    except Exception as exc:
        _log_build_failure("reindex after saving %s failed", new.name, exc)
        text = f"文件已保存为 {HTML.esc(new.name)}，但还没有收录。\n" + build_failed_html(exc)
        await say(context, chat_id, text)
        return
    try:
        reports = await context.bot_data.call(
            lambda ix: [r for r in ix.reports() if r.source == new.name]
        )
    except IndexUnavailable:
        reports = []
    await say(context, chat_id, upload_html(new, reports, build))


# --- /remove --------------------------------------------------------------------------------


def _lookup(index: SearchIndex, report_id: str) -> tuple[Report, list[Report]] | None:
    """The report and every report from the same file (itself included)."""
    index.refresh()
    report = index.report(report_id)
    if report is None:
        return None
    return report, [r for r in index.reports() if r.source == report.source]


def remove_usage_html(reports: Sequence[Report]) -> str:
    lines = [
        "用法：/remove 报告编号",
        "删除报告所在的文件（移到报告文件夹的 .trash/，可以恢复）。",
    ]
    if reports:
        lines += ["", "现有报告："]
        lines += [_report_line(r) for r in reports[:REPORTS_LISTED]]
        if len(reports) > REPORTS_LISTED:
            lines.append(f"… 共 {len(reports)} 份（全部编号：reportbot index status）")
    return "\n".join(lines)


def confirm_html(report: Report, siblings: Sequence[Report]) -> str:
    lines = [
        f"《{HTML.esc(clip(report.title, 60))}》在文件 {HTML.esc(report.source)} 里，"
        f"这个文件共有 {len(siblings)} 份报告：",
        *(_report_line(r) for r in siblings[:LIST_AT_MOST]),
    ]
    if len(siblings) > LIST_AT_MOST:
        lines.append(f"… 等 {len(siblings)} 份")
    lines += ["", f"删除会移走整个文件，这 {len(siblings)} 份报告都会从资料库中移除。确定吗？"]
    return "\n".join(lines)


def removed_html(source: str, siblings: Sequence[Report], build: str) -> str:
    """A file taken out, and what became of the index (`build`: HTML)."""
    titles = "、".join(f"《{HTML.esc(clip(r.title, 30))}》" for r in siblings[:LIST_AT_MOST])
    lines = [
        f"🗑 已删除文件 {HTML.esc(source)}（{len(siblings)} 份报告：{titles}）。",
        "文件移到了报告文件夹的 .trash/ 里；要恢复，把它移回原处再发送 /reindex。",
        build,
    ]
    return "\n".join(lines)


def build_failed_html(exc: BaseException) -> str:
    if isinstance(exc, BuildInProgress):
        return "⚠️ 索引一直在被另一个任务更新，稍后发送 /reindex 完成更新。"
    return f"⚠️ 索引更新失败（{HTML.esc(clip(str(exc), 200))}），原索引未变；修好后发送 /reindex。"


async def remove_command(update: Update, context: Context) -> None:
    """/remove REPORT_ID (admins): the report's file -> trash -> reindex (asks first for a
    compilation); /remove alone lists the report ids."""
    message = update.message
    if message is None or not await _admin(update, context):
        return
    chat_id, reply_to = message.chat_id, _reply_to(message)
    if not context.args:
        try:
            reports = await context.bot_data.call(lambda ix: ix.reports())
        except IndexUnavailable:
            reports = []
        await say(context, chat_id, remove_usage_html(reports), reply_to=reply_to)
        return
    report_id = context.args[0].strip()
    try:
        found = await context.bot_data.call(lambda ix: _lookup(ix, report_id))
    except IndexUnavailable:
        found = None
    if found is None:
        wanted = HTML.esc(clip(report_id, 40))
        text = f"没有编号为 {wanted} 的报告。发送 /remove 查看现有报告的编号。"
        await say(context, chat_id, text, reply_to=reply_to)
        return
    report, siblings = found
    try:
        path = context.bot_data.library.path_of(report.source)
    except Rejected as exc:
        await say(context, chat_id, f"❌ 不能删除：{HTML.esc(exc.reason)}", reply_to=reply_to)
        return
    if len(siblings) > 1:
        digest = (await asyncio.to_thread(sha256_of, path))[:8]
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        f"删除整个文件（{len(siblings)} 份报告）",
                        callback_data=f"{CONFIRM_PREFIX}{report.id}:{digest}",
                    )
                ],
                [InlineKeyboardButton("取消", callback_data=CANCEL)],
            ]
        )
        text = confirm_html(report, siblings)
        await say(context, chat_id, text, reply_to=reply_to, keyboard=keyboard)
        return
    text = await _remove(context, chat_id, reply_to, report.source, siblings)
    await say(context, chat_id, text, reply_to=reply_to)


async def _remove(
    context: Context, chat_id: int, reply_to: int | None, source: str, siblings: list[Report]
) -> str:
    """Move the file to the trash and reindex; what to tell the admin."""
    try:
        await asyncio.to_thread(context.bot_data.library.take_out, source)
    except Rejected as exc:
        return f"❌ 不能删除：{HTML.esc(exc.reason)}"
    except OSError as exc:  # e.g. no permission: the file stays where it is
        logger.exception("removing %s failed", source)
        return f"❌ 不能删除 {HTML.esc(source)}：{HTML.esc(str(exc))}"
    logger.info("admin removed %s (%d reports)", source, len(siblings))
    try:
        build = await _build(context, chat_id, reply_to, wait=BUILD_WAIT)
    except Exception as exc:
        _log_build_failure("reindex after removing %s failed", source, exc)
        return removed_html(source, siblings, build_failed_html(exc))
    return removed_html(source, siblings, build_html(build))


async def remove_button(update: Update, context: Context) -> None:
    """删除整个文件 / 取消 under a /remove confirmation (admins)."""
    query = update.callback_query
    if query is None or not await _admin(update, context):
        return
    await query.answer()
    data = query.data or ""
    message = query.message
    if data == CANCEL or not data.startswith(CONFIRM_PREFIX) or not isinstance(message, Message):
        await _edit(query, REMOVE_CANCELLED)
        return
    report_id, _, digest = data.removeprefix(CONFIRM_PREFIX).partition(":")
    try:
        found = await context.bot_data.call(lambda ix: _lookup(ix, report_id))
    except IndexUnavailable:
        found = None
    if found is None:
        await _edit(query, "这份报告已不在资料库中，没有删除任何文件。")
        return
    report, siblings = found
    library = context.bot_data.library
    try:
        path = library.path_of(report.source)
        current = await asyncio.to_thread(sha256_of, path)
    except (Rejected, OSError):
        text = f"文件 {HTML.esc(report.source)} 已不在报告文件夹里，没有删除任何文件。"
        await _edit(query, text)
        return
    if not current.startswith(digest):
        text = f"文件 {HTML.esc(report.source)} 在确认前被改动过，没有删除。请重新发送 /remove。"
        await _edit(query, text)
        return
    await _edit(query, f"⏳ 正在删除 {HTML.esc(report.source)}…")
    reply_to = _reply_to(message)
    text = await _remove(context, message.chat.id, reply_to, report.source, siblings)
    await say(context, message.chat.id, text, reply_to=reply_to)
