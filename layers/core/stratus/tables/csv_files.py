"""Reading a CSV upload: UTF-8 text, a header row, then one data row per record."""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING

from stratus.errors import InvalidInputError
from stratus.tables.formats import table_name
from stratus.tables.limits import MAX_FIELD_CHARS
from stratus.tables.raw import RawTable, header_names

if TYPE_CHECKING:
    from collections.abc import Callable

    from stratus.tables.limits import CellBudget

# The header row picks the separator: whichever of these it holds most of, outside quotes (a comma when
# none): spreadsheets in many locales save CSV with semicolons.
DELIMITERS = (",", ";", "\t")
_QUOTED = re.compile(r'"[^"]*"')


def read_csv(data: bytes, name: str | None, budget: CellBudget) -> list[RawTable]:
    """The one table of a CSV file, named after the file. Raises InvalidInputError naming the row."""
    text = _decode(data)
    if not text.strip():
        raise InvalidInputError("the file is empty; a table needs a header row and at least one data row")
    records = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    table: RawTable | None = None
    header_row = 0
    row = 0
    try:
        for row, cells in enumerate(records, start=1):
            budget.spend(len(cells), f"row {row}")
            if _is_blank(cells):
                continue
            if table is None:
                header = header_names(cells, _header_cell(row))
                table, header_row = RawTable(table_name(name), "", header, textual=True), row
            else:
                table.add_row(row, _fitted(cells, len(table.header), row))
    except csv.Error as exc:
        # The record that failed is the one after the last read.
        raise InvalidInputError(f"row {row + 1}: {_csv_reason(exc)}") from exc
    if table is None:
        raise InvalidInputError("the file is empty; a table needs a header row and at least one data row")
    table.check_not_empty(header_row)
    return [table]


def _header_cell(row: int) -> Callable[[int], str]:
    """Names a header cell's position: "row 1, column 3"."""
    return lambda index: f"row {row}, column {index + 1}"


def _decode(data: bytes) -> str:
    """UTF-8 text (a byte-order mark allowed). Raises InvalidInputError naming the row of a bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
        raise InvalidInputError(
            f"row {row}: the file is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as CSV UTF-8"
        ) from exc


def _delimiter(text: str) -> str:
    first = text.lstrip("\r\n").split("\n", 1)[0]
    unquoted = _QUOTED.sub("", first)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def _fitted(cells: list[str], width: int, row: int) -> list[str]:
    """A row's cells, as many as the header names: empty cells past the last column (a trailing
    separator) are dropped. Raises InvalidInputError for a row of another length."""
    if len(cells) > width and _is_blank(cells[width:]):
        cells = cells[:width]
    if len(cells) != width:
        count = f"{len(cells)} value" + ("" if len(cells) == 1 else "s")
        raise InvalidInputError(f"row {row}: {count}, but the header names {width} columns")
    return cells


def _csv_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "field limit" in text:
        return f"a value is longer than {MAX_FIELD_CHARS} characters"
    return text
