"""Compox's modules for authors' own tests: `install()` serves `compox.algorithm_utils…` and
`compox.training…` as top-level modules, from the same table the worker uses (stratus.algorithms.loader).
"""

from __future__ import annotations

import importlib.util
import sys
from importlib import metadata

from stratus.algorithms.loader import COMPOX, COMPOX_MODULES, install_compox_modules

# Set on the `compox` module install() made, so a second install() knows it is ours.
MARKER = "__stratus_kit__"


class RealCompoxError(RuntimeError):
    """A real compox is importable: the kit does not shadow it."""


def install() -> None:
    """Make `import compox.algorithm_utils.BaseRunner` and the like work in this interpreter, as they do
    for packages inside the worker. Raises RealCompoxError when a real `compox` is installed."""
    current = sys.modules.get(COMPOX)
    if current is not None and getattr(current, MARKER, False):
        return
    _refuse_real_compox()
    root = install_compox_modules(COMPOX)
    setattr(root, MARKER, True)


def uninstall() -> None:
    """Remove what install() added (tests of the kit itself)."""
    current = sys.modules.get(COMPOX)
    if current is None or not getattr(current, MARKER, False):
        return
    for name in [name for name in sys.modules if name == COMPOX or name.startswith(f"{COMPOX}.")]:
        del sys.modules[name]


def served_modules() -> list[str]:
    """The module paths install() serves."""
    return [f"{COMPOX}.{dotted}" for dotted in COMPOX_MODULES]


def _refuse_real_compox() -> None:
    try:
        version = metadata.version(COMPOX)
    except metadata.PackageNotFoundError:
        version = None
    spec = None if COMPOX in sys.modules else importlib.util.find_spec(COMPOX)
    if version is None and spec is None and COMPOX not in sys.modules:
        return
    where = f"compox {version} is installed" if version else "a `compox` module is importable"
    raise RealCompoxError(
        f"{where} in this environment, so your tests already import the real Compox; the Stratus kit "
        "does not shadow it. Uninstall compox (or use another environment) to test against Stratus's "
        "runtime instead."
    )
