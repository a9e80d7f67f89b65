"""Reading an XLSX upload with openpyxl (read-only, cached values): one table per sheet that holds data.

A sheet's first non-empty row is its header; rows are numbered as Excel shows them and columns named by
letter. Empty rows and empty sheets are skipped. Formulas count as the value Excel last saved with them.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import ParseError

from stratus.errors import InvalidInputError
from stratus.tables import limits
from stratus.tables.raw import RawTable, check_table_name, header_names, quote

if TYPE_CHECKING:
    from collections.abc import Callable

    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    from stratus.tables.limits import CellBudget

# What openpyxl and the XML parser raise on a file that is not a well-formed workbook: a broken zip, a
# missing part, malformed XML (ParseError), a DTD or entity defusedxml forbids (ValueError), a cell value
# it cannot convert.
_BROKEN = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    KeyError,
    ValueError,
    TypeError,
    ParseError,
    OSError,
    EOFError,
)


def read_xlsx(data: bytes, name: str | None, budget: CellBudget) -> list[RawTable]:  # noqa: ARG001
    """The tables of a workbook, one per sheet with data, named after the sheets. Raises
    InvalidInputError naming the sheet, row and column."""
    if not data:
        raise InvalidInputError("the file is empty; send an XLSX workbook")
    _check_archive(data)
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it drops when reading (data validation, styles); values stay.
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
            try:
                sheets = workbook.worksheets
                if len(sheets) > limits.MAX_TABLES:
                    raise InvalidInputError(
                        f"the workbook has {len(sheets)} sheets; at most {limits.MAX_TABLES}"
                    )
                tables = [table for sheet in sheets if (table := _sheet(sheet, budget)) is not None]
            finally:
                workbook.close()
    except (*_BROKEN, InvalidFileException) as exc:
        raise InvalidInputError(f"the file is not a valid XLSX workbook ({_reason(exc)})") from exc
    if not tables:
        raise InvalidInputError("the workbook has no sheet with data")
    return tables


def _check_archive(data: bytes) -> None:
    """Refuse what is not a zip, or unpacks past the limit (a zip bomb). Raises InvalidInputError."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise InvalidInputError(f"the file is not a valid XLSX workbook ({_reason(exc)})") from exc
    strings = sum(
        entry.file_size for entry in entries if entry.filename.lower().endswith("sharedstrings.xml")
    )
    if strings > limits.MAX_XLSX_SHARED_STRINGS_BYTES:
        raise InvalidInputError(
            f"the workbook's shared strings unpack to {strings} bytes; at most "
            f"{limits.MAX_XLSX_SHARED_STRINGS_BYTES} are read"
        )
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > limits.MAX_XLSX_UNPACKED_BYTES:
        raise InvalidInputError(
            f"the workbook unpacks to {unpacked} bytes; at most {limits.MAX_XLSX_UNPACKED_BYTES} are read"
        )


def _sheet(sheet: ReadOnlyWorksheet, budget: CellBudget) -> RawTable | None:
    """A sheet's table, or None when it holds no values."""
    from openpyxl.utils import get_column_letter

    label = f"sheet {quote(sheet.title)}"
    check_table_name(sheet.title, label)
    # The size a sheet declares can be wrong (or hostile): without it, each row is as long as its cells.
    sheet.reset_dimensions()
    table: RawTable | None = None
    header_row = 0
    for row, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
        budget.spend(len(cells), f"{label}, row {row}")
        filled = [index for index, cell in enumerate(cells) if not _is_empty(cell)]
        if not filled:
            continue
        if table is None:
            width = filled[-1] + 1
            header = header_names(cells[:width], _header_cell(label, row))
            table, header_row = RawTable(sheet.title, label, header, textual=False), row
            continue
        width = len(table.header)
        if filled[-1] >= width:
            column = get_column_letter(filled[-1] + 1)
            raise InvalidInputError(
                f"{label}, row {row}, column {column}: a value right of the header's last column "
                f"({get_column_letter(width)}); name the column in row {header_row} or clear the cell"
            )
        table.add_row(row, [*cells[:width], *([None] * (width - len(cells)))])
    if table is not None:
        table.check_not_empty(header_row)
    return table


def _header_cell(label: str, row: int) -> Callable[[int], str]:
    """Names a header cell's position: "sheet 'Prices', row 1, column C"."""
    from openpyxl.utils import get_column_letter

    return lambda index: f"{label}, row {row}, column {get_column_letter(index + 1)}"


def _is_empty(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
