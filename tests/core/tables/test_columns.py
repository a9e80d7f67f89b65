"""Column typing through the converter: int64, float64, bool or text, decided by a column's first value."""

from __future__ import annotations

import math

import numpy as np
import pytest
from stratus.errors import InvalidInputError
from stratus.models.files import FileFormat
from stratus.tables import to_hdf5

from tests.core.tables.readback import read_back


def _csv(text: str) -> np.ndarray:
    return read_back(to_hdf5(text.encode(), FileFormat.CSV, "t.csv"))["t"]


def test_columns_get_int_float_bool_and_text_types() -> None:
    table = _csv("n,x,ok,label\n1,1.5,true,a\n-2,2e3,FALSE,b c\n")

    assert table.dtype.names == ("n", "x", "ok", "label")
    assert [table.dtype[name].kind for name in table.dtype.names] == ["i", "f", "b", "O"]
    assert table["n"].tolist() == [1, -2]
    assert table["x"].tolist() == [1.5, 2000.0]
    assert table["ok"].tolist() == [True, False]
    assert table["label"].tolist() == ["a", "b c"]


def test_columns_whole_numbers_with_an_empty_cell_widen_to_float_with_nan() -> None:
    table = _csv("id,n\na,1\nb,\nc,3\n")

    assert table.dtype["n"] == np.float64
    assert table["n"][0] == 1.0 and math.isnan(table["n"][1]) and table["n"][2] == 3.0


def test_columns_mixed_whole_and_decimal_numbers_are_float() -> None:
    table = _csv("n\n1\n2.5\n")

    assert table.dtype["n"] == np.float64
    assert table["n"].tolist() == [1.0, 2.5]


def test_columns_whole_numbers_past_int64_are_float() -> None:
    table = _csv(f"n\n1\n{2**64}\n")

    assert table.dtype["n"] == np.float64
    assert table["n"][1] == float(2**64)


def test_columns_first_value_with_a_leading_zero_makes_text() -> None:
    table = _csv("code\n007\n12\nA3\n")

    assert table["code"].tolist() == ["007", "12", "A3"]


def test_columns_text_keeps_numbers_as_written_and_empty_cells_as_empty_text() -> None:
    table = _csv("id,label\n1,abc\n2, 1.50\n3,\n")

    assert table["label"].tolist() == ["abc", " 1.50", ""]


def test_columns_of_empty_cells_only_are_text() -> None:
    table = _csv("a,b\n1,\n2,\n")

    assert table["b"].tolist() == ["", ""]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,price\n1,2.5\n2,abc\n", "row 3, column 'price': expected a number, got 'abc'"),
        ("id,price\n1,2.5\n2,true\n", "row 3, column 'price': expected a number, got 'true'"),
        ("id,ok\n1,true\n2,yes\n", "row 3, column 'ok': expected true or false, got 'yes'"),
        ("id,ok\n1,true\n2,\n", "row 3, column 'ok': expected true or false, got an empty cell"),
        ("id,ok\n1,false\n2,1\n", "row 3, column 'ok': expected true or false, got '1'"),
    ],
)
def test_columns_refuse_a_cell_that_does_not_fit_naming_row_and_column(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        to_hdf5(text.encode(), FileFormat.CSV, "t.csv")

    assert raised.value.detail == message


def test_columns_quote_a_long_bad_value_shortened() -> None:
    with pytest.raises(InvalidInputError) as raised:
        to_hdf5(f"n\n1\n{'x' * 500}\n".encode(), FileFormat.CSV, None)

    assert raised.value.detail == f"row 3, column 'n': expected a number, got '{'x' * 39}…'"
