"""The reports folder as admins change it: add a file safely, take one out, rebuild the index.

No Telegram here: `bot/admin.py` (chat commands) and `index/watch.py` (the folder watcher)
build on it. A file comes in only after its content was checked (type sniffed from the bytes,
reports found in it), under a cleaned-up name that never replaces an existing file; a file
goes out by moving to the hidden `.trash/` folder, which ingestion skips like every hidden
file, so a removal can be undone by moving it back. Builds go one at a time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from index import store
from index.build import BuildInProgress, BuildReport, build_index
from index.ingest import parse_file
from index.loaders import UnreadableFile, document_kind
from index.tokenize import Tokenizer

logger = logging.getLogger(__name__)

TRASH = ".trash"  # removed files, kept for undoing (hidden: never indexed)
INCOMING = ".incoming"  # uploads being checked (hidden: never indexed)
# Name endings each kind of content may keep; anything else gets the first one.
SUFFIXES = {"pdf": (".pdf",), "docx": (".docx",), "text": (".txt", ".md", ".markdown", ".text")}
MAX_NAME_BYTES = 180  # file systems take 255: room for " (12)" and the trash's time stamp
_UNSAFE = re.compile(r'[<>:"|?*]')
_SUFFIX_LIKE = re.compile(r"\.[A-Za-z0-9]{1,5}")
_INVISIBLE = {"Cc", "Cf", "Co", "Cs", "Cn"}  # controls, bidi overrides and other format marks


class Rejected(Exception):
    """A file that will not be added or removed; `reason` is one line meant for the admin."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class NewFile:
    """What became of a file handed to `Library.add`."""

    name: str  # its name in the folder: the index's `source` of its reports
    requested: str  # the name it came with
    cleaned: bool = False  # folders, hidden-file dots or odd characters were taken off the name
    retyped: bool = False  # its ending was changed to match its content
    clashed: bool = False  # another file had the name: saved under a numbered one
    duplicate: bool = False  # the same content is already in the folder as `name`: not saved
    reports: int = 0  # reports found in it
    paragraphs: int = 0


def safe_name(name: str) -> str:
    """A plain file name from whatever a client sent: its last path component, without control
    or invisible characters, characters file systems refuse, or leading dots (no hidden files,
    no `..`) and Office lock-file marks. May be empty."""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(" " if ch.isspace() else ch for ch in name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _INVISIBLE)
    name = " ".join(_UNSAFE.sub("_", name).split())
    while True:
        trimmed = name.strip(" .").removeprefix("~$")
        if trimmed == name:
            return name
        name = trimmed


def file_name_for(requested: str, kind: str) -> tuple[str, bool, bool]:
    """(name to save as, name was cleaned, ending was changed) for content of `kind`."""
    cleaned = safe_name(requested)
    stem, suffix = os.path.splitext(cleaned)
    retyped = False
    if suffix.lower() not in SUFFIXES[kind]:
        if _SUFFIX_LIKE.fullmatch(suffix) is None:  # "v1.2 总结" has no ending to replace
            stem = cleaned
        suffix = SUFFIXES[kind][0]
        retyped = bool(cleaned)
    stem = stem.strip(" .") or "report"
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + suffix, cleaned != requested, retyped


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Library:
    """One reports folder and the index built from it."""

    def __init__(
        self,
        folder: Path,
        db_path: Path,
        *,
        tokenizer: Tokenizer | None = None,
        workers: int | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.db_path = Path(db_path)
        self.tokenizer = tokenizer
        self.workers = workers
        self._busy = threading.Lock()  # builds in this process; build_lock covers the others

    # --- building -------------------------------------------------------------------------

    @property
    def building(self) -> bool:
        """A build started through this object is running."""
        return self._busy.locked()

    def build(self, *, full: bool = False, wait: float = 0.0) -> BuildReport:
        """Bring the index up to date with the folder; waits up to `wait` seconds for a build
        already running (here or in another process), then raises `BuildInProgress`."""
        if not self.folder.is_dir():  # an unmounted folder must not empty the index
            raise FileNotFoundError(f"no reports folder at {self.folder}")
        deadline = time.monotonic() + wait
        ready = self._busy.acquire(timeout=wait) if wait > 0 else self._busy.acquire(False)
        if not ready:
            raise BuildInProgress(f"a build of {self.db_path} is running")
        try:
            while True:
                try:
                    return build_index(
                        self.db_path,
                        [self.folder],
                        root=self.folder,
                        tokenizer=self.tokenizer,
                        full=full,
                        workers=self.workers,
                    )
                except BuildInProgress:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(0.1)
        finally:
            self._busy.release()

    # --- adding a file --------------------------------------------------------------------

    def add(self, data: bytes, requested: str) -> NewFile:
        """Check `data` and put it in the folder under a safe, unused name (it is not indexed
        yet: call `build`). Raises `Rejected` saying why a file cannot be a report."""
        if not self.folder.is_dir():
            raise Rejected(f"there is no reports folder at {self.folder}")
        try:
            kind = document_kind(data)
        except UnreadableFile as exc:
            raise Rejected(exc.reason) from exc
        name, cleaned, retyped = file_name_for(requested, kind)
        digest = hashlib.sha256(data).hexdigest()
        same = self._same_content(digest, name)
        if same is not None:
            return NewFile(same, requested, cleaned, retyped, duplicate=True)
        incoming = self.folder / INCOMING
        incoming.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=incoming))
        try:
            staged = staging / name
            staged.write_bytes(data)
            try:
                reports = parse_file(staged, name)
            except UnreadableFile as exc:
                raise Rejected(exc.reason) from exc
            except Exception as exc:  # a parser bug: say so, keep the folder as it was
                logger.exception("checking upload %r failed", name)
                raise Rejected(f"could not be read ({type(exc).__name__})") from exc
            saved = self._place(staged, name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return NewFile(
            saved,
            requested,
            cleaned,
            retyped,
            clashed=saved != name,
            reports=len(reports),
            paragraphs=sum(len(r.paragraphs) for r in reports),
        )

    def _same_content(self, digest: str, name: str) -> str | None:
        """A file in the folder with exactly this content: the wanted name, or one the index
        knows by its hash."""
        candidates = [name]
        try:
            db = store.connect(self.db_path, create=False)
        except store.IndexUnavailable:
            pass
        else:
            try:
                rows = db.execute("SELECT source FROM files WHERE sha256 = ?", [digest])
                candidates += [row[0] for row in rows]
            finally:
                db.close()
        for source in candidates:
            path = self.folder / source
            try:
                if path.is_file() and sha256_of(path) == digest:
                    return source
            except OSError:
                continue
        return None

    def _place(self, staged: Path, name: str) -> str:
        """Link the checked file into the folder under `name`, or `stem (n)` when taken:
        it appears whole, at once, and never replaces a file."""
        stem, suffix = os.path.splitext(name)
        n = 1
        while True:
            candidate = name if n == 1 else f"{stem} ({n}){suffix}"
            target = self.folder / candidate
            try:
                os.link(staged, target)
            except FileExistsError:
                n += 1
                continue
            except OSError:  # no hard links on this file system: write it, refusing to replace
                try:
                    with target.open("xb") as f:
                        f.write(staged.read_bytes())
                except FileExistsError:
                    n += 1
                    continue
            return candidate

    # --- taking a file out ----------------------------------------------------------------

    def path_of(self, source: str) -> Path:
        """The file behind an indexed `source`; `Rejected` unless it is in the folder."""
        relative = Path(source)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise Rejected(f"{source} is not in the reports folder {self.folder}")
        path = self.folder / relative
        try:
            inside = path.parent.resolve().is_relative_to(self.folder.resolve())
        except OSError:
            inside = False
        if not inside:
            raise Rejected(f"{source} is not in the reports folder {self.folder}")
        if not path.is_file():
            raise Rejected(f"{source} is no longer in the reports folder")
        return path

    def take_out(self, source: str) -> Path:
        """Move the file behind `source` to the trash folder; returns where it went."""
        path = self.path_of(source)
        trash = self.folder / TRASH
        trash.mkdir(exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        flat = source.replace("/", "__")
        target = trash / f"{stamp}-{flat}"
        n = 1
        while target.exists():
            n += 1
            target = trash / f"{stamp}-{n}-{flat}"
        try:
            path.rename(target)
        except FileNotFoundError as exc:  # someone else took it out meanwhile
            raise Rejected(f"{source} is no longer in the reports folder") from exc
        logger.info("moved %s to %s", source, target)
        return target
