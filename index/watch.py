"""`reportbot index watch`: keep the index current while report files come and go.

The folder is watched with watchfiles; once changes settle (no new change for `settle`
seconds, or `max_wait` seconds after the first), the index is brought up to date with one
incremental build, and what changed is logged. A build that fails is logged and the watch goes
on: it tries again at the next change, or after RETRY_AFTER seconds. A build already running
elsewhere is waited for, then this one runs (it may hold changes the other did not see).
Hidden files and folders (such as the library's `.trash/` and `.incoming/`), Office lock files,
editor scratch files and the index's own files are ignored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import watchfiles

from index.build import BuildInProgress, BuildReport
from index.library import Library

logger = logging.getLogger(__name__)

LIST_AT_MOST = 5  # file names named per kind of change in a log line
BUSY_RETRY = 0.2  # seconds between tries while another build holds the index
RETRY_AFTER = 30.0  # seconds after a failed build before trying again without a new change


class ReportFilter(watchfiles.DefaultFilter):
    """watchfiles' default filter, plus: hidden paths and lock files under the folder, and
    the index file with its -wal/-shm/.lock companions (when it lives in the folder)."""

    def __init__(self, folder: Path, db_path: Path) -> None:
        super().__init__()
        self.folder = Path(folder).resolve()
        db = str(Path(db_path).resolve())
        self.db_files = {db, db + "-wal", db + "-shm", db + "-journal", db + ".lock"}

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        if not super().__call__(change, path) or path in self.db_files:
            return False
        try:
            parts = Path(path).relative_to(self.folder).parts
        except ValueError:
            parts = (Path(path).name,)
        return not any(part.startswith((".", "~$")) for part in parts)


def describe(report: BuildReport) -> str:
    """One line: what a build changed, how long it took, what the index holds now."""

    def names(kind: str, items: tuple[str, ...]) -> str:
        shown = ", ".join(items[:LIST_AT_MOST])
        more = f" and {len(items) - LIST_AT_MOST} more" if len(items) > LIST_AT_MOST else ""
        return f"{len(items)} {kind} ({shown}{more})" if items else f"0 {kind}"

    skipped = {s.path for s in report.skipped}  # said separately, with the reason
    changes = ", ".join(
        [
            names("added", tuple(a for a in report.added if a not in skipped)),
            names("changed", tuple(c for c in report.changed if c not in skipped)),
            names("removed", report.removed),
        ]
    )
    how = "full rebuild" if report.full else "incremental"
    return (
        f"index updated in {report.seconds:.2f} s ({how}): {changes}; "
        f"{report.reports} reports, {report.paragraphs} paragraphs"
    )


def rebuild(
    library: Library,
    stop: threading.Event | None = None,
    on_build: Callable[[BuildReport], None] | None = None,
) -> BuildReport | None:
    """One build, logged; waits out a build running elsewhere; None when it failed (logged)
    or `stop` was set while waiting."""
    while True:
        try:
            report = library.build()
        except BuildInProgress:
            if _pause(stop, BUSY_RETRY):
                return None
            continue
        except Exception:
            logger.exception("index build failed; still watching %s", library.folder)
            return None
        break
    if report.changed_anything:
        logger.info(describe(report))
    else:
        logger.info("no report file changed (checked in %.2f s)", report.seconds)
    for skipped in report.skipped:
        logger.warning("skipped %s: %s", skipped.path, skipped.reason)
    if on_build is not None:
        on_build(report)
    return report


def watch(
    library: Library,
    *,
    settle: float = 1.0,
    max_wait: float = 30.0,
    stop: threading.Event | None = None,
    on_build: Callable[[BuildReport], None] | None = None,
    force_polling: bool | None = None,
) -> None:
    """Build now, then again whenever changes in the folder settle; until `stop` is set
    (or Ctrl-C). `on_build` sees every successful build's report."""
    if not library.folder.is_dir():
        raise FileNotFoundError(f"no reports folder at {library.folder}")
    logger.info("watching %s for the index %s", library.folder, library.db_path)
    try:
        _watch(library, settle, max_wait, stop, on_build, force_polling)
    finally:
        logger.info("stopped watching %s", library.folder)


def _watch(
    library: Library,
    settle: float,
    max_wait: float,
    stop: threading.Event | None,
    on_build: Callable[[BuildReport], None] | None,
    force_polling: bool | None,
) -> None:
    started = False
    retry_at: float | None = None  # after a failed build: try again then, changes or not
    for changes in watchfiles.watch(
        library.folder,
        watch_filter=ReportFilter(library.folder, library.db_path),
        step=max(int(settle * 1000), 1),
        debounce=max(int(max_wait * 1000), int(settle * 1000)),
        stop_event=stop,
        rust_timeout=max(int(settle * 1000), 50),
        yield_on_timeout=True,  # the first yield: the watcher is up, build what is there
        raise_interrupt=False,
        force_polling=force_polling,
    ):
        if not started:  # nothing that changes from now on can be missed
            started = True
        elif changes:
            kinds = sorted({change.name for change, _ in changes})
            logger.info("%d file events (%s): updating the index", len(changes), ", ".join(kinds))
        elif retry_at is None or time.monotonic() < retry_at:
            continue
        if rebuild(library, stop, on_build) is None and not (stop and stop.is_set()):
            retry_at = time.monotonic() + RETRY_AFTER
        else:
            retry_at = None


def _pause(stop: threading.Event | None, seconds: float) -> bool:
    """Sleep `seconds`, or less when `stop` is set meanwhile; True when it is."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)
