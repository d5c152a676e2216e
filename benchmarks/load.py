"""Load benchmark (issue 8): many users ask at once through the local Bot API stand-in.

    python -m benchmarks.load [--users 50] [--questions 20] [--db PATH] [--timeout 300]

The bot runs as it does in production: `reportbot serve` in its own process, long polling,
with python-telegram-bot's flood control (AIORateLimiter: at most 30 requests a second
overall, as Telegram allows bots), pointed at the stand-in of tests/botapi.py by
TELEGRAM_API_BASE_URL. The per-user rate limit is off (REPORTBOT_RATE_LIMIT=0): these users
ask faster than people do. Each simulated user (a private chat) asks its questions one after
the other, each as soon as the previous one is answered (plus `--think` seconds), taken in
turn from benchmarks/questions.txt; all users at once.

Latency is from the moment the question is queued at the stand-in (getUpdates returns it at
once to the waiting long poll) to the moment the stand-in receives the answer's sendMessage.
Printed: answered/asked, errors (apologies, refused calls, no answer by the deadline),
throughput, and latency p50/p90/p99/max. Not a unit test: `make load`.

Every answer costs two API calls (sendChatAction "typing", then sendMessage), so the flood
control caps throughput near 15 answers a second whatever the search costs; latency at load
is mostly the wait for that budget. The index is the bundled sample unless --db is given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = Path(__file__).resolve().parent / "questions.txt"
sys.path.insert(0, str(ROOT / "tests"))

from botapi import BotAPIServer, Call, parse_html  # noqa: E402

APOLOGY = "抱歉，处理时出了点问题"  # bot/render.py APOLOGY (not imported: no bot code here)
UNAVAILABLE = "资料库暂时不可用"


class MeasuringServer(BotAPIServer):
    """The stand-in, telling the benchmark's event loop about every answer as it arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.inbox: dict[int, asyncio.Queue[Call]] = defaultdict(asyncio.Queue)

    def record(self, call: Call) -> None:
        super().record(call)
        if call.method == "sendMessage" and call.status == 200:
            chat_id = int(call.params["chat_id"])
            self.loop.call_soon_threadsafe(self.inbox[chat_id].put_nowait, call)


def build_sample(folder: Path) -> Path:
    from index.build import build_index

    reports = ROOT / "data" / "reports"
    db = folder / "reportbot.db"
    build_index(db, [reports], root=reports)
    return db


def start_bot(api: BotAPIServer, db: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "REPORTBOT_DB": str(db),
        "REPORTBOT_RATE_LIMIT": "0",
        "REPORTBOT_POLL_TIMEOUT": "10",
        "REPORTBOT_LOG_LEVEL": "WARNING",
    }
    reportbot = Path(sys.executable).with_name("reportbot")
    with log.open("wb") as out:
        return subprocess.Popen([str(reportbot), "serve"], env=env, stdout=out, stderr=out)


async def user(
    api: MeasuringServer,
    number: int,
    questions: list[str],
    count: int,
    think: float,
    deadline: float,
    latencies: list[float],
    errors: dict[str, int],
) -> None:
    person = {"id": 100_000 + number, "is_bot": False, "first_name": f"用户{number}"}
    inbox = api.inbox[person["id"]]
    for i in range(count):
        question = questions[(number * 7 + i) % len(questions)]
        asked = time.monotonic()
        api.private_text(question, user=person)
        try:
            call = await asyncio.wait_for(inbox.get(), max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            errors["no answer by the deadline"] += count - i
            return
        latencies.append(call.at - asked)
        text = parse_html(call.params["text"])
        if text.startswith(APOLOGY):
            errors["apology (a handler failed)"] += 1
        elif text.startswith(UNAVAILABLE):
            errors["index unavailable"] += 1
        elif "¶" not in text and "没有找到" not in text:
            errors["not an answer"] += 1
        if think:
            await asyncio.sleep(think)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> int:
    questions = [q.strip() for q in QUESTIONS.read_text(encoding="utf-8").splitlines() if q]
    with tempfile.TemporaryDirectory(prefix="reportbot-load-") as tmp:
        db = args.db or build_sample(Path(tmp))
        log = Path(tmp) / "bot.log"
        api = MeasuringServer(asyncio.get_running_loop())
        api.start()
        bot = start_bot(api, db, log)
        try:
            await api.wait_for(lambda: api.calls_to("getUpdates"), timeout=60, what="bot up")
            print(
                f"reportbot serve (pid {bot.pid}) on the stand-in at {api.root}; index {db}; "
                f"{args.users} users x {args.questions} questions, think {args.think} s",
                flush=True,
            )
            latencies: list[float] = []
            errors: dict[str, int] = defaultdict(int)
            started = time.monotonic()
            deadline = started + args.timeout
            plan = (args.questions, args.think, deadline, latencies, errors)
            await asyncio.gather(*(user(api, n, questions, *plan) for n in range(args.users)))
            elapsed = time.monotonic() - started
        finally:
            bot.send_signal(signal.SIGTERM)
            try:
                bot.wait(timeout=30)
            except subprocess.TimeoutExpired:
                bot.kill()
                bot.wait()
            api.stop()
        log_lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    asked = args.users * args.questions
    refused = [c for c in api.rejected if c.method != "getUpdates"]
    for call in refused:
        errors[f"refused by the Bot API: {call.method} {call.status}"] += 1
    print(f"answered {len(latencies)}/{asked} in {elapsed:.1f} s "
          f"({len(latencies) / elapsed:.1f} answers/s)")  # fmt: skip
    if latencies:
        ms = [x * 1000 for x in latencies]
        print(
            f"latency ms: p50 {percentile(ms, 50):.0f}  p90 {percentile(ms, 90):.0f}  "
            f"p99 {percentile(ms, 99):.0f}  max {max(ms):.0f}  mean {statistics.fmean(ms):.0f}"
        )
    calls = defaultdict(int)
    for call in api.calls:
        calls[call.method] += 1
    print("API calls: " + ", ".join(f"{m} {n}" for m, n in sorted(calls.items())))
    print(f"errors: {sum(errors.values())}" + "".join(f"\n  {k}: {n}" for k, n in errors.items()))
    problems = [line for line in log_lines if " ERROR " in line or "Traceback" in line]
    print(f"bot log: {len(log_lines)} lines, {len(problems)} errors")
    for line in problems[:5]:
        print(f"  {line}")
    return 0 if not errors and len(latencies) == asked else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=20, help="per user")
    parser.add_argument("--think", type=float, default=0.0, help="seconds between questions")
    parser.add_argument("--timeout", type=float, default=300, help="seconds for the whole run")
    parser.add_argument("--db", type=Path, help="an index file (default: the bundled sample)")
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
