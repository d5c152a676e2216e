"""index.watch and `reportbot index watch`: the index follows the reports folder."""

from __future__ import annotations

import logging
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from corpus import split_sample

from index import watch as watch_module
from index.build import BuildReport
from index.library import TRASH, Library
from index.search import SearchIndex
from index.watch import watch

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from bot.cli import main; main()"]
SETTLE = 0.15


def texts() -> list[str]:
    return list(split_sample().values())


class Watching:
    """`watch` in a thread; `builds` gets every build's report."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.builds: queue.Queue[BuildReport] = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=watch,
            args=(library,),
            kwargs={"settle": SETTLE, "stop": self.stop, "on_build": self.builds.put},
        )

    def next_build(self, timeout: float = 10.0) -> BuildReport:
        return self.builds.get(timeout=timeout)

    def quiet(self, seconds: float = 4 * SETTLE) -> bool:
        """No build within `seconds`."""
        try:
            self.builds.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


@pytest.fixture
def watching(tmp_path: Path, tokenizer: Any) -> Iterator[Watching]:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "a.txt").write_text(texts()[0], encoding="utf-8")
    w = Watching(Library(folder, tmp_path / "index.db", tokenizer=tokenizer))
    w.thread.start()
    yield w
    w.stop.set()
    w.thread.join(5)
    assert not w.thread.is_alive(), "watch did not stop"


def test_the_index_follows_the_folder(
    watching: Watching, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="index.watch")
    first = watching.next_build()  # at start: the folder as it is
    assert first.added == ("a.txt",)
    folder = watching.library.folder
    index = SearchIndex(watching.library.db_path, watching.library.tokenizer)

    started = time.perf_counter()
    (folder / "b.txt").write_text(texts()[1], encoding="utf-8")
    added = watching.next_build()
    picked_up = time.perf_counter() - started
    assert added.added == ("b.txt",) and added.reports == 2
    assert sorted(r.source for r in index.reports()) == ["a.txt", "b.txt"]  # no restart
    assert picked_up < 5

    with (folder / "a.txt").open("a", encoding="utf-8") as f:  # several writes: one build
        for n in range(5):
            f.write(f"\n补充说明第{n}条。\n")
            f.flush()
            time.sleep(SETTLE / 5)
    assert watching.next_build().changed == ("a.txt",)

    (folder / "b.txt").unlink()
    assert watching.next_build().removed == ("b.txt",)
    assert [r.source for r in index.reports()] == ["a.txt"]
    index.close()

    (folder / ".hidden.txt").write_text("x")  # ignored, like a trashed file
    (folder / TRASH).mkdir()
    (folder / TRASH / "old.txt").write_text(texts()[2], encoding="utf-8")
    assert watching.quiet()

    log = caplog.text
    assert "1 added (b.txt)" in log and "1 changed (a.txt)" in log and "1 removed (b.txt)" in log
    assert "index updated in" in log


def test_a_failing_build_is_logged_and_the_watch_goes_on(
    watching: Watching, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    watching.next_build()
    real_build: Callable[..., BuildReport] = watching.library.build
    failures = iter([RuntimeError("disk on fire")])

    def flaky_build(**kwargs: Any) -> BuildReport:
        for failure in failures:
            raise failure
        return real_build(**kwargs)

    monkeypatch.setattr(watching.library, "build", flaky_build)
    monkeypatch.setattr(watch_module, "RETRY_AFTER", 0.5)
    failed_at = time.monotonic()
    (watching.library.folder / "b.txt").write_text(texts()[1], encoding="utf-8")
    retried = watching.next_build()  # no new change: the failed build is simply tried again
    assert retried.added == ("b.txt",) and time.monotonic() - failed_at >= 0.5
    [failed] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "index build failed" in failed.getMessage() and failed.exc_info is not None
    assert "disk on fire" in caplog.text

    (watching.library.folder / "bad.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    report = watching.next_build()
    assert report.skipped[0].path == "bad.txt"
    assert "skipped bad.txt: image file" in caplog.text


def test_the_watch_command(tmp_path: Path, tokenizer: Any) -> None:
    folder, db = tmp_path / "reports", tmp_path / "index.db"
    folder.mkdir()
    (folder / "a.txt").write_text(texts()[0], encoding="utf-8")
    process = subprocess.Popen(
        [*CLI, "index", "watch", str(folder), "--db", str(db), "--settle", str(SETTLE)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in process.stderr or ()])
    reader.start()

    def wait_for(text: str) -> str:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if text in line:
                return line
        raise AssertionError(f"no log line with {text!r}")

    try:
        wait_for("1 added (a.txt)")
        (folder / "b.txt").write_text(texts()[1], encoding="utf-8")
        line = wait_for("1 added (b.txt)")
        assert "incremental" in line and "2 reports" in line
        index = SearchIndex(db, tokenizer)
        assert sorted(r.source for r in index.reports()) == ["a.txt", "b.txt"]
        index.close()
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(10)
        reader.join(5)
        assert process.stderr is not None
        process.stderr.close()
    assert code == 0
    wait_for("stopped watching")
