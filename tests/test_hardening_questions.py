"""Bad questions (issue 8): each gets a sensible reply, never an exception, at every level —
`SearchIndex.search`, `reportbot ask`/`chat`, and the Telegram bot end to end — and no
question ever becomes part of SQL text."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from botapi import ALICE, GROUP, BotAPIServer, buttons, parse_html
from botrun import start_bot, stop_bot
from click.testing import CliRunner
from hardening import BAD_QUESTIONS, bot_settings, send

from bot import render
from bot.app import BotApplication
from bot.cli import cli
from bot.question import MAX_QUESTION, clean_question, tidy
from index import store
from index.search import SearchIndex

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "data" / "reports"
NOTHING_TO_FIND = {"empty", "whitespace", "punctuation", "emoji"}
# Telegram sends valid UTF-8 only: a lone surrogate (an undecodable byte) is a terminal's problem.
TELEGRAM_QUESTIONS = {k: q for k, q in BAD_QUESTIONS.items() if k != "surrogate"}


# --- the question cleaner ------------------------------------------------------------------------


def test_clean_question() -> None:
    assert clean_question("  乡村\n\t振兴  ") == ("乡村 振兴", False)
    assert clean_question("乡\u200b村\u200d振\ufeff兴\u202e") == ("乡村振兴", False)
    assert clean_question("乡村\x00振兴\x1b[31m") == ("乡村 振兴 [31m", False)
    assert clean_question("乡村\udcff振兴") == ("乡村振兴", False)
    assert clean_question("😀 👍🏽") == ("😀 👍🏽", False)
    long, cut = clean_question("振兴" * 1000)
    assert cut and long == "振兴" * (MAX_QUESTION // 2)
    assert clean_question("振" * MAX_QUESTION) == ("振" * MAX_QUESTION, False)
    assert tidy("\x00\u200b \u3000") == ""
    started = time.perf_counter()
    clean_question("乡村振兴\u200b\x00 " * 250_000)  # 2 MB pasted into the terminal
    assert time.perf_counter() - started < 1.0


# --- SearchIndex.search --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BAD_QUESTIONS))
def test_search_takes_any_question(sample_index: SearchIndex, name: str) -> None:
    before = sample_index.stats()
    started = time.perf_counter()
    result = sample_index.search(BAD_QUESTIONS[name], top=3)
    assert time.perf_counter() - started < 1.0  # 10,000 characters included
    assert len(result.hits) <= 3
    if name in NOTHING_TO_FIND:
        assert result.hits == () and result.total == 0
    for hit in result.hits:
        assert hit.paragraph.text and hit.report.title
    assert sample_index.stats() == before


def test_search_by_raw_question_with_sql_syntax_finds_its_words(sample_index: SearchIndex) -> None:
    plain = sample_index.search("乡村振兴", top=3)
    sqlish = sample_index.search("乡村振兴' OR 1=1; -- ", top=3)
    assert sqlish.hits and sqlish.hits[0].paragraph.id in {h.paragraph.id for h in plain.hits}
    assert sample_index.search("' OR ''='", top=3).hits == ()  # not "everything"


class _RecordingConnection(sqlite3.Connection):
    """Every SQL text and parameter list the index code runs."""

    statements: ClassVar[list[str]] = []
    parameters: ClassVar[list[Any]] = []

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        self.statements.append(sql)
        self.parameters.append(parameters)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        self.statements.append(sql)
        return super().executemany(sql, parameters)

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        self.statements.append(script)
        return super().executescript(script)

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(_RecordingCursor)


class _RecordingCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        _RecordingConnection.statements.append(sql)
        _RecordingConnection.parameters.append(parameters)
        return super().execute(sql, parameters)


def test_questions_are_only_ever_bound_parameters(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect = sqlite3.connect
    monkeypatch.setattr(
        store.sqlite3, "connect", lambda *a, **k: connect(*a, factory=_RecordingConnection, **k)
    )
    _RecordingConnection.statements, _RecordingConnection.parameters = [], []
    index = SearchIndex.open(sample_db)
    try:
        for question in [
            "乡村振兴 zqxmarker' OR 1=1; DROP TABLE paragraphs; --",
            'zqxmarker" NEAR(乡村 振兴) * OR -- ;',
            BAD_QUESTIONS["sql and fts"],
        ]:
            index.search(question, top=5)
            index.search(question, top=3, offset=3)
        assert index.stats().paragraphs > 0  # nothing dropped
    finally:
        index.close()
    sql = "\n".join(_RecordingConnection.statements).lower()
    assert _RecordingConnection.statements and "zqxmarker" not in sql and "drop" not in sql
    assert "near" not in sql and "1=1" not in sql
    bound = json.dumps([list(p) for p in _RecordingConnection.parameters], ensure_ascii=False)
    assert "zqxmarker" in bound  # the question's words did reach SQLite, as parameters


# --- reportbot ask / chat ------------------------------------------------------------------------


def _run(args: list[str], db: Path, input: str | bytes | None = None) -> Any:
    env = {"REPORTBOT_DB": str(db), "REPORTBOT_REPORTS_DIR": str(REPORTS)}
    return CliRunner().invoke(cli, args, env=env, input=input, catch_exceptions=False)


@pytest.mark.parametrize("name", list(BAD_QUESTIONS))
def test_ask_takes_any_question(sample_db: Path, name: str) -> None:
    result = _run(["ask", BAD_QUESTIONS[name]], sample_db)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()
    if name.startswith("very long"):
        assert f"question cut to its first {MAX_QUESTION} characters" in result.stderr
    as_json = _run(["ask", "--json", BAD_QUESTIONS[name]], sample_db)
    assert as_json.exit_code == 0
    answer = json.loads(as_json.stdout)
    assert answer["question"] == clean_question(BAD_QUESTIONS[name])[0]
    if name in NOTHING_TO_FIND:
        assert answer["results"] == []


def test_ask_reads_one_json_answer_per_line_of_stdin(sample_db: Path) -> None:
    lines = [q.replace("\n", " ").replace("\r", " ") for q in BAD_QUESTIONS.values()]
    lines = [q.replace("\x85", " ") for q in lines]  # NEL: a line break to Python's splitlines
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")  # \udcff: a bad byte
    result = _run(["ask", "--json"], sample_db, input=data)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == len(lines)


def test_chat_takes_any_question(sample_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "reportbot.db"
    shutil.copy(sample_db, db)
    questions = [q.replace("\n", " ").replace("\r", " ") for q in BAD_QUESTIONS.values()]
    data = ("\n".join(questions) + "\n").encode("utf-8", "surrogateescape")
    result = _run(["chat"], db, input=data)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("🔎") >= len(BAD_QUESTIONS) - len(NOTHING_TO_FIND) - 1
    assert "只按前 300 个字搜索" in result.stdout


def test_ask_in_a_real_terminal_with_undecodable_bytes(sample_db: Path) -> None:
    """argv and stdin with bytes that are not UTF-8: no traceback (a subprocess, for real
    argv/stdin decoding)."""
    reportbot = Path(sys.executable).with_name("reportbot")
    env = {**os.environ, "REPORTBOT_DB": str(sample_db), "PYTHONIOENCODING": ""}
    argv = subprocess.run(
        [os.fsencode(reportbot), b"ask", b"\xff\xfe" + "乡村".encode()],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert argv.returncode == 0, argv.stderr.decode(errors="replace")
    assert "乡村".encode() in argv.stdout and b"Traceback" not in argv.stderr
    stdin = subprocess.run(
        [reportbot, "ask", "--json"],
        input=b"\xff\xfe\xe4\xb9\xa1\xe6\x9d\x91\n\xc3\x28 \xa0\xa1\n",
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert stdin.returncode == 0, stdin.stderr.decode(errors="replace")
    assert len(stdin.stdout.splitlines()) == 2 and b"Traceback" not in stdin.stderr


# --- the bot, end to end -------------------------------------------------------------------------


@pytest.fixture
async def real_bot(bot_api: BotAPIServer, sample_db: Path) -> AsyncIterator[BotApplication]:
    """A bot over the real sample index, without a rate limit (these tests ask a lot)."""
    app = await start_bot(bot_settings(bot_api, sample_db, REPORTBOT_RATE_LIMIT="0"))
    yield app
    await stop_bot(app)
    assert not bot_api.rejected, [(c.method, c.status, c.params) for c in bot_api.rejected]


async def test_the_bot_answers_any_question_sensibly(
    real_bot: BotApplication, bot_api: BotAPIServer
) -> None:
    for name, question in TELEGRAM_QUESTIONS.items():
        if not question:
            continue  # Telegram has no empty messages (an empty /ask is in the group test)
        [reply] = await send(bot_api, question)
        text = parse_html(reply.params["text"])  # Telegram would accept it
        assert text != render.APOLOGY, name
        cleaned = clean_question(question)[0]
        if not cleaned:
            assert text == parse_html(render.ask_usage()), name
        elif question.startswith("/"):
            assert text == parse_html(render.unknown_command()), name
        elif name in NOTHING_TO_FIND:
            assert cleaned in text and not buttons(reply), name
        else:
            assert f"🔎 {cleaned[:40]}" in text, name
        if name == "very long":
            assert text.startswith(f"（问题太长，只按前 {MAX_QUESTION} 个字搜索。）"), name
            assert "全文①" in [b["text"] for b in buttons(reply)]
        for control in "\x00\x07\x1b\u200b\u202e\ufeff":
            assert control not in reply.params["text"], name


async def test_inline_mode_takes_any_question(
    real_bot: BotApplication, bot_api: BotAPIServer
) -> None:
    asked = 0
    for question in TELEGRAM_QUESTIONS.values():
        bot_api.inline(question)
        asked += bool(clean_question(question)[0])
        await bot_api.wait_for(
            lambda n=asked: len(bot_api.calls_to("answerInlineQuery")) == n, timeout=10
        )
    answers = bot_api.calls_to("answerInlineQuery")
    assert len(answers) == asked  # empty ones are skipped
    for answer in answers:
        for result in answer.params["results"]:
            parse_html(result["input_message_content"]["message_text"])


async def test_groups_take_bad_questions_after_ask(
    real_bot: BotApplication, bot_api: BotAPIServer
) -> None:
    # A few: PTB's flood control allows 20 calls a minute per group, as Telegram does.
    names = ["empty", "html", "sql and fts", "control characters", "very long"]
    for n, question in enumerate([TELEGRAM_QUESTIONS[name] for name in names], 1):
        bot_api.group_text(f"/ask {question}")
        await bot_api.wait_sent(n, chat_id=GROUP["id"], timeout=10)
    for reply in bot_api.sent(GROUP["id"]):
        assert parse_html(reply.params["text"]) != render.APOLOGY
        assert reply.params["reply_parameters"]


async def test_forged_button_data_is_harmless(
    real_bot: BotApplication, bot_api: BotAPIServer
) -> None:
    """Callback data comes from the bot's buttons, but a modified client can send any."""
    [answer] = await send(bot_api, "乡村振兴")
    forged = {
        "m:-5:q:乡村振兴": None,  # a negative offset: ignored
        "m:99999999999:q:乡村振兴": render.NO_MORE,
        "m:3:q:\x00乡村<b>振兴\u202e": "这是第 4",
        "f:' OR 1=1 --": render.PARAGRAPH_GONE,
        "s:../../etc/passwd": render.REPORT_GONE,
        "o:x:-99999": None,  # an outline page of no report, edited in place
        "r:-1": None,  # the reports list, page clamped, edited in place
    }
    for data, expected in forged.items():
        before = len(bot_api.sent(ALICE["id"]))
        answered = len(bot_api.calls_to("answerCallbackQuery"))
        bot_api.press(bot_api.current(answer), data)
        await bot_api.wait_for(lambda n=answered: len(bot_api.calls_to("answerCallbackQuery")) > n)
        if expected is None:
            await asyncio.sleep(0.2)
            continue
        [reply] = (await bot_api.wait_sent(before + 1, chat_id=ALICE["id"]))[before:]
        assert expected in parse_html(reply.params["text"]), data
