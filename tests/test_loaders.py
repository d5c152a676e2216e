"""index.loaders: bytes of any file -> text lines, or UnreadableFile with a clear reason."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from index.loaders import UnreadableFile, join_visual_lines, lines_from_bytes, read_lines


def make_pdf(pages: list[list[str]], *, cjk: bool = False) -> bytes:
    """A minimal PDF whose pages show `pages` (lists of lines) in a text layer.

    Latin text uses Helvetica; CJK text a Type0 font with Identity-H codes (= UTF-16 code
    units) and a ToUnicode map, which is all text extraction needs (no glyphs embedded).
    """
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes) -> bytes:
        return b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data)

    if cjk:
        cmap = (
            b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /UCS2 def "
            b"1 begincodespacerange <0000> <FFFF> endcodespacerange 1 beginbfrange "
            b"<0000> <FFFF> <0000> endbfrange endcmap CMapName currentdict /CMap "
            b"defineresource pop end end"
        )
        to_unicode = add(stream(cmap))
        cid_font = add(
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /SimSun /CIDSystemInfo "
            b"<< /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>"
        )
        font = add(
            b"<< /Type /Font /Subtype /Type0 /BaseFont /SimSun /Encoding /Identity-H "
            b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (cid_font, to_unicode)
        )
    else:
        font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    pages_id = len(objects) + 2 * len(pages) + 1
    kids = []
    for lines in pages:
        ops = [b"BT /F1 12 Tf 14 TL 72 760 Td"]
        for line in lines:
            text = (
                b"<%s>" % line.encode("utf-16-be").hex().encode()
                if cjk
                else b"(%s)" % (line.encode("latin-1"))
            )
            ops.append(text + b" Tj T*")
        content = add(stream(b"\n".join([*ops, b"ET"])))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources "
                b"<< /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (pages_id, font, content)
            )
        )
    refs = b" ".join(b"%d 0 R" % kid for kid in kids)
    add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids)))
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\n" % (len(objects) + 1, catalog)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def make_docx() -> bytes:
    """A .docx with a heading, paragraphs, a table between them and a soft line break."""
    document = docx.Document()
    document.add_heading("区残联2023年工作总结", level=1)
    document.add_paragraph("一、2023年工作总结")
    document.add_paragraph("完成475户困难重度残疾人家庭无障碍改造。")
    table = document.add_table(rows=2, cols=3)
    for col, text in enumerate(["指标", "目标", "完成"]):
        table.cell(0, col).text = text
    for col, text in enumerate(["康复救助", "5000人", "5041人"]):
        table.cell(1, col).text = text
    document.add_paragraph("二、2024年工作计划")
    paragraph = document.add_paragraph("实施家庭无障碍改造300户。")
    paragraph.add_run().add_break()
    paragraph.add_run("示范家庭10户。")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def reason(data: bytes) -> str:
    with pytest.raises(UnreadableFile) as caught:
        lines_from_bytes(data)
    return caught.value.reason


# --- plain text -------------------------------------------------------------------------------

REPORT = "区残联2023年工作总结\n一、2023年工作总结\n埇桥区残联完成475户无障碍改造。\n"


@pytest.mark.parametrize(
    "data",
    [
        REPORT.encode("utf-8"),
        b"\xef\xbb\xbf" + REPORT.encode("utf-8"),
        REPORT.encode("gb18030"),
        REPORT.encode("gbk"),
        REPORT.replace("\n", "\r\n").encode("gbk"),
        REPORT.replace("\n", "\r").encode("utf-8"),
        "\ufeff".encode("utf-16-le") + REPORT.encode("utf-16-le"),
    ],
    ids=["utf8", "utf8-bom", "gb18030", "gbk", "gbk-crlf", "cr", "utf16-bom"],
)
def test_text_encodings_and_line_endings(data: bytes) -> None:
    assert lines_from_bytes(data) == REPORT.splitlines()


def test_short_gbk_text_is_not_mistaken_for_korean_or_big5() -> None:
    # charset-normalizer alone guesses cp949 / big5 for these
    assert lines_from_bytes("埇桥区残联".encode("gbk")) == ["埇桥区残联"]
    assert lines_from_bytes("中文".encode("gb18030")) == ["中文"]


def test_other_encodings_fall_back_to_charset_normalizer() -> None:
    text = "中文測試報告，這是繁體中文的文字內容。"
    assert lines_from_bytes(text.encode("big5")) == [text]


def test_trailing_whitespace_goes_and_the_rest_stays_verbatim() -> None:
    data = "　　第一段，有缩进。  \t\r\n\r\n第二段\u3000\n".encode()
    assert lines_from_bytes(data) == ["　　第一段，有缩进。", "", "第二段"]


def test_utf8_with_a_damaged_byte_is_still_utf8() -> None:
    data = ("一、2023年工作总结\n" * 50).encode() + b"\xff" + "完成任务。".encode()
    lines = lines_from_bytes(data)
    assert lines[0] == "一、2023年工作总结"
    assert lines[-1] == "\ufffd完成任务。"


def test_a_huge_single_line_is_read_in_one_piece(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("工作总结。" * 2_000_000, encoding="utf-8")  # 30 MB, one line
    lines = read_lines(path)
    assert len(lines) == 1
    assert len(lines[0]) == 10_000_000


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty file"),
        (b" \r\n\t\n", "empty file"),
        (bytes(range(256)) * 8, "binary file, not text"),
        (b"abc\x00def" * 100, "binary file, not text"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image file, not text"),
        (b"{\\rtf1\\ansi hello}", "RTF format: save it as .docx or .txt"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512,
            "old Word .doc format: save it as .docx",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptedPackage".encode("utf-16-le"),
            "encrypted (password-protected) Office file",
        ),
    ],
    ids=["empty", "blank", "bytes", "nul", "png", "rtf", "ole-doc", "ole-encrypted"],
)
def test_unreadable_inputs_give_one_clear_reason(data: bytes, expected: str) -> None:
    assert reason(data) == expected


def test_read_lines_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="cannot read file"):
        read_lines(tmp_path / "missing.txt")


# --- .docx ------------------------------------------------------------------------------------


def test_docx_paragraphs_and_tables_in_body_order() -> None:
    assert lines_from_bytes(make_docx()) == [
        "区残联2023年工作总结",
        "一、2023年工作总结",
        "完成475户困难重度残疾人家庭无障碍改造。",
        "指标 | 目标 | 完成",
        "康复救助 | 5000人 | 5041人",
        "二、2024年工作计划",
        "实施家庭无障碍改造300户。",
        "示范家庭10户。",
    ]


def test_type_is_sniffed_from_content_not_extension(tmp_path: Path) -> None:
    disguised = tmp_path / "report.txt"
    disguised.write_bytes(make_docx())
    assert read_lines(disguised)[0] == "区残联2023年工作总结"
    text_named_pdf = tmp_path / "report.pdf"
    text_named_pdf.write_text("一、总结\n", encoding="utf-8")
    assert read_lines(text_named_pdf) == ["一、总结"]


def test_damaged_docx() -> None:
    data = make_docx()
    assert reason(data[: len(data) // 2]) == "damaged .docx: file is truncated or corrupt"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document")
    assert reason(buffer.getvalue()).startswith("damaged .docx: ")


def test_other_zip_files() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    assert reason(buffer.getvalue()) == "Excel workbook (.xlsx), not a report text"


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_text_layer_becomes_paragraphs_without_running_headers() -> None:
    pdf = make_pdf(
        [
            [
                "Annual Report",
                "This first paragraph is long enough to wrap onto",
                "the next line of the page, and it ends here.",
                "The second paragraph continues past the end of",
                "- 1 -",
            ],
            [
                "Annual Report",
                "the page and ends on the following page, here.",
                "- 2 -",
            ],
        ]
    )
    assert lines_from_bytes(pdf) == [
        "This first paragraph is long enough to wrap onto the next line of the page, and it "
        "ends here.",
        "The second paragraph continues past the end of the page and ends on the following "
        "page, here.",
    ]


def test_cjk_pdf_paragraphs_and_headings() -> None:
    pdf = make_pdf(
        [
            [
                "一、2023年工作总结",
                "2023年区残联为5041名残疾人提供康复救助，超额完成年",
                "度任务。",
                "二、2024年工作计划",
                "实施家庭无障碍改造300户，示范家庭10户，展开项目绩",
                "第 1 页",
            ],
            ["效评估。", "第 2 页"],
        ],
        cjk=True,
    )
    assert lines_from_bytes(pdf) == [
        "一、2023年工作总结",
        "2023年区残联为5041名残疾人提供康复救助，超额完成年度任务。",
        "二、2024年工作计划",
        "实施家庭无障碍改造300户，示范家庭10户，展开项目绩效评估。",
    ]


def test_pdf_without_text_layer() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    assert reason(buffer.getvalue()) == "PDF has no text layer (scanned image?)"


def test_encrypted_pdf() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["Secret text."]]))))
    writer.encrypt("password", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert reason(buffer.getvalue()) == "encrypted PDF (password-protected)"


def test_pdf_with_only_an_owner_password_opens() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["Open text."]]))))
    writer.encrypt("", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert lines_from_bytes(buffer.getvalue()) == ["Open text."]


def test_truncated_pdf() -> None:
    pdf = make_pdf([["Some text in a PDF."]])
    assert reason(pdf[: len(pdf) // 2]) == "damaged PDF: file is truncated or corrupt"


def test_join_visual_lines() -> None:
    full = "这是一行完整的文字，长度与其他的行相同，用来确定整行宽"
    assert join_visual_lines([full, "度。", "（一）标题", full, "下一页"]) == [
        full + "度。",
        "（一）标题",
        full + "下一页",
    ]
    assert join_visual_lines(["A full line of text that ends with a hyphen-", "ated word."]) == [
        "A full line of text that ends with a hyphenated word."
    ]
