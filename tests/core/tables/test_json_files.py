"""JSON uploads: an array of row objects, or an object of table name → array; rows counted from 1."""

from __future__ import annotations

import json
from typing import Any

import pytest
from stratus.errors import InvalidInputError
from stratus.models.files import FileFormat
from stratus.tables import to_hdf5
from stratus.tables.limits import MAX_TABLES

from tests.core.tables.readback import attributes, read_back


def _refusal(data: bytes) -> str:
    with pytest.raises(InvalidInputError) as raised:
        to_hdf5(data, FileFormat.JSON, "t.json")
    return raised.value.detail


def _dumped(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_read_json_array_is_one_table_named_after_the_file() -> None:
    data = to_hdf5(
        _dumped([{"sku": "a", "n": 1, "ok": True}, {"sku": "b", "n": 2, "ok": False}]),
        FileFormat.JSON,
        "stock.json",
    )

    tables = read_back(data)

    assert list(tables) == ["stock"]
    assert tables["stock"].tolist() == [("a", 1, True), ("b", 2, False)]
    assert attributes(data, "stock")["source_format"] == "json"


def test_read_json_object_makes_a_dataset_per_key() -> None:
    data = _dumped({"prices": [{"sku": "a", "price": 1.5}], "stock": [{"sku": "a", "n": 3}]})

    tables = read_back(to_hdf5(data, FileFormat.JSON, "all.json"))

    assert tables["prices"].tolist() == [("a", 1.5)]
    assert tables["stock"].tolist() == [("a", 3)]


def test_read_json_columns_are_keys_in_first_seen_order_and_missing_keys_are_empty() -> None:
    table = read_back(to_hdf5(_dumped([{"a": 1, "b": "x"}, {"c": 2.5, "a": 3}]), FileFormat.JSON, "t.json"))[
        "t"
    ]

    assert table.dtype.names == ("a", "b", "c")
    assert table["a"].tolist() == [1, 3]
    assert table["b"].tolist() == ["x", ""]
    assert table["c"][1] == 2.5


def test_read_json_keeps_strings_as_text_even_when_they_look_like_numbers() -> None:
    table = read_back(to_hdf5(_dumped([{"zip": "01234"}, {"zip": "99"}]), FileFormat.JSON, "t.json"))["t"]

    assert table["zip"].tolist() == ["01234", "99"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([{"n": 1}, {"n": "abc"}], "row 2, column 'n': expected a number, got 'abc'"),
        ([{"n": 1}, {"n": True}], "row 2, column 'n': expected a number, got true"),
        ([{"ok": True}, {"ok": None}], "row 2, column 'ok': expected true or false, got an empty cell"),
        (
            [{"n": {"x": 1}}],
            "row 1, column 'n': a nested object; cells hold a number, text, true, false or null",
        ),
        ([{"n": 1}, [1, 2]], "row 2: expected an object of column → value, got an array"),
        ({"t": [{"n": 1}, {"n": "x"}]}, "table 't', row 2, column 'n': expected a number, got 'x'"),
        ({"t": {"n": 1}}, "table 't': expected an array of row objects, got an object"),
        ({"a/b": [{"n": 1}]}, "table 'a/b': 'a/b' cannot name a dataset (no '/', not empty, '.' or '..')"),
        ({"t": []}, "table 't': the table has no rows; a table needs at least one"),
        ([{"": 1}], "key '': the column has no name; name every column in the header"),
        ([], "the table has no rows; a table needs at least one"),
        ([{}, {}], "the rows have no keys; a table needs at least one column"),
        ({}, "the object holds no tables; send an object of table name → array of rows"),
        (3, "the file holds the value 3; send an array of row objects, or an object of table name → array"),
    ],
)
def test_read_json_refuses_a_malformed_table_naming_table_row_and_column(value: Any, message: str) -> None:
    assert _refusal(_dumped(value)) == message


def test_read_json_refuses_text_that_is_not_json() -> None:
    assert (
        _refusal(b'[{"a": 1},') == "the file is not valid JSON (Expecting value: line 1 column 11 (char 10))"
    )


def test_read_json_refuses_a_lone_surrogate() -> None:
    message = _refusal(b'[{"a": "\\ud800"}]')

    assert message.startswith("row 1, column 'a': the text is not valid Unicode")


def test_read_json_refuses_nesting_deeper_than_the_parser_goes() -> None:
    assert _refusal(b"[" * 100_000 + b"]" * 100_000).startswith("the file is not valid JSON")


def test_read_json_refuses_more_tables_than_the_limit() -> None:
    value = {f"t{index}": [{"n": 1}] for index in range(MAX_TABLES + 1)}

    assert _refusal(_dumped(value)) == f"the object holds {MAX_TABLES + 1} tables; at most {MAX_TABLES}"
