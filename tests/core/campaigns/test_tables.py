"""CSV tables: configuration tables in, histories out and back in, errors naming the row and column."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from stratus.campaigns import Observation, OptimizerSpec, history_csv, read_history_csv, read_rows_csv
from stratus.campaigns.tables import MAX_CSV_CHARS, MAX_HISTORY_ROWS
from stratus.errors import InvalidInputError, PayloadTooLargeError

SPACE = {"x": {"low": -5, "high": 10}, "mode": {"choices": ["fast", "007", True]}}


def spec(**fields: Any) -> OptimizerSpec:
    base = {"kind": "bayesian", "search_space": SPACE, "objectives": [{"name": "loss"}], "budget": 5}
    return OptimizerSpec.model_validate(base | fields)


def trial(number: int, status: str, parameters: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"trial": number, "status": status, "parameters": parameters, **fields}


def test_read_rows_csv_types_values_by_their_look() -> None:
    text = "\ufeffn,rate,mode,flag,label\n3,0.5,fast,true,\n-2,1e-3,slow,FALSE,a b\n"

    rows = read_rows_csv(text)

    assert rows == [
        {"n": 3, "rate": 0.5, "mode": "fast", "flag": True},
        {"n": -2, "rate": 0.001, "mode": "slow", "flag": False, "label": "a b"},
    ]


def test_read_rows_csv_types_values_by_the_parameter_schema(schema: dict[str, Any]) -> None:
    text = 'n,mode,flag,label,sizes\n3,007,yes,12,"[1, 2]"\n\n4,fast,0,x,[]\n'

    rows = read_rows_csv(text, schema)

    assert rows == [
        {"n": 3, "mode": "007", "flag": True, "label": "12", "sizes": [1, 2]},
        {"n": 4, "mode": "fast", "flag": False, "label": "x", "sizes": []},
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("n,,m\n1,2,3\n", "row 1, column 2: the column has no name"),
        ("n,n\n1,2\n", "column 'n' appears twice"),
        ("n\n", "no rows"),
        ("n,mode\n1,fast\n2,slow,extra\n", "row 3 has 3 cells"),
        ('n\n"1\n', "malformed"),
    ],
)
def test_read_rows_csv_refuses_a_malformed_table(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment):
        read_rows_csv(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("n,what\n1,2\n", "column 'what': the algorithm has no such parameter"),
        ("n\n1\nmany\n", "row 3, column 'n': expected a number, got 'many'"),
        ("flag\nmaybe\n", "row 2, column 'flag': expected true or false"),
        ("sizes\n1;2\n", "row 2, column 'sizes': expected a JSON list"),
    ],
)
def test_read_rows_csv_names_the_row_and_column_of_a_bad_value(
    schema: dict[str, Any], text: str, fragment: str
) -> None:
    with pytest.raises(InvalidInputError, match=fragment.replace("(", r"\(")):
        read_rows_csv(text, schema)


def test_read_rows_csv_refuses_an_oversized_table() -> None:
    with pytest.raises(PayloadTooLargeError):
        read_rows_csv("n\n" + "1\n" * (MAX_CSV_CHARS // 2))


def test_history_csv_has_fixed_parameter_kpi_and_trailing_columns() -> None:
    trials = [
        trial(1, "COMPLETED", {"x": 1.5, "mode": "007"}, kpis={"time": 2.0, "loss": 0.25}, execution_id="e1"),
        trial(2, "FAILED", {"x": -1.0, "mode": True}, error={"type": "RuntimeError", "message": "boom"}),
        trial(3, "RUNNING", {"x": 2.0, "mode": "fast"}, started_at=0.0, workflow_id="w3"),
    ]

    rows = list(csv.reader(io.StringIO(history_csv(spec(), trials))))

    assert rows[0] == [
        "trial",
        "status",
        "x",
        "mode",
        "loss",
        "time",
        "execution_id",
        "workflow_id",
        "error",
        "started_at",
        "ended_at",
    ]
    assert rows[1] == ["1", "COMPLETED", "1.5", "007", "0.25", "2.0", "e1", "", "", "", ""]
    assert rows[2][:4] == ["2", "FAILED", "-1.0", "true"] and rows[2][8] == "RuntimeError: boom"
    assert rows[3][7] == "w3" and rows[3][9] == "1970-01-01T00:00:00+00:00"


def test_history_csv_prefixes_a_kpi_named_like_a_parameter() -> None:
    trials = [trial(1, "COMPLETED", {"x": 1.0, "mode": "fast"}, kpis={"loss": 1.0, "x": 3.0})]

    header = history_csv(spec(), trials).splitlines()[0]

    assert header.split(",")[2:6] == ["x", "mode", "loss", "kpi:x"]


def test_history_csv_round_trips_through_read_history_csv() -> None:
    optimizer_spec = spec()
    trials = [
        trial(1, "COMPLETED", {"x": 1.5, "mode": "007"}, kpis={"loss": 0.25, "time": 2.0}),
        trial(2, "FAILED", {"x": -1.0, "mode": True}, error="boom"),
        trial(3, "STOPPED", {"x": 9.75, "mode": "fast"}),
        trial(4, "COMPLETED", {"x": 0.1, "mode": "fast"}, kpis={"loss": -3e-9}),
        trial(5, "RUNNING", {"x": 2.0, "mode": "fast"}),
    ]

    observations = read_history_csv(history_csv(optimizer_spec, trials), optimizer_spec)

    assert observations == [
        Observation(parameters={"x": 1.5, "mode": "007"}, values=[0.25], status="COMPLETED", warm_start=True),
        Observation(parameters={"x": -1.0, "mode": True}, status="FAILED", warm_start=True),
        Observation(parameters={"x": 9.75, "mode": "fast"}, status="FAILED", warm_start=True),
        Observation(
            parameters={"x": 0.1, "mode": "fast"}, values=[-3e-9], status="COMPLETED", warm_start=True
        ),
    ]
    assert isinstance(observations[0].parameters["mode"], str)


def test_read_history_csv_takes_a_file_without_status_column_or_trailing_cells() -> None:
    text = "x,mode,loss,notes\n1,fast,0.5\n\n2,fast,,no result\n"

    observations = read_history_csv(text, spec())

    assert [(o.parameters, o.values, o.status) for o in observations] == [
        ({"x": 1, "mode": "fast"}, [0.5], "COMPLETED"),
        ({"x": 2, "mode": "fast"}, None, "FAILED"),
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("x,loss\n1,2\n", "row 1: the history has no column 'mode'"),
        ("x,mode,loss\n\n1,fast,low\n", "row 3, column 'loss': expected a number, got 'low'"),
        ("x,mode,loss,status\n1,fast,,COMPLETED\n", "row 2: a COMPLETED row needs a value"),
        ("x,mode,loss,status\n1,fast,1,LOST\n", "row 2, column 'status': unknown status 'LOST'"),
    ],
)
def test_read_history_csv_names_the_row_and_column_of_an_error(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment):
        read_history_csv(text, spec())


def test_read_history_csv_refuses_too_many_rows() -> None:
    text = "x,mode,loss\n" + "1,fast,1\n" * (MAX_HISTORY_ROWS + 1)

    with pytest.raises(PayloadTooLargeError, match=f"more than {MAX_HISTORY_ROWS} rows"):
        read_history_csv(text, spec())
