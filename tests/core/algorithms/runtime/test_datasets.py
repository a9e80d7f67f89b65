"""Reading inputs by schema: compressed files read like any other, and errors that say what the file holds."""

from __future__ import annotations

import io
from typing import Any

import h5py
import hdf5plugin
import numpy as np
import pytest
from pydantic import ValidationError
from stratus.algorithms.runtime import (
    GenericSchema,
    Image2ImageRunner,
    ImageSchema,
    InputDataError,
    VolumeSchema,
    read_record,
)
from stratus.errors import InvalidInputError

from tests.core.algorithms.conftest import MemoryContext


def _file(**datasets: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        for name, options in datasets.items():
            handle.create_dataset(name, **options)
    return buffer.getvalue()


VOLUME_AND_MASK = _file(
    volume={"data": np.zeros((64, 64), np.float32)}, mask={"data": np.zeros((64, 64), np.uint8)}
)


class _Invert(Image2ImageRunner):
    def inference(self, data: Any, args: dict[str, Any] | None = None) -> Any:
        return 1 - data


def test_read_record_reads_zstd_compressed_data() -> None:
    volume = np.random.default_rng(0).random((8, 8, 8), dtype=np.float32)
    body = _file(volume={"data": volume, **hdf5plugin.Zstd()})

    record = read_record(body, VolumeSchema)

    np.testing.assert_array_equal(record["volume"], volume)


def test_read_record_without_the_schemas_dataset_names_it_and_what_the_file_holds() -> None:
    with pytest.raises(InputDataError) as raised:
        read_record(VOLUME_AND_MASK, GenericSchema, name="x.h5")

    assert str(raised.value) == (
        "input file 'x.h5' has no dataset 'data' (it holds: /mask uint8 (64, 64), /volume float32 (64, 64))"
    )


def test_read_record_without_a_requested_key_names_it() -> None:
    with pytest.raises(InputDataError, match=r"^input file 'x.h5' has no dataset 'image' \(it holds: /mask"):
        read_record(VOLUME_AND_MASK, ImageSchema, ("image",), name="x.h5")


def test_read_record_of_the_wrong_dimensions_names_the_dataset_and_the_rule() -> None:
    body = _file(volume={"data": np.zeros((4, 5), np.float32)})

    with pytest.raises(InputDataError) as raised:
        read_record(body, VolumeSchema, name="x.h5")

    assert str(raised.value) == (
        "input file 'x.h5' does not fit VolumeSchema: dataset 'volume': Volume must be a 3 dimensional array "
        "(it holds: /volume float32 (4, 5))"
    )


def test_read_record_of_the_wrong_dtype_names_the_dataset_and_the_dtype() -> None:
    body = _file(image={"data": np.zeros((4, 5), np.int64)})

    with pytest.raises(InputDataError, match=r"dataset 'image': Image must be uint8.*\(got int64\)"):
        read_record(body, ImageSchema, name="x.h5")


def test_read_record_of_text_where_an_array_belongs_says_so() -> None:
    body = _file(data={"data": "not an array"})

    with pytest.raises(
        InputDataError, match=r"dataset 'data': should be an array, not str \(it holds: /data"
    ):
        read_record(body, GenericSchema, name="x.h5")


def test_input_data_error_is_what_compox_runners_catch_and_what_the_api_maps() -> None:
    # Compox raised pydantic's ValidationError, a ValueError: runners catching that keep working.
    assert issubclass(InputDataError, ValueError)
    assert issubclass(InputDataError, InvalidInputError)
    assert not issubclass(InputDataError, ValidationError)


def test_typed_runner_names_the_input_file_by_id(memory_context: MemoryContext) -> None:
    file_id = memory_context.add_file(volume=np.zeros((4, 4), np.float32))
    runner = _Invert()
    runner.attach(memory_context)
    runner.initialize("cpu")
    runner.load()

    with pytest.raises(InputDataError) as raised:
        runner.run({"input_dataset_ids": [file_id]})

    assert str(raised.value) == (
        f"input file {file_id!r} has no dataset 'image' (it holds: /volume float32 (4, 4))"
    )


def test_read_record_names_a_filter_the_worker_cannot_decode() -> None:
    body = _file(volume={"data": np.zeros((4, 4, 4), np.float32), **hdf5plugin.Zstd()})
    read_record(
        body, VolumeSchema
    )  # hdf5plugin is imported (its filters registered) once, here at the latest
    # As if the worker's HDF5 had no Zstandard: take the filter out of the library for this test.
    h5py.h5z.unregister_filter(hdf5plugin.ZSTD_ID)
    try:
        with pytest.raises(InputDataError) as raised:
            read_record(body, VolumeSchema, name="x.h5")
    finally:
        hdf5plugin.register("zstd")

    assert str(raised.value) == (
        "dataset '/volume' of input file 'x.h5' cannot be read: it is compressed with zstd, which the worker "
        "cannot decode"
    )
