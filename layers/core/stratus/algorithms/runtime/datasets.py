"""Compox's HDF5 layout: one top-level dataset per schema field, strings as UTF-8, no attributes."""

from __future__ import annotations

import io
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_origin

import h5py
import numpy as np
from pydantic import ValidationError

from stratus import hdf5
from stratus.errors import InvalidInputError

if TYPE_CHECKING:
    from stratus.algorithms.runtime.io_schemas import DataSchema

# How many of pydantic's complaints an input error spells out.
MAX_REPORTED_PROBLEMS = 3


class InputDataError(InvalidInputError, ValueError):
    """An input file does not hold what the runner asked for: a dataset is missing, unreadable, or of a
    type or shape its schema refuses. A ValueError as pydantic's ValidationError (what Compox raises) is,
    so runners that catch that keep working."""

    code = "invalid_input_data"


def read_record(
    source: bytes | Path, schema: type[DataSchema], keys: tuple[str, ...] = (), *, name: str | None = None
) -> dict[str, Any]:
    """Read one HDF5 file into a validated dict of the schema's fields; with `keys`, only those (missing
    ones None). Raises InputDataError naming the file (``name``, else the path's name), the dataset and
    what the file holds when it does not fit the schema."""
    label = name or (source.name if isinstance(source, Path) else "the input file")
    with hdf5.open_file(source) as handle:
        top = {key: item for key, item in handle.items() if isinstance(item, h5py.Dataset)}
        fields = schema.model_fields
        required = [key for key in keys or fields if key in fields and fields[key].is_required()]
        missing = [key for key in required if key not in top]
        if missing:
            raise InputDataError(
                f"input file {label!r} has no dataset {missing[0]!r} (it holds: {_holdings(handle)})"
            )
        # Groups are skipped: Compox's layout is flat, and only datasets map to fields.
        raw = {key: _read(top[key], label) if key in top else None for key in keys or top}
        try:
            record = {
                key: _fit(value, fields[key].annotation) if key in fields else value
                for key, value in raw.items()
            }
            return schema.model_validate(record).model_dump()
        except ValidationError as exc:
            raise InputDataError(
                f"input file {label!r} does not fit {schema.__name__}: {_problems(exc)} "
                f"(it holds: {_holdings(handle)})"
            ) from exc


def _read(dataset: h5py.Dataset, label: str) -> Any:
    try:
        return _read_dataset(dataset)
    except OSError as exc:
        # Typically a filter HDF5 does not have: the worker registers hdf5plugin's, not every filter.
        unavailable = hdf5.unavailable_filters(dataset)
        reason = (
            f"it is compressed with {', '.join(unavailable)}, which the worker cannot decode"
            if unavailable
            else (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        )
        raise InputDataError(
            f"dataset {dataset.name!r} of input file {label!r} cannot be read: {reason}"
        ) from exc


def _holdings(handle: h5py.File) -> str:
    return hdf5.summarize(hdf5.list_datasets(handle))


def _problems(exc: ValidationError) -> str:
    """pydantic's complaints, each naming its dataset: "dataset 'image': Image must be 2D …"."""
    problems = []
    for error in exc.errors()[:MAX_REPORTED_PROBLEMS]:
        field, *rest = error["loc"] or ("?",)
        where = f"dataset {field!r}" + "".join(f"[{part}]" for part in rest)
        message = error["msg"].removeprefix("Value error, ").rstrip(".")
        if error["type"] == "missing":
            message = "missing"
        elif error["type"] == "is_instance_of":
            message = f"should be an array, not {type(error['input']).__name__}"
        problems.append(f"{where}: {message}")
    more = len(exc.errors()) - MAX_REPORTED_PROBLEMS
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


def write_record(record: Mapping[str, Any], schema: type[DataSchema]) -> bytes:
    """Validate one output dict against the schema and write it as an HDF5 file; None fields are left out."""
    values = schema.model_validate(dict(record)).model_dump()
    buffer = io.BytesIO()
    with hdf5.open_file(buffer, "w") as handle:
        for key, value in values.items():
            if value is not None:
                _write_dataset(handle, key, value)
    return buffer.getvalue()


def _read_dataset(dataset: h5py.Dataset) -> Any:
    if h5py.check_string_dtype(dataset.dtype) is not None:
        value = dataset.asstr()[()]
        return value.tolist() if isinstance(value, np.ndarray) else value
    value = dataset[()]
    return value.decode("utf-8") if isinstance(value, bytes | np.bytes_) else value


def _write_dataset(handle: h5py.File, key: str, value: Any) -> None:
    strings = h5py.string_dtype(encoding="utf-8")
    if isinstance(value, str):
        handle.create_dataset(key, data=np.array(value, dtype=object), dtype=strings)
    elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        # As Compox: an empty list is written as an empty string dataset.
        handle.create_dataset(key, data=np.asarray(value, dtype=object), dtype=strings)
    elif isinstance(value, np.ndarray) and value.dtype.kind in {"U", "S"}:
        handle.create_dataset(key, data=value.astype(object), dtype=strings)
    else:
        handle.create_dataset(key, data=value)


def _fit(value: Any, annotation: Any) -> Any:
    # A list of arrays is stored stacked, and a tuple as an array; give the schema back the shape it declares.
    if not isinstance(value, np.ndarray):
        return value
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _fit(value, members[0]) if len(members) == 1 else value
    if origin is tuple or annotation is tuple:
        return tuple(value.tolist())
    if origin is list:
        (item,) = get_args(annotation) or (Any,)
        return list(value) if item is np.ndarray else value.tolist()
    return value
