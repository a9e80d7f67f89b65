"""CSV in and out: configuration tables (rows of parameter values) and trial histories (warm starts)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stratus.campaigns.space import MAX_TABLE_ROWS, ChoiceSpec, Observation, ValuesSpec
from stratus.errors import InvalidInputError, PayloadTooLargeError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from stratus.campaigns.space import OptimizerSpec, ParameterSpec, TrialStatus

# Against abuse: a history of every trial of a long campaign fits in well under this.
MAX_CSV_CHARS = 2 * 1024 * 1024
MAX_HISTORY_ROWS = 10_000
MAX_COLUMNS = 256
FIXED_COLUMNS = ("trial", "status")
TRAILING_COLUMNS = ("execution_id", "workflow_id", "error", "started_at", "ended_at")
# A KPI that shares a parameter's or a fixed column's name gets this prefix in the history file.
KPI_PREFIX = "kpi:"
INTEGER = re.compile(r"^[+-]?\d+$")
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})
# A history row's status: what a warm start learns from it (other statuses carry no result).
HISTORY_STATUSES: dict[str, TrialStatus] = {
    "COMPLETED": "COMPLETED",
    "FAILED": "FAILED",
    "STOPPED": "FAILED",
}


def _table(text: str, max_rows: int) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and (row number, cell of every column) of each non-blank row after it; the header is
    row 1, as a spreadsheet numbers it. Raises InvalidInputError, PayloadTooLargeError."""
    if len(text) > MAX_CSV_CHARS:
        raise PayloadTooLargeError(f"the CSV has {len(text)} characters, more than {MAX_CSV_CHARS}")
    # strict: a stray or unclosed quote is an error, not a guess. Spreadsheets write a BOM.
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")), strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
        _check_header(header)
        return header, list(_rows(reader, header, max_rows))
    except csv.Error as exc:
        raise InvalidInputError(f"the CSV is malformed near line {reader.line_num}: {exc}") from exc


def _rows(
    reader: Iterator[list[str]], header: list[str], max_rows: int
) -> Iterator[tuple[int, dict[str, str]]]:
    count = 0
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        count += 1
        if count > max_rows:
            raise PayloadTooLargeError(f"the CSV has more than {max_rows} rows")
        if len(cells) > len(header):
            raise InvalidInputError(f"row {number} has {len(cells)} cells, the header {len(header)}")
        # A spreadsheet leaves a row's empty trailing cells out.
        yield number, dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=True))


def _check_header(header: list[str]) -> None:
    if not header:
        raise InvalidInputError("the CSV is empty: row 1 must name the columns")
    if len(header) > MAX_COLUMNS:
        raise InvalidInputError(f"the CSV has {len(header)} columns, more than {MAX_COLUMNS}")
    for index, name in enumerate(header):
        if not name:
            raise InvalidInputError(f"row 1, column {index + 1}: the column has no name")
        if name in header[:index]:
            raise InvalidInputError(f"row 1: column {name!r} appears twice")


def guess_value(cell: str) -> Any:
    """A cell's value by its look: true/false, an int, a finite float, else the text; None when empty."""
    text = cell.strip()
    if not text:
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if INTEGER.match(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return cell
    return number if math.isfinite(number) else cell


def _typed_value(cell: str, prop: dict[str, Any]) -> Any:
    """A cell read as the parameter's JSON-schema type says. Raises ValueError."""
    text = cell.strip()
    kind = prop.get("type")
    if kind == "string":
        return cell
    if kind == "boolean":
        if text.lower() in TRUE_WORDS | FALSE_WORDS:
            return text.lower() in TRUE_WORDS
        raise ValueError(f"expected true or false, got {cell!r}")
    if kind in ("integer", "number"):
        value = guess_value(text)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {cell!r}")
        return value
    if kind == "array":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"expected a JSON list such as [1, 2], got {cell!r}") from exc
        if not isinstance(value, list):
            raise ValueError(f"expected a JSON list such as [1, 2], got {cell!r}")
        return value
    return guess_value(cell)


def read_rows_csv(text: str, parameter_schema: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A configuration table: row 1 names parameters, each further row is one trial's values (an empty
    cell leaves the parameter at the algorithm's default). With ``parameter_schema`` each column is read
    as its parameter's type (a string parameter's "007" stays text) and unknown columns are refused;
    without it, values are typed by their look. check_spec checks the values themselves.

    Raises InvalidInputError naming the row and column, PayloadTooLargeError."""
    properties = None if parameter_schema is None else parameter_schema.get("properties", {})
    header, records = _table(text, MAX_TABLE_ROWS)
    unknown = [column for column in header if properties is not None and column not in properties]
    if properties is not None and unknown:
        raise InvalidInputError(
            f"column {unknown[0]!r}: the algorithm has no such parameter; it has {sorted(properties)}"
        )
    rows: list[dict[str, Any]] = []
    for number, cells in records:
        row: dict[str, Any] = {}
        for column, cell in cells.items():
            if not cell.strip():
                continue
            try:
                typed = guess_value(cell) if properties is None else _typed_value(cell, properties[column])
            except ValueError as exc:
                raise InvalidInputError(f"row {number}, column {column!r}: {exc}") from exc
            row[column] = typed
        rows.append(row)
    if not rows:
        raise InvalidInputError("the configuration table has a header but no rows")
    return rows


def format_value(value: Any) -> str:
    """A value as a CSV cell that read_history_csv and spreadsheets read back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _time_cell(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat()
    if isinstance(value, datetime):
        return value.isoformat()
    return format_value(value)


def _error_cell(error: Any) -> str:
    if isinstance(error, dict):  # a JobError's shape
        return f"{error.get('type', 'Error')}: {error.get('message', '')}"
    return format_value(error)


def _kpi_columns(spec: OptimizerSpec, trials: list[dict[str, Any]], taken: set[str]) -> dict[str, str]:
    """KPI name → column, objectives first, then the others in the order first seen."""
    names = [objective.name for objective in spec.objectives]
    names += [name for trial in trials for name in trial.get("kpis") or {}]
    return {name: (KPI_PREFIX + name if name in taken else name) for name in dict.fromkeys(names)}


def history_csv(spec: OptimizerSpec, trials: list[dict[str, Any]]) -> str:
    """Every trial as CSV: trial, status, one column per parameter, one per KPI seen (objectives first),
    execution_id, workflow_id (a workflow campaign's), error, started_at, ended_at (ISO 8601). ``trials``:
    dicts with `trial` (its number), `status`, `parameters`, `kpis` (name → value), `execution_id`,
    `workflow_id`, `error`, `started_at`, `ended_at` (epoch seconds or datetimes)."""
    parameters = list(dict.fromkeys([*spec.parameter_names, *(n for t in trials for n in t["parameters"])]))
    kpi_columns = _kpi_columns(spec, trials, {*parameters, *FIXED_COLUMNS, *TRAILING_COLUMNS})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*FIXED_COLUMNS, *parameters, *kpi_columns.values(), *TRAILING_COLUMNS])
    for trial in trials:
        kpis = trial.get("kpis") or {}
        writer.writerow(
            [
                format_value(trial.get("trial")),
                format_value(trial.get("status")),
                *(format_value(trial["parameters"].get(name)) for name in parameters),
                *(format_value(kpis.get(name)) for name in kpi_columns),
                format_value(trial.get("execution_id")),
                format_value(trial.get("workflow_id")),
                _error_cell(trial.get("error")),
                _time_cell(trial.get("started_at")),
                _time_cell(trial.get("ended_at")),
            ]
        )
    return buffer.getvalue()


def _parameter_value(cell: str, parameter: ParameterSpec | None) -> Any:
    # A choice is matched by its text first, so "1" of a string choice stays a string.
    if isinstance(parameter, ChoiceSpec | ValuesSpec):
        options = parameter.choices if isinstance(parameter, ChoiceSpec) else parameter.values
        for option in options:
            if format_value(option) == cell.strip():
                return option
    return guess_value(cell)


def _objective_values(spec: OptimizerSpec, number: int, cells: dict[str, str]) -> list[float] | None:
    values: list[float] = []
    for objective in spec.objectives:
        cell = cells.get(objective.name, "").strip()
        if not cell:
            return None
        value = guess_value(cell)
        if isinstance(value, bool) or not isinstance(value, int | float):
            where = f"row {number}, column {objective.name!r}"
            raise InvalidInputError(f"{where}: expected a number, got {cell!r}")
        values.append(float(value))
    return values


def read_history_csv(text: str, spec: OptimizerSpec) -> list[Observation]:
    """Earlier results as warm-start observations: a column per parameter of ``spec`` and per objective
    (other columns are ignored); a `status` column, when there, keeps COMPLETED and FAILED (STOPPED as
    FAILED) rows; without it a row with every objective's value is COMPLETED, one without is FAILED.

    Raises InvalidInputError naming the row and column, PayloadTooLargeError."""
    names = spec.parameter_names
    header, records = _table(text, MAX_HISTORY_ROWS)
    missing = [name for name in [*names, *(o.name for o in spec.objectives)] if name not in header]
    if missing:
        raise InvalidInputError(f"row 1: the history has no column {missing[0]!r}")
    observations: list[Observation] = []
    for number, cells in records:
        values = _objective_values(spec, number, cells)
        status = _history_status(number, cells.get("status", ""), values)
        if status is None:
            continue
        parameters = {
            name: _parameter_value(cells[name], spec.search_space.get(name))
            for name in names
            if cells[name].strip()
        }
        observations.append(
            Observation(
                parameters=parameters,
                values=values if status == "COMPLETED" else None,
                status=status,
                warm_start=True,
            )
        )
    return observations


def _history_status(number: int, cell: str, values: list[float] | None) -> TrialStatus | None:
    """The row's status as a warm start takes it; None: a row without a result (PENDING, RUNNING)."""
    if not cell.strip():
        return "COMPLETED" if values is not None else "FAILED"
    status = HISTORY_STATUSES.get(cell.strip().upper())
    if status == "COMPLETED" and values is None:
        raise InvalidInputError(f"row {number}: a COMPLETED row needs a value in every objective's column")
    if status is None and cell.strip().upper() not in ("PENDING", "RUNNING"):
        raise InvalidInputError(f"row {number}, column 'status': unknown status {cell!r}")
    return status
