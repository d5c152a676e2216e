"""Abuse (issue 8): the per-user rate limit, the allowlists, admin-only actions and the upload
size cap, all applied by `bot.guard.Guard` before any handler; end to end through the stand-in.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from botapi import ALICE, BOB, GROUP, BotAPIServer, buttons, parse_html
from botrun import start_bot, stop_bot
from hardening import (
    Clock,
    bot_settings,
    document_message,
    guard_of,
    nothing_more,
    send,
)

from bot import guard, render
from bot.app import BotApplication
from bot.guard import Notices, RateLimiter, is_allowed
from bot.settings import Settings

QUESTION = "乡村振兴"
REPORTS = Path(__file__).resolve().parent.parent / "data" / "reports"
CAROL = {"id": 1003, "is_bot": False, "first_name": "Carol"}
OTHER_GROUP = {"id": -100777, "type": "supergroup", "title": "别的群"}

BotFactory = Callable[..., Any]


@pytest.fixture
async def make_bot(bot_api: BotAPIServer, sample_db: Path) -> AsyncIterator[BotFactory]:
    """make_bot(db=sample_db, **env) -> (app, clock): a bot over the index with those settings
    (the shared sample is read-only: a bot that may build gets a copy)."""
    apps: list[BotApplication] = []

    async def make(db: Path = sample_db, **env: str) -> tuple[BotApplication, Clock]:
        app = await start_bot(bot_settings(bot_api, db, **env))
        apps.append(app)
        clock = Clock()
        guard_of(app).clock = clock
        return app, clock

    yield make
    for app in apps:
        await stop_bot(app)
    assert not bot_api.rejected, [(c.method, c.status, c.params) for c in bot_api.rejected]


def texts(api: BotAPIServer, chat_id: int) -> list[str]:
    return [parse_html(c.params["text"]) for c in api.sent(chat_id)]


# --- pieces -----------------------------------------------------------------------------------


def test_rate_limiter_is_a_sliding_window_per_key() -> None:
    limiter = RateLimiter(3, window=60)
    assert [limiter.hit("a", t) for t in (0, 10, 20)] == [0, 0, 0]
    assert limiter.hit("a", 30) == pytest.approx(30)  # the first event leaves the window at 60
    assert limiter.hit("a", 59) == pytest.approx(1)  # refused events are not counted
    assert limiter.hit("b", 59) == 0  # per key
    assert limiter.hit("a", 60) == 0 and limiter.hit("a", 60.5) == pytest.approx(9.5)
    for n in range(2000):  # one-off users are forgotten once their window has passed
        limiter.hit(n, 1000 + n * 0.1)
    assert len(limiter) < 700


def test_notices_are_said_once_per_quiet_period() -> None:
    notices = Notices()
    assert notices.due("k", 0, 60) and not notices.due("k", 59, 60) and notices.due("k", 60, 60)
    assert notices.due("other", 1, 60)


def test_allowlists() -> None:
    anyone = Settings()
    assert is_allowed(anyone, 1, None) and is_allowed(anyone, 1, -5)
    users = Settings(allowed_users=frozenset({1}), admins=frozenset({9}))
    assert is_allowed(users, 1, None) and is_allowed(users, 1, -5) and is_allowed(users, 9, None)
    assert not is_allowed(users, 2, None) and not is_allowed(users, 2, -5)
    chats = Settings(allowed_chats=frozenset({-5}))
    assert (
        is_allowed(chats, 2, -5) and not is_allowed(chats, 2, 2) and not is_allowed(chats, 2, None)
    )


def test_abuse_settings_from_env() -> None:
    defaults = Settings.from_env({})
    assert defaults.rate_limit == 20 and defaults.max_upload_mb == 20
    assert defaults.allowed_users == frozenset() == defaults.allowed_chats
    custom = Settings.from_env(
        {
            "REPORTBOT_RATE_LIMIT": "0",
            "REPORTBOT_ALLOWED_USERS": "1, 2,",
            "REPORTBOT_ALLOWED_CHATS": "-1001234567890",
            "REPORTBOT_MAX_UPLOAD_MB": "5",
        }
    )
    assert custom.rate_limit == 0 and custom.allowed_users == {1, 2}
    assert custom.allowed_chats == {-1001234567890} and custom.max_upload_mb == 5
    for name, bad in [
        ("REPORTBOT_RATE_LIMIT", "-1"),
        ("REPORTBOT_RATE_LIMIT", "lots"),
        ("REPORTBOT_ALLOWED_USERS", "@alice"),
        ("REPORTBOT_ALLOWED_CHATS", "群"),
        ("REPORTBOT_MAX_UPLOAD_MB", "0"),
    ]:
        with pytest.raises(ValueError, match=name):
            Settings.from_env({name: bad})


# --- rate limit -------------------------------------------------------------------------------


async def test_rate_limit_says_so_once_then_lets_the_user_in_again(
    make_bot: BotFactory, bot_api: BotAPIServer
) -> None:
    _, clock = await make_bot(REPORTBOT_RATE_LIMIT="3")
    for n in range(3):
        [answer] = await send(bot_api, f"{QUESTION} {n}")
        assert "全文①" in [b["text"] for b in buttons(answer)]
        clock.advance(1)
    [notice] = await send(bot_api, QUESTION)
    assert parse_html(notice.params["text"]) == guard.RATE_LIMITED.format(limit=3, seconds=57)
    for _ in range(5):  # said once: the rest of the minute is quiet
        bot_api.private_text(QUESTION)
    await nothing_more(bot_api, ALICE["id"], 4)
    [other] = await send(bot_api, QUESTION, user=BOB)  # per user
    assert "全文①" in [b["text"] for b in buttons(other)]

    clock.advance(57)  # the first question has left the window
    [answer] = await send(bot_api, QUESTION)
    assert "全文①" in [b["text"] for b in buttons(answer)]
    assert sum(c.params.get("action") == "typing" for c in bot_api.calls_to("sendChatAction")) == 5


async def test_rate_limited_buttons_and_inline_queries_are_answered_quietly(
    make_bot: BotFactory, bot_api: BotAPIServer
) -> None:
    await make_bot(REPORTBOT_RATE_LIMIT="2")
    [answer] = await send(bot_api, QUESTION)
    full = buttons(answer)[0]["callback_data"]
    await send(bot_api, QUESTION)  # 2 of 2
    before = len(bot_api.sent(ALICE["id"]))
    for _ in range(3):
        bot_api.press(bot_api.current(answer), full)
    await bot_api.wait_for(lambda: len(bot_api.calls_to("answerCallbackQuery")) == 3)
    answers = [c.params for c in bot_api.calls_to("answerCallbackQuery")]  # spinners stopped
    [alert] = [a for a in answers if a.get("show_alert")]  # one pop-up, not three
    assert "频繁" in alert["text"] and sum("text" in a for a in answers) == 1
    await nothing_more(bot_api, ALICE["id"], before)

    for n in range(2 * guard.INLINE_FACTOR + 1):  # inline queries come as the user types
        bot_api.inline(QUESTION[: 1 + n % 4])
    await bot_api.wait_for(
        lambda: len(bot_api.calls_to("answerInlineQuery")) == 2 * guard.INLINE_FACTOR + 1
    )
    answers = bot_api.calls_to("answerInlineQuery")
    [refused] = [a for a in answers if not a.params["results"]]
    assert refused.params["button"]["text"] == guard.RATE_LIMITED_SHORT


async def test_admins_are_not_rate_limited(make_bot: BotFactory, bot_api: BotAPIServer) -> None:
    await make_bot(REPORTBOT_RATE_LIMIT="1", REPORTBOT_ADMINS=str(ALICE["id"]))
    for _ in range(3):
        [answer] = await send(bot_api, QUESTION)
        assert "全文①" in [b["text"] for b in buttons(answer)]


async def test_a_rate_limit_of_zero_is_no_limit(
    make_bot: BotFactory, bot_api: BotAPIServer
) -> None:
    await make_bot(REPORTBOT_RATE_LIMIT="0")
    for n in range(25):
        bot_api.private_text(f"{QUESTION} {n}")
    answers = await bot_api.wait_sent(25, chat_id=ALICE["id"], timeout=20)
    assert all(buttons(a) for a in answers)


async def test_group_chatter_does_not_count(make_bot: BotFactory, bot_api: BotAPIServer) -> None:
    await make_bot(REPORTBOT_RATE_LIMIT="2")
    for _ in range(5):
        bot_api.group_text("大家好，今天学习乡村振兴", user=BOB)  # not to the bot
    bot_api.group_text(f"/ask {QUESTION}", user=BOB)
    bot_api.group_text(f"@reportbot_test_bot {QUESTION}", user=BOB)
    answers = await bot_api.wait_sent(2, chat_id=GROUP["id"])
    assert all(buttons(a) for a in answers)
    bot_api.group_text(f"/ask {QUESTION}", user=BOB)
    [*_, notice] = await bot_api.wait_sent(3, chat_id=GROUP["id"])
    assert "频繁" in parse_html(notice.params["text"]) and notice.params["reply_parameters"]


# --- allowlists -------------------------------------------------------------------------------


async def test_allowed_users_only(make_bot: BotFactory, bot_api: BotAPIServer) -> None:
    await make_bot(REPORTBOT_ALLOWED_USERS=str(ALICE["id"]), REPORTBOT_ADMINS=str(CAROL["id"]))
    [answer] = await send(bot_api, QUESTION)
    assert "全文①" in [b["text"] for b in buttons(answer)]

    [refusal] = await send(bot_api, QUESTION, user=BOB)
    assert parse_html(refusal.params["text"]) == guard.NOT_ALLOWED
    bot_api.private_text("/start", user=BOB)  # said once a minute, not to every message
    bot_api.private_text(QUESTION, user=BOB)
    await nothing_more(bot_api, BOB["id"], 1)

    bot_api.inline(QUESTION, user=BOB)
    [inline] = await bot_api.wait_for(lambda: bot_api.calls_to("answerInlineQuery"))
    assert inline.params["results"] == []
    assert inline.params["button"]["text"] == guard.NOT_ALLOWED_SHORT

    bot_api.press(bot_api.current(answer), buttons(answer)[0]["callback_data"], user=BOB)
    [pressed] = await bot_api.wait_for(lambda: bot_api.calls_to("answerCallbackQuery"))
    assert pressed.params["text"] == guard.NOT_ALLOWED and pressed.params["show_alert"]

    bot_api.group_text(f"/ask {QUESTION}", user=BOB)  # an allowed user's group does not count
    bot_api.group_text("随便聊聊", user=BOB)
    [group_refusal] = await bot_api.wait_sent(1, chat_id=GROUP["id"])
    assert parse_html(group_refusal.params["text"]) == guard.NOT_ALLOWED
    bot_api.group_text(f"/ask {QUESTION}", user=ALICE)
    answers = await bot_api.wait_sent(2, chat_id=GROUP["id"])
    assert buttons(answers[1])

    [admin] = await send(bot_api, QUESTION, user=CAROL)  # admins are always allowed
    assert buttons(admin)
    assert len(bot_api.sent(BOB["id"])) == 1


async def test_allowed_chats_only(make_bot: BotFactory, bot_api: BotAPIServer) -> None:
    await make_bot(REPORTBOT_ALLOWED_CHATS=str(GROUP["id"]))
    bot_api.group_text(f"/ask {QUESTION}", user=BOB)  # anyone in the allowed group
    [answer] = await bot_api.wait_sent(1, chat_id=GROUP["id"])
    assert buttons(answer)
    [refusal] = await send(bot_api, QUESTION, user=BOB)  # but not elsewhere
    assert parse_html(refusal.params["text"]) == guard.NOT_ALLOWED

    bot_api.group_text("乡村振兴怎么搞", user=BOB, chat=OTHER_GROUP)  # not to the bot: silence
    await nothing_more(bot_api, OTHER_GROUP["id"], 0)
    bot_api.group_text(f"/ask@reportbot_test_bot {QUESTION}", user=BOB, chat=OTHER_GROUP)
    [other] = await bot_api.wait_sent(1, chat_id=OTHER_GROUP["id"])
    assert parse_html(other.params["text"]) == guard.NOT_ALLOWED

    bot_api.inline(QUESTION, user=BOB)  # inline queries have no chat: only listed users
    [inline] = await bot_api.wait_for(lambda: bot_api.calls_to("answerInlineQuery"))
    assert inline.params["results"] == []


# --- admin-only actions and uploads --------------------------------------------------------------


async def test_every_admin_action_refuses_a_non_admin(
    make_bot: BotFactory, bot_api: BotAPIServer
) -> None:
    app, clock = await make_bot(REPORTBOT_ADMINS=str(CAROL["id"]))
    file_id = bot_api.add_file("区残联2023年工作总结\n完成475户无障碍改造。".encode(), "a.txt")
    actions = [
        lambda: bot_api.private_text("/reindex"),
        lambda: bot_api.private_text("/reindex --full"),
        lambda: bot_api.private_text("/remove 00.txt"),
        lambda: bot_api.private_text("/REMOVE@reportbot_test_bot 00.txt"),
        lambda: document_message(bot_api, file_id=file_id, file_name="a.txt"),
        lambda: document_message(bot_api, file_id=file_id, caption="/reindex"),
    ]
    for n, act in enumerate(actions, 1):
        act()
        [*_, reply] = await bot_api.wait_sent(n, chat_id=ALICE["id"])
        assert parse_html(reply.params["text"]) == guard.ADMIN_ONLY
        clock.advance(guard.WINDOW)  # (a refusal is said once a minute)
    [answer] = await send(bot_api, QUESTION)
    for n, data in enumerate(["adm:rm:0123456789:deadbeef", "adm:x"], 1):  # removal buttons
        bot_api.press(bot_api.current(answer), data)
        await bot_api.wait_for(lambda n=n: len(bot_api.calls_to("answerCallbackQuery")) == n)
        clock.advance(guard.WINDOW)
    for call in bot_api.calls_to("answerCallbackQuery"):
        assert call.params["text"] == guard.ADMIN_ONLY and call.params["show_alert"]
    for command in ("/reindex@reportbot_test_bot", "/remove 00.txt"):  # in a group
        bot_api.group_text(command, user=BOB)
        await asyncio.sleep(0.2)
        clock.advance(guard.WINDOW)
    replies = await bot_api.wait_sent(2, chat_id=GROUP["id"])
    assert [parse_html(r.params["text"]) for r in replies] == [guard.ADMIN_ONLY] * 2
    document_message(bot_api, user=BOB, chat=GROUP, file_id=file_id)  # not addressed: quiet
    await nothing_more(bot_api, GROUP["id"], 2)
    assert bot_api.calls_to("getFile") == []  # nothing was downloaded
    assert app.bot_data.index is not None and app.bot_data.index.stats().paragraphs > 0


async def test_admin_handlers_refuse_a_non_admin_on_their_own(
    make_bot: BotFactory, bot_api: BotAPIServer, sample_db: Path, tmp_path: Path
) -> None:
    """Defence in depth: with the guard taken out, bot/admin.py still refuses everything."""
    db, reports = _writable_copy(sample_db, tmp_path)
    app, _ = await make_bot(db, REPORTBOT_ADMINS=str(CAROL["id"]), REPORTBOT_REPORTS_DIR=reports)
    [[guard_handler]] = [app.handlers[-1]]
    app.remove_handler(guard_handler, group=-1)
    file_id = bot_api.add_file("区残联2023年工作总结\n完成475户无障碍改造。".encode(), "a.txt")
    for n, act in enumerate(
        [
            lambda: bot_api.private_text("/reindex"),
            lambda: bot_api.private_text("/remove 0123456789"),
            lambda: document_message(bot_api, file_id=file_id, file_name="a.txt"),
        ],
        1,
    ):
        act()
        [*_, reply] = await bot_api.wait_sent(n, chat_id=ALICE["id"])
        assert parse_html(reply.params["text"]) == guard.ADMIN_ONLY
    [answer] = await send(bot_api, QUESTION)
    bot_api.press(bot_api.current(answer), "adm:rm:0123456789:deadbeef")
    [pressed] = await bot_api.wait_for(lambda: bot_api.calls_to("answerCallbackQuery"))
    assert pressed.params["text"] == guard.ADMIN_ONLY
    assert bot_api.calls_to("getFile") == [] and sorted(os.listdir(reports)) == sorted(
        os.listdir(REPORTS)
    )


async def test_admin_commands_pass_the_guard_for_admins(
    make_bot: BotFactory, bot_api: BotAPIServer, sample_db: Path, tmp_path: Path
) -> None:
    db, reports = _writable_copy(sample_db, tmp_path)
    await make_bot(db, REPORTBOT_ADMINS=str(ALICE["id"]), REPORTBOT_REPORTS_DIR=reports)
    [reply] = await send(bot_api, "/reindex")
    assert "索引" in parse_html(reply.params["text"])  # bot/admin.py's answer
    assert parse_html(reply.params["text"]) != guard.ADMIN_ONLY


def _writable_copy(sample_db: Path, tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "reportbot.db"
    shutil.copy(sample_db, db)
    shutil.copytree(REPORTS, tmp_path / "reports")
    return db, str(tmp_path / "reports")


async def test_uploads_over_the_size_cap_are_refused_before_download(
    make_bot: BotFactory, bot_api: BotAPIServer
) -> None:
    await make_bot(REPORTBOT_ADMINS=str(ALICE["id"]), REPORTBOT_MAX_UPLOAD_MB="1")
    file_id = bot_api.add_file(b"x" * 10, "big.txt")
    document_message(bot_api, file_id=file_id, file_name="big.txt", file_size=3 * 1024 * 1024)
    [reply] = await bot_api.wait_sent(1, chat_id=ALICE["id"])
    assert parse_html(reply.params["text"]) == guard.UPLOAD_TOO_LARGE.format(size=3.0, limit=1)
    assert bot_api.calls_to("getFile") == []


def test_refusals_are_plain_polite_chinese() -> None:
    for text in (guard.NOT_ALLOWED, guard.ADMIN_ONLY, guard.RATE_LIMITED, render.APOLOGY):
        assert (parse_html(text) == text and "抱歉" in text) or "请" in text
    assert len(guard.NOT_ALLOWED) <= 200 and len(guard.ADMIN_ONLY) <= 200  # pop-up limit
