"""Size limits that keep one hostile or broken file from stalling a build.

* A line of text longer than `MAX_LINE_CHARS` (a report pasted without line breaks, a broken
  export) is split at sentence ends into paragraphs of at most that many characters. Nothing
  is dropped: the pieces together are the line. Without the split, one 50 MB line would be one
  paragraph that jieba segments in minutes, holding gigabytes, and that no chat could show.
* A file with more than `MAX_FILE_CHARS` characters of text (about 100 times the bundled
  compilation of 14 reports) is skipped with a reason: split it into several files.
* Folders nested deeper than `MAX_FOLDER_DEPTH` below a given folder are reported, not read
  (the walk recurses; a thousand levels would end it with a RecursionError).

(Questions are cut in `index.search`, `MAX_QUESTION_CHARS`.)
"""

from __future__ import annotations

from collections.abc import Sequence

from index.loaders import UnreadableFile

MAX_LINE_CHARS = 10_000
MAX_FILE_CHARS = 5_000_000
MAX_FOLDER_DEPTH = 100

_SENTENCE_ENDS = "。！？；!?;"
_SOFT_BREAKS = "，、,： \t"


def check_text_size(lines: Sequence[str], limit: int = MAX_FILE_CHARS) -> None:
    """Raise `UnreadableFile` when a file's text is too long to index in reasonable time."""
    total = sum(len(line) for line in lines)
    if total > limit:
        raise UnreadableFile(
            f"too much text ({total:,} characters; the limit is {limit:,}): "
            "split it into several files"
        )


def split_long_lines(lines: Sequence[str], limit: int = MAX_LINE_CHARS) -> list[str]:
    """`lines` with every line longer than `limit` split into pieces of at most `limit`."""
    if all(len(line) <= limit for line in lines):
        return list(lines)
    out: list[str] = []
    for line in lines:
        out.extend(split_line(line, limit) if len(line) > limit else (line,))
    return out


def split_line(line: str, limit: int = MAX_LINE_CHARS) -> list[str]:
    """Pieces of at most `limit` characters that join back to `line`, cut after a sentence end
    in the second half of a piece when there is one, else after a comma or space, else hard."""
    pieces: list[str] = []
    start = 0
    while len(line) - start > limit:
        end = start + limit
        cut = _last_of(line, _SENTENCE_ENDS, start + limit // 2, end)
        if cut < 0:
            cut = _last_of(line, _SOFT_BREAKS, start + limit // 2, end)
        stop = cut + 1 if cut >= 0 else end
        pieces.append(line[start:stop])
        start = stop
    pieces.append(line[start:])
    return pieces


def _last_of(text: str, chars: str, lo: int, hi: int) -> int:
    """The last index in [lo, hi) holding one of `chars`, or -1."""
    return max(text.rfind(ch, lo, hi) for ch in chars)
