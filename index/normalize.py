"""Matching-only text normalisation that keeps every character in its place.

`normalize(text)` returns a string of the same length as `text` in which character i
corresponds to character i of the input, so spans found in the normalised text are spans
of the original (the highlighter relies on this). It is never used for display.

Steps, in order:

1. one table lookup per character (numpy, no Python loop):
   full-width ASCII U+FF01–FF5E -> ASCII, U+3000 and other Unicode spaces -> " ",
   Latin letters -> lower case (only where that is one character),
   Kangxi radicals and CJK compatibility ideographs -> the unified ideograph (PDF text
   layers are full of them);
2. traditional -> simplified with OpenCC `t2s` on the whole string (phrase-aware); if that
   ever changes the length, the text is converted character by character instead;
3. the sample's stand-in "D" for 党 (D建, D的二十大, 主题D日) becomes 党 when it stands
   alone next to a CJK character; DNA, 3D, PDF, R&D, D-class, d), D级, 维生素D stay.

Any change to what this returns changes tokens: bump `index.tokenize.CODE_VERSION`.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

import numpy as np
import opencc

__all__ = ["CJK", "normalize"]

# CJK unified ideographs (basic, extension A, compatibility, extensions B-H).
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"

# ASCII characters that glue a letter to its neighbour: R&D, D-class, D.C., A/D, C++ ...
_GLUE = r"a-z0-9&\-_./'+@#%\\"
_GLUE_LEFT = _GLUE.replace(".", "")  # "1.D建引领" is a numbered heading
# What may follow a real-letter D in reports: D级危房, D类, D型, D字签证, D座, D片区 ...
_NOT_AFTER = "级类型字座栋幢轮片区档号楼线端版盘调"
# What may precede it: 维生素D.
_NOT_BEFORE = "素"
# The letter D after step 1 is always lower case.
_PARTY_D = re.compile(
    rf"d"
    rf"(?:(?<![{_GLUE_LEFT}]d)|(?<=xxd)(?=[{CJK}]))"  # not glued on the left: 3D, PDF, R&D
    # (but XXD委: XX is the sample's redaction of a name or number)
    rf"(?<![a-z]\.d)"  # U.S.D
    rf"(?<![{_NOT_BEFORE}]d)"
    rf"(?<![a-z][、，,/和与及或~]d)"  # not the end of a letter list: C、D
    rf"(?![{_GLUE}])"  # not glued on the right: DNA, D-class
    rf"(?![{_NOT_AFTER}])"
    rf"(?:(?<=[{CJK}]d)|(?=[{CJK}]))"  # next to at least one CJK character
)


# Unicode spaces other than ASCII whitespace (NBSP, en/em spaces, ideographic space ...).
_SPACES = (0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)


def _table() -> dict[int, int]:
    """Code point -> code point for step 1 (every value is a single character)."""
    table: dict[int, int] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
    for cp in _SPACES:
        table[cp] = 0x20
    for cp in [*range(0x41, 0x5B), *range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        low = chr(cp).lower()
        if len(low) == 1 and low != chr(cp) and unicodedata.category(chr(cp)) == "Lu":
            table[cp] = ord(low)
    for cp in [*range(0x2E80, 0x2FE0), *range(0xF900, 0xFB00), *range(0x2F800, 0x2FA20)]:
        nfkc = unicodedata.normalize("NFKC", chr(cp))
        if len(nfkc) == 1 and nfkc != chr(cp):
            table[cp] = ord(nfkc)
    # full-width capitals end up lower case too
    for cp, to in list(table.items()):
        if to in table:
            table[cp] = table[to]
    return table


@cache
def _lut() -> np.ndarray:
    lut = np.arange(sys.maxunicode + 1, dtype=np.uint32)
    for cp, to in _table().items():
        lut[cp] = to
    lut.setflags(write=False)
    return lut


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@cache
def _t2s_char(ch: str) -> str:
    try:
        out: str = _t2s().convert(ch)
    except UnicodeError:
        return ch
    return out if len(out) == 1 else ch


def _map_chars(text: str) -> str:
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _lut()[codes].tobytes().decode("utf-32-le", "surrogatepass")


def _simplify(text: str) -> str:
    try:
        out: str = _t2s().convert(text)
    except UnicodeError:  # lone surrogates cannot reach the C++ library
        out = ""
    if len(out) != len(text):
        out = "".join(map(_t2s_char, text))
    return out


def normalize(text: str) -> str:
    """The matching form of `text`: same length, character i maps to character i."""
    if not text:
        return text
    text = _simplify(_map_chars(text))
    if "d" in text:
        text = _PARTY_D.sub("党", text)
    return text
