"""The bounds on a table upload: bytes, cells, rows, unpacked workbook size, each a clear refusal."""

from __future__ import annotations

import io
import zipfile

import pytest
from stratus.errors import InvalidInputError
from stratus.models.files import FileFormat
from stratus.tables import limits, to_hdf5

from tests.core.tables.readback import workbook


def _refusal(data: bytes, file_format: FileFormat) -> str:
    with pytest.raises(InvalidInputError) as raised:
        to_hdf5(data, file_format, "t")
    return raised.value.detail


@pytest.mark.parametrize("file_format", [FileFormat.CSV, FileFormat.JSON, FileFormat.XLSX])
def test_limits_refuse_bytes_over_the_formats_size(file_format: FileFormat) -> None:
    limit = limits.MAX_TABLE_BYTES[file_format]

    message = _refusal(b" " * (limit + 1), file_format)

    assert message == f"the file is {limit + 1} bytes; {file_format.name} uploads take at most {limit} bytes"


def test_limits_refuse_more_cells_than_an_upload_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_CELLS", 9)

    message = _refusal(b"a,b\n" + b"1,2\n" * 5, FileFormat.CSV)

    assert message == "row 5: the upload holds more than 9 cells, the most one takes"


def test_limits_count_cells_of_every_sheet_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_CELLS", 7)
    book = workbook({"A": [["a", "b"], [1, 2]], "B": [["c", "d"], [3, 4], [5, 6]]})

    message = _refusal(book, FileFormat.XLSX)

    assert message == "sheet 'B', row 2: the upload holds more than 7 cells, the most one takes"


def test_limits_refuse_more_rows_than_a_table_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_ROWS", 3)

    message = _refusal(b'[{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]', FileFormat.JSON)

    assert message == "the table has more than 3 rows, the most one takes"


def test_limits_refuse_a_workbook_that_unpacks_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_XLSX_UNPACKED_BYTES", 1024)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b" " * 4096)

    message = _refusal(buffer.getvalue(), FileFormat.XLSX)

    assert message == "the workbook unpacks to 4096 bytes; at most 1024 are read"


def test_limits_refuse_shared_strings_past_their_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_XLSX_SHARED_STRINGS_BYTES", 1024)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b" " * 2048)

    message = _refusal(buffer.getvalue(), FileFormat.XLSX)

    assert message == "the workbook's shared strings unpack to 2048 bytes; at most 1024 are read"
