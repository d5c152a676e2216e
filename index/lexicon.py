"""Loaders for the domain language data in data/dict/ (for query expansion in ranking).

* `load_synonyms()`  — term -> the other members of its synonym groups (synonyms.txt)
* `load_glossary()`  — English term -> Chinese terms (en_glossary.tsv)
* `places()`         — place name -> division codes (places.txt)
* `place_pinyin()`   — toneless pinyin -> place names ("yongqiao" -> ("埇桥",))
* `pinyin_key(s)`    — the lookup key for pinyin typed by a user ("Yǒng Qiáo" -> "yongqiao")

Chinese terms come back normalised like text (index.normalize), so they can be fed to the
tokenizer or matched against tokens directly. Each loader reads its file once per process
and returns the same dict afterwards: treat the results as read-only.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

from .normalize import normalize
from .tokenize import DICT_DIR, read_entries

__all__ = ["load_glossary", "load_synonyms", "pinyin_key", "place_pinyin", "places"]

_NOT_LETTER = re.compile(r"[^a-z]+")


def _dir(dict_dir: Path | str | None) -> Path:
    return Path(dict_dir) if dict_dir is not None else DICT_DIR


def _merge(table: dict[str, dict[str, None]], key: str, values: list[str]) -> None:
    bucket = table.setdefault(key, {})
    for v in values:
        if v != key:
            bucket[v] = None


@cache
def load_synonyms(dict_dir: Path | str | None = None) -> dict[str, tuple[str, ...]]:
    """Every member of a synonym group -> the other members of all its groups, in file order."""
    table: dict[str, dict[str, None]] = {}
    for fields in read_entries(_dir(dict_dir) / "synonyms.txt"):
        group = list(dict.fromkeys(normalize(f) for f in fields if f.strip()))
        if len(group) < 2:
            continue
        for member in group:
            _merge(table, member, group)
    return {k: tuple(v) for k, v in table.items() if v}


def _english_key(text: str) -> str:
    return " ".join(normalize(text).split())


@cache
def load_glossary(dict_dir: Path | str | None = None) -> dict[str, tuple[str, ...]]:
    """English term (lower case, single spaces) -> Chinese equivalents, the usual one first."""
    table: dict[str, dict[str, None]] = {}
    for fields in read_entries(_dir(dict_dir) / "en_glossary.tsv"):
        if len(fields) < 2:
            continue
        _merge(table, _english_key(fields[0]), [normalize(f.strip()) for f in fields[1:]])
    return {k: tuple(v) for k, v in table.items() if v}


@cache
def _place_rows(dict_dir: Path | str | None) -> list[tuple[str, list[str], list[str]]]:
    rows = []
    for fields in read_entries(_dir(dict_dir) / "places.txt"):
        name = normalize(fields[0])
        readings = fields[1].split(",") if len(fields) > 1 else []
        codes = fields[2].split(",") if len(fields) > 2 else []
        rows.append((name, readings, codes))
    return rows


@cache
def places(dict_dir: Path | str | None = None) -> dict[str, tuple[str, ...]]:
    """Place name (official or short form) -> codes of the divisions it names."""
    table: dict[str, dict[str, None]] = {}
    for name, _, codes in _place_rows(dict_dir):
        table.setdefault(name, {}).update(dict.fromkeys(codes))
    return {k: tuple(v) for k, v in table.items()}


@cache
def place_pinyin(dict_dir: Path | str | None = None) -> dict[str, tuple[str, ...]]:
    """Toneless pinyin key (see `pinyin_key`) -> place names read that way.

    Names whose usual reading is the key come first ("wuwei" -> 无为, 武威), then names
    that read so only with another reading of a heteronym ("chaoyang" -> 朝阳).
    """
    usual: dict[str, dict[str, None]] = {}
    other: dict[str, dict[str, None]] = {}
    for name, readings, _ in _place_rows(dict_dir):
        for i, reading in enumerate(readings):
            key = pinyin_key(reading)
            if key:
                (usual if i == 0 else other).setdefault(key, {})[name] = None
    keys = dict.fromkeys([*usual, *other])
    return {k: tuple(dict.fromkeys([*usual.get(k, {}), *other.get(k, {})])) for k in keys}


def pinyin_key(text: str) -> str:
    """Lower-case ASCII letters only, tone marks dropped, ü written v: "Lǚ Liáng" -> "lvliang"."""
    text = text.lower().replace("ü", "v").replace("u:", "v")
    text = unicodedata.normalize("NFKD", text)
    text = text.replace("u\u0308", "v")  # ü decomposed (ǚ, ǘ ...)
    return _NOT_LETTER.sub("", "".join(c for c in text if not unicodedata.combining(c)))
