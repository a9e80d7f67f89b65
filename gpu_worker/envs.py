"""Environments of declared dependencies: the build job (`python -m gpu_worker.envs build <digest>`, or
`python -m gpu_worker build-environment <digest>` through the image's entrypoint), staging a built
one into a job's folder (downloaded once per digest into a local cache), and the same build into a local
folder for the author kit."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from stratus.algorithms.requirements import environment_digest, python_tag
from stratus.errors import EnvironmentFailedError, InvalidInputError, NotFoundError
from stratus.models.environments import EnvironmentStatus
from stratus.stores.layout import environment_key

from gpu_worker.sandbox.confinement import make_undumpable

if TYPE_CHECKING:
    from stratus.models.environments import EnvironmentRecord
    from stratus.stores import ObjectStore, Stores

DIGEST = re.compile(r"^[0-9a-f]{64}$")
# Built environments this host has downloaded, one zip per digest (immutable: the digest names content).
CACHE_ROOT = Path(tempfile.gettempdir()) / "stratus-environments"
# pip's own limit, under the build job's attempt timeout (template.yaml EnvironmentBuildJobDefinition).
PIP_TIMEOUT_S = 1800
# All pip sees of the build job's environment: where packages come from and how to reach it. Never AWS_*
# or a stack setting: pip runs code from the index (a wheel's, at import; an sdist's, at build).
PIP_VARIABLES = frozenset(
    {
        "PATH", "LANG", "LC_ALL", "PYTHONPATH",
        "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_TRUSTED_HOST",
        "PIP_CERT", "PIP_CLIENT_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_RETRIES", "PIP_CONFIG_FILE",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    }
)  # fmt: skip
EXIT_READY = 0
EXIT_FAILED = 1


def build(digest: str, stores: Stores) -> EnvironmentRecord:
    """Install the environment's requirements with pip, upload it and mark it READY; or mark it FAILED
    with the end of pip's output. An environment READY already is left as it is (a retried job).

    Raises NotFoundError (no such environment), IllegalTransitionError (it changed meanwhile).
    """
    record = stores.environments.find(_checked(digest))
    if record is None:
        raise NotFoundError(f"environment {digest} not found")
    if record.status is EnvironmentStatus.READY:
        return record
    if record.python_tag != python_tag():
        # Planned by the API for another interpreter: what pip installs here would not load there.
        return stores.environments.mark_failed(
            digest,
            f"the environment is for {record.python_tag}, but the build job runs {python_tag()}: "
            "WorkerPythonTag does not match the worker image",
        )
    with tempfile.TemporaryDirectory(prefix="stratus-environment-") as folder:
        root = Path(folder)
        failure = _install(record.requirements, root)
        if failure is not None:
            return stores.environments.mark_failed(digest, failure)
        archive = _zip_tree(_site_packages(root / "prefix"), root / "environment.zip")
        stores.objects.upload_file(environment_key(digest), archive)
    return stores.environments.mark_ready(digest)


def build_local(requirements: list[str], cache: Path) -> Path:
    """The environment of ``requirements`` for this interpreter, built as the build job builds it into
    ``cache``/<digest> on first use (the author kit's `try`: no stack, no S3). Raises
    EnvironmentFailedError with pip's output when it cannot be built."""
    digest = environment_digest(requirements, python_tag())
    built = cache / digest
    if built.is_dir():
        return built
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stratus-environment-", dir=cache) as folder:
        root = Path(folder)
        failure = _install(requirements, root)
        if failure is not None:
            listed = ", ".join(requirements)
            raise EnvironmentFailedError(f"pip could not install {listed}: {failure[-2000:]}")
        site_packages = _site_packages(root / "prefix")
        tree = root / "environment"
        if site_packages is None:
            tree.mkdir()  # every requirement is this interpreter's already
        else:
            site_packages.replace(tree)
        # Renamed into place: a run racing this one sees the whole environment or none.
        with contextlib.suppress(OSError):  # another run put it there first: theirs is the same
            tree.replace(built)
    return built


def _install(requirements: list[str], root: Path) -> str | None:
    """Run pip; None when it succeeded, else its output."""
    constraints = root / "constraints.txt"
    constraints.write_text("\n".join(_installed_versions()) + "\n")
    # --prefix, not --target: pip then counts what the worker image has as installed, so the environment
    # holds only what the image lacks (never a second numpy or torch), and the constraints turn a
    # requirement that would replace one of the image's packages into a resolution error, said at deploy.
    # --only-binary: wheels only, so no package's setup code runs here (and the image has no compilers).
    command = [
        sys.executable, "-m", "pip", "install", "--prefix", str(root / "prefix"),
        "--only-binary=:all:", "--constraint", str(constraints),
        "--no-input", "--disable-pip-version-check", "--no-warn-script-location", "--progress-bar=off",
        *requirements,
    ]  # fmt: skip
    environment = {name: value for name, value in os.environ.items() if name in PIP_VARIABLES}
    environment["HOME"] = str(root)  # pip's cache and config under the build's own folder
    try:
        result = subprocess.run(  # noqa: S603  # this interpreter's pip, on the record's requirements
            command,
            env=environment,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=PIP_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return f"pip did not finish within {PIP_TIMEOUT_S} s: {exc.output or ''}"
    return None if result.returncode == 0 else result.stdout


def _installed_versions() -> list[str]:
    """`name==version` of every distribution this interpreter has (the worker image's)."""
    pins: dict[str, str] = {}
    for distribution in metadata.distributions():
        name, version = distribution.metadata["Name"], distribution.version
        try:
            pins[str(canonicalize_name(name))] = str(Version(version))
        except (InvalidVersion, TypeError):
            continue  # pip could not match such a version either
    return sorted(f"{name}=={version}" for name, version in pins.items())


def _site_packages(prefix: Path) -> Path | None:
    """Where pip put the packages under ``prefix`` (None: nothing was missing from the image)."""
    found = sorted(prefix.glob("lib*/python*/site-packages"))
    return found[0] if found else None


def _zip_tree(tree: Path | None, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as output:
        if tree is None:
            return archive  # an empty environment: every requirement is the image's
        for path in sorted(tree.rglob("*")):
            if path.is_file() and not path.is_symlink():
                output.write(path, path.relative_to(tree).as_posix())
    return archive


def stage(digest: str, objects: ObjectStore, target: Path) -> None:
    """Unpack environment ``digest`` into ``target`` (a job's own copy: the algorithm cannot change what
    another job imports). Raises NotFoundError, InvalidInputError (a member leaving ``target``)."""
    root = target.resolve()
    with zipfile.ZipFile(_cached(_checked(digest), objects)) as archive:
        for member in archive.infolist():
            destination = root.joinpath(*PurePosixPath(member.filename).parts).resolve()
            if not destination.is_relative_to(root):
                raise InvalidInputError(f"unsafe path in environment {digest}: {member.filename!r}")
        archive.extractall(root)


def _cached(digest: str, objects: ObjectStore) -> Path:
    """The environment's zip in this host's cache, downloaded on first use."""
    CACHE_ROOT.mkdir(mode=0o700, parents=True, exist_ok=True)
    cached = CACHE_ROOT / f"{digest}.zip"
    if not cached.is_file():
        # Downloaded beside it and renamed into place: a job racing this one never reads half a file.
        with tempfile.NamedTemporaryFile(dir=CACHE_ROOT, suffix=".part", delete=False) as partial:
            part = Path(partial.name)
        try:
            objects.download_file(environment_key(digest), part)
            part.replace(cached)
        finally:
            part.unlink(missing_ok=True)
    return cached


def _checked(digest: str) -> str:
    if not DIGEST.match(digest):
        raise InvalidInputError(f"{digest!r} is not an environment digest (64 hex characters)")
    return digest


def main(argv: list[str] | None = None) -> int:
    """`build <digest>`: build one environment; exits 0 when it is READY, 1 when it FAILED."""
    parser = argparse.ArgumentParser(prog="python -m gpu_worker.envs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build one environment by digest").add_argument("digest")
    args = parser.parse_args(argv)
    from stratus.errors import StratusError
    from stratus.observability import logger
    from stratus.settings import get_settings
    from stratus.stores import build_stores

    # pip runs as this user: it must not read this process's environment (its credentials) from /proc.
    make_undumpable()
    logger.append_keys(environment=args.digest)
    try:
        record = build(args.digest, build_stores(get_settings()))
    except StratusError as exc:
        logger.error("environment could not be built", extra={"code": exc.code, "detail": exc.detail})
        print(f"build {args.digest}: {exc.detail}", file=sys.stderr)  # noqa: T201  # the job's log
        return EXIT_FAILED
    logger.info("environment built", extra={"status": record.status.value})
    return EXIT_READY if record.status is EnvironmentStatus.READY else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
