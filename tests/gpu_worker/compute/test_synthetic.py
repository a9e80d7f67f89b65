"""Synthetic blob volumes: seeded, masked where the blobs are, written in Compox's input/target layout."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
from stratus.algorithms.runtime import GenericSchema, SegmentationSchema, read_record

from gpu_worker.compute.synthetic import input_file, main, make_pair, make_pairs, target_file


def test_make_pair_repeats_for_the_same_seed_and_index() -> None:
    first = make_pair(seed=7, index=3)

    again = make_pair(seed=7, index=3)

    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])


def test_make_pair_differs_between_seeds() -> None:
    volume, _ = make_pair(seed=1, index=0)

    other, _ = make_pair(seed=2, index=0)

    assert not np.array_equal(volume, other)


def test_make_pair_gives_float32_volume_and_uint8_mask_of_the_size() -> None:
    volume, mask = make_pair(seed=0, index=0, size=24)

    assert (volume.shape, volume.dtype) == ((24, 24, 24), np.float32)
    assert (mask.shape, mask.dtype) == ((24, 24, 24), np.uint8)
    assert set(np.unique(mask)) == {0, 1}


def test_make_pair_makes_the_masked_blobs_brighter_than_the_background() -> None:
    volume, mask = make_pair(seed=0, index=1)

    assert volume[mask == 1].mean() > volume[mask == 0].mean() + 0.5


def test_make_pairs_gives_each_pair_independently_of_the_count() -> None:
    few = make_pairs(2, seed=5)

    many = make_pairs(4, seed=5)

    np.testing.assert_array_equal(few[1][0], many[1][0])


def test_input_file_holds_the_volume_under_data() -> None:
    volume, _ = make_pair(seed=0, index=0)

    record = read_record(input_file(volume), GenericSchema)

    assert record["data"].dtype == np.float32
    np.testing.assert_array_equal(record["data"], volume)


def test_target_file_holds_the_mask_under_mask() -> None:
    _, mask = make_pair(seed=0, index=0)

    body = target_file(mask)

    with h5py.File(io.BytesIO(body), "r") as handle:
        assert list(handle) == ["mask"]
        assert handle["mask"].dtype == np.uint8
    np.testing.assert_array_equal(read_record(body, SegmentationSchema)["mask"], mask)


def test_main_writes_count_input_and_target_files(tmp_path: Path) -> None:
    main([str(tmp_path / "out"), "--count", "3", "--size", "16", "--seed", "4"])

    names = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert names == [f"{kind}_{index:04d}.h5" for kind in ("input", "target") for index in range(3)]
    data = read_record((tmp_path / "out" / "input_0002.h5").read_bytes(), GenericSchema)["data"]
    np.testing.assert_array_equal(data, make_pair(seed=4, index=2, size=16)[0])
