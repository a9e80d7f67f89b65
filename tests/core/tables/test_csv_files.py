"""CSV uploads: one table named after the file, a header row, rows numbered as a spreadsheet shows them."""

from __future__ import annotations

import pytest
from stratus.errors import InvalidInputError
from stratus.models.files import FileFormat
from stratus.tables import to_hdf5
from stratus.tables.limits import MAX_COLUMNS, MAX_FIELD_CHARS

from tests.core.tables.readback import attributes, read_back


def _refusal(data: bytes) -> str:
    with pytest.raises(InvalidInputError) as raised:
        to_hdf5(data, FileFormat.CSV, "t.csv")
    return raised.value.detail


def test_read_csv_names_the_dataset_after_the_file_and_records_its_source() -> None:
    data = to_hdf5(b"a\n1\n", FileFormat.CSV, "prices.2024.csv")

    assert list(read_back(data)) == ["prices.2024"]
    assert attributes(data, "prices.2024") == {"source_format": "csv", "source_name": "prices.2024.csv"}


def test_read_csv_without_a_name_makes_a_dataset_named_table() -> None:
    data = to_hdf5(b"a\n1\n", FileFormat.CSV, None)

    assert list(read_back(data)) == ["table"]
    assert attributes(data, "table") == {"source_format": "csv"}


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_read_csv_takes_the_separator_its_header_uses(separator: str) -> None:
    text = separator.join(["a", "b"]) + "\n" + separator.join(["1", '"x, y"']) + "\n"

    table = read_back(to_hdf5(text.encode(), FileFormat.CSV, "t.csv"))["t"]

    assert table.tolist() == [(1, "x, y")]


def test_read_csv_reads_quotes_crlf_a_byte_order_mark_and_unicode() -> None:
    data = '\ufeffname,"Preis (€)"\r\n"Müller, A.",3.5\r\n'.encode()

    table = read_back(to_hdf5(data, FileFormat.CSV, "t.csv"))["t"]

    assert table.dtype.names == ("name", "Preis (€)")
    assert table.tolist() == [("Müller, A.", 3.5)]


def test_read_csv_skips_empty_rows_and_drops_a_trailing_separator() -> None:
    table = read_back(to_hdf5(b"\na,b\n1,2,\n\n,\n3,4\n", FileFormat.CSV, "t.csv"))["t"]

    assert table.tolist() == [(1, 2), (3, 4)]


def test_read_csv_counts_rows_as_records_across_quoted_line_breaks() -> None:
    message = _refusal(b'note,n\n"two\nlines",1\nx,oops\n')

    assert message == "row 3, column 'n': expected a number, got 'oops'"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty; a table needs a header row and at least one data row"),
        (b"\n \n", "the file is empty; a table needs a header row and at least one data row"),
        (b"a,b\n", "the table has no rows below its header (row 1); a table needs at least one"),
        (b"a,b\n1,2\n3\n", "row 3: 1 value, but the header names 2 columns"),
        (b"a,b\n1,2,3\n", "row 2: 3 values, but the header names 2 columns"),
        (b"a,a\n1,2\n", "row 1, column 2: column 'a' appears twice in the header"),
        (b"a,,c\n1,2,3\n", "row 1, column 2: the column has no name; name every column in the header"),
        (b'a,b\n"x"y,2\n', "row 2: ',' expected after '\"'"),
        (b"a\n1\n\xff\n", "row 3: the file is not UTF-8 text (byte 0xff); save it as CSV UTF-8"),
        (b"a\nx\x00y\n", "row 2, column 'a': the text holds a NUL character, which HDF5 strings cannot"),
        (f"{'n' * 129}\n1\n".encode(), "row 1, column 1: the column name is longer than 128 characters"),
    ],
)
def test_read_csv_refuses_a_malformed_table_naming_the_row(data: bytes, message: str) -> None:
    assert _refusal(data) == message


def test_read_csv_refuses_more_columns_than_the_limit() -> None:
    header = ",".join(f"c{index}" for index in range(MAX_COLUMNS + 1))

    message = _refusal(f"{header}\n".encode())

    assert message == f"row 1, column {MAX_COLUMNS + 1}: the table has {MAX_COLUMNS + 1} columns; at most 256"


def test_read_csv_takes_the_most_columns_the_limit_allows() -> None:
    header = ",".join(f"c{index:03d}_{'x' * 120}" for index in range(MAX_COLUMNS))
    row = ",".join(str(index) for index in range(MAX_COLUMNS))

    table = read_back(to_hdf5(f"{header}\n{row}\n".encode(), FileFormat.CSV, "t.csv"))["t"]

    assert len(table.dtype.names or ()) == MAX_COLUMNS


def test_read_csv_refuses_a_value_past_the_field_limit() -> None:
    message = _refusal(b"a\n1\n" + b"x" * (MAX_FIELD_CHARS + 1) + b"\n")

    assert message == f"row 3: a value is longer than {MAX_FIELD_CHARS} characters"
