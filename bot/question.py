"""Questions as typed -> questions as searched, the same in Telegram, `ask` and `chat`.

Control characters become spaces; invisible format characters (zero-width spaces and joiners,
bidi overrides, BOM, soft hyphen) and lone surrogates (undecodable bytes in a terminal) go;
whitespace runs become one space; a question longer than MAX_QUESTION characters is cut there,
and the caller says so. No Telegram imports: the CLI uses this too.
"""

from __future__ import annotations

import unicodedata
from functools import cache

MAX_QUESTION = 300  # characters searched; a longer question is cut, with a note
QUESTION_CUT = "（问题太长，只按前 {limit} 个字搜索。）"


@cache
def _tidy_table() -> dict[int, str | None]:
    """str.translate table: control characters -> space; format characters and surrogates
    -> removed (the planes that have any)."""
    table: dict[int, str | None] = {}
    planes = (range(0x10000), range(0x10000, 0x20000), range(0xE0000, 0xE1000))
    for cp in (cp for plane in planes for cp in plane):
        category = unicodedata.category(chr(cp))
        if category == "Cc":
            table[cp] = " "
        elif category in ("Cf", "Cs"):
            table[cp] = None
    return table


def tidy(text: str) -> str:
    """`text` as one line: no control or invisible characters, whitespace runs as one space."""
    return " ".join(text.translate(_tidy_table()).split())


def clean_question(text: str, limit: int = MAX_QUESTION) -> tuple[str, bool]:
    """(The question as searched, whether it was cut): tidy, at most `limit` characters."""
    question = tidy(text)
    if len(question) <= limit:
        return question, False
    return question[:limit].rstrip(), True


def cut_note(limit: int = MAX_QUESTION) -> str:
    """What to tell the user when their question was cut."""
    return QUESTION_CUT.format(limit=limit)
