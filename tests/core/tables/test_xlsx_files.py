"""XLSX uploads: a dataset per sheet with data, rows as Excel numbers them, columns by letter."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import openpyxl
import pytest
from stratus.errors import InvalidInputError
from stratus.models.files import FileFormat
from stratus.tables import to_hdf5

from tests.core.tables.readback import attributes, read_back, workbook


def _refusal(data: bytes) -> str:
    with pytest.raises(InvalidInputError) as raised:
        to_hdf5(data, FileFormat.XLSX, "book.xlsx")
    return raised.value.detail


def test_read_xlsx_makes_a_dataset_per_sheet_with_typed_columns() -> None:
    book = workbook(
        {
            "Prices": [["sku", "price", "on sale"], ["a", 1.5, True], ["b", 2, False]],
            "Stock": [["sku", "n", "counted"], ["a", 3, datetime(2024, 5, 1, 8, 30)]],
        }
    )

    data = to_hdf5(book, FileFormat.XLSX, "inventory.xlsx")
    tables = read_back(data)

    assert tables["Prices"].tolist() == [("a", 1.5, True), ("b", 2.0, False)]
    assert tables["Stock"].tolist() == [("a", 3, "2024-05-01T08:30:00")]
    assert attributes(data, "Stock") == {"source_format": "xlsx", "source_name": "inventory.xlsx"}


def test_read_xlsx_skips_empty_sheets_rows_and_leading_rows() -> None:
    book = workbook({"Notes": [], "Data": [[], [None, None], ["a", "b"], [1, 2], [], [3, None]]})

    tables = read_back(to_hdf5(book, FileFormat.XLSX, None))

    assert list(tables) == ["Data"]
    assert tables["Data"]["a"].tolist() == [1, 3]
    assert tables["Data"]["b"][0] == 2.0


def test_read_xlsx_takes_the_values_formulas_were_saved_with() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "S"
    sheet.append(["a", "b"])
    sheet.append([1, "=A2*2"])
    buffer = io.BytesIO()
    book.save(buffer)

    table = read_back(to_hdf5(buffer.getvalue(), FileFormat.XLSX, None))["S"]

    # openpyxl saves no cached value, so the formula's cell reads as empty (Excel would have saved 2).
    assert table["b"].tolist() == [""]


@pytest.mark.parametrize(
    ("sheets", "message"),
    [
        (
            {"S": [["id", "price"], [1, 2.5], [2, "abc"]]},
            "sheet 'S', row 3, column 'price': expected a number, got 'abc'",
        ),
        ({"S": [["a", "a"], [1, 2]]}, "sheet 'S', row 1, column B: column 'a' appears twice in the header"),
        (
            {"S": [[], ["a", None, "c"], [1, 2, 3]]},
            "sheet 'S', row 2, column B: the column has no name; name every column in the header",
        ),
        (
            {"S": [["a", "b"], [1, 2, None, 4]]},
            "sheet 'S', row 2, column D: a value right of the header's last column (B); name the column in "
            "row 1 or clear the cell",
        ),
        (
            {"S": [["a", "b"]]},
            "sheet 'S': the table has no rows below its header (row 1); a table needs at least one",
        ),
        ({"S": [], "T": []}, "the workbook has no sheet with data"),
    ],
)
def test_read_xlsx_refuses_a_malformed_sheet_naming_sheet_row_and_column(
    sheets: dict[str, list[list[object]]], message: str
) -> None:
    assert _refusal(workbook(sheets)) == message


@pytest.mark.parametrize(
    "data", [b"", b"plain text", b"PK\x03\x04 a broken zip"], ids=["empty", "text", "broken-zip"]
)
def test_read_xlsx_refuses_what_is_not_a_workbook(data: bytes) -> None:
    assert "XLSX workbook" in _refusal(data)


def test_read_xlsx_refuses_a_zip_that_is_not_a_workbook() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")

    assert _refusal(buffer.getvalue()).startswith("the file is not a valid XLSX workbook")


def test_read_xlsx_refuses_xml_entities() -> None:
    book = workbook({"S": [["a"], [1]]})
    entities = b'<!DOCTYPE worksheet [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(book)) as source, zipfile.ZipFile(buffer, "w") as target:
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename == "xl/worksheets/sheet1.xml":
                content = entities + content.split(b"?>", 1)[-1]
            target.writestr(entry, content)

    assert _refusal(buffer.getvalue()).startswith("the file is not a valid XLSX workbook")
