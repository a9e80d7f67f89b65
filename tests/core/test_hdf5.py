"""HDF5 validation from memory and from a seekable file, what a file holds, and hdf5plugin's filters."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import hdf5plugin
import numpy as np
import pytest
from stratus import hdf5
from stratus.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[2]


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


def _file(**datasets: dict[str, Any]) -> bytes:
    """An HDF5 file with one dataset per keyword, made by ``create_dataset(name, **options)``."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        for name, options in datasets.items():
            handle.create_dataset(name, **options)
    return buffer.getvalue()


# hdf5plugin's filter classes, as scientists use them: create_dataset(..., **hdf5plugin.Zstd()).
PLUGIN_FILTERS = [
    (hdf5plugin.Blosc(), "blosc"),
    (hdf5plugin.Blosc2(), "blosc2"),
    (hdf5plugin.LZ4(), "lz4"),
    (hdf5plugin.Zstd(), "zstd"),
    (hdf5plugin.Bitshuffle(), "bitshuffle"),
    (hdf5plugin.BZip2(), "bzip2"),
    (hdf5plugin.Zfp(reversible=True), "zfp"),
]
VOLUME = np.random.default_rng(0).random((8, 16, 16), dtype=np.float32)


def test_validate_describes_each_dataset() -> None:
    body = _file(
        volume={"data": VOLUME, "chunks": (4, 16, 16), "compression": "gzip", "shuffle": True},
        label={"data": "a text"},
        **{"meta/mask": {"data": np.zeros((3, 4), np.uint8)}},
    )

    contents = hdf5.validate_bytes(body)

    assert contents.truncated is False
    assert [d.model_dump() for d in contents.datasets] == [
        {"name": "/label", "shape": [], "dtype": "string", "chunks": None, "filters": []},
        {"name": "/meta/mask", "shape": [3, 4], "dtype": "uint8", "chunks": None, "filters": []},
        {"name": "/volume", "shape": [8, 16, 16], "dtype": "float32", "chunks": [4, 16, 16],
         "filters": ["shuffle", "gzip"]},
    ]  # fmt: skip


@pytest.mark.parametrize(("options", "name"), PLUGIN_FILTERS, ids=[name for _, name in PLUGIN_FILTERS])
def test_validate_names_hdf5plugin_filters(options: Any, name: str) -> None:
    body = _file(volume={"data": VOLUME, **options})

    (dataset,) = hdf5.validate_bytes(body).datasets

    assert dataset.filters == [name]


@pytest.mark.parametrize(("options", "name"), PLUGIN_FILTERS, ids=[name for _, name in PLUGIN_FILTERS])
def test_open_file_reads_hdf5plugin_compressed_data(options: Any, name: str) -> None:
    body = _file(volume={"data": VOLUME, **options})

    with hdf5.open_file(body) as handle:
        data = handle["volume"][()]

    np.testing.assert_array_equal(data, VOLUME)


def test_validate_needs_no_filter_code(tmp_path: Path) -> None:
    # The Lambda layer has no hdf5plugin: ingestion must read a compressed file's headers without it.
    path = tmp_path / "compressed.h5"
    path.write_bytes(_file(a={"data": VOLUME, **hdf5plugin.Zstd()}, b={"data": VOLUME, **hdf5plugin.LZ4()}))
    script = (
        "import sys; from stratus import hdf5; "
        f"contents = hdf5.validate_bytes(open({str(path)!r}, 'rb').read()); "
        "print([d.filters for d in contents.datasets], 'hdf5plugin' in sys.modules)"
    )

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[['zstd'], ['lz4']] False"


def test_filter_names_cover_every_hdf5plugin_filter() -> None:
    # hdf5plugin calls Bitshuffle "bshuf"; the rest by the names we use.
    expected = {code: "bitshuffle" if key == "bshuf" else key for key, code in hdf5plugin.FILTERS.items()}

    assert {code: hdf5.FILTER_NAMES.get(code) for code in expected} == expected


def test_validate_lists_at_most_the_record_limit() -> None:
    body = _file(**{f"d{index:03d}": {"data": np.zeros(2)} for index in range(hdf5.MAX_LISTED_DATASETS + 4)})

    contents = hdf5.validate_bytes(body)

    assert len(contents.datasets) == hdf5.MAX_LISTED_DATASETS
    assert contents.datasets[-1].name == f"/d{hdf5.MAX_LISTED_DATASETS - 1:03d}"
    assert contents.truncated is True


def test_validate_bounds_the_listing_by_size() -> None:
    # Long names fill the byte budget long before the count limit.
    body = _file(**{f"{index:03d}{'n' * 2000}": {"data": np.zeros(2)} for index in range(60)})

    contents = hdf5.validate_bytes(body)

    listed = json.dumps([d.model_dump(mode="json") for d in contents.datasets])
    assert 0 < len(contents.datasets) < 60
    assert len(listed) <= hdf5.MAX_LISTED_BYTES
    assert contents.truncated is True


def test_summarize_names_path_dtype_and_shape() -> None:
    body = _file(volume={"data": np.zeros((64, 64), np.float32)}, mask={"data": np.zeros((64, 64), np.uint8)})

    text = hdf5.summarize(hdf5.validate_bytes(body).datasets)

    assert text == "/mask uint8 (64, 64), /volume float32 (64, 64)"


def test_hdf5plugin_is_pinned_alike_for_the_worker_image_and_tests_but_not_the_layer() -> None:
    pin = f"hdf5plugin=={hdf5plugin.version}"

    assert pin in (ROOT / "requirements-dev.txt").read_text().split()
    assert pin in (ROOT / "gpu_worker" / "Dockerfile").read_text().split()
    # Its ~190 MB of plugins would take the layer past Lambda's 250 MB unzipped limit.
    layer = (ROOT / "layers" / "core" / "requirements.txt").read_text().splitlines()
    assert not [line for line in layer if line.startswith("hdf5plugin")]
