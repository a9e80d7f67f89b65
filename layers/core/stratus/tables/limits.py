"""How big a table may be: bounds that keep a hostile upload from exhausting the ingest Lambda (1 GB)."""

from __future__ import annotations

from dataclasses import dataclass

from stratus.errors import InvalidInputError
from stratus.models.files import FileFormat

# The source bytes of an upload, checked before they are read (direct and presigned). JSON is parsed whole
# before a cell can be counted (~25 bytes of Python objects per byte of `[{},{},…]`), so it gets less.
MAX_TABLE_BYTES: dict[FileFormat, int] = {
    FileFormat.CSV: 32 * 1024 * 1024,
    FileFormat.JSON: 8 * 1024 * 1024,
    FileFormat.XLSX: 32 * 1024 * 1024,
}
# Cells of all tables of one upload together, counted as they are read. A text cell costs ~200 bytes at
# the peak of a conversion (Python objects, then HDF5's variable-length strings), so 2M text cells peak at
# ~450 MB, within the ingest Lambda's 1 GB whatever the bytes compress or expand to.
MAX_CELLS = 2_000_000
MAX_ROWS = 1_000_000
# A table's columns and a column's (or a table's) name: HDF5 keeps a compound type in one object-header
# message of at most 64 KiB, which 256 fields of 128-character names fit with room to spare.
MAX_COLUMNS = 256
MAX_NAME_CHARS = 128
# Tables of one upload (JSON keys, XLSX sheets).
MAX_TABLES = 64
# An XLSX is a zip: the sizes its entries declare, unpacked, together (zipfile stops at the declared size,
# so a zip bomb cannot unpack past this). Sheets are streamed and their cells counted, but openpyxl holds
# the whole shared-strings table (~150 bytes and ~25 µs per string), so that part gets its own bound.
MAX_XLSX_UNPACKED_BYTES = 128 * 1024 * 1024
MAX_XLSX_SHARED_STRINGS_BYTES = 16 * 1024 * 1024
# Python's csv module refuses fields longer than this (its default), which bounds one text cell.
MAX_FIELD_CHARS = 131_072


def check_size(size: int, file_format: FileFormat) -> None:
    """Refuse table bytes over their format's limit. Raises InvalidInputError."""
    limit = MAX_TABLE_BYTES[file_format]
    if size > limit:
        raise InvalidInputError(
            f"the file is {size} bytes; {file_format.name} uploads take at most {limit} bytes"
        )


@dataclass
class CellBudget:
    """Counts the cells read from one upload against MAX_CELLS."""

    used: int = 0

    def spend(self, cells: int, where: str) -> None:
        """Count ``cells`` more, read at ``where`` ("sheet 'x', row 7"). Raises InvalidInputError."""
        self.used += cells
        if self.used > MAX_CELLS:
            raise InvalidInputError(
                f"{where}: the upload holds more than {MAX_CELLS} cells, the most one takes"
            )


def check_rows(count: int, label: str) -> None:
    """Refuse a table (``label``: "sheet 'x'", or empty for a file's only table) past MAX_ROWS data rows.
    Raises InvalidInputError."""
    if count > MAX_ROWS:
        prefix = f"{label}: " if label else ""
        raise InvalidInputError(f"{prefix}the table has more than {MAX_ROWS} rows, the most one takes")
