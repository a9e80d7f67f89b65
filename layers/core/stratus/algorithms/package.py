"""Compox packages as zips: safe reading (zip-slip, zip bombs), parsing, and deterministic export."""

from __future__ import annotations

import ast
import hashlib
import io
import re
import stat
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from stratus.algorithms.config import parse_pyproject
from stratus.errors import InvalidInputError, PayloadTooLargeError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stratus.algorithms.config import AlgorithmConfig

PYPROJECT = "pyproject.toml"
RUNNER = "Runner.py"
# Zip's epoch; a fixed stamp makes the same files give the same bytes.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
# Tools and OSes leave these behind; Compox's deployer skips them too, so they are never code or assets.
IGNORED_DIRECTORIES = frozenset({"__pycache__", ".git", "__MACOSX"})
IGNORED_FILES = frozenset({".gitignore", ".gitmodules", ".gitattributes", ".DS_Store"})
IGNORED_SUFFIXES = frozenset({".pyc"})
# Small members may compress absurdly well (a zero-filled mask) without harm; only large ones are judged.
RATIO_CHECK_MIN_BYTES = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class PackageLimits:
    """How big and how many: guards against oversized uploads and zip bombs."""

    max_zip_bytes: int = 512 * 1024 * 1024
    max_total_bytes: int = 2 * 1024 * 1024 * 1024
    max_files: int = 10_000
    max_compression_ratio: int = 200


@dataclass(frozen=True)
class AlgorithmPackage:
    """A parsed package: Python code plus pyproject.toml as code, every other file an asset (as Compox)."""

    name: str
    version: str
    major_version: int
    minor_version: int
    config: AlgorithmConfig
    code_files: dict[str, bytes]
    assets: dict[str, bytes]

    @cached_property
    def asset_hashes(self) -> dict[str, str]:
        """sha256 hex digest per asset path, so the registry stores each content once."""
        return {path: hashlib.sha256(content).hexdigest() for path, content in self.assets.items()}

    @cached_property
    def trainable(self) -> bool:
        """Whether its Runner class defines train() itself (one inherited from a base class or a helper
        module does not count)."""
        runner = runner_class(self.code_files[RUNNER])
        return runner is not None and any(
            isinstance(item, ast.FunctionDef) and item.name == "train" for item in runner.body
        )


def read_package(data: bytes, limits: PackageLimits) -> AlgorithmPackage:
    """Read a package zip. Raises InvalidInputError (bad zip, unsafe paths, bad pyproject, missing files)
    and PayloadTooLargeError (over a size or count limit)."""
    return parse_files(extract_files(data, limits))


def extract_files(data: bytes, limits: PackageLimits) -> dict[str, bytes]:
    """A package zip's files by relative POSIX path, its one top-level folder (if any) stripped.
    Raises InvalidInputError (bad zip, unsafe paths) and PayloadTooLargeError (over a limit)."""
    if len(data) > limits.max_zip_bytes:
        raise PayloadTooLargeError(
            f"the package is {len(data)} bytes; the limit is {limits.max_zip_bytes} bytes"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            files = _extract(archive, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise InvalidInputError(f"the package is not a valid zip file ({exc})") from exc
    return _strip_top_folder(files)


def parse_files(files: Mapping[str, bytes]) -> AlgorithmPackage:
    """Build a package from its files by relative POSIX path. Raises InvalidInputError."""
    check_required_files(files)
    pyproject = parse_pyproject(files[PYPROJECT])
    code = {path: content for path, content in files.items() if _is_code(path)}
    check_python_sources(code)
    check_runner_class(files[RUNNER])
    return AlgorithmPackage(
        name=pyproject.project.name,
        version=pyproject.project.version,
        major_version=pyproject.project.major_version,
        minor_version=pyproject.project.minor_version,
        config=pyproject.tool.compox,
        code_files=dict(sorted(code.items())),
        assets=dict(sorted((p, c) for p, c in files.items() if not _is_code(p))),
    )


def check_required_files(files: Mapping[str, bytes]) -> None:
    """Raises InvalidInputError when pyproject.toml or Runner.py is missing."""
    for required in (PYPROJECT, RUNNER):
        if required not in files:
            raise InvalidInputError(
                f"the package has no {required} at its root (or inside one top-level folder)"
            )


def check_python_sources(files: Mapping[str, bytes]) -> None:
    """Raises InvalidInputError naming the first .py file that is not valid Python, and where."""
    for path, content in files.items():
        if path.endswith(".py"):
            _check_python(path, content)


def check_runner_class(source: bytes) -> None:
    """Raises InvalidInputError when Runner.py has no top-level `class Runner`."""
    # Compox imports `Runner` from Runner.py: without it, every job of the package would fail.
    if runner_class(source) is None:
        raise InvalidInputError(
            f"{RUNNER} defines no top-level `class Runner` (Compox runs `class Runner(BaseRunner)`)"
        )


def runner_class(source: bytes) -> ast.ClassDef | None:
    """Runner.py's top-level ``class Runner``, or None (also for source that does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    return next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Runner"), None)


def build_zip(package: AlgorithmPackage, assets: Mapping[str, bytes] | None = None) -> bytes:
    """The package as a zip (sorted, fixed timestamps: same package, same bytes); `assets` replaces some of
    its assets, e.g. a checkpoint's. Raises InvalidInputError for an asset the package does not have."""
    merged = dict(package.assets)
    for path, content in (assets or {}).items():
        if path not in merged:
            raise InvalidInputError(
                f"asset {path!r} is not an asset of {package.name} {package.major_version}"
            )
        merged[path] = content
    return _zip_files({**package.code_files, **merged})


def package_from_folder(path: Path) -> bytes:
    """Zip a package folder deterministically (built-ins, tests). Raises InvalidInputError on a symlink."""
    files: dict[str, bytes] = {}
    for item in sorted(path.rglob("*")):
        relative = item.relative_to(path).as_posix()
        if item.is_symlink():
            raise InvalidInputError(f"{relative} is a symbolic link; packages hold regular files only")
        if item.is_file() and not _is_ignored(relative):
            files[relative] = item.read_bytes()
    return _zip_files(files)


def _zip_files(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode bits below mean the same everywhere
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()


def _extract(archive: zipfile.ZipFile, limits: PackageLimits) -> dict[str, bytes]:
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) > limits.max_files:
        raise PayloadTooLargeError(f"the package has {len(members)} files; the limit is {limits.max_files}")
    total = sum(info.file_size for info in members)
    if total > limits.max_total_bytes:
        raise PayloadTooLargeError(
            f"the package unpacks to {total} bytes; the limit is {limits.max_total_bytes} bytes"
        )
    files: dict[str, bytes] = {}
    for info in members:
        name = _safe_name(info)
        if _is_ignored(name):
            continue
        if name in files:
            raise InvalidInputError(f"the package holds {name!r} twice")
        files[name] = _read_member(archive, info, limits)
    return files


def _safe_name(info: zipfile.ZipInfo) -> str:
    raw = info.filename
    name = raw.replace("\\", "/")
    parts = name.split("/")
    if name.startswith("/") or _DRIVE.match(name) or ".." in parts or "\x00" in name:
        raise InvalidInputError(f"unsafe path in the package: {raw!r} (absolute or leaving the package)")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InvalidInputError(f"{raw!r} is a symbolic link; packages hold regular files only")
    if info.flag_bits & 0x1:
        raise InvalidInputError(f"{raw!r} is encrypted; packages must not be")
    return str(PurePosixPath(*[part for part in parts if part not in ("", ".")]))


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: PackageLimits) -> bytes:
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size >= RATIO_CHECK_MIN_BYTES and ratio > limits.max_compression_ratio:
        raise InvalidInputError(
            f"{info.filename!r} expands {ratio:.0f}-fold (limit {limits.max_compression_ratio}); "
            "this looks like a zip bomb"
        )
    with archive.open(info) as member:
        # The declared size bounds the read, so a header that lies about it cannot make us inflate more.
        content = member.read(info.file_size + 1)
    if len(content) != info.file_size:
        raise InvalidInputError(f"{info.filename!r} does not match its declared size")
    return content


def _strip_top_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    # As Compox's deployer: a zip of the package folder itself (one top-level folder) is accepted too.
    if PYPROJECT in files or not files:
        return files
    tops = {name.split("/", 1)[0] for name in files}
    if len(tops) != 1 or any("/" not in name for name in files):
        return files
    prefix = f"{tops.pop()}/"
    return {name.removeprefix(prefix): content for name, content in files.items()}


def _is_ignored(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return (
        any(part in IGNORED_DIRECTORIES for part in parts[:-1])
        or parts[-1] in IGNORED_FILES
        or PurePosixPath(path).suffix in IGNORED_SUFFIXES
    )


def _is_code(path: str) -> bool:
    return path.endswith(".py") or path == PYPROJECT


def _check_python(path: str, content: bytes) -> None:
    try:
        ast.parse(content, filename=path)
    except (SyntaxError, ValueError) as exc:
        line = f" on line {exc.lineno}" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise InvalidInputError(f"{path}: invalid Python{line}: {exc.args[0] if exc.args else exc}") from exc
