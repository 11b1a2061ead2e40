"""Excel workbooks read as CSV: cell texts, row numbers, and hostile archives refused."""

from __future__ import annotations

import datetime
import io
import zipfile

import openpyxl
import pytest

from testbed.uploads.spreadsheet import workbook_as_csv
from testbed.uploads.validation import UploadRejected

LIMIT = 1024 * 1024


def _workbook(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _refusal(data: bytes) -> str:
    with pytest.raises(UploadRejected) as caught:
        workbook_as_csv(data, LIMIT)
    return caught.value.problems[0].message


def test_cells_are_written_as_the_csv_template_expects_them():
    data = _workbook(
        [
            ["student_key", "score", "frl", "tested_on", "note"],
            [1234.0, 210.5, True, datetime.date(2026, 5, 1), None],
            ["K-2", 200.0, False, datetime.datetime(2026, 5, 1, 9, 30), "a, b"],
        ]
    )
    assert workbook_as_csv(data, LIMIT).decode().splitlines() == [
        "student_key,score,frl,tested_on,note",
        "1234,210.5,true,2026-05-01,",
        'K-2,200,false,2026-05-01T09:30:00,"a, b"',
    ]


def test_empty_rows_keep_the_excel_row_numbers_and_stray_empty_columns_go():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["student_key", "score"])
    sheet["A4"] = "K1"
    sheet["B4"] = 200
    sheet["E9"] = None  # a formatted but empty cell widens the sheet
    buffer = io.BytesIO()
    workbook.save(buffer)
    lines = workbook_as_csv(buffer.getvalue(), LIMIT).decode().split("\n")
    assert lines[:4] == ["student_key,score", "", "", "K1,200"]


def test_a_zip_bomb_is_refused_before_it_is_expanded():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * 5_000_000)
    assert "zip bomb" in _refusal(archive.getvalue())


def test_an_entity_expansion_attack_in_the_sheet_xml_is_refused():
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    source = zipfile.ZipFile(io.BytesIO(_workbook([["student_key"]])))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for member in source.infolist():
            is_sheet = member.filename == "xl/worksheets/sheet1.xml"
            zf.writestr(member.filename, laughs if is_sheet else source.read(member))
    assert "could not be read" in _refusal(archive.getvalue())


def test_damaged_and_foreign_archives_are_refused_with_words():
    assert "damaged ZIP" in _refusal(b"PK\x03\x04" + b"\x00" * 100)
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("word/document.xml", "<document/>")
    assert "not an Excel workbook" in _refusal(other.getvalue())


def test_a_workbook_over_the_upload_limit_is_refused():
    assert "the limit is" in _refusal(b"PK\x03\x04" + b"\x00" * (LIMIT + 1))
