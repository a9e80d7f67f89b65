"""Writing typed tables as HDF5: one compound dataset per table, a field per column."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from stratus.models.files import FileFormat
    from stratus.tables.columns import Column
    from stratus.tables.raw import RawTable


def write_tables(
    tables: Sequence[tuple[RawTable, list[Column]]], source_format: FileFormat, source_name: str | None
) -> bytes:
    """HDF5 bytes holding each table as a 1-D compound dataset named after it (text as UTF-8 strings),
    with attributes naming the format and file it came from."""
    import h5py
    import numpy as np

    buffer = io.BytesIO()
    # Tracked creation order: iterating the file gives the tables in the source's order (XLSX sheets).
    with h5py.File(buffer, "w", track_order=True) as handle:
        for table, columns in tables:
            fields = [(c.name, h5py.string_dtype("utf-8") if c.text else c.values.dtype) for c in columns]
            data = np.empty(len(table.rows), dtype=np.dtype(fields))
            for column in columns:
                data[column.name] = column.values
            dataset = handle.create_dataset(table.name, data=data)
            dataset.attrs["source_format"] = source_format.value
            if source_name:
                dataset.attrs["source_name"] = source_name
    return buffer.getvalue()
