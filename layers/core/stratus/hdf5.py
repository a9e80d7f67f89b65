"""HDF5 in Stratus: validating uploads, describing what a file holds, and opening files to read their data
with every compression filter hdf5plugin provides."""

from __future__ import annotations

import io
import json
from typing import IO, TYPE_CHECKING, Any, Literal

from stratus.errors import InvalidInputError
from stratus.models.files import FileContents, HDF5Dataset

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    import h5py
    import numpy as np

# Filter ids as HDF5 registers them, named as people know them: HDF5's own (H5Zpublic.h), h5py's lzf,
# and hdf5plugin's (hdf5plugin.FILTERS; tests/core/test_hdf5.py keeps the two in step). Reading a
# file's headers needs none of the filters' code, so ingestion names them without hdf5plugin.
FILTER_NAMES: dict[int, str] = {
    1: "gzip",
    2: "shuffle",
    3: "fletcher32",
    4: "szip",
    5: "nbit",
    6: "scaleoffset",
    307: "bzip2",
    32000: "lzf",
    32001: "blosc",
    32004: "lz4",
    32008: "bitshuffle",
    32013: "zfp",
    32015: "zstd",
    32017: "sz",
    32018: "fcidecomp",
    32024: "sz3",
    32026: "blosc2",
    32028: "sperr",
}
# What ingestion records of a file's datasets: the file record is one DynamoDB item (at most 400 KB),
# so the list stops at this many datasets or this much JSON, whichever comes first.
MAX_LISTED_DATASETS = 256
MAX_LISTED_BYTES = 64 * 1024
# A compound dtype's description grows with its fields; this much of it is enough to recognise it.
MAX_DTYPE_CHARS = 120
# How many datasets an error message names before "… and N more".
MAX_NAMED_DATASETS = 8


def validate_bytes(data: bytes) -> FileContents:
    """Check in-memory bytes are a readable HDF5 file; returns what it holds. Raises InvalidInputError."""
    if not data:
        raise InvalidInputError("the request body is empty; send the HDF5 file's bytes")
    return validate_fileobj(io.BytesIO(data))


def validate_fileobj(fileobj: IO[bytes] | io.RawIOBase) -> FileContents:
    """Check a seekable binary file is a readable HDF5 file; returns what it holds. Raises
    InvalidInputError."""
    # Imported here: h5py with numpy is ~100 ms, and only uploads need it, not every API cold start.
    import h5py

    try:
        with h5py.File(fileobj, "r") as handle:
            # Opening checks the superblock and end-of-file address (catches truncation); listing
            # visits every object header, so a file with broken metadata fails here too.
            datasets = list_datasets(handle, limit=MAX_LISTED_DATASETS + 1)
    # TypeError: a datatype numpy has no equivalent for. The file is refused, never a server error.
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise InvalidInputError(f"the provided file is not a valid HDF5 file ({_reason(exc)})") from exc
    return _bounded(datasets)


def open_file(source: bytes | Path | IO[bytes], mode: Literal["r", "w"] = "r") -> h5py.File:
    """Open HDF5 to read or write data, with hdf5plugin's filters (Blosc, LZ4, Zstd, Bitshuffle, …)
    registered: the one way the runtime, the built-ins and uploaded algorithms open files."""
    import h5py
    import hdf5plugin  # noqa: F401  # importing it registers its filters with the HDF5 library, once

    return h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, mode)


def list_datasets(handle: h5py.Group, limit: int | None = None) -> list[HDF5Dataset]:
    """The datasets under ``handle`` (the first ``limit``), by path, read from the headers alone (no
    filter's code is needed). Every object header is read, listed or not."""
    import h5py

    found: list[HDF5Dataset] = []

    def visit(name: str, item: h5py.HLObject) -> None:
        if not isinstance(item, h5py.Dataset):
            return
        if limit is None or len(found) < limit:
            found.append(describe_dataset(item, f"/{name}"))
        else:
            _ = item.shape, item.dtype

    handle.visititems(visit)
    return found


def describe_dataset(dataset: h5py.Dataset, name: str | None = None) -> HDF5Dataset:
    """A dataset's path, shape, dtype, chunks and filter pipeline."""
    return HDF5Dataset(
        name=name or str(dataset.name),
        shape=None if dataset.shape is None else list(dataset.shape),
        dtype=dtype_name(dataset.dtype),
        chunks=None if dataset.chunks is None else list(dataset.chunks),
        filters=_filters(dataset),
    )


def dtype_name(dtype: np.dtype[Any]) -> str:
    """numpy's name for plain types (float32, uint8); "string" for text; bounded for compound types."""
    import h5py

    if h5py.check_string_dtype(dtype) is not None:
        return "string"
    if h5py.check_vlen_dtype(dtype) is not None:
        return "vlen"
    if h5py.check_ref_dtype(dtype) is not None:
        return "reference"
    text = _compound_name(dtype) if dtype.fields else dtype.name
    return text if len(text) <= MAX_DTYPE_CHARS else text[: MAX_DTYPE_CHARS - 1] + "…"


def _compound_name(dtype: np.dtype[Any]) -> str:
    """A compound type field by field (a table's columns): "compound(name string, price float64)"."""
    described = (f"{name} {_field_name(dtype[name])}" for name in dtype.names or ())
    return "compound(" + ", ".join(described) + ")"


def _field_name(dtype: np.dtype[Any]) -> str:
    if dtype.subdtype is not None:  # an array field: float32(3,)
        base, shape = dtype.subdtype
        return f"{dtype_name(base)}{tuple(shape)}"
    return dtype_name(dtype)


def summarize(datasets: Iterable[HDF5Dataset]) -> str:
    """Datasets as people read them: "/volume float32 (64, 64), /mask uint8 (64, 64)"."""
    listed = list(datasets)
    if not listed:
        return "no datasets"
    shown = [f"{d.name} {d.dtype} {_shape_text(d.shape)}" for d in listed[:MAX_NAMED_DATASETS]]
    more = len(listed) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _shape_text(shape: list[int] | None) -> str:
    if shape is None:
        return "(empty)"
    return str(tuple(shape))


def unavailable_filters(dataset: h5py.Dataset) -> list[str]:
    """The filters of a dataset's pipeline that this process's HDF5 library cannot run."""
    from h5py import h5z

    return [_filter_name(code) for code in _filter_codes(dataset) if not h5z.filter_avail(code)]


def _filters(dataset: h5py.Dataset) -> list[str]:
    return [_filter_name(code) for code in _filter_codes(dataset)]


def _filter_codes(dataset: h5py.Dataset) -> list[int]:
    plist = dataset.id.get_create_plist()
    return [int(plist.get_filter(index)[0]) for index in range(plist.get_nfilters())]


def _filter_name(code: int) -> str:
    return FILTER_NAMES.get(code, f"filter {code}")


def _bounded(datasets: list[HDF5Dataset]) -> FileContents:
    """The first datasets that fit the record's budget, and whether any were left out."""
    kept: list[HDF5Dataset] = []
    size = 0
    for dataset in datasets[:MAX_LISTED_DATASETS]:
        size += len(json.dumps(dataset.model_dump(mode="json")))
        if size > MAX_LISTED_BYTES:
            break
        kept.append(dataset)
    return FileContents(datasets=kept, truncated=len(kept) < len(datasets))


def _reason(exc: BaseException) -> str:
    # h5py's messages carry the C library's error stack; the first line is the useful part.
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
