"""Which format an upload is in, decided once from what the request says, and what its table is named."""

from __future__ import annotations

from pathlib import PurePosixPath

from stratus.models.files import FileFormat

# A name's extension, lowercased; any other extension (.h5, .nxs, .dat, …) is HDF5, which ingestion checks.
EXTENSIONS: dict[str, FileFormat] = {
    ".csv": FileFormat.CSV,
    ".json": FileFormat.JSON,
    ".xlsx": FileFormat.XLSX,
}
# Content types a direct upload may declare for a table (the HDF5 ones are in api/bodies.py).
MEDIA_TYPES: dict[str, FileFormat] = {
    "text/csv": FileFormat.CSV,
    "application/csv": FileFormat.CSV,
    "application/json": FileFormat.JSON,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": FileFormat.XLSX,
}
# The dataset of a CSV (or a JSON array) uploaded without a name.
DEFAULT_TABLE_NAME = "table"


def resolve_format(
    requested: FileFormat | None, name: str | None, media_type: str | None = None
) -> FileFormat:
    """The format of an upload's bytes: ``format`` when the request gives it, else its table content type,
    else its name's extension, else HDF5."""
    if requested is not None:
        return requested
    declared = (media_type or "").split(";", 1)[0].strip().lower()
    if declared in MEDIA_TYPES:
        return MEDIA_TYPES[declared]
    suffix = PurePosixPath(name or "").suffix.lower()
    return EXTENSIONS.get(suffix, FileFormat.HDF5)


def is_table(file_format: FileFormat) -> bool:
    """Whether uploads of this format are converted to HDF5 at ingestion."""
    return file_format is not FileFormat.HDF5


def table_name(name: str | None) -> str:
    """The dataset a single-table upload becomes: its name's stem ("prices.csv" → "prices"), else "table"."""
    stem = PurePosixPath(name or "").stem
    return stem if stem not in {"", ".", ".."} else DEFAULT_TABLE_NAME
