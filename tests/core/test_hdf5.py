"""HDF5 validation from memory and from a seekable file."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from stratus import hdf5
from stratus.errors import InvalidInputError


def test_validate_bytes_accepts_real_hdf5(hdf5_file: Callable[..., bytes]) -> None:
    hdf5.validate_bytes(hdf5_file(10_000))


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty"),
        (b"not an hdf5 file at all", "signature"),
        (b"\x89HDF\r\n\x1a\n" + b"\x00" * 40, "not a valid HDF5"),
    ],
)
def test_validate_bytes_rejects_non_hdf5(body: bytes, fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment):
        hdf5.validate_bytes(body)


def test_validate_bytes_rejects_truncated_file(hdf5_file: Callable[..., bytes]) -> None:
    data = hdf5_file(100_000)

    with pytest.raises(InvalidInputError, match="truncated"):
        hdf5.validate_bytes(data[: len(data) // 2])


def test_validate_fileobj_reads_seekable_stream(hdf5_file: Callable[..., bytes]) -> None:
    hdf5.validate_fileobj(io.BytesIO(hdf5_file(50_000)))
