"""Pure-Python wheels made by the tests, for pip to install from a local folder (no network): a wheel is
a zip with the package, METADATA, WHEEL and a RECORD of hashes."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

# A distribution no environment of the test machine has: a job that imports it proves its environment.
TEST_DISTRIBUTION = "stratus_testdep"
TEST_VALUE = "stratus-testdep says hello"
WHEEL = b"Wheel-Version: 1.0\nGenerator: stratus-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def make_wheel(folder: Path, name: str = TEST_DISTRIBUTION, version: str = "1.0", source: str = "") -> Path:
    """Write `<name>-<version>-py3-none-any.whl` holding the module `<name>` (``source``, or one that
    defines VALUE = TEST_VALUE) into ``folder``; returns its path."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": (source or f"VALUE = {TEST_VALUE!r}\n").encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": WHEEL,
    }
    record = [f"{path},sha256={_digest(body)},{len(body)}" for path, body in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, body in files.items():
            archive.writestr(path, body)
    return wheel


def _digest(body: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()
