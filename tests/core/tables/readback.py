"""Helpers for the table converter's tests: reading its HDF5 back, making workbooks with openpyxl."""

from __future__ import annotations

import io
from typing import Any

import h5py
import numpy as np
import openpyxl


def read_back(data: bytes) -> dict[str, np.ndarray]:
    """Every dataset of HDF5 bytes, by name, with text decoded to str."""
    with h5py.File(io.BytesIO(data), "r") as handle:
        return {name: _decoded(handle[name][()]) for name in handle}


def attributes(data: bytes, name: str) -> dict[str, Any]:
    with h5py.File(io.BytesIO(data), "r") as handle:
        return dict(handle[name].attrs)


def _decoded(table: np.ndarray) -> np.ndarray:
    """A compound array whose string fields hold str (h5py reads UTF-8 strings as bytes)."""
    names = table.dtype.names or ()
    fields = [(n, object if table.dtype[n].kind == "O" else table.dtype[n]) for n in names]
    decoded = np.empty(table.shape, dtype=fields)
    for n in names:
        column = table[n]
        decoded[n] = [v.decode() for v in column] if column.dtype.kind == "O" else column
    return decoded


def workbook(sheets: dict[str, list[list[Any]]]) -> bytes:
    """XLSX bytes with one sheet per entry, rows appended from row 1."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
