"""Raw body checks shared by the upload and deploy routes."""

from __future__ import annotations

import pytest
from stratus.api.bodies import HDF5_MEDIA_TYPES, ZIP_MEDIA_TYPES, check_media_type
from stratus.errors import UnsupportedMediaTypeError


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "multipart/form-data; boundary=x"]
)
def test_check_media_type_rejects_non_binary(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaTypeError):
        check_media_type(content_type, HDF5_MEDIA_TYPES, "the HDF5 file")


@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "application/x-hdf5; charset=x"])
def test_check_media_type_accepts_raw_hdf5(content_type: str | None) -> None:
    check_media_type(content_type, HDF5_MEDIA_TYPES, "the HDF5 file")


def test_check_media_type_accepts_zip_for_packages() -> None:
    check_media_type("application/zip", ZIP_MEDIA_TYPES, "the package zip")
