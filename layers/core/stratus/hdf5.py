"""HDF5 validation: does this data open as HDF5, with every object's header readable?"""

from __future__ import annotations

import io
from typing import IO, TYPE_CHECKING

from stratus.errors import InvalidInputError

if TYPE_CHECKING:
    import h5py


def validate_bytes(data: bytes) -> None:
    """Check in-memory bytes are a readable HDF5 file. Raises InvalidInputError."""
    if not data:
        raise InvalidInputError("the request body is empty; send the HDF5 file's bytes")
    validate_fileobj(io.BytesIO(data))


def validate_fileobj(fileobj: IO[bytes] | io.RawIOBase) -> None:
    """Check a seekable binary file is a readable HDF5 file. Raises InvalidInputError."""
    # Imported here: h5py with numpy is ~100 ms, and only uploads need it, not every API cold start.
    import h5py

    try:
        with h5py.File(fileobj, "r") as handle:
            # Opening checks the superblock and end-of-file address (catches truncation);
            # visiting reads every object header, so a file with broken metadata fails here too.
            handle.visititems(_touch)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise InvalidInputError(f"the provided file is not a valid HDF5 file ({_reason(exc)})") from exc


def _touch(_name: str, obj: h5py.HLObject) -> None:
    import h5py  # already imported by validate_fileobj, the only caller

    if isinstance(obj, h5py.Dataset):
        _ = obj.shape, obj.dtype


def _reason(exc: BaseException) -> str:
    # h5py's messages carry the C library's error stack; the first line is the useful part.
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
