"""Spreadsheets in and out, safely: uploads read within declared bounds, cells written inert.

Reading: an .xlsx is a zip of XML, and both can lie. A 1.6 KB file may declare a sheet of
16,384 columns by 1,048,576 rows, or a single row numbered 1,048,576 that openpyxl pads with
a million empty rows, or a member that inflates a thousand times. So the zip's declared sizes
and ratios, then the sheet's declared dimension, are checked before a row is read; rows are
streamed (openpyxl's read-only mode, values only) and reading stops one row past the limit.
A CSV is decoded once (it is within its byte limit by then) and streamed row by row likewise.
Every refusal names the form field and says the limit.

Writing: a text cell that begins with = + - @, a tab or a carriage return is a formula (or
becomes one) in Excel, LibreOffice and WPS; such text is written behind a single quote, as a
string, never a formula. Characters XML cannot hold (most C0 controls, lone surrogates) are
written as U+FFFD, so a stored memo can never make an export fail.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterator

from ground.errors import TooLarge, ValidationError
from ground.i18n import _

MB = 1024 * 1024

#: What makes text a formula when a spreadsheet opens the file.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Characters an .xlsx (XML 1.0) cannot hold, as openpyxl refuses them, and lone surrogates.
_UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_QUOTED = re.compile(r"'[=+\-@\t\r]")
#: Zip members that openpyxl reads whole (all but the worksheets, which it streams).
_STREAMED = re.compile(r"xl/worksheets/[^/]+\.xml")


@dataclass(frozen=True)
class Bounds:
    """How much one upload may hold; rows are counted below one header row, blank ones too."""

    max_bytes: int
    max_rows: int
    max_columns: int
    #: Characters in one cell.
    max_cell: int = 1000
    #: Declared uncompressed size of the whole .xlsx, and of a member openpyxl reads whole.
    max_unpacked: int = 64 * MB
    max_member_whole: int = 16 * MB
    #: Uncompressed / compressed, for members over 1 MB (honest sheets compress about tenfold).
    max_ratio: int = 100
    max_members: int = 1000


# --- reading ------------------------------------------------------------------------------------

def read_table(filename: str, data: bytes, bounds: Bounds, *, field: str = "file") -> list[list[str]]:
    """Return the first sheet of an .xlsx, or a CSV, as rows of text cells; refuse it past its bounds.

    At most one header row and `bounds.max_rows` rows below it come back, each with at most
    `bounds.max_columns` cells (trailing empty cells dropped).
    """
    if len(data) > bounds.max_bytes:  # the view's limit stops it sooner; this holds for any caller
        raise TooLarge(field, bounds.max_bytes)
    lower = (filename or "").lower()
    if lower.endswith(".xlsx"):
        rows = _xlsx_rows(data, bounds, field)
    elif lower.endswith(".csv"):
        rows = _csv_rows(data, bounds, field)
    else:
        raise ValidationError({field: [_("只能导入 .xlsx 或 .csv 文件")]}, _("文件格式不支持"))
    table: list[list[str]] = []
    for number, row in enumerate(rows, start=1):
        if number > bounds.max_rows + 1:
            _refuse(field, _("表格超过 %(n)s 行的上限（表头除外），请分成几个文件导入", n=bounds.max_rows))
        if row.count(None) == len(row):
            table.append([])  # the padding openpyxl yields for rows a sheet skips: cheap to count
            continue
        cells = [_text(value) for value in row]
        while cells and not cells[-1]:
            cells.pop()
        if len(cells) > bounds.max_columns:
            _too_many_columns(field, bounds)
        for column, cell in enumerate(cells, start=1):
            if len(cell) > bounds.max_cell:
                _refuse(field, _("第 %(row)s 行第 %(column)s 列超过 %(n)s 个字符的上限",
                                 row=number, column=column, n=bounds.max_cell))
        table.append(cells)
    return table


def _xlsx_rows(data: bytes, bounds: Bounds, field: str) -> Iterator[tuple]:
    from openpyxl import load_workbook  # here, not above: numpy and PIL come with it

    _check_zip(data, bounds, field)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise ValidationError({field: [_("无法读取：不是有效的 .xlsx 文件")]}, _("文件无法读取")) from None
    try:
        sheet = book.worksheets[0]
        if sheet.max_row is not None and sheet.max_row > bounds.max_rows + 1:
            _refuse(field, _("表格声明了 %(declared)s 行，超过 %(n)s 行的上限（表头除外）",
                             declared=sheet.max_row, n=bounds.max_rows))
        if sheet.max_column is not None and sheet.max_column > bounds.max_columns:
            _too_many_columns(field, bounds)
        # The declared size only ever refuses: rows are read as they are, counted as they come.
        sheet.reset_dimensions()
        # One column past the limit, so that a row reaching it is seen (and refused) while a
        # cell far beyond (column XFD, say) never widens every row to 16,384 values.
        yield from sheet.iter_rows(values_only=True, max_col=bounds.max_columns + 1)
    except zipfile.BadZipFile:
        raise ValidationError({field: [_("无法读取：文件已损坏")]}, _("文件无法读取")) from None
    except ValidationError:
        raise
    except Exception:  # a malformed sheet: XML errors and the like, from deep inside openpyxl
        raise ValidationError({field: [_("无法读取：不是有效的 .xlsx 文件")]}, _("文件无法读取")) from None
    finally:
        book.close()


def _check_zip(data: bytes, bounds: Bounds, field: str) -> None:
    """Refuse a workbook whose members declare more than the bounds, before any is inflated.

    Python's zipfile never inflates a member past its declared size (it fails the CRC check
    instead), so the declared sizes bound what reading can cost.
    """
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError):
        raise ValidationError({field: [_("无法读取：不是有效的 .xlsx 文件")]}, _("文件无法读取")) from None
    if len(members) > bounds.max_members:
        _refuse(field, _("工作簿含 %(parts)s 个部件，超过 %(n)s 个的上限", parts=len(members), n=bounds.max_members))
    for member in members:
        if not _STREAMED.fullmatch(member.filename) and member.file_size > bounds.max_member_whole:
            limit = f"{bounds.max_member_whole // MB} MB"
            _refuse(field, _("工作簿的部件 %(part)s 解压后超过 %(limit)s 的上限", part=member.filename[:80], limit=limit))
        if member.file_size > MB and member.file_size > bounds.max_ratio * max(member.compress_size, 1):
            _refuse(field, _("工作簿的部件 %(part)s 压缩比超过 %(n)s 倍，不是正常的表格",
                             part=member.filename[:80], n=bounds.max_ratio))
    total = sum(member.file_size for member in members)
    if total > bounds.max_unpacked:
        limit = f"{bounds.max_unpacked // MB} MB"
        _refuse(field, _("工作簿解压后超过 %(limit)s 的上限", limit=limit))


def _csv_rows(data: bytes, bounds: Bounds, field: str) -> Iterator[list[str]]:
    if b"\x00" in data:
        _refuse(field, _("文件含有空字符（NUL），不是文本 CSV；请存为 UTF-8 或 GBK 编码的 CSV"))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        _refuse(field, _("无法识别文件编码，请存为 UTF-8 或 GBK 编码的 CSV"))
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            # The csv module's own cap on a field (128 KiB) is far past any cell's limit.
            if "field limit" in str(err):
                _refuse(field, _("第 %(row)s 行有字段超过 %(n)s 个字符的上限", row=reader.line_num, n=bounds.max_cell))
            _refuse(field, _("第 %(row)s 行不是有效的 CSV", row=reader.line_num))
        yield row


def _text(value) -> str:
    """Return a cell's value as the text the clerk typed, undoing the quote exports add."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number Excel stored as a number
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    return text[1:].strip() if _QUOTED.match(text) else text


def _too_many_columns(field: str, bounds: Bounds) -> None:
    _refuse(field, _("表格超过 %(n)s 列的上限", n=bounds.max_columns))


def _refuse(field: str, why) -> None:
    raise ValidationError({field: [why]}, why)


# --- writing ------------------------------------------------------------------------------------

def cell(value):
    """Return a value to write into a sheet cell (xlsx or CSV): text made inert, the rest as it is.

    Numbers stay numbers (a negative amount is a number, not a formula); only text that a
    spreadsheet would evaluate gets the leading quote.
    """
    if not isinstance(value, str):
        return value
    text = _UNWRITABLE.sub("\ufffd", value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def row(values) -> list:
    """Return a row of values made safe to write, cell by cell."""
    return [cell(v) for v in values]
