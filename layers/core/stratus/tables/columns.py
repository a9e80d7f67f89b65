"""Typing a table's columns: each becomes int64, float64, bool or UTF-8 text, decided by its first value.

The first non-empty cell of a column decides its type, and every other cell must fit it: a number makes a
numeric column (int64 when every cell is a whole number and none is empty, else float64 with empty cells
as NaN), true/false a bool column (no empty cells), anything else a text column (empty cells are "").
A whole number written with a leading zero (007) makes a text column: codes, not quantities. CSV cells are
parsed; JSON and XLSX cells keep the type their source gave them (a JSON string "12" is text).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from stratus.errors import InvalidInputError
from stratus.tables.raw import check_cell_text, quote

if TYPE_CHECKING:
    import numpy as np

    from stratus.tables.raw import RawTable

_INT = re.compile(r"[+-]?[0-9]+")
_LEADING_ZERO = re.compile(r"[+-]?0[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLOAT_WORDS = frozenset({"nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
_BOOLS = {"true": True, "false": False}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Longer whole numbers are read as floats: past int64 anyway, and Python refuses int() of 4300+ digits.
MAX_INT_CHARS = 24


class Kind(Enum):
    """What one cell holds."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    TEXT = "text"


_NUMBERS = frozenset({Kind.INT, Kind.FLOAT})


@dataclass(frozen=True)
class Column:
    """A typed column: int64, float64, bool, or an object array of str."""

    name: str
    values: np.ndarray[Any, Any]
    text: bool


def type_columns(table: RawTable) -> list[Column]:
    """Every column of a table, typed. Raises InvalidInputError naming the row and column of a bad cell."""
    return [_type_column(table, name, cells) for name, cells in zip(table.header, table.columns, strict=True)]


def _type_column(table: RawTable, name: str, cells: list[Any]) -> Column:
    parse = _parse_text if table.textual else _parse_value
    kind = _column_kind(table, name, cells, parse)
    if kind is Kind.BOOL:
        return Column(name, _bools(table, name, cells, parse), text=False)
    if kind in _NUMBERS:
        return Column(name, _numbers(table, name, cells, parse), text=False)
    return Column(name, _texts(table, name, cells), text=True)


def _column_kind(table: RawTable, name: str, cells: list[Any], parse: _Parser) -> Kind:
    """The kind of the first non-empty cell; text for a column with none."""
    for index, cell in enumerate(cells):
        kind, _ = parse(cell, table, table.rows[index], name)
        if kind is None:
            continue
        if kind is Kind.INT and table.textual and _LEADING_ZERO.fullmatch(cell.strip()):
            return Kind.TEXT
        return kind
    return Kind.TEXT


def _bools(table: RawTable, name: str, cells: list[Any], parse: _Parser) -> np.ndarray[Any, Any]:
    import numpy as np

    values = []
    for index, cell in enumerate(cells):
        row = table.rows[index]
        kind, value = parse(cell, table, row, name)
        if kind is not Kind.BOOL:
            raise InvalidInputError(
                f"{table.where(row, name)}: expected true or false, got {_describe(cell)}"
            )
        values.append(value)
    return np.array(values, dtype=np.bool_)


def _numbers(table: RawTable, name: str, cells: list[Any], parse: _Parser) -> np.ndarray[Any, Any]:
    """int64 when every cell is a whole number in range and none is empty, else float64 (NaN if empty)."""
    import numpy as np

    values: list[int | float | None] = []
    whole = True
    for index, cell in enumerate(cells):
        row = table.rows[index]
        kind, value = parse(cell, table, row, name)
        if kind is None:
            whole = False
        elif kind in _NUMBERS:
            whole = whole and kind is Kind.INT and INT64_MIN <= value <= INT64_MAX
        else:
            raise InvalidInputError(f"{table.where(row, name)}: expected a number, got {_describe(cell)}")
        values.append(value)
    if whole:
        return np.array(values, dtype=np.int64)
    floats = np.empty(len(values), dtype=np.float64)
    for index, value in enumerate(values):
        try:
            floats[index] = math.nan if value is None else float(value)
        except OverflowError as exc:
            where = table.where(table.rows[index], name)
            raise InvalidInputError(f"{where}: the number {quote(value)} is too large for a float64") from exc
    return floats


def _texts(table: RawTable, name: str, cells: list[Any]) -> np.ndarray[Any, Any]:
    import numpy as np

    values = np.empty(len(cells), dtype=object)
    for index, cell in enumerate(cells):
        text = _as_text(cell, table.textual)
        check_cell_text(text, table.where(table.rows[index], name))
        values[index] = text
    return values


class _Parser(Protocol):
    """What a cell is: its kind (None when empty) and value."""

    def __call__(self, cell: Any, table: RawTable, row: int, name: str) -> tuple[Kind | None, Any]: ...


def _parse_text(cell: Any, table: RawTable, row: int, name: str) -> tuple[Kind | None, Any]:  # noqa: ARG001
    """A CSV cell: empty, true/false (any case), a whole number, a decimal number (nan, inf), or text."""
    text = cell.strip()
    if not text:
        return None, None
    lowered = text.lower()
    if lowered in _BOOLS:
        return Kind.BOOL, _BOOLS[lowered]
    if _INT.fullmatch(text) and len(text) <= MAX_INT_CHARS:
        return Kind.INT, int(text)
    if _FLOAT.fullmatch(text) or lowered in _FLOAT_WORDS:
        return Kind.FLOAT, float(text)
    return Kind.TEXT, cell


def _parse_value(cell: Any, table: RawTable, row: int, name: str) -> tuple[Kind | None, Any]:
    """A JSON or XLSX cell, as its source typed it; blank strings are empty cells."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None, None
    if isinstance(cell, bool):
        return Kind.BOOL, cell
    if isinstance(cell, int):
        return Kind.INT, cell
    if isinstance(cell, float):
        return Kind.FLOAT, cell
    if isinstance(cell, dict | list):
        raise InvalidInputError(
            f"{table.where(row, name)}: a nested {'object' if isinstance(cell, dict) else 'array'}; "
            "cells hold a number, text, true, false or null"
        )
    return Kind.TEXT, cell


def _as_text(cell: Any, textual: bool) -> str:
    """A cell of a text column as text: CSV cells as written, typed values in their usual spelling."""
    if textual:
        return str(cell)
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, datetime | date | time):
        return cell.isoformat()
    return str(cell)


def _describe(cell: Any) -> str:
    """A bad cell as a message shows it: 'abc', true, 3.5, an empty cell."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return "an empty cell"
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, int | float):
        return repr(cell)
    if isinstance(cell, datetime | date | time):
        return f"the date/time {cell.isoformat()}"
    return quote(cell)
