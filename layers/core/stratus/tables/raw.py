"""A table as read from its source, before its columns are typed: names, cells and where each row was."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stratus.errors import InvalidInputError
from stratus.tables.limits import MAX_COLUMNS, MAX_NAME_CHARS, check_rows

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

# HDF5 link names cannot hold "/" (the path separator); "." and ".." name groups, not datasets.
RESERVED_TABLE_NAMES = frozenset({"", ".", ".."})
MAX_TABLE_NAME_CHARS = 255
# How much of a bad value a message quotes.
MAX_QUOTED_CHARS = 40


@dataclass
class RawTable:
    """One table's header and cells, column by column, with the source row of each data row."""

    name: str
    # How messages name the table ("sheet 'Prices'", "table 'prices'"); empty for the only table of a file.
    label: str
    header: list[str]
    # Cells are text still to be parsed (CSV), or values their source already typed (JSON, XLSX).
    textual: bool
    columns: list[list[Any]] = field(default_factory=list)
    rows: array[int] = field(default_factory=lambda: array("q"))

    def __post_init__(self) -> None:
        if not self.columns:
            self.columns = [[] for _ in self.header]

    def where(self, row: int, column: str) -> str:
        """A cell's position as people read it: "sheet 'Prices', row 17, column 'price'"."""
        return ", ".join([*([self.label] if self.label else []), f"row {row}", f"column {quote(column)}"])

    def add_row(self, row: int, cells: Sequence[Any]) -> None:
        """Append one data row (as many cells as the header has columns), read from source row ``row``."""
        check_rows(len(self.rows) + 1, self.label)
        self.rows.append(row)
        for column, cell in zip(self.columns, cells, strict=True):
            column.append(cell)

    def check_not_empty(self, header_row: int) -> None:
        """Refuse a table without data rows below its header. Raises InvalidInputError."""
        if not self.rows:
            prefix = f"{self.label}: " if self.label else ""
            below = f"below its header (row {header_row})"
            raise InvalidInputError(f"{prefix}the table has no rows {below}; a table needs at least one")


def quote(value: Any) -> str:
    """A value as a message quotes it, shortened: 'abc', 'a very long te…'."""
    text = str(value)
    if len(text) > MAX_QUOTED_CHARS:
        text = text[: MAX_QUOTED_CHARS - 1] + "…"
    return repr(text)


def check_table_name(name: str, where: str) -> None:
    """Refuse a name no HDF5 dataset can have. Raises InvalidInputError."""
    if name in RESERVED_TABLE_NAMES or "/" in name:
        raise InvalidInputError(
            f"{where}: {quote(name)} cannot name a dataset (no '/', not empty, '.' or '..')"
        )
    if len(name) > MAX_TABLE_NAME_CHARS:
        raise InvalidInputError(f"{where}: the name is longer than {MAX_TABLE_NAME_CHARS} characters")
    _check_text(name, where)


def header_names(values: Sequence[Any], at: Callable[[int], str]) -> list[str]:
    """Column names from a header row's cells; ``at(i)`` names cell i's position ("row 1, column C").

    Raises InvalidInputError (no name, a duplicate, too long, too many columns).
    """
    if len(values) > MAX_COLUMNS:
        raise InvalidInputError(
            f"{at(MAX_COLUMNS)}: the table has {len(values)} columns; at most {MAX_COLUMNS}"
        )
    names: list[str] = []
    for index, value in enumerate(values):
        name = "" if value is None else str(value).strip()
        if not name:
            raise InvalidInputError(f"{at(index)}: the column has no name; name every column in the header")
        if len(name) > MAX_NAME_CHARS:
            raise InvalidInputError(
                f"{at(index)}: the column name is longer than {MAX_NAME_CHARS} characters"
            )
        _check_text(name, at(index))
        if name in names:
            raise InvalidInputError(f"{at(index)}: column {quote(name)} appears twice in the header")
        names.append(name)
    return names


def check_cell_text(text: str, where: str) -> None:
    """Refuse text HDF5's strings cannot hold. Raises InvalidInputError."""
    _check_text(text, where)


def _check_text(text: str, where: str) -> None:
    # HDF5 strings end at a NUL; a lone surrogate (JSON's "\ud800") has no UTF-8 form.
    if "\x00" in text:
        raise InvalidInputError(f"{where}: the text holds a NUL character, which HDF5 strings cannot")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInputError(f"{where}: the text is not valid Unicode ({exc.reason})") from exc
