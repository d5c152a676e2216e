"""Faults (issue 8): a missing, corrupt or locked index gives one clear line at start (exit 1, no
traceback) and a clear reply in chat, and the bot recovers without a restart once it is fixed;
a full disk during a build keeps the old index; network errors to Telegram are retried."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botapi import ALICE, BotAPIServer, buttons, parse_html
from botrun import start_bot, stop_bot
from click.testing import CliRunner
from corpus import split_sample, write_reports
from hardening import bot_settings, send
from telegram.error import BadRequest, NetworkError, TimedOut

from bot import render
from bot.cli import cli
from bot.retry import RetryingRateLimiter, retryable
from index import build, store
from index.search import SearchIndex

QUESTION = "乡村振兴"
ROOT = Path(__file__).resolve().parent.parent


def copy_index(src: Path, dest: Path) -> Path:
    """A consistent copy of an index file (SQLite's backup: WAL contents included)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dest) as b:
        a.backup(b)
    a.close()
    b.close()
    return dest


def run(args: list[str], db: Path, input: str | None = None) -> Any:
    env = {"REPORTBOT_DB": str(db), "REPORTBOT_REPORTS_DIR": str(db.parent / "reports")}
    return CliRunner().invoke(cli, args, env=env, input=input)


def one_clear_line(result: Any, *phrases: str) -> None:
    """Exit code 1, no traceback, one `Error: ...` line that says what and what to do."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in errors[0], errors[0]


def garbage(path: Path) -> Path:
    path.write_bytes(os.urandom(40_000))
    return path


def damage_terms(db: Path) -> Path:
    """Overwrite the root page of the postings table: the file opens, a search fails."""
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        [root] = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'terms'").fetchone()
    conn.close()
    with db.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xab" * page_size)
    return db


class Locked:
    """An index file another process holds an exclusive lock on, until `release()`."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys, time\n"
                "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                "c.execute('PRAGMA locking_mode = EXCLUSIVE')\n"
                "c.execute('BEGIN EXCLUSIVE')\n"
                "c.execute(\"UPDATE meta SET value = value WHERE key = 'generation'\")\n"
                "print('locked', flush=True)\n"
                "sys.stdin.read()\n",  # hold the lock until stdin closes
                str(db),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.holder.stdout is not None
        assert self.holder.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.holder.poll() is None:
            assert self.holder.stdin is not None and self.holder.stdout is not None
            self.holder.stdin.close()  # the holder exits; the OS drops its lock
            self.holder.wait(timeout=10)
            self.holder.stdout.close()


@pytest.fixture
def locked(sample_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Locked]:
    """A locked copy of the sample index; SQLite's busy wait cut to 0.2 s."""
    lock = Locked(copy_index(sample_db, tmp_path / "reportbot.db"))
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 200)
    try:
        yield lock
    finally:
        lock.release()


# --- reportbot ask / health / index status -------------------------------------------------------


def test_missing_index_and_no_reports(tmp_path: Path) -> None:
    db = tmp_path / "nothing" / "reportbot.db"
    one_clear_line(run(["ask", QUESTION], db), "no reports folder", "REPORTBOT_REPORTS_DIR")
    one_clear_line(run(["health"], db), "no index at", "reportbot index build")
    one_clear_line(run(["index", "status"], db), "no index at")


@pytest.mark.parametrize("damage", ["garbage", "damaged page"])
def test_corrupt_index(sample_db: Path, tmp_path: Path, damage: str) -> None:
    db = copy_index(sample_db, tmp_path / "reportbot.db")
    garbage(db) if damage == "garbage" else damage_terms(db)
    for args in (["ask", QUESTION], ["ask", "--json", QUESTION], ["health"]):
        one_clear_line(run(args, db), str(db))
    result = run(["ask", QUESTION], db)
    if damage == "garbage":
        assert "file is not a database" in result.stderr
    assert "delete it and run `reportbot index build`" in result.stderr


def test_locked_index(locked: Locked) -> None:
    for args in (["ask", QUESTION], ["health"], ["index", "status"]):
        one_clear_line(run(args, locked.db), "database is locked", "another process holds a lock")


@pytest.mark.parametrize("damage", ["garbage", "damaged page"])
def test_chat_on_a_corrupt_index(sample_db: Path, tmp_path: Path, damage: str) -> None:
    db = copy_index(sample_db, tmp_path / "reportbot.db")
    shutil.copytree(ROOT / "data" / "reports", tmp_path / "reports")
    if damage == "garbage":  # unusable at start: one line, exit 1
        one_clear_line(run(["chat"], garbage(db), input=f"{QUESTION}\n"), str(db))
        return
    damage_terms(db)  # opens, then each question fails: said, and the chat goes on
    result = run(["chat"], db, input=f"{QUESTION}\n无障碍改造\n")
    assert result.exit_code == 0 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 2 and "database disk image is malformed" in errors[0]


# --- the bot: a clear reply, no crash loop, recovery without restart -----------------------------


async def ask_and_expect_unavailable(api: BotAPIServer) -> None:
    [reply] = await send(api, QUESTION)
    assert parse_html(reply.params["text"]) == render.INDEX_UNAVAILABLE


@pytest.mark.parametrize("fault", ["missing", "garbage", "damaged page", "locked"])
async def test_bot_says_the_index_is_unavailable_then_recovers(
    bot_api: BotAPIServer,
    sample_db: Path,
    tmp_path: Path,
    fault: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = tmp_path / "reportbot.db"
    lock: Locked | None = request.getfixturevalue("locked") if fault == "locked" else None
    if fault != "missing" and lock is None:
        copy_index(sample_db, db)
        garbage(db) if fault == "garbage" else damage_terms(db)
    app = await start_bot(bot_settings(bot_api, db))
    try:
        if fault != "damaged page":  # that one opens; it fails at the first search
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1 and warnings[0].exc_info is None  # one line, no traceback
            assert "will retry on the next question" in warnings[0].getMessage()
        await ask_and_expect_unavailable(bot_api)
        await ask_and_expect_unavailable(bot_api)  # still running: no crash, no restart
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

        # fixed while the bot runs: the lock released, or a good file moved into place
        if lock is not None:
            lock.release()
        else:
            os.replace(copy_index(sample_db, tmp_path / "fixed.db"), db)
        [answer] = await send(bot_api, QUESTION)
        assert "全文①" in [b["text"] for b in buttons(answer)]
    finally:
        await stop_bot(app)
    assert not bot_api.rejected


# --- a full disk during a build ------------------------------------------------------------------


def test_a_full_disk_during_a_build_keeps_the_old_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = tmp_path / "reports"
    parts = split_sample()
    titles = list(parts)
    write_reports(reports, {t: parts[t] for t in titles[:6]})
    db = tmp_path / "reportbot.db"
    assert run(["index", "build"], db).exit_code == 0
    before = SearchIndex.open(db)
    old = before.search(QUESTION, top=5)
    old_stats = before.stats()
    before.close()

    write_reports(reports, parts)  # eight more reports: the file has to grow
    connect = store.connect

    def small_disk(path: Any, **kwargs: Any) -> Any:
        db = connect(path, **kwargs)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 2}")  # no room to grow
        return db

    monkeypatch.setattr(build.store, "connect", small_disk)
    result = run(["index", "build"], db)
    one_clear_line(result, "database or disk is full", "the disk is full", "previous index")

    after = SearchIndex.open(db)  # the old index, whole and answering
    try:
        assert after.stats() == old_stats
        again = after.search(QUESTION, top=5)
        assert [h.paragraph.id for h in again.hits] == [h.paragraph.id for h in old.hits]
    finally:
        after.close()

    monkeypatch.undo()  # space freed: the next build goes through
    assert run(["index", "build"], db).exit_code == 0
    grown = SearchIndex.open(db)
    assert grown.stats().reports == len(titles) > old_stats.reports
    grown.close()


# --- network errors to Telegram ------------------------------------------------------------------


def test_which_network_errors_are_retried() -> None:
    def timed_out(cause: Exception) -> TimedOut:
        try:
            raise TimedOut() from cause
        except TimedOut as exc:
            return exc

    assert retryable(NetworkError("httpx.ConnectError: [Errno 111] Connection refused"))
    assert retryable(NetworkError("Bad Gateway"))
    assert retryable(timed_out(httpx.ConnectTimeout("connect")))
    assert retryable(timed_out(httpx.PoolTimeout("pool")))
    assert not retryable(timed_out(httpx.ReadTimeout("read")))  # it may have been sent
    assert not retryable(BadRequest("Bad Request: message text is empty"))


async def test_retries_back_off_then_give_up() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    limiter = RetryingRateLimiter(network_retries=3, backoff=0.5, sleep=sleep)
    calls = 0

    async def failing(*args: Any, **kwargs: Any) -> bool:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise NetworkError("httpx.ReadError: connection reset")
        return True

    await limiter.initialize()
    try:
        assert await limiter.process_request(failing, (), {}, "sendMessage", {"chat_id": 1}, None)
        assert calls == 3 and len(waits) == 2
        assert 0.4 <= waits[0] <= 0.6 and 0.8 <= waits[1] <= 1.2  # doubling, some jitter

        calls, waits[:] = -10, []
        with pytest.raises(NetworkError):
            await limiter.process_request(failing, (), {}, "sendMessage", {"chat_id": 1}, None)
        assert len(waits) == 3  # then it gives up (and the caller logs it)

        async def bad(*args: Any, **kwargs: Any) -> bool:
            raise BadRequest("Bad Request: chat not found")

        waits[:] = []
        with pytest.raises(BadRequest):
            await limiter.process_request(bad, (), {}, "sendMessage", {"chat_id": 1}, None)
        assert waits == []
    finally:
        await limiter.shutdown()


async def test_the_bot_rides_out_dropped_connections_and_5xx(
    bot_api: BotAPIServer, sample_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = await start_bot(bot_settings(bot_api, sample_db))
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, RetryingRateLimiter)
    limiter.backoff = 0.05
    try:
        [answer] = await send(bot_api, QUESTION)  # running
        # Telegram is away for a while: polls and sends are dropped or get 502/503.
        bot_api.drop_next("getUpdates")
        bot_api.fail_next("getUpdates", status=502, description="Bad Gateway")
        await bot_api.wait_for(
            lambda: sum(c.injected for c in bot_api.calls) == 2, timeout=10, what="2 failed polls"
        )
        bot_api.drop_next("sendMessage", times=2)
        bot_api.fail_next("sendMessage", status=503, description="Service Unavailable")
        bot_api.drop_next("sendChatAction")
        [answer] = await send(bot_api, "无障碍改造")
        assert "全文①" in [b["text"] for b in buttons(answer)]
        failed = [c for c in bot_api.calls if c.injected]
        assert [c.method for c in failed].count("sendMessage") == 3
        assert {c.status for c in failed} == {0, 502, 503}
        assert "retry 3/4" in caplog.text  # sendMessage: after two drops and a 503

        bot_api.fail_next("sendMessage", status=400, description="Bad Request: no")  # not retried
        bot_api.private_text(QUESTION)
        await bot_api.wait_for(
            lambda: any(c.status == 400 for c in bot_api.calls_to("sendMessage", ok=False))
        )
        [again] = await send(bot_api, QUESTION)
        assert buttons(again)
        assert len(bot_api.sent(ALICE["id"])) == 3
    finally:
        await stop_bot(app)
    assert not bot_api.rejected
