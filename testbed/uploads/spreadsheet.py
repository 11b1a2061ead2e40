"""Excel workbooks (.xlsx) turned into the CSV text the checks read, or refused whole.

The first worksheet becomes one CSV line per spreadsheet row, so every problem keeps the row
number the district sees in Excel. Cells are written as the CSV template expects them: blank
for an empty cell, whole numbers without ".0" (Excel stores every number as a float), TRUE and
FALSE as true and false, dates in ISO form.

An .xlsx file is a ZIP archive of XML. Before openpyxl reads it, the archive's members are
checked: none may expand more than MAX_EXPANSION times (a zip bomb expands a thousand times)
and together they may not exceed EXPANDED_SIZE_FACTOR times the upload limit. openpyxl parses
the XML through defusedxml (installed with it), which refuses entity expansion attacks.
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
import zipfile
from collections.abc import Iterable
from typing import Any

import openpyxl

from testbed.uploads.validation import Problem, UploadRejected, check_size

ZIP_MAGIC = b"PK\x03\x04"
MAX_EXPANSION = 100
EXPANDED_SIZE_FACTOR = 4

logger = logging.getLogger("testbed.uploads")


def is_zip_archive(data: bytes) -> bool:
    """Whether the bytes are a ZIP archive, as every .xlsx workbook is."""
    return data.startswith(ZIP_MAGIC)


def _refused(message: str) -> UploadRejected:
    return UploadRejected([Problem(None, None, message)], 1)


def _check_archive(data: bytes, max_bytes: int) -> None:
    check_size(data, max_bytes)
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError):
        raise _refused(
            "The file is a damaged ZIP archive, not an Excel workbook or CSV text."
        ) from None
    expanded = sum(member.file_size for member in members)
    if expanded > EXPANDED_SIZE_FACTOR * max_bytes or any(
        member.file_size > MAX_EXPANSION * max(member.compress_size, 1) for member in members
    ):
        raise _refused(
            "The file expands to far more than its size, as a zip bomb does, and is refused. "
            "Save the sheet as “CSV UTF-8” and upload that."
        )
    if "xl/workbook.xml" not in {member.filename for member in members}:
        raise _refused(
            "The file is a ZIP archive but not an Excel workbook (.xlsx). Upload the sheet "
            "saved as “CSV UTF-8” or as an Excel workbook."
        )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _csv_rows(rows: Iterable[tuple[Any, ...]]) -> Iterable[list[str]]:
    """Rows as cell texts; a wholly empty row becomes an empty line (skipped, but counted), and
    empty cells past the header's last column are dropped."""
    width = None
    for row in rows:
        cells = [_cell_text(value) for value in row]
        if width is not None and not any(cells):
            yield []
            continue
        while cells and not cells[-1] and (width is None or len(cells) > width):
            cells.pop()
        if width is None:
            width = len(cells)
        else:
            cells += [""] * (width - len(cells))
        yield cells


def workbook_as_csv(data: bytes, max_bytes: int) -> bytes:
    """The first worksheet of an .xlsx workbook as UTF-8 CSV; or UploadRejected."""
    _check_archive(data, max_bytes)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(
                _csv_rows(workbook.worksheets[0].iter_rows(values_only=True))
            )
        finally:
            workbook.close()
    except Exception:
        # A hostile or damaged workbook can fail anywhere inside the XML parser: refuse it.
        logger.info("an .xlsx upload could not be read", exc_info=True)
        raise _refused(
            "The Excel workbook could not be read. Save the sheet as “CSV UTF-8” and upload that."
        ) from None
    return text.getvalue().encode()
