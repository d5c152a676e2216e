"""`reportbot serve` as systemd or docker runs it: a process, stopped by SIGTERM (issue 7).

Each process test starts the real console command against the local Bot API stand-in
(tests/botapi.py) over a real index of the bundled sample, then talks to it over HTTP: webhook
requests with and without the secret token, SIGTERM while an answer is being prepared, and what
the logs hold. The stand-in can hold one Bot API method's calls (here sendChatAction, which a
handler awaits before it searches and replies) to keep an answer in flight.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from botapi import ALICE, TOKEN, BotAPIServer, buttons
from fakes import FakeSearchIndex

from bot.app import ALLOWED_UPDATES
from bot.logging_setup import REDACTED, Redactor, configure_logging, redact_also
from bot.settings import Settings
from bot.webhook import run_webhook
from index.build import build_index

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_REPORTS = ROOT / "data" / "reports"
SERVE = [sys.executable, "-c", "from bot.cli import main; main()", "serve"]
QUESTION = "哪个单位计划开展家庭无障碍改造？"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PAUSE = 0.5  # to be sure something did NOT happen
STARTUP = 30.0  # seconds a process may take to start (imports, tokenizer, index)


class GatedAPI(BotAPIServer):
    """The stand-in, able to hold the calls of one method until the test releases them."""

    def __init__(self) -> None:
        super().__init__()
        self.gated = ""
        self.gate = threading.Event()
        self.held = threading.Event()  # a call is being held

    def hold(self, method: str) -> None:
        self.gate.clear()
        self.held.clear()
        self.gated = method

    def release(self) -> None:
        self.gate.set()

    def handle(self, method: str, params: dict[str, Any]) -> Any:
        if method == self.gated and not self.gate.is_set():
            self.held.set()
            self.gate.wait(timeout=20)
        return super().handle(method, params)


@pytest.fixture
def api() -> Iterator[GatedAPI]:
    server = GatedAPI().start()
    try:
        yield server
    finally:
        server.release()
        server.stop()


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("index") / "reportbot.db"
    build_index(db, [SAMPLE_REPORTS], root=SAMPLE_REPORTS)
    return db


def wait_until(predicate: Callable[[], Any], *, timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A running `reportbot serve` process and its log (stdout and stderr)."""

    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.proc, self.log_path = proc, log_path

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def started(self, predicate: Callable[[], Any], what: str) -> Any:
        """Wait for a sign of life; fail with the log if the process died first."""
        value = wait_until(lambda: predicate() or not self.alive(), timeout=STARTUP, what=what)
        assert self.alive(), f"serve exited with {self.proc.returncode}:\n{self.log}"
        return value

    def terminate(self) -> float:
        self.proc.send_signal(signal.SIGTERM)
        return time.monotonic()

    def exit_code(self, timeout: float = 20.0) -> int:
        return self.proc.wait(timeout)


@contextmanager
def serving(
    api: BotAPIServer, db: Path, tmp_path: Path, *args: str, **env: str
) -> Iterator[Served]:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "REPORTBOT_"))
    }
    environ.update(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE_URL=api.base_url,
        REPORTBOT_DB=str(db),
        REPORTBOT_POLL_TIMEOUT="1",
        REPORTBOT_LOG_LEVEL="DEBUG",  # the most talkative: the token must still not show
        **env,
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*SERVE, *args],
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = Served(proc, log_path)
    try:
        yield served
    finally:
        if served.alive():
            proc.kill()
            proc.wait()


def post(url: str, update: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    """POST an update as Telegram does, retrying while the server is not listening yet."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return httpx.post(url, json=update, headers=headers, timeout=10)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def labels(call: Any) -> list[str]:
    return [b["text"] for b in buttons(call)]


# --- webhook mode ------------------------------------------------------------------------------


@pytest.mark.slow
def test_webhook_mode_answers_only_requests_with_the_secret_token(
    api: GatedAPI, sample_db: Path, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    with serving(api, sample_db, tmp_path, "--webhook-url", url, "--port", str(port)) as bot:
        hook = bot.started(lambda: api.webhook, "setWebhook")
        assert hook["url"] == url
        assert sorted(hook["allowed_updates"]) == sorted(ALLOWED_UPDATES)
        secret = hook["secret_token"]  # none configured: generated for this run
        assert re.fullmatch(r"[A-Za-z0-9_-]{32,256}", secret)
        assert not api.calls_to("getUpdates")  # no polling

        api.private_text(QUESTION)  # the stand-in learns the chat (webhook mode never polls)
        update = api.pushed[-1]
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: secret[:-1]}):
            assert post(url, update, headers).status_code == 403, headers
        time.sleep(PAUSE)
        assert api.sent() == [] and not api.calls_to("sendChatAction")

        assert post(url, update, {SECRET_HEADER: secret}).status_code == 200
        [answer] = wait_until(lambda: api.sent(ALICE["id"]), what="the answer")
        assert "全文①" in labels(answer)

        # SIGTERM while the next answer is in flight: it is still sent, then exit 0.
        api.hold("sendChatAction")
        api.private_text("养老服务")
        assert post(url, api.pushed[-1], {SECRET_HEADER: secret}).status_code == 200
        wait_until(api.held.is_set, what="the second answer in progress")
        signalled = bot.terminate()
        time.sleep(PAUSE)
        assert bot.alive() and len(api.sent()) == 1
        api.release()
        assert bot.exit_code() == 0, bot.log
        [_, late] = api.sent(ALICE["id"])
        assert late.at > signalled and "养老服务" in late.params["text"]

    log = bot.log
    assert "generated a random webhook secret token" in log
    assert TOKEN not in log and secret not in log
    assert REDACTED in log  # PTB at DEBUG prints the Bot API URL and setWebhook's parameters


@pytest.mark.slow
def test_webhook_secret_from_the_environment(
    api: GatedAPI, sample_db: Path, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    secret = "s3cret_from-the-env"
    env = {"REPORTBOT_WEBHOOK_URL": url, "REPORTBOT_WEBHOOK_PORT": str(port)}
    with serving(api, sample_db, tmp_path, REPORTBOT_WEBHOOK_SECRET=secret, **env) as bot:
        assert bot.started(lambda: api.webhook, "setWebhook")["secret_token"] == secret
        api.private_text(QUESTION)
        assert post(url, api.pushed[-1], {SECRET_HEADER: "other"}).status_code == 403
        assert post(url, api.pushed[-1], {SECRET_HEADER: secret}).status_code == 200
        wait_until(lambda: api.sent(ALICE["id"]), what="the answer")
        bot.terminate()
        assert bot.exit_code() == 0
    assert "generated" not in bot.log and secret not in bot.log


# --- long polling ------------------------------------------------------------------------------


@pytest.mark.slow
def test_polling_sigterm_finishes_the_answer_in_flight_with_json_logs(
    api: GatedAPI, sample_db: Path, tmp_path: Path
) -> None:
    with serving(api, sample_db, tmp_path, REPORTBOT_LOG_FORMAT="json") as bot:
        bot.started(lambda: api.calls_to("deleteWebhook"), "polling to start")
        api.hold("sendChatAction")
        api.private_text(QUESTION)
        wait_until(api.held.is_set, what="the answer in progress")

        signalled = bot.terminate()
        time.sleep(PAUSE)
        assert bot.alive() and api.sent() == []  # still answering
        api.release()
        assert bot.exit_code() == 0, bot.log

    [answer] = api.sent(ALICE["id"])
    assert answer.at > signalled and "全文①" in labels(answer)
    assert not api.rejected
    records = [json.loads(line) for line in bot.log.splitlines()]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    assert {"DEBUG", "INFO"} <= {r["level"] for r in records}
    messages = [r["message"] for r in records]
    assert any(m.startswith("question via=private") for m in messages)
    assert TOKEN not in bot.log


# --- startup failures (in-process) ---------------------------------------------------------------


def webhook_settings(api: BotAPIServer, tmp_path: Path, url: str, port: int) -> Settings:
    return Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "REPORTBOT_DB": str(tmp_path / "reportbot.db"),
            "REPORTBOT_WEBHOOK_URL": url,
            "REPORTBOT_WEBHOOK_PORT": str(port),
        }
    )


# tornado's bind_sockets leaks its socket when bind fails; collected here, not in a later test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_webhook_refused_by_telegram_or_port_taken_exits_2(
    api: GatedAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = webhook_settings(api, tmp_path, "http://bot.example.org/hook", free_port())
    assert run_webhook(refused, index_opener=FakeSearchIndex.open) == 2
    err = capsys.readouterr().err
    assert "Telegram refused the webhook URL http://bot.example.org/hook" in err
    assert api.token not in err

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = webhook_settings(api, tmp_path, f"http://127.0.0.1:{port}/hook", port)
        assert run_webhook(busy, index_opener=FakeSearchIndex.open) == 2
    assert f"Cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    gc.collect()


def test_serve_rejects_bad_webhook_options(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "REPORTBOT_DB": str(tmp_path / "x.db")}
    for args, message in [
        (["--webhook-url", "bot.example.org/hook"], "--webhook-url must be an https:// URL"),
        (["--webhook-url", "https://x.org/h", "--secret-token", "no spaces"], "--secret-token"),
        (["--port", "0"], "--port"),
    ]:
        result = CliRunner().invoke(cli, ["serve", *args], env=env)
        assert result.exit_code == 2 and message in result.stderr, result.output
    result = CliRunner().invoke(cli, ["serve"], env={**env, "REPORTBOT_LOG_FORMAT": "xml"})
    assert result.exit_code == 2 and "REPORTBOT_LOG_FORMAT must be one of text, json" in (
        result.stderr
    )


# --- logging: redaction and formats (in-process) -----------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "jieba")}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)


def test_redactor() -> None:
    real_shape = "7412345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    redact = Redactor([TOKEN, "short"])
    text = f"POST http://x/bot{TOKEN}/getMe and bot{real_shape}/sendMessage short"
    assert redact(text) == f"POST http://x/bot{REDACTED}/getMe and bot{REDACTED}/sendMessage short"
    redact.add("s3cret-value")
    assert redact("header=s3cret-value") == f"header={REDACTED}"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_configured_logging_never_shows_the_token_or_the_secret(
    fmt: str, restore_logging: None
) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", fmt, secrets=(TOKEN, ""), stream=stream)
    redact_also("generated-secret-123")
    log = logging.getLogger("bot.test")
    log.info("calling %s", f"https://api.telegram.org/bot{TOKEN}/getUpdates")
    log.debug("setWebhook secret_token=%s", "generated-secret-123")
    try:
        raise ConnectionError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getMe")
    except ConnectionError:
        log.exception("network trouble 中文")
    logging.getLogger("httpx").info("HTTP Request: POST .../bot%s/getUpdates", TOKEN)

    out = stream.getvalue()
    assert TOKEN not in out and "generated-secret-123" not in out
    assert out.count(REDACTED) >= 3 and "HTTP Request" not in out  # httpx is quiet
    lines = out.splitlines()
    if fmt == "json":
        records = [json.loads(line) for line in lines]
        assert [r["level"] for r in records] == ["INFO", "DEBUG", "ERROR"]
        assert records[2]["message"] == "network trouble 中文"
        assert "ConnectionError" in records[2]["exception"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", records[0]["time"])
    else:
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO bot\.test: calling ", out)
        assert "Traceback" in out
