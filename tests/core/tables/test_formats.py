"""Which format an upload is in, and what its single table is named."""

from __future__ import annotations

import pytest
from stratus.models.files import FileFormat
from stratus.tables import resolve_format, table_name


@pytest.mark.parametrize(
    ("requested", "name", "media_type", "expected"),
    [
        (FileFormat.JSON, "data.csv", "text/csv", FileFormat.JSON),
        (None, "data.bin", "text/csv; charset=utf-8", FileFormat.CSV),
        (None, "data.csv", "application/octet-stream", FileFormat.CSV),
        (None, "Book.XLSX", None, FileFormat.XLSX),
        (None, "rows.json", None, FileFormat.JSON),
        (None, "scan.h5", None, FileFormat.HDF5),
        (None, "scan.nxs", None, FileFormat.HDF5),
        (None, None, None, FileFormat.HDF5),
    ],
)
def test_resolve_format_prefers_the_request_then_content_type_then_extension(
    requested: FileFormat | None, name: str | None, media_type: str | None, expected: FileFormat
) -> None:
    assert resolve_format(requested, name, media_type) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("prices.csv", "prices"), ("a.b.json", "a.b"), (None, "table"), ("", "table"), ("..csv", "table")],
)
def test_table_name_is_the_name_stem_or_table(name: str | None, expected: str) -> None:
    assert table_name(name) == expected
