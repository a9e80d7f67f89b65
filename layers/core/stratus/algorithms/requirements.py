"""A package's declared `[project].dependencies`: parsed (PEP 508), normalised, and the content address of
the environment that holds them."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import tomllib
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from stratus.errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Mapping

PYPROJECT = "pyproject.toml"
# Served by the runtime itself (stratus.algorithms.loader), whatever version a package asks for.
RUNTIME_PACKAGES = frozenset({"compox"})
# What the worker image installs (gpu_worker/Dockerfile): a requirement naming one without a version needs
# no environment (Compox packages declare numpy and torch as a matter of course). One with a version is
# built, and the build fails with pip's message when the image's version does not satisfy it.
WORKER_PACKAGES = frozenset({"numpy", "h5py", "torch", "hdf5plugin"})
# Bounds a deploy's requirement list: each is one line of pip's input and part of the version record.
MAX_REQUIREMENTS = 100
MAX_REQUIREMENT_CHARS = 500


def python_tag() -> str:
    """This interpreter's tag, e.g. `cp311-linux_x86_64`: an environment is built by pip for one
    interpreter and platform (the local stack's worker is this interpreter)."""
    major, minor = sys.version_info[:2]
    return f"cp{major}{minor}-{platform.system().lower()}_{platform.machine().lower()}"


def normalise(declared: list[str]) -> list[str]:
    """The requirements in one spelling each (PEP 503 names, canonical specifiers), sorted, duplicates
    dropped. Raises InvalidInputError naming the first one that is not a PEP 508 requirement."""
    if len(declared) > MAX_REQUIREMENTS:
        raise InvalidInputError(
            f"[project].dependencies lists {len(declared)} requirements; the limit is {MAX_REQUIREMENTS}"
        )
    normalised: set[str] = set()
    for text in declared:
        if not isinstance(text, str) or len(text) > MAX_REQUIREMENT_CHARS:
            raise InvalidInputError(
                f"[project].dependencies: {str(text)[:80]!r} is not a requirement string "
                f"(at most {MAX_REQUIREMENT_CHARS} characters)"
            )
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            raise InvalidInputError(
                f"[project].dependencies: {text!r} is not a PEP 508 requirement: {_first_line(exc)}"
            ) from exc
        if requirement.url:
            # A direct URL would fetch anything from anywhere at build time, and defeats the shared cache.
            raise InvalidInputError(
                f"[project].dependencies: {text!r} is a direct URL reference; name a package on the index"
            )
        # str() of a parsed Requirement is canonical (extras and specifiers sorted); PEP 503 names.
        requirement.name = canonicalize_name(requirement.name)
        requirement.extras = {canonicalize_name(extra) for extra in requirement.extras}  # PEP 685
        normalised.add(str(requirement))
    return sorted(normalised)


def declared_requirements(files: Mapping[str, bytes]) -> list[str]:
    """The normalised `[project].dependencies` of a package's files (none: an empty list).

    Raises InvalidInputError (not a list of strings, or a string that is not a requirement).
    """
    try:
        project = tomllib.loads(files[PYPROJECT].decode("utf-8")).get("project", {})
    except (KeyError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # Parsed and validated before this is called; kept as a clear error all the same.
        raise InvalidInputError("the package has no readable pyproject.toml") from exc
    declared = project.get("dependencies", []) if isinstance(project, dict) else []
    if not isinstance(declared, list):
        raise InvalidInputError("[project].dependencies must be a list of requirement strings")
    return normalise(declared)


def environment_requirements(requirements: list[str]) -> list[str]:
    """Of normalised requirements, those an environment must install: not the runtime's own, and not an
    unversioned one of the worker image's packages."""
    kept = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.name in RUNTIME_PACKAGES:
            continue
        if requirement.name in WORKER_PACKAGES and not requirement.specifier and not requirement.extras:
            continue
        kept.append(text)
    return kept


def environment_digest(requirements: list[str], tag: str) -> str:
    """The content address of the environment holding ``requirements`` (normalised) for the worker's
    interpreter ``tag``: one environment per dependency set, shared by every version and tenant."""
    canonical = json.dumps({"python": tag, "requirements": sorted(requirements)}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _first_line(exc: Exception) -> str:
    # packaging's message draws a caret under the bad spot on further lines; one line suits a 422.
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
