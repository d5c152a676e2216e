"""The one tokenizer, for paragraphs and questions alike.

    text -> normalize() -> jieba (own instance, our dictionaries) -> sub-words -> filter

* `normalize` makes 國務院 and 国务院, Ｄ建 and 党建, ２０２４ and 2024 the same string.
* Segmentation uses this object's own `jieba.Tokenizer` (jieba's module functions share a
  global) with jieba's main dictionary plus `data/dict/userdict.txt` (domain vocabulary)
  and `data/dict/places.txt` (administrative divisions), HMM off by default: without the
  HMM an unknown string is cut the same way in a question as in a paragraph.
* Like jieba's search mode, a long word also yields the dictionary words inside it
  (家庭适老化改造 -> 家庭, 适老化, 改造, 适老化改造, 家庭适老化改造), so a question that says
  适老化改造 matches a paragraph that says 家庭适老化改造, and the reverse.
* Whitespace, punctuation and `data/dict/stopwords.txt` are dropped; numbers (8.5 stays
  one token) and Latin words (lower case) are kept.

`Tokenizer.version` changes whenever the tokens could: jieba's version, the dictionary and
stopword files, the HMM switch, OpenCC's version and `CODE_VERSION`. Stored tokens are
reusable only under the same version.

Start-up: the merged prefix dictionary (jieba's ~500k entries plus ours) is pickled once per
version under the cache directory and loaded from there afterwards (~0.3 s). A pickled
`Tokenizer` carries only its settings and rebuilds itself from that cache in the worker.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import math
import os
import pickle
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import jieba

from .normalize import CJK, normalize

__all__ = [
    "CODE_VERSION",
    "DICT_DIR",
    "Tokenizer",
    "default_cache_dir",
    "default_tokenizer",
    "read_entries",
    "tokenizer_version",
]

logger = logging.getLogger(__name__)

# Bump when normalize() or the token rules below change what tokens come out.
CODE_VERSION = "2"
DICT_DIR = Path(__file__).resolve().parent.parent / "data" / "dict"
USER_DICTS = ("userdict.txt", "places.txt")  # loaded in this order
STOPWORDS = "stopwords.txt"
_PICKLE_PROTOCOL = 5
_KEEP_CACHES = 4  # merged dictionaries kept in the cache folder (about 7 MB each)

_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")
_UPPER_WORD = re.compile(r"^.*[A-Z].*$", re.MULTILINE)
# tokenize_many segments with rjieba once it exists, and builds it for this much text.
BULK_MIN_CHARS = 200_000
_REDACTED = re.compile(r"x+")  # XX after normalize(): the sample's redaction mark
_HAS_CONTENT = re.compile(rf"[0-9a-z{CJK}]")  # anything else is whitespace or punctuation

jieba.setLogLevel(logging.WARNING)  # jieba logs every dictionary load to stderr at DEBUG


def _is_number(s: str) -> bool:
    return s.isascii() and s.isdigit()


def read_entries(path: Path) -> Iterator[list[str]]:
    """Fields of each entry line of a data/dict file (blank lines and `#` comments skipped).

    Tab-separated files give their columns; otherwise fields are split on whitespace.
    """
    with path.open(encoding="utf-8-sig") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            yield line.split("\t") if "\t" in line else line.split()


def tokenizer_version(dict_dir: str | os.PathLike[str] | None = None, *, hmm: bool = False) -> str:
    """The version a `Tokenizer(dict_dir, hmm=hmm)` would have, without building it."""
    folder = Path(dict_dir) if dict_dir is not None else DICT_DIR
    h = hashlib.sha256()
    for part in (
        f"code={CODE_VERSION}",
        f"jieba={jieba.__version__}",
        f"opencc={package_version('opencc')}",
        f"hmm={hmm}",
    ):
        h.update(part.encode() + b"\0")
    for name in (*USER_DICTS, STOPWORDS):
        h.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _usable_dir(path: Path) -> Path | None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/reportbot` (or `~/.cache/reportbot`), else a temp-dir fallback."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for candidate in (
        Path(base) / "reportbot",
        Path(tempfile.gettempdir()) / f"reportbot-cache-{os.getuid()}",
    ):
        usable = _usable_dir(candidate)
        if usable is not None:
            return usable
    return Path(tempfile.mkdtemp(prefix="reportbot-cache-"))


class Tokenizer:
    """Normalise, segment with our dictionaries, drop stopwords and punctuation."""

    def __init__(
        self,
        dict_dir: str | os.PathLike[str] | None = None,
        *,
        hmm: bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.dict_dir = Path(dict_dir) if dict_dir is not None else DICT_DIR
        self.hmm = hmm
        self._cache_dir_arg = cache_dir
        usable = _usable_dir(Path(cache_dir)) if cache_dir is not None else None
        self.cache_dir: Path = usable or default_cache_dir()
        started = time.perf_counter()
        self.stopwords: frozenset[str] = frozenset(
            normalize(fields[0]) for fields in read_entries(self.dict_dir / STOPWORDS)
        )
        self.version: str = tokenizer_version(self.dict_dir, hmm=hmm)
        self._jieba = jieba.Tokenizer()
        self._jieba.tmp_dir = str(self.cache_dir)  # should jieba ever write its own cache
        self._load_dictionary()
        self._freq: dict[str, int] = self._jieba.FREQ
        self._sub_cache: dict[str, list[str]] = {}
        self._rjieba: Any = None  # tokenize_many's segmenter, made on first use
        logger.debug("tokenizer %s ready in %.3f s", self.version, time.perf_counter() - started)

    # -- construction -------------------------------------------------------------------

    def _load_dictionary(self) -> None:
        cache_file = self.cache_dir / f"jieba-{self.version}.pkl"
        if not self._load_cache(cache_file):
            self._build_dictionary()
            self._write_cache(cache_file)
            self._prune_cache()

    def _prune_cache(self) -> None:
        """Keep the newest few merged dictionaries (one per dictionary version) of this folder."""
        old = sorted(
            self.cache_dir.glob("jieba-" + "[0-9a-f]" * 16 + ".pkl"),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )[_KEEP_CACHES:]
        for path in old:
            with contextlib.suppress(OSError):
                path.unlink()

    def _load_cache(self, cache_file: Path) -> bool:
        try:
            with cache_file.open("rb") as f:
                freq, total = pickle.load(f)
        except FileNotFoundError:
            return False
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as exc:
            logger.warning("tokenizer: ignoring unreadable cache %s: %s", cache_file, exc)
            return False
        self._jieba.FREQ, self._jieba.total = freq, total
        self._jieba.initialized = True
        return True

    def _build_dictionary(self) -> None:
        jt = self._jieba
        # jieba's main dictionary alone, pickled: 3x faster to load than jieba's marshal cache
        main_cache = self.cache_dir / f"jieba-main-{jieba.__version__}.pkl"
        if not self._load_cache(main_cache):
            # (jieba.initialize() would also write jieba's own, slower, marshal cache)
            jt.FREQ, jt.total = jt.gen_pfdict(jt.get_dict_file())
            jt.initialized = True
            self._write_cache(main_cache)
        # the text is lower-cased, so jieba's B超, T恤, QQ群 must be too
        for word in _UPPER_WORD.findall("\n".join(jt.FREQ)):
            freq, low = jt.FREQ[word], normalize(word)
            if freq and not jt.FREQ.get(low):
                jt.add_word(low, freq)
        added = 0
        for name in USER_DICTS:
            for fields in read_entries(self.dict_dir / name):
                word = normalize(fields[0])
                freq = int(fields[1]) if name == "userdict.txt" and len(fields) > 1 else None
                if len(word) < 2 or (freq is None and jt.lcut(word, HMM=False) == [word]):
                    continue  # jieba already keeps it whole
                jt.add_word(word, freq if freq is not None else jt.suggest_freq(word))
                added += 1
        logger.info("tokenizer: added %d dictionary words from %s", added, self.dict_dir)

    def _write_cache(self, cache_file: Path) -> None:
        """Write atomically: parallel workers may build the same cache at the same time."""
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=".jieba-", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                pickle.dump((self._jieba.FREQ, self._jieba.total), f, _PICKLE_PROTOCOL)
            os.replace(tmp, cache_file)
        except OSError as exc:
            logger.warning("tokenizer: cannot write dictionary cache %s: %s", cache_file, exc)
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def __reduce__(self) -> tuple[object, tuple[Path, bool, str | os.PathLike[str] | None]]:
        # Workers get the settings, not the 500k-entry dictionary; they load it from the cache.
        return (_restore, (self.dict_dir, self.hmm, self._cache_dir_arg))

    def __repr__(self) -> str:
        return (
            f"Tokenizer(dict_dir={str(self.dict_dir)!r}, hmm={self.hmm}, version={self.version!r})"
        )

    # -- tokenizing ---------------------------------------------------------------------

    def segment(self, text: str) -> list[str]:
        """jieba's accurate-mode cut of the normalised text: every character, nothing dropped."""
        return self._jieba.lcut(normalize(text), HMM=self.hmm)

    def tokenize(self, text: str) -> list[str]:
        """Index/query terms of `text`, in text order (sub-words just before their word)."""
        return self._terms(self._jieba.lcut(normalize(text), HMM=self.hmm))

    def _terms(self, words: list[str]) -> list[str]:
        """The terms of a segmented text."""
        out: list[str] = []
        stop = self.stopwords
        i, n = 0, len(words)
        while i < n:
            w = words[i]
            i += 1
            if not _HAS_CONTENT.search(w):
                continue
            # 8 . 5 -> 8.5 (jieba without HMM cuts decimals apart)
            if i + 1 < n and words[i] == "." and _is_number(w) and _is_number(words[i + 1]):
                w = f"{w}.{words[i + 1]}"
                i += 2
            if _REDACTED.fullmatch(w):
                continue  # XX / X: a redacted number or name, not a word
            if len(w) > 2:
                out.extend(s for s in self._sub_words(w) if s not in stop)
            if w not in stop:
                out.append(w)
        return out

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """`tokenize` over many texts (the index build), the same tokens as `tokenize` gives.

        With a lot of text, segmentation runs on rjieba (jieba-rs: jieba's algorithm in Rust,
        about 9x faster) loaded with this tokenizer's merged dictionary. Over the 373k paragraphs
        of /work/shared/corpora and 200k random strings it cut every text exactly as jieba does
        (tests/test_tokenize.py keeps checking); questions are still cut by jieba itself.
        """
        texts = list(texts)
        bulk = self._rjieba is not None or sum(map(len, texts)) >= BULK_MIN_CHARS
        cut = self._bulk_cut() if bulk else None
        if cut is None:
            return [self.tokenize(t) for t in texts]
        return [self._terms(cut(normalize(t))) for t in texts]

    def _bulk_cut(self) -> Callable[[str], list[str]] | None:
        """rjieba's cut on our dictionary (built once, ~0.3 s), or None without rjieba/with HMM."""
        if self._rjieba is None and not self.hmm:
            try:
                import rjieba
            except ImportError:  # optional: jieba gives the same tokens, only slower
                self._rjieba = False
            else:
                fast = rjieba.Jieba.empty()
                for word, freq in self._freq.items():
                    if freq:  # jieba's FREQ also holds every word prefix, with frequency 0
                        fast.add_word(word, freq, None)
                self._rjieba = fast
        fast = self._rjieba
        return None if not fast else functools.partial(fast.cut, hmm=False)

    def _sub_words(self, word: str) -> list[str]:
        """The words inside a dictionary word, outermost first: its best cut into smaller
        dictionary words, recursively (家庭无障碍改造 -> 家庭, 无障碍改造, 无障碍, 障碍, 改造).
        Single characters are left out, as in jieba's search mode."""
        found = self._sub_cache.get(word)
        if found is None:
            found = []
            if len(word) > 2 and self._freq.get(word):
                for part in self._cut_inside(word):
                    if len(part) > 1:
                        found.append(part)
                        found.extend(self._sub_words(part))
            self._sub_cache[word] = found
        return found

    def _cut_inside(self, word: str) -> list[str]:
        """jieba's most probable cut of `word` (no HMM) that does not keep it whole."""
        freq, n = self._freq, len(word)
        logtotal = math.log(self._jieba.total)
        # route[i] = (best log-probability of word[i:], end of the first piece)
        route: list[tuple[float, int]] = [(0.0, 0)] * (n + 1)
        for i in range(n - 1, -1, -1):
            best = (-math.inf, i + 1)
            for j in range(i + 1, n + 1):
                if j - i == n:
                    continue  # the whole word is not a cut of itself
                piece = word[i:j]
                f = freq.get(piece)
                if f is None and j > i + 1:
                    break  # no dictionary word starts with this prefix
                if f or j == i + 1:
                    score = math.log(f or 1) - logtotal + route[j][0]
                    if score > best[0]:
                        best = (score, j)
            route[i] = best
        parts: list[str] = []
        i = 0
        while i < n:
            j = route[i][1]
            piece = word[i:j]
            if j == i + 1 and piece in _ALNUM and parts and set(parts[-1]) <= _ALNUM:
                parts[-1] += piece  # like jieba: 1 2 3 4 5 -> 12345
            else:
                parts.append(piece)
            i = j
        return parts


def _restore(dict_dir: Path, hmm: bool, cache_dir: str | os.PathLike[str] | None) -> Tokenizer:
    return Tokenizer(dict_dir, hmm=hmm, cache_dir=cache_dir)


@cache
def default_tokenizer() -> Tokenizer:
    """The tokenizer over the bundled dictionaries, built once per process."""
    return Tokenizer()
