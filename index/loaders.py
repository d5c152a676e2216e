"""One file's bytes -> its text as lines: the type is sniffed from the content, never the name.

PDF (text layer, paragraphs rebuilt from visual lines), .docx (paragraphs and tables in body
order) and plain text (UTF-8 with or without BOM, UTF-16/32 with BOM, GB18030/GBK, else
charset-normalizer's best guess). Anything else raises `UnreadableFile` with a one-line reason.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Literal

from index.clean import is_page_number
from index.structure import heading_marker

logger = logging.getLogger(__name__)

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OTHER_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"{\\rtf", "RTF format: save it as .docx or .txt"),
    (b"\x89PNG", "image file, not text"),
    (b"\xff\xd8\xff", "image file, not text"),
    (b"GIF8", "image file, not text"),
    (b"Rar!", "compressed archive: unpack it first"),
    (b"7z\xbc\xaf", "compressed archive: unpack it first"),
    (b"\x1f\x8b", "compressed archive: unpack it first"),
)
_SNIFF = 8192  # bytes looked at to tell text from binary
_GUESS = 1 << 20  # bytes given to charset-normalizer
_MAX_UNPACKED = 512 << 20  # bytes a .docx may unpack to (zipfile reads no more than declared)
_CHINESE_CODECS = {"gb18030", "gbk", "gb2312", "cp936", "hz", "euc_cn", "ms936"}


class UnreadableFile(Exception):
    """A file that cannot be read as a report; `reason` is one line meant for a user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_lines(path: Path) -> list[str]:
    """The text of the document at `path` as lines (paragraphs), trailing whitespace removed."""
    try:
        data = path.read_bytes()
    except IsADirectoryError as exc:
        raise UnreadableFile("a folder, not a file") from exc
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from exc
    return lines_from_bytes(data)


def lines_from_bytes(data: bytes) -> list[str]:
    """The text of a document given as bytes; see `read_lines`."""
    if not data or data.isspace():
        raise UnreadableFile("empty file")
    kind = document_kind(data)
    if kind == "pdf":
        lines = pdf_lines(data)
    elif kind == "docx":
        lines = docx_lines(data)
    else:
        lines = split_lines(decode_text(data))
    if not any(lines):
        raise UnreadableFile("empty file")
    return lines


def document_kind(data: bytes) -> Literal["pdf", "docx", "text"]:
    """What the bytes are, by their content: "pdf", "docx" (any zip; reading checks it is a
    Word document) or "text" (reading checks the encoding); raises `UnreadableFile` for kinds
    known not to be reports (old .doc, RTF, images, archives)."""
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(_ZIP_MAGICS):
        return "docx"
    if data.startswith(_OLE_MAGIC):
        raise UnreadableFile(_ole_reason(data))
    for magic, reason in _OTHER_MAGICS:
        if data.startswith(magic):
            raise UnreadableFile(reason)
    return "text"


def split_lines(text: str) -> list[str]:
    """Lines of `text` on any line ending (\\r\\n, \\r, \\n, ...), trailing whitespace removed."""
    return [line.rstrip() for line in text.removeprefix("\ufeff").splitlines()]


# --- plain text -------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """Bytes of a text file -> str; raises `UnreadableFile` for binary data."""
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16: its BOM starts the same way
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, errors="replace")
    if _looks_binary(data):
        raise UnreadableFile("binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    non_ascii = len(data.translate(None, bytes(range(128))))
    if text.count("\ufffd") <= max(3, non_ascii // 200):
        return text  # UTF-8 with a few damaged bytes (e.g. cut off mid-character)
    text = data.decode(_guess_encoding(data), errors="replace")
    if _share_of_junk(text[:_SNIFF]) > 0.1:
        raise UnreadableFile("binary file, not text")
    return text


def _looks_binary(data: bytes) -> bool:
    head = data[:_SNIFF]
    if b"\x00" in head or data.count(b"\x00") > len(data) // 1000:
        return True
    controls = len(head) - len(head.translate(None, bytes(range(32))))
    controls -= sum(head.count(c) for c in b"\t\n\r\f\v\x1a\x1b")
    return controls > len(head) // 10


def _share_of_junk(text: str) -> float:
    if not text:
        return 0.0
    junk = sum(1 for ch in text if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\f\v"))
    return junk / len(text)


def _guess_encoding(data: bytes) -> str:
    """GB18030 when the bytes read as common Chinese in it, else charset-normalizer's guess."""
    sample = data[:65536]
    if _plausible_chinese(sample.decode("gb18030", errors="replace")):
        return "gb18030"
    import charset_normalizer  # slow to import; only needed for unusual encodings

    best = charset_normalizer.from_bytes(data[:_GUESS]).best()
    if best is None:
        raise UnreadableFile("binary file, not text")
    encoding = best.encoding.lower().replace("-", "_")
    return "gb18030" if encoding in _CHINESE_CODECS else best.encoding


def _plausible_chinese(text: str) -> bool:
    """Most non-ASCII characters are common hanzi or CJK punctuation (not Big5/Latin misread)."""
    common = _gb2312_hanzi()
    non_ascii = [ch for ch in text if ch >= "\x80"]
    good = sum(1 for ch in non_ascii if ch in common or _is_cjk_punctuation(ch))
    return bool(non_ascii) and good >= 0.7 * len(non_ascii)


def _is_cjk_punctuation(ch: str) -> bool:
    return "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef" or "\u2010" <= ch <= "\u2027"


@lru_cache(maxsize=1)
def _gb2312_hanzi() -> frozenset[str]:
    pairs = bytes(b for hi in range(0xB0, 0xF8) for lo in range(0xA1, 0xFF) for b in (hi, lo))
    return frozenset(pairs.decode("gb2312", errors="ignore"))


# --- Office formats ---------------------------------------------------------------------------


def _ole_reason(data: bytes) -> str:
    def has(name: str) -> bool:
        return name.encode("utf-16-le") in data

    if has("EncryptedPackage"):
        return "encrypted (password-protected) Office file"
    if has("WordDocument"):
        return "old Word .doc format: save it as .docx"
    if has("Workbook") or has("Book"):
        return "Excel spreadsheet (.xls), not a report text"
    if has("PowerPoint Document"):
        return "PowerPoint file (.ppt), not a report text"
    return "old Word .doc format: save it as .docx"


def docx_lines(data: bytes) -> list[str]:
    """Paragraphs and table rows of a .docx, in body order; a row is its cells joined by " | "."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        if b"word/" in data[:65536]:
            raise UnreadableFile("damaged .docx: file is truncated or corrupt") from exc
        raise UnreadableFile("damaged zip archive: file is truncated or corrupt") from exc
    if "word/document.xml" not in names:
        raise UnreadableFile(_zip_reason(names))
    if unpacked > _MAX_UNPACKED:  # a zip bomb, or a document that is mostly images
        raise UnreadableFile(f".docx too large unpacked ({unpacked >> 20} MB)")
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
        lines = [line for block in _docx_blocks(document.element.body, document) for line in block]
    except Exception as exc:  # python-docx/lxml/zipfile raise many kinds on damaged files
        raise UnreadableFile(f"damaged .docx: {_docx_problem(exc)}") from exc
    lines = [line.rstrip() for line in lines]
    if not any(lines):
        raise UnreadableFile("document has no text")
    return lines


def _zip_reason(names: set[str]) -> str:
    if "xl/workbook.xml" in names:
        return "Excel workbook (.xlsx), not a report text"
    if "ppt/presentation.xml" in names:
        return "PowerPoint file (.pptx), not a report text"
    if "content.xml" in names:
        return "OpenDocument file: save it as .docx"
    return "zip archive, not a document: unpack it first"


def _docx_problem(exc: Exception) -> str:
    logger.debug(".docx not readable", exc_info=exc)
    if type(exc).__name__ == "XMLSyntaxError":
        return "document.xml is not well-formed XML"
    if isinstance(exc, KeyError):
        return "a required part is missing"
    if isinstance(exc, zipfile.BadZipFile | zlib.error | EOFError):
        return "compressed data is corrupt"
    if isinstance(exc, ValueError) and "content type" in str(exc):
        return "not a Word document (wrong content type)"
    return "invalid document structure"


def _docx_blocks(container: object, parent: object) -> Iterator[list[str]]:
    """Lines of each paragraph and table directly in `container` (body or cell), in order."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in container.iterchildren():  # type: ignore[attr-defined]
        if child.tag == qn("w:p"):
            yield Paragraph(child, parent).text.split("\n")  # type: ignore[arg-type]
        elif child.tag == qn("w:tbl"):
            yield _table_lines(Table(child, parent))  # type: ignore[arg-type]
        elif child.tag in (qn("w:sdt"), qn("w:customXml")):
            content = child.find(qn("w:sdtContent"))
            yield from _docx_blocks(child if content is None else content, parent)


def _table_lines(table: object) -> list[str]:
    lines = []
    for row in table.rows:  # type: ignore[attr-defined]
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell repeats once per grid column
                continue
            seen.add(id(cell._tc))
            text = " ".join(line.strip() for b in _docx_blocks(cell._tc, cell) for line in b)
            cells.append(" ".join(text.split()))
        if any(cells):
            lines.append(" | ".join(cells))
    return lines


# --- PDF --------------------------------------------------------------------------------------

_SENTENCE_END = tuple("。！？!?；;：:….")
_CLOSERS = "”’」』）)】〕》\"'"


def pdf_lines(data: bytes) -> list[str]:
    """Paragraphs of a PDF's text layer, page headers/footers and page numbers removed."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except (DependencyError, NotImplementedError) as exc:
                    raise UnreadableFile("encrypted PDF") from exc
                if not opened:
                    raise UnreadableFile("encrypted PDF (password-protected)")
            pages = list(_page_texts(reader))
        except UnreadableFile:
            raise
        except Exception as exc:  # pypdf raises many kinds on damaged files
            logger.debug("PDF not readable", exc_info=True)
            raise UnreadableFile("damaged PDF: file is truncated or corrupt") from exc
    paragraphs = join_visual_lines(_drop_running_lines([split_lines(p) for p in pages]))
    if not paragraphs:
        raise UnreadableFile("PDF has no text layer (scanned image?)")
    return paragraphs


def _page_texts(reader: object) -> Iterator[str]:
    for number, page in enumerate(reader.pages, 1):  # type: ignore[attr-defined]
        try:
            yield page.extract_text() or ""
        except Exception:  # one bad page should not lose the others
            logger.warning("PDF page %d: text could not be extracted", number, exc_info=True)
            yield ""


def _drop_running_lines(pages: list[list[str]]) -> list[str]:
    """All pages' lines, without page numbers and headers/footers repeated across pages."""
    pages = [[line.strip() for line in page if line.strip()] for page in pages]

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", "".join(line.split()))

    edges = Counter(k for page in pages for k in {key(line) for line in (*page[:2], *page[-2:])})
    need = max(2, (len(pages) + 1) // 2)  # on at least half of the pages, and two
    repeated = {k for k, n in edges.items() if len(pages) >= 2 and n >= need}
    lines = []
    for page in pages:
        for i, line in enumerate(page):
            at_edge = i < 2 or i >= len(page) - 2
            if at_edge and (key(line) in repeated or is_page_number(line)):
                continue
            lines.append(line)
    return lines


def join_visual_lines(lines: list[str]) -> list[str]:
    """Join visual lines into paragraphs: a line continues unless it ends a sentence or heading.

    A line ends its paragraph when it ends with sentence-final punctuation, when it is much
    shorter than a full line (a heading, a paragraph's last line), or when the next line starts
    with a heading marker (一、 （一） 1. 第一章 一是).
    """
    if not lines:
        return []
    lengths = sorted(len(line) for line in lines)
    full = lengths[round(0.9 * (len(lengths) - 1))]  # a typical full line
    paragraphs: list[str] = []
    current, previous = "", ""
    for line in lines:
        if current and (_ends_paragraph(previous, full) or heading_marker(line)):
            paragraphs.append(current)
            current = ""
        current = _glue(current, line) if current else line
        previous = line
    paragraphs.append(current)
    return paragraphs


def _ends_paragraph(line: str, full: int) -> bool:
    return line.rstrip(_CLOSERS).endswith(_SENTENCE_END) or len(line) < 0.6 * full


def _glue(left: str, right: str) -> str:
    if left.endswith("-") and left[-2:-1].isalpha() and right[:1].islower():
        return left[:-1] + right  # a word hyphenated at the line end
    if left[-1].isascii() and left[-1].isalnum() and right[0].isascii() and right[0].isalnum():
        return f"{left} {right}"
    return left + right
