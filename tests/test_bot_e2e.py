"""End to end: the real `Application`, polling the local Bot API stand-in (tests/botapi.py).

Each test feeds updates as Telegram would and checks what the user would see. The stand-in
refuses what Telegram refuses (bad HTML, > 4096 characters, callback data > 64 bytes, replies
to missing messages, double-answered queries), and the `bot` fixture fails a test that
provoked any such refusal. The index is the `index_opener` fixture's (tests/conftest.py);
tests that need the fake's edge-case paragraphs (> 4096 characters, `< > &`) use `fake_bot`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import botrun
import pytest
from botapi import ALICE, BOB, GROUP, TOKEN, BotAPIServer, Call, button, buttons, parse_html
from botrun import stop_bot
from fakes import FakeSearchIndex

from bot import render
from bot import settings as settings_module
from bot.app import (
    BotApplication,
    BotStartupError,
    build_application,
    run_polling,
)
from bot.settings import Settings
from index.store import IndexUnavailable

QUESTION = "哪个单位计划开展家庭无障碍改造？"
PAUSE = 0.3  # to be sure something did NOT happen


def settings_for(api: BotAPIServer, tmp_path: Path, token: str | None = None) -> Settings:
    return Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": token or api.token,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "REPORTBOT_DB": str(tmp_path / "reportbot.db"),
            "REPORTBOT_POLL_TIMEOUT": "2",
        }
    )


async def start_bot(
    api: BotAPIServer, opener: Callable[[Path], Any], tmp_path: Path
) -> BotApplication:
    return await botrun.start_bot(settings_for(api, tmp_path), opener)


@pytest.fixture
async def bot(
    bot_api: BotAPIServer, index_opener: Callable[[Path], Any], tmp_path: Path
) -> AsyncIterator[BotApplication]:
    app = await start_bot(bot_api, index_opener, tmp_path)
    yield app
    await stop_bot(app)
    assert not bot_api.rejected, [(c.method, c.status, c.params) for c in bot_api.rejected]


@pytest.fixture
async def fake_bot(bot_api: BotAPIServer, tmp_path: Path) -> AsyncIterator[BotApplication]:
    """A bot over the fake index, whatever `index_opener` is: for its edge-case paragraphs."""
    app = await start_bot(bot_api, FakeSearchIndex.open, tmp_path)
    yield app
    await stop_bot(app)
    assert not bot_api.rejected, [(c.method, c.status, c.params) for c in bot_api.rejected]


def html_of(call: Call) -> str:
    text = call.params["text"]
    assert len(text) <= 4096
    return text


def seen(call: Call) -> str:
    """What the user sees: the message's HTML, validated as Telegram would."""
    return parse_html(html_of(call))


async def ask_private(api: BotAPIServer, text: str, count: int = 1) -> list[Call]:
    before = len(api.sent(ALICE["id"]))
    api.private_text(text)
    sent = await api.wait_sent(before + count, chat_id=ALICE["id"])
    return sent[before:]


async def press(api: BotAPIServer, message_call: Call, data: str, count: int = 1) -> list[Call]:
    chat_id = message_call.result["chat"]["id"]
    before = len(api.sent(chat_id))
    api.press(api.current(message_call), data)
    sent = await api.wait_sent(before + count, chat_id=chat_id)
    return sent[before:]


def index_of(api: BotAPIServer, call: Call) -> int:
    return next(i for i, c in enumerate(api.calls) if c is call)


# --- private chat ---------------------------------------------------------------------------


async def test_private_question_gets_a_cited_answer(
    bot: BotApplication, bot_api: BotAPIServer, search_index: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    expected = search_index.search(QUESTION, top=3)
    assert expected.hits

    [answer] = await ask_private(bot_api, QUESTION)

    text = seen(answer)
    assert "<blockquote>" in html_of(answer)
    assert QUESTION in text
    for hit in expected.hits:
        assert f"¶{hit.paragraph.no}" in text
        assert f"《{hit.report.title}》" in text or hit.report.title[:30] in text
        label = render.badge_label(hit.paragraph.kind, hit.report.years)
        assert label in text
    assert "reply_parameters" not in answer.params  # private: no quoting
    labels = [b["text"] for b in buttons(answer)]
    assert labels[:3] == ["全文①", "全文②", "全文③"][: len(expected.hits)]
    assert ("更多结果 ›" in labels) == (expected.total > len(expected.hits))
    typing = bot_api.calls_to("sendChatAction")
    assert typing and typing[0].params["action"] == "typing"
    assert index_of(bot_api, typing[0]) < index_of(bot_api, answer)

    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("question ")]
    assert re.fullmatch(
        rf"question via=private user={ALICE['id']} chat=private len={len(QUESTION)} "
        rf"hits={len(expected.hits)} total={expected.total} ms=\d+",
        line,
    )
    assert TOKEN not in caplog.text


async def test_full_text_button_sends_the_whole_paragraph(
    bot: BotApplication, bot_api: BotAPIServer, search_index: Any
) -> None:
    expected = search_index.search(QUESTION, top=3).hits[0]
    [answer] = await ask_private(bot_api, QUESTION)
    data = button(answer, "全文①")["callback_data"]

    sent = await press(bot_api, answer, data)

    [answered] = bot_api.calls_to("answerCallbackQuery")
    assert index_of(bot_api, answered) < index_of(bot_api, sent[0])  # spinner stopped first
    text = "".join(seen(c) for c in sent)
    assert " ".join(expected.paragraph.text.split())[:200] in " ".join(text.split())
    assert f"¶{expected.paragraph.no}" in text


async def test_more_button_sends_the_next_results_and_retires_itself(
    bot: BotApplication, bot_api: BotAPIServer, search_index: Any
) -> None:
    expected = search_index.search(QUESTION, top=3, offset=3)
    assert expected.hits, "the question needs more than 3 results"
    [answer] = await ask_private(bot_api, QUESTION)

    [more] = await press(bot_api, answer, button(answer, "更多")["callback_data"])

    text = seen(more)
    assert "这是第 4" in text and "④" in text
    for hit in expected.hits:
        assert f"¶{hit.paragraph.no}" in text
    await bot_api.wait_for(
        lambda: not any(b["text"].startswith("更多") for b in buttons(bot_api.current(answer))),
        what="更多 removed from the first answer",
    )
    assert buttons(bot_api.current(answer))[0]["text"] == "全文①"


async def test_source_button_shows_the_report_outline(
    bot: BotApplication, bot_api: BotAPIServer, search_index: Any
) -> None:
    hit = search_index.search(QUESTION, top=3).hits[0]
    [answer] = await ask_private(bot_api, QUESTION)

    [outline] = await press(bot_api, answer, button(answer, "来源①")["callback_data"])

    text = seen(outline)
    assert hit.report.title[:20] in text and "文件：" in text and " 段" in text
    assert hit.paragraph.section[-1][:15] in text if hit.paragraph.section else True


async def test_stale_buttons_say_plainly_what_happened(
    bot: BotApplication, bot_api: BotAPIServer
) -> None:
    [answer] = await ask_private(bot_api, QUESTION)
    cases = {
        "f:0000000000000000": render.PARAGRAPH_GONE,
        "s:0000000000000000": render.REPORT_GONE,
        "m:3:k:0123456789ab": render.RESULT_EXPIRED,
        "v1|old-format": render.BUTTON_EXPIRED,
    }
    for data, message in cases.items():
        [reply] = await press(bot_api, answer, data)
        assert seen(reply) == message
    assert len(bot_api.calls_to("answerCallbackQuery")) == len(cases)


async def test_buttons_survive_a_restart(
    bot_api: BotAPIServer, index_opener: Callable[[Path], Any], tmp_path: Path
) -> None:
    short = "家庭无障碍改造"
    long = "请问2024年哪些单位计划开展困难重度残疾人家庭无障碍改造，目标是多少户？"
    app = await start_bot(bot_api, index_opener, tmp_path)
    [short_answer] = await ask_private(bot_api, short)
    [long_answer] = await ask_private(bot_api, long)
    await stop_bot(app)

    app = await start_bot(bot_api, index_opener, tmp_path)  # memory of questions is gone
    try:
        [more] = await press(bot_api, short_answer, button(short_answer, "更多")["callback_data"])
        assert "这是第 4" in seen(more)  # the question was in the button itself
        [expired] = await press(bot_api, long_answer, button(long_answer, "更多")["callback_data"])
        assert seen(expired) == render.RESULT_EXPIRED
        [full] = await press(bot_api, long_answer, button(long_answer, "全文①")["callback_data"])
        assert "¶" in seen(full)
    finally:
        await stop_bot(app)
    assert not bot_api.rejected


# --- groups ------------------------------------------------------------------------------------


async def group_answers(api: BotAPIServer, count: int) -> list[Call]:
    return await api.wait_sent(count, chat_id=GROUP["id"])


def replies_to(call: Call) -> int | None:
    reply = call.params.get("reply_parameters")
    return reply["message_id"] if reply else None


async def test_group_ignores_plain_messages_and_answers_ask_as_a_reply(
    bot: BotApplication, bot_api: BotAPIServer
) -> None:
    bot_api.group_text("无障碍改造怎么做的？大家看看")
    await asyncio.sleep(PAUSE)
    assert bot_api.sent(GROUP["id"]) == []

    ask = bot_api.group_text(f"/ask {QUESTION}")
    [answer] = await group_answers(bot_api, 1)
    assert replies_to(answer) == ask["message_id"]
    assert "全文①" in [b["text"] for b in buttons(answer)]

    addressed = bot_api.group_text("/ask@reportbot_test_bot 养老服务")
    answers = await group_answers(bot_api, 2)
    assert replies_to(answers[1]) == addressed["message_id"]

    empty = bot_api.group_text("/ask")
    answers = await group_answers(bot_api, 3)
    assert replies_to(answers[2]) == empty["message_id"]
    assert "/ask 哪个单位" in seen(answers[2])
    await asyncio.sleep(PAUSE)
    assert len(bot_api.sent(GROUP["id"])) == 3


async def test_group_answers_a_mention_and_a_reply_to_the_bot(
    bot: BotApplication, bot_api: BotAPIServer
) -> None:
    mention = bot_api.group_text(f"@reportbot_test_bot {QUESTION}")
    [answer] = await group_answers(bot_api, 1)
    assert replies_to(answer) == mention["message_id"]
    assert f"🔎 {QUESTION}" in seen(answer)  # the mention is not part of the question

    follow_up = bot_api.group_text("养老服务有什么计划？", reply_to=bot_api.current(answer))
    answers = await group_answers(bot_api, 2)
    assert replies_to(answers[1]) == follow_up["message_id"]
    assert "养老服务有什么计划？" in seen(answers[1])

    someone = bot_api.group_text("同意", user=ALICE)
    bot_api.group_text("无障碍改造", reply_to=someone)  # a reply to a person, not to the bot
    bot_api.group_text("@someone_else 无障碍改造")
    await asyncio.sleep(PAUSE)
    assert len(bot_api.sent(GROUP["id"])) == 2


async def test_group_buttons_reply_to_the_answer(
    bot: BotApplication, bot_api: BotAPIServer
) -> None:
    bot_api.group_text(f"/ask {QUESTION}", user=BOB)
    [answer] = await group_answers(bot_api, 1)
    [full] = await press(bot_api, answer, button(answer, "全文②")["callback_data"])
    assert replies_to(full) == answer.result["message_id"]


# --- inline mode ---------------------------------------------------------------------------


async def test_inline_query_offers_articles(
    bot: BotApplication, bot_api: BotAPIServer, search_index: Any
) -> None:
    bot_api.inline("   ")  # empty: skipped
    await asyncio.sleep(PAUSE)
    assert bot_api.calls_to("answerInlineQuery") == []

    expected = search_index.search("无障碍改造", top=5)
    bot_api.inline("无障碍改造")
    [call] = await bot_api.wait_for(lambda: bot_api.calls_to("answerInlineQuery"))

    results = call.params["results"]
    assert [r["id"] for r in results] == [h.paragraph.id for h in expected.hits]
    first, hit = results[0], expected.hits[0]
    assert first["type"] == "article"
    assert first["title"] == render.inline_title(hit)
    assert first["description"]
    message = first["input_message_content"]
    assert message["parse_mode"] == "HTML"
    assert "¶" in parse_html(message["message_text"])
    assert call.params["button"] == {"text": render.INLINE_BUTTON, "start_parameter": "help"}


async def test_start_from_the_inline_button_shows_help(
    bot: BotApplication, bot_api: BotAPIServer
) -> None:
    [reply] = await ask_private(bot_api, "/start help")
    assert "使用说明" in seen(reply)


# --- edge cases ------------------------------------------------------------------------------


async def test_paragraph_over_4096_characters(
    fake_bot: BotApplication, bot_api: BotAPIServer
) -> None:
    [answer] = await ask_private(bot_api, "高标准农田")
    text = seen(answer)
    assert "…第70项" in text and "高标准农田" in text

    hit = FakeSearchIndex.sample().search("高标准农田").hits[0]
    assert len(hit.paragraph.text) > 4096
    pieces = render.paragraph_messages(hit)
    sent = await press(bot_api, answer, button(answer, "全文①")["callback_data"], len(pieces))
    assert len(sent) == len(pieces) >= 2
    quoted = [re.search(r"<blockquote>(.*)</blockquote>", html_of(c), re.S)[1] for c in sent]  # type: ignore[index]
    assert "".join(parse_html(q) for q in quoted) == hit.paragraph.text


async def test_question_and_report_full_of_html_and_markdown_characters(
    fake_bot: BotApplication, bot_api: BotAPIServer
) -> None:
    question = "资金拨付率<60% & *整改* _监管_ `码` [链](http://x) </blockquote> &amp;"
    [answer] = await ask_private(bot_api, question)
    text = seen(answer)
    assert f"🔎 {question}\n" in text  # verbatim
    assert "拨付率<60%" in text and "“<b>整改</b>”" in text and "&amp;" in text
    [full] = await press(bot_api, answer, button(answer, "全文①")["callback_data"])
    assert "C<D>E项目" in seen(full)


async def test_flood_control_waits_out_a_429_and_retries(
    bot: BotApplication, bot_api: BotAPIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB 22 warns (an error here) when it reads RetryAfter.retry_after as int seconds; this
    # opts in to the timedelta it will use from v23 on. The bot itself never reads it.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    bot_api.fail_next("sendMessage", status=429, retry_after=1)
    [answer] = await ask_private(bot_api, QUESTION)
    [refused] = bot_api.calls_to("sendMessage", ok=False)
    assert refused.status == 429
    assert answer.at - refused.at >= 1.0
    assert refused.params["text"] == answer.params["text"]


async def test_a_failed_send_is_logged_and_the_bot_carries_on(
    bot: BotApplication, bot_api: BotAPIServer, caplog: pytest.LogCaptureFixture
) -> None:
    bot_api.fail_next(
        "sendMessage", status=403, description="Forbidden: bot was blocked by the user"
    )
    bot_api.private_text(QUESTION)
    await bot_api.wait_for(lambda: bot_api.calls_to("sendMessage", ok=False))
    await bot_api.wait_for(lambda: "send failed" in caplog.text, what="a logged send failure")
    [answer] = await ask_private(bot_api, QUESTION)
    assert "全文①" in [b["text"] for b in buttons(answer)]


async def test_a_handler_exception_is_logged_and_apologised_for(
    bot: BotApplication,
    bot_api: BotAPIServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("search exploded")

    index = bot.bot_data.index
    monkeypatch.setattr(index, "search", boom)
    bot_api.private_text(QUESTION)
    [apology] = await bot_api.wait_sent(1, chat_id=ALICE["id"])
    assert seen(apology) == render.APOLOGY
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.name == "bot.handlers" and record.exc_info is not None
    assert "search exploded" in str(record.exc_info[1])
    assert record.getMessage() == f"update {bot_api.pushed[-1]['update_id']} failed"

    monkeypatch.undo()
    [answer] = await ask_private(bot_api, QUESTION)  # still working
    assert "全文①" in [b["text"] for b in buttons(answer)]


async def test_without_an_index_the_bot_says_so_then_recovers(
    bot_api: BotAPIServer, tmp_path: Path
) -> None:
    available = False

    def opener(path: Path) -> FakeSearchIndex:
        if not available:
            raise IndexUnavailable("no index yet: run `reportbot index build`")
        return FakeSearchIndex.open(path)

    app = await start_bot(bot_api, opener, tmp_path)
    try:
        [reply] = await ask_private(bot_api, QUESTION)
        assert seen(reply) == render.INDEX_UNAVAILABLE
        available = True
        [answer] = await ask_private(bot_api, QUESTION)
        assert "¶" in seen(answer)
    finally:
        await stop_bot(app)


# --- commands --------------------------------------------------------------------------------


async def test_start_help_reports_stats(
    bot: BotApplication, bot_api: BotAPIServer, search_index: Any
) -> None:
    [start] = await ask_private(bot_api, "/start")
    assert "你好" in seen(start) and "哪个单位计划开展家庭无障碍改造？" in seen(start)

    [help_] = await ask_private(bot_api, "/help")
    assert "@reportbot_test_bot" in seen(help_) and "/ask" in seen(help_)

    reports = search_index.reports()
    [listing] = await ask_private(bot_api, "/reports")
    assert f"收录 {len(reports)} 份报告" in seen(listing)
    [outline] = await press(bot_api, listing, buttons(listing)[0]["callback_data"])
    assert reports[0].title[:20] in seen(outline)
    if len(reports) > render.REPORTS_PER_PAGE:
        before = len(bot_api.calls_to("editMessageText"))
        bot_api.press(bot_api.current(listing), button(listing, "下一页")["callback_data"])
        await bot_api.wait_for(lambda: len(bot_api.calls_to("editMessageText")) > before)
        assert "（第 2/" in parse_html(bot_api.current(listing)["text"])

    stats = search_index.stats()
    [reply] = await ask_private(bot_api, "/stats")
    assert f"报告：{stats.reports} 份" in seen(reply)
    assert f"段落：{stats.paragraphs} 段" in seen(reply)

    [unknown] = await ask_private(bot_api, "/frobnicate")
    assert "/help" in seen(unknown)
    assert bot_api.calls_to("setMyCommands")


async def test_edited_messages_are_not_questions(
    bot: BotApplication, bot_api: BotAPIServer
) -> None:
    message = bot_api.private_text(QUESTION)
    await bot_api.wait_sent(1, chat_id=ALICE["id"])
    bot_api.push({"edited_message": {**message, "text": "养老服务", "edit_date": 1}})
    await asyncio.sleep(PAUSE)
    assert len(bot_api.sent(ALICE["id"])) == 1


# --- startup -------------------------------------------------------------------------------


def test_serve_without_or_with_a_rejected_token_exits_with_a_clear_error(
    bot_api: BotAPIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "999999:WRONG-token-value"
    assert run_polling(settings_for(bot_api, tmp_path, token=wrong)) == 2
    err = capsys.readouterr().err
    assert "rejected TELEGRAM_BOT_TOKEN" in err and "@BotFather" in err and wrong not in err
    [refused] = bot_api.calls
    assert refused.method == "getMe" and refused.status == 401

    no_token = Settings.from_env({"TELEGRAM_API_BASE_URL": bot_api.base_url})
    assert run_polling(no_token) == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in capsys.readouterr().err
    with pytest.raises(BotStartupError):
        build_application(no_token)


def test_settings_from_env() -> None:
    defaults = Settings.from_env({})
    assert defaults.token == "" and defaults.api_base_url == "" and defaults.api_file_url == ""
    assert defaults.db_path == settings_module.DATA_DIR / "reportbot.db"
    assert defaults.reports_dir == settings_module.DATA_DIR / "reports"
    assert defaults.admins == frozenset() and defaults.poll_timeout == 30

    custom = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": " 1:secret ",
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot",
            "REPORTBOT_DB": "x.db",
            "REPORTBOT_ADMINS": "12, 34,",
            "REPORTBOT_POLL_TIMEOUT": "5",
        }
    )
    assert custom.token == "1:secret" and "secret" not in repr(custom)
    assert custom.api_file_url == "http://127.0.0.1:8081/file/bot"
    assert custom.db_path == Path("x.db") and custom.admins == {12, 34}
    assert custom.poll_timeout == 5

    for name, bad in [
        ("REPORTBOT_ADMINS", "alice"),
        ("REPORTBOT_POLL_TIMEOUT", "soon"),
        ("REPORTBOT_POLL_TIMEOUT", "0"),
        ("TELEGRAM_API_BASE_URL", "127.0.0.1:8081/bot"),
    ]:
        with pytest.raises(ValueError, match=name):
            Settings.from_env({name: bad})


def test_every_setting_is_documented() -> None:
    documented = [h.name for h in settings_module.SETTINGS_HELP]
    read = re.findall(r'"((?:TELEGRAM|REPORTBOT)_[A-Z_]+)"', inspect.getsource(Settings))
    assert sorted(set(read)) == sorted(documented) and len(set(documented)) == len(documented)
    assert len(documented) == len(dataclasses.fields(Settings))
    assert all(h.help and h.default for h in settings_module.SETTINGS_HELP)


async def test_the_stand_in_serves_files_for_uploads(
    bot: BotApplication, bot_api: BotAPIServer
) -> None:
    content = "区残联2023年工作总结\n一、2023年工作总结\n完成475户无障碍改造。".encode()
    file_id = bot_api.add_file(content, "区残联.txt")
    telegram_file = await bot.bot.get_file(file_id)
    assert telegram_file.file_size == len(content)
    assert bytes(await telegram_file.download_as_bytearray()) == content
