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

if TYPE_CHECKING:
    from stratus.algorithms.runtime.io_schemas import DataSchema


def read_record(source: bytes | Path, schema: type[DataSchema], keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read one HDF5 file into a validated dict of the schema's fields; with `keys`, only those (missing
    ones None). Raises pydantic's ValidationError when the file does not fit the schema."""
    handle = h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
    with handle:
        if keys:
            raw = {key: _read_dataset(handle[key]) if key in handle else None for key in keys}
        else:
            # Groups are skipped: Compox's layout is flat, and only datasets map to fields.
            raw = {key: _read_dataset(item) for key, item in handle.items() if isinstance(item, h5py.Dataset)}
    fields = schema.model_fields
    record = {
        key: _fit(value, fields[key].annotation) if key in fields else value for key, value in raw.items()
    }
    return schema.model_validate(record).model_dump()


def write_record(record: Mapping[str, Any], schema: type[DataSchema]) -> bytes:
    """Validate one output dict against the schema and write it as an HDF5 file; None fields are left out."""
    values = schema.model_validate(dict(record)).model_dump()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
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
