"""Tabular uploads (CSV, JSON, XLSX) become HDF5 at ingestion: a compound dataset per table, typed columns."""

from stratus.tables.convert import to_hdf5
from stratus.tables.formats import MEDIA_TYPES, is_table, resolve_format, table_name
from stratus.tables.limits import MAX_TABLE_BYTES, check_size

__all__ = [
    "MAX_TABLE_BYTES",
    "MEDIA_TYPES",
    "check_size",
    "is_table",
    "resolve_format",
    "table_name",
    "to_hdf5",
]
