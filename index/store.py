"""The SQLite file: schema (as registered migrations), connections, and small typed accessors.

One file holds everything: files seen, reports, paragraphs (with their tokens and the tokenizer
version that made them), postings, per-document arrays and build metadata. The file is in WAL
mode, so readers keep a consistent snapshot while a build writes; a build is one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000

migrations = Migrations("reportbot")


class IndexUnavailable(Exception):
    """The index cannot be used; the message says why and what to do."""


@migrations()
def m001_initial(db: Database) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""")
    db.execute(
        """CREATE TABLE IF NOT EXISTS files (
            source TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            status TEXT NOT NULL,          -- 'indexed' or 'skipped'
            reason TEXT,                   -- why it was skipped
            reports INTEGER NOT NULL DEFAULT 0,
            indexed_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS reports (
            ordinal INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            agency TEXT NOT NULL,
            years TEXT NOT NULL,           -- JSON list of ints
            source TEXT NOT NULL,
            number INTEGER NOT NULL,
            paragraphs INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS reports_source ON reports(source)")
    db.execute(
        """CREATE TABLE IF NOT EXISTS paragraphs (
            docno INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            report_id TEXT NOT NULL,
            no INTEGER NOT NULL,
            section TEXT NOT NULL,         -- JSON list of headings, outermost first
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            tokens TEXT NOT NULL,          -- space-separated, made by meta.tokenizer_version
            length INTEGER NOT NULL        -- number of tokens (BM25 document length)
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS paragraphs_report ON paragraphs(report_id, no)")
    db.execute(
        """CREATE TABLE IF NOT EXISTS terms (
            term TEXT PRIMARY KEY,
            df INTEGER NOT NULL,
            max_tf INTEGER NOT NULL,
            min_length INTEGER NOT NULL,
            postings BLOB NOT NULL         -- uint32 docnos ascending, then uint16 tfs
        )"""
    )
    db.execute("CREATE TABLE IF NOT EXISTS arrays (name TEXT PRIMARY KEY, data BLOB NOT NULL)")


def connect(path: str | Path, *, create: bool = True) -> Database:
    """Open the index file (creating it and its schema when `create`), in WAL mode."""
    path = Path(path)
    if not create and not path.exists():
        raise IndexUnavailable(f"no index at {path}: build it with `reportbot index build`")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(
            str(path),
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
            isolation_level=None,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db = Database(conn)
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if create:
            migrations.apply(db)
        elif migrations.pending(db):
            raise IndexUnavailable(
                f"the index at {path} was made by another version of reportbot: "
                "rebuild it with `reportbot index build`"
            )
    except sqlite3.DatabaseError as exc:
        raise unavailable(path, exc) from exc
    return db


def unavailable(path: str | Path, exc: sqlite3.Error) -> IndexUnavailable:
    """An SQLite error on the index file as `IndexUnavailable`, with what to do about it."""
    return IndexUnavailable(f"cannot use the index at {path} ({exc}): {advice(exc)}")


def advice(exc: sqlite3.Error) -> str:
    """What to do about an SQLite error on the index file."""
    code = getattr(exc, "sqlite_errorname", "")
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return "another process holds a lock on it: wait for it to finish, or stop it"
    if code.startswith("SQLITE_FULL"):
        return "the disk is full: free some space"
    if code.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_IOERR")):
        return "check that the file and its folder can be read and written"
    return "delete it and run `reportbot index build`"


@contextmanager
def write_transaction(db: Database) -> Iterator[None]:
    """One IMMEDIATE transaction: all of a build lands, or none of it."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.conn.in_transaction:  # SQLite itself rolls back on some errors (disk full)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextmanager
def read_snapshot(db: Database) -> Iterator[None]:
    """A read transaction: every read inside sees one committed state of the index."""
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")


# --- metadata -------------------------------------------------------------------------------


def get_meta(db: Database) -> dict[str, Any]:
    if "meta" not in db.table_names():
        return {}
    return {row[0]: json.loads(row[1]) for row in db.execute("SELECT key, value FROM meta")}


def set_meta(db: Database, values: dict[str, Any]) -> None:
    db.conn.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(k, json.dumps(v, ensure_ascii=False)) for k, v in values.items()],
    )


# --- per-document arrays ---------------------------------------------------------------------


def put_array(db: Database, name: str, array: npt.NDArray[Any]) -> None:
    db.execute(
        "INSERT INTO arrays(name, data) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET data = excluded.data",
        [name, np.ascontiguousarray(array).tobytes()],
    )


def get_array(db: Database, name: str, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    row = db.execute("SELECT data FROM arrays WHERE name = ?", [name]).fetchone()
    if row is None:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(row[0], dtype=dtype)


# --- postings -------------------------------------------------------------------------------


def encode_postings(docnos: npt.NDArray[np.uint32], tfs: npt.NDArray[np.uint16]) -> bytes:
    """docnos (ascending) then term frequencies, both little-endian."""
    return docnos.astype("<u4", copy=False).tobytes() + tfs.astype("<u2", copy=False).tobytes()


def decode_postings(blob: bytes, df: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint16]]:
    docnos = np.frombuffer(blob, dtype="<u4", count=df)
    tfs = np.frombuffer(blob, dtype="<u2", count=df, offset=4 * df)
    return docnos, tfs


def fetch_terms(db: Database, terms: Iterable[str]) -> dict[str, tuple[int, int, int, bytes]]:
    """term -> (df, max_tf, min_length, postings blob), for the terms the index has."""
    wanted = list(dict.fromkeys(terms))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = db.execute(
        f"SELECT term, df, max_tf, min_length, postings FROM terms WHERE term IN ({marks})",
        wanted,
    )
    return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}
