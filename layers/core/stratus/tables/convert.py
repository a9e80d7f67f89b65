"""Converting a CSV, JSON or XLSX upload to HDF5, so every algorithm reads one format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratus.models.files import FileFormat
from stratus.tables.columns import type_columns
from stratus.tables.csv_files import read_csv
from stratus.tables.datasets import write_tables
from stratus.tables.json_files import read_json
from stratus.tables.limits import CellBudget, check_size
from stratus.tables.xlsx_files import read_xlsx

if TYPE_CHECKING:
    from collections.abc import Callable

    from stratus.tables.raw import RawTable

READERS: dict[FileFormat, Callable[[bytes, str | None, CellBudget], list[RawTable]]] = {
    FileFormat.CSV: read_csv,
    FileFormat.JSON: read_json,
    FileFormat.XLSX: read_xlsx,
}


def to_hdf5(data: bytes, file_format: FileFormat, name: str | None = None) -> bytes:
    """HDF5 bytes for an upload: as sent for HDF5, else its tables converted (``name``, the upload's file
    name, names a CSV's or JSON array's dataset). Raises InvalidInputError naming the row and column."""
    if file_format is FileFormat.HDF5:
        return data
    check_size(len(data), file_format)
    typed = []
    for table in READERS[file_format](data, name, CellBudget()):
        columns = type_columns(table)
        table.columns = []  # the cells as read are typed now: free them before writing (memory, see limits)
        typed.append((table, columns))
    return write_tables(typed, file_format, name)
