"""Admins keep the reports current from the chat (issue 4), end to end against the local Bot
API stand-in: /reindex, uploads, /remove; everyone else is refused and nothing changes."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botapi import ALICE, BOB, BotAPIServer, Call, button, buttons, parse_html
from corpus import copy_index, make_docx, sample_text, split_sample

from bot import admin
from bot.app import ALLOWED_UPDATES, BotApplication, build_application
from bot.guard import ADMIN_ONLY
from bot.settings import Settings
from index import library as library_module
from index.build import build_index
from index.library import TRASH
from index.search import SearchIndex

PAUSE = 0.3  # to be sure something did NOT happen
NEW_REPORT = """县水务局2023年工作总结和2024年工作计划
一、2023年工作总结
（一）海绵城市建设。全年建成海绵城市试点片区12个，新建雨水调蓄池8座，城区内涝点全部销号。
（二）农村供水保障。完成农村供水管网改造96公里，农村自来水普及率达到98.6%。
二、2024年工作计划
（一）继续推进海绵城市建设，新建试点片区5个，改造老旧排水管网30公里。
（二）实施农村供水提质工程，新建规模化水厂2座。
"""
NEW_QUESTION = "海绵城市试点片区建了多少个？"


@dataclass
class Desk:
    """An admin's world: the bot, its reports folder and index."""

    app: BotApplication
    api: BotAPIServer
    folder: Path
    db: Path

    def files(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if not p.name.startswith("."))

    def trash(self) -> list[str]:
        return sorted(p.name for p in (self.folder / TRASH).iterdir())

    def generation(self) -> int:
        with sqlite3.connect(self.db) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    def reports(self) -> list[Any]:
        index = SearchIndex(self.db, self.app.bot_data.library.tokenizer)
        try:
            return index.reports()
        finally:
            index.close()

    async def send(self, text: str, *, user: dict[str, Any] = ALICE, count: int = 1) -> list[Call]:
        before = len(self.api.sent(user["id"]))
        self.api.private_text(text, user=user)
        return (await self.api.wait_sent(before + count, chat_id=user["id"], timeout=10))[before:]

    async def upload(
        self, content: bytes, name: str | None, *, user: dict[str, Any] = ALICE
    ) -> Call:
        before = len(self.api.sent(user["id"]))
        self.api.private_document(content, name, user=user)
        sent = await self.api.wait_sent(before + 1, chat_id=user["id"], timeout=10)
        return sent[before]

    async def press(self, message: Call, data: str, *, user: dict[str, Any] = ALICE) -> None:
        before = len(self.api.calls_to("answerCallbackQuery"))
        self.api.press(self.api.current(message), data, user=user)
        await self.api.wait_for(lambda: len(self.api.calls_to("answerCallbackQuery")) > before)


def seen(call: Call) -> str:
    return parse_html(call.params["text"])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> tuple[Path, Path]:
    """A reports folder (the sample compilation and two one-report files) and its index."""
    base = tmp_path_factory.mktemp("admin-template")
    folder = base / "reports"
    folder.mkdir()
    parts = list(split_sample().values())
    (folder / "汇编.txt").write_text(sample_text(), encoding="utf-8")
    (folder / "残联.txt").write_text(parts[1], encoding="utf-8")
    (folder / "民政局.txt").write_text(parts[2], encoding="utf-8")
    build_index(base / "index.db", [folder], root=folder, tokenizer=tokenizer)
    return folder, base / "index.db"


@pytest.fixture
async def desk(
    bot_api: BotAPIServer, tmp_path: Path, template: tuple[Path, Path], tokenizer: Any
) -> AsyncIterator[Desk]:
    folder, db = tmp_path / "reports", tmp_path / "index.db"
    shutil.copytree(template[0], folder)
    copy_index(template[1], db)
    settings = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": bot_api.token,
            "TELEGRAM_API_BASE_URL": bot_api.base_url,
            "REPORTBOT_DB": str(db),
            "REPORTBOT_REPORTS_DIR": str(folder),
            "REPORTBOT_ADMINS": str(ALICE["id"]),
            "REPORTBOT_MAX_UPLOAD_MB": "1",
            "REPORTBOT_POLL_TIMEOUT": "2",
        }
    )
    app = build_application(settings, index_opener=lambda path: SearchIndex.open(path, tokenizer))
    app.bot_data.library.tokenizer = tokenizer
    await app.initialize()
    assert app.post_init is not None and app.updater is not None
    await app.post_init(app)
    await app.updater.start_polling(timeout=2, allowed_updates=list(ALLOWED_UPDATES))
    await app.start()
    yield Desk(app, bot_api, folder, db)
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    assert app.post_shutdown is not None
    await app.post_shutdown(app)
    assert not bot_api.rejected, [(c.method, c.status, c.params) for c in bot_api.rejected]


# --- /reindex -------------------------------------------------------------------------------


async def test_reindex_says_what_changed_and_the_bot_answers_from_it_at_once(
    desk: Desk,
) -> None:
    [before] = await desk.send(NEW_QUESTION)
    assert "海绵城市试点片区12个" not in seen(before)

    (desk.folder / "水务局.txt").write_text(NEW_REPORT, encoding="utf-8")
    with (desk.folder / "残联.txt").open("a", encoding="utf-8") as f:
        f.write("\n新增：开展残疾人就业帮扶专项行动。\n")
    (desk.folder / "民政局.txt").unlink()
    [reply] = await desk.send("/reindex")
    text = seen(reply)
    assert "✅ 索引已更新（增量更新，用时" in text
    assert "新增 1 个文件：水务局.txt" in text and "修改 1 个文件：残联.txt" in text
    assert "删除 1 个文件：民政局.txt" in text
    assert f"现有 {14 + 2} 份报告" in text

    [after] = await desk.send(NEW_QUESTION)  # no restart: the running bot has the new index
    assert "海绵城市试点片区12个" in seen(after)

    [again] = await desk.send("/reindex")
    assert "索引已是最新" in seen(again)
    [full] = await desk.send("/reindex full")
    assert "全部重建" in seen(full)

    # A build by someone else (`reportbot index build`, `index watch`): the bot follows too.
    (desk.folder / "水务局.txt").write_text(NEW_REPORT.replace("12个", "15个"), encoding="utf-8")
    await asyncio.to_thread(build_index, desk.db, [desk.folder], root=desk.folder)
    [later] = await desk.send(NEW_QUESTION)
    assert "海绵城市试点片区15个" in seen(later)


async def test_a_second_reindex_while_one_runs_says_so_and_the_bot_keeps_answering(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    real_build = library_module.build_index

    def slow_build(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(10)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(library_module, "build_index", slow_build)
    monkeypatch.setattr(admin, "PROGRESS_AFTER", 0.1)
    chat = ALICE["id"]
    desk.api.private_text("/reindex")
    await desk.api.wait_for(entered.is_set, what="the first build")
    [progress] = await desk.api.wait_sent(1, chat_id=chat)
    assert seen(progress) == admin.PROGRESS

    [busy] = await desk.send("/reindex")
    assert seen(busy) == admin.BUILD_RUNNING
    [answer] = await desk.send("哪个单位计划开展家庭无障碍改造？")
    assert "¶" in seen(answer)

    release.set()
    done = await desk.api.wait_sent(4, chat_id=chat, timeout=10)
    assert "索引已是最新" in seen(done[3])


# --- uploads --------------------------------------------------------------------------------


async def test_an_uploaded_report_is_indexed_and_answered_from(desk: Desk) -> None:
    reply = await desk.upload(NEW_REPORT.encode(), "水务局 2023 总结.txt")
    text = seen(reply)
    [report] = [r for r in desk.reports() if r.source == "水务局 2023 总结.txt"]
    assert f"✅ 已收录 水务局 2023 总结.txt：1 份报告，{report.paragraphs} 段" in text
    assert report.id in text and "索引更新用时" in text
    [answer] = await desk.send(NEW_QUESTION)
    assert "海绵城市试点片区12个" in seen(answer)

    word = await desk.upload(make_docx(NEW_REPORT.replace("水务局", "城管局")), "城管局.txt")
    assert "✅ 已收录 城管局.docx：1 份报告" in seen(word)
    assert "扩展名与内容不符，已按内容保存为 城管局.docx" in seen(word)
    assert "城管局.docx" in desk.files()


async def test_uploads_that_are_refused_or_renamed(desk: Desk) -> None:
    files = desk.files()
    image = await desk.upload(b"\x89PNG\r\n\x1a\n" + bytes(2000), "报告.pdf")
    assert seen(image) == "❌ 没有收录 报告.pdf：image file, not text。"

    downloads = len(desk.api.calls_to("getFile"))
    big = await desk.upload(("很长的报告。" * 70_000).encode(), "big.txt")  # over 1 MB
    assert "太大" in seen(big) and "上限是 1 MB" in seen(big)
    assert len(desk.api.calls_to("getFile")) == downloads  # refused before downloading
    assert desk.files() == files

    escape = await desk.upload(NEW_REPORT.encode(), "../../../escape.txt")
    assert "✅ 已收录 escape.txt" in seen(escape) and "含有路径或特殊字符" in seen(escape)
    assert not (desk.folder.parent / "escape.txt").exists()
    assert not any(desk.folder.parent.parent.glob("escape.txt"))

    hidden = await desk.upload(NEW_REPORT.replace("水务局", "交通局").encode(), ".hidden.txt")
    assert "✅ 已收录 hidden.txt" in seen(hidden)

    old = (desk.folder / "残联.txt").read_bytes()
    clash = await desk.upload(NEW_REPORT.replace("水务局", "林业局").encode(), "残联.txt")
    assert "✅ 已收录 残联 (2).txt" in seen(clash) and "已有同名的另一个文件" in seen(clash)
    assert (desk.folder / "残联.txt").read_bytes() == old

    same = await desk.upload(old, "残联副本.txt")
    assert "内容完全相同的文件已在资料库中：残联.txt" in seen(same)

    assert desk.files() == sorted([*files, "escape.txt", "hidden.txt", "残联 (2).txt"])
    assert {r.source for r in desk.reports()} >= {"escape.txt", "hidden.txt", "残联 (2).txt"}


# --- /remove --------------------------------------------------------------------------------


async def test_remove_a_report_in_a_file_of_its_own(desk: Desk) -> None:
    [listing] = await desk.send("/remove")
    reports = desk.reports()
    [target] = [r for r in reports if r.source == "残联.txt"]
    assert "用法：/remove 报告编号" in seen(listing) and target.id in seen(listing)

    [reply] = await desk.send(f"/remove {target.id}")
    text = seen(reply)
    assert "🗑 已删除文件 残联.txt（1 份报告" in text and "删除 1 个文件：残联.txt" in text
    assert "残联.txt" not in desk.files() and desk.trash()[0].endswith("-残联.txt")
    assert target.id not in {r.id for r in desk.reports()}

    [unknown] = await desk.send(f"/remove {target.id}")
    assert f"没有编号为 {target.id} 的报告" in seen(unknown)


async def test_removing_a_compilation_asks_first(desk: Desk) -> None:
    inside = next(r for r in desk.reports() if r.source == "汇编.txt")
    [ask] = await desk.send(f"/remove {inside.id}")
    assert "这个文件共有 14 份报告" in seen(ask) and "确定吗" in seen(ask)
    assert [b["text"] for b in buttons(ask)] == ["删除整个文件（14 份报告）", "取消"]

    await desk.press(ask, button(ask, "取消")["callback_data"])
    await desk.api.wait_for(lambda: admin.REMOVE_CANCELLED in desk.api.current(ask)["text"])
    assert "汇编.txt" in desk.files()

    [ask] = await desk.send(f"/remove {inside.id}")
    (desk.folder / "汇编.txt").write_text(sample_text() + "\n补充。\n", encoding="utf-8")
    await desk.press(ask, button(ask, "删除整个文件")["callback_data"])
    await desk.api.wait_for(lambda: "被改动过" in desk.api.current(ask)["text"])
    assert "汇编.txt" in desk.files()
    (desk.folder / "汇编.txt").write_text(sample_text(), encoding="utf-8")

    [ask] = await desk.send(f"/remove {inside.id}")
    before = len(desk.api.sent(ALICE["id"]))
    await desk.press(ask, button(ask, "删除整个文件")["callback_data"])
    [done] = (await desk.api.wait_sent(before + 1, chat_id=ALICE["id"], timeout=10))[before:]
    assert "🗑 已删除文件 汇编.txt（14 份报告" in seen(done)
    assert desk.files() == sorted(["民政局.txt", "残联.txt"])
    assert {r.source for r in desk.reports()} == {"民政局.txt", "残联.txt"}


# --- everyone else --------------------------------------------------------------------------


async def test_non_admins_are_refused_and_nothing_changes(desk: Desk) -> None:
    files, reports, generation = desk.files(), desk.reports(), desk.generation()
    target = next(r for r in reports if r.source == "残联.txt")

    [refused] = await desk.send("/reindex", user=BOB)
    assert seen(refused) == ADMIN_ONLY
    for action in (f"/remove {target.id}", "/remove"):  # refused again, quietly
        desk.api.private_text(action, user=BOB)
    desk.api.private_document(NEW_REPORT.encode(), "水务局.txt", user=BOB)
    await asyncio.sleep(PAUSE)
    assert len(desk.api.sent(BOB["id"])) == 1 and desk.api.calls_to("getFile") == []

    [ask] = await desk.send(f"/remove {next(r for r in reports if r.source == '汇编.txt').id}")
    await desk.press(ask, button(ask, "删除整个文件")["callback_data"], user=BOB)
    [alert] = desk.api.calls_to("answerCallbackQuery")
    assert alert.params.get("text") == ADMIN_ONLY and alert.params.get("show_alert") is True

    [help_bob] = await desk.send("/help", user=BOB)
    [help_alice] = await desk.send("/help")
    assert "/reindex" not in seen(help_bob) and "/reindex" in seen(help_alice)

    assert desk.files() == files and desk.reports() == reports
    assert not (desk.folder / TRASH).exists() and desk.generation() == generation
