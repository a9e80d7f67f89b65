"""Package zips: parsing, every rejection, export round trip and determinism."""

from __future__ import annotations

import hashlib
import io
import stat
import zipfile
from pathlib import Path

import pytest
from stratus.algorithms import AlgorithmPackage, PackageLimits, build_zip, package_from_folder, read_package
from stratus.errors import InvalidInputError, PayloadTooLargeError

PYPROJECT = b'[project]\nname = "tiny"\nversion = "1.0"\n'
RUNNER = b"from compox.algorithm_utils.BaseRunner import BaseRunner\n\nclass Runner(BaseRunner):\n    pass\n"


def make_zip(files: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def valid_files() -> dict[str, bytes]:
    return {"pyproject.toml": PYPROJECT, "Runner.py": RUNNER}


def test_read_package_parses_fields_versions_and_assets(scale_package: AlgorithmPackage) -> None:
    offset = Path(__file__).parent.joinpath("packages/compox_scale/files/offset.txt").read_bytes()

    assert (scale_package.name, scale_package.version) == ("compox_scale", "2.3.0")
    assert (scale_package.major_version, scale_package.minor_version) == (2, 3)
    assert scale_package.config.tags == ["scaling", "test"]
    assert scale_package.config.supported_devices == ["cpu", "gpu"]
    assert [p.name for p in scale_package.config.additional_parameters][:2] == ["factor", "mode"]
    assert set(scale_package.code_files) == {
        "__init__.py",
        "Runner.py",
        "pyproject.toml",
        "helpers/__init__.py",
        "helpers/arithmetic.py",
        "helpers/rounding.py",
    }
    assert scale_package.assets == {"files/offset.txt": offset}
    assert scale_package.asset_hashes == {"files/offset.txt": hashlib.sha256(offset).hexdigest()}


def test_read_package_accepts_one_top_level_folder() -> None:
    data = make_zip({f"tiny/{name}": content for name, content in valid_files().items()})

    package = read_package(data, PackageLimits())

    assert set(package.code_files) == {"pyproject.toml", "Runner.py"}


def test_read_package_skips_caches_and_vcs_files() -> None:
    junk = {"__pycache__/Runner.cpython-311.pyc": b"x", ".git/HEAD": b"x", ".gitignore": b"x"}
    files = valid_files() | junk

    package = read_package(make_zip(files), PackageLimits())

    assert package.assets == {}


def test_read_package_rejects_non_zip() -> None:
    with pytest.raises(InvalidInputError, match="not a valid zip"):
        read_package(b"PK but not really a zip", PackageLimits())


def test_read_package_rejects_zip_over_size_limit() -> None:
    data = make_zip(valid_files())

    with pytest.raises(PayloadTooLargeError, match="limit"):
        read_package(data, PackageLimits(max_zip_bytes=len(data) - 1))


@pytest.mark.parametrize(
    "name", ["../evil.py", "/etc/evil.py", "C:/evil.py", "files/../../evil.py", "a\\..\\..\\x"]
)
def test_read_package_rejects_zip_slip_paths(name: str) -> None:
    with pytest.raises(InvalidInputError, match="unsafe path"):
        read_package(make_zip(valid_files() | {name: b"x"}), PackageLimits())


def test_read_package_rejects_symlinks() -> None:
    with pytest.raises(InvalidInputError, match="symbolic link"):
        read_package(make_zip(valid_files(), symlink="files/link"), PackageLimits())


def test_read_package_rejects_total_uncompressed_size_over_limit() -> None:
    files = valid_files() | {"files/big.bin": bytes(10_000)}

    with pytest.raises(PayloadTooLargeError, match="unpacks to"):
        read_package(make_zip(files), PackageLimits(max_total_bytes=5_000))


def test_read_package_rejects_extreme_compression_ratio() -> None:
    files = valid_files() | {"files/zeros.bin": bytes(4 * 1024 * 1024)}

    with pytest.raises(InvalidInputError, match="zip bomb"):
        read_package(make_zip(files), PackageLimits(max_compression_ratio=100))


def test_read_package_rejects_too_many_files() -> None:
    files = valid_files() | {f"files/{i}.txt": b"x" for i in range(5)}

    with pytest.raises(PayloadTooLargeError, match="7 files"):
        read_package(make_zip(files), PackageLimits(max_files=6))


@pytest.mark.parametrize("missing", ["pyproject.toml", "Runner.py"])
def test_read_package_rejects_missing_required_file(missing: str) -> None:
    files = valid_files()
    del files[missing]

    with pytest.raises(InvalidInputError, match=f"no {missing}"):
        read_package(make_zip(files), PackageLimits())


@pytest.mark.parametrize(
    "runner",
    [
        b"class NotARunner:\n    pass\n",
        b"def make():\n    class Runner:\n        pass\n",
        b"Runner = None\n",
    ],
    ids=["other-class", "nested-class", "not-a-class"],
)
def test_read_package_rejects_runner_py_without_class_runner(runner: bytes) -> None:
    files = valid_files() | {"Runner.py": runner}

    with pytest.raises(InvalidInputError, match="no top-level `class Runner`"):
        read_package(make_zip(files), PackageLimits())


@pytest.mark.parametrize(
    ("runner", "trainable"),
    [(RUNNER, False), (RUNNER + b"\n    def train(self):\n        pass\n", True)],
    ids=["no-train", "train"],
)
def test_package_is_trainable_when_its_runner_defines_train(runner: bytes, trainable: bool) -> None:
    package = read_package(make_zip(valid_files() | {"Runner.py": runner}), PackageLimits())

    assert package.trainable is trainable


def test_read_package_rejects_pyproject_schema_error_naming_the_field() -> None:
    files = valid_files() | {"pyproject.toml": PYPROJECT + b'[tool.compox]\ndefault_device = "tpu"\n'}

    with pytest.raises(InvalidInputError, match=r"tool\.compox\.default_device"):
        read_package(make_zip(files), PackageLimits())


def test_read_package_rejects_python_syntax_errors() -> None:
    files = valid_files() | {"helpers/broken.py": b"def broken(:\n"}

    with pytest.raises(InvalidInputError, match="helpers/broken.py: invalid Python on line 1"):
        read_package(make_zip(files), PackageLimits())


def test_build_zip_round_trips(scale_package: AlgorithmPackage) -> None:
    assert read_package(build_zip(scale_package), PackageLimits()) == scale_package


def test_build_zip_is_deterministic(scale_package: AlgorithmPackage, scale_dir: Path) -> None:
    again = read_package(package_from_folder(scale_dir), PackageLimits())

    assert build_zip(scale_package) == build_zip(again)
    assert package_from_folder(scale_dir) == package_from_folder(scale_dir)


def test_build_zip_swaps_in_checkpoint_assets(scale_package: AlgorithmPackage) -> None:
    exported = read_package(build_zip(scale_package, {"files/offset.txt": b"9"}), PackageLimits())

    assert exported.assets == {"files/offset.txt": b"9"}
    assert exported.code_files == scale_package.code_files


def test_build_zip_rejects_unknown_checkpoint_asset(scale_package: AlgorithmPackage) -> None:
    with pytest.raises(InvalidInputError, match="not an asset"):
        build_zip(scale_package, {"files/other.pt": b"9"})
