"""The job folder the worker shares with its algorithm's process: what the worker stages there (read
only for the algorithm), and the outbox it takes files back from (written by the algorithm, so read
with suspicion: no links, no special files, nothing outside it)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from stratus.errors import InvalidInputError

# A name the algorithm's process picked for a file of its outbox: one path component, nothing special.
_OUTBOX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_PRIVATE = 0o700
_SHARED = 0o755


@dataclass(frozen=True)
class JobFolder:
    """One job's folder. The worker writes `package`, `environment`, `inputs` and `inbox` (the algorithm
    may only read them); the algorithm owns `work`: its home, temp and scratch folders and the outbox."""

    root: Path
    # The algorithm's user and group when it is not the worker's (the worker is root), else None.
    owner: tuple[int, int] | None

    @property
    def package(self) -> Path:
        """The staged package: code and assets."""
        return self.root / "package"

    @property
    def environment(self) -> Path:
        """The packages the version declared (its environment, unpacked): on the algorithm's import path."""
        return self.root / "environment"

    @property
    def inputs(self) -> Path:
        """Input files staged for the algorithm."""
        return self.root / "inputs"

    @property
    def inbox(self) -> Path:
        """Other files handed to the algorithm (session items)."""
        return self.root / "inbox"

    @property
    def work(self) -> Path:
        """The algorithm's own folder: its working directory and home."""
        return self.root / "work"

    @property
    def scratch(self) -> Path:
        """RunnerContext.scratch_dir."""
        return self.work / "scratch"

    @property
    def temp(self) -> Path:
        """The algorithm's TMPDIR."""
        return self.work / "tmp"

    @property
    def outbox(self) -> Path:
        """Where the algorithm leaves outputs, checkpoint assets and session items for the worker."""
        return self.work / "outbox"

    def take(self, name: str) -> bytes:
        """Read and remove a file the algorithm left in the outbox. Raises InvalidInputError when
        ``name`` is not a plain file the algorithm made there (a link, a FIFO, a path elsewhere)."""
        if not isinstance(name, str) or not _OUTBOX_NAME.fullmatch(name):
            raise InvalidInputError(f"not a file name of the outbox: {name!r}")
        path = self.outbox / name
        try:
            # O_NOFOLLOW: a link to one of the worker's files is refused; O_NONBLOCK: so is a FIFO.
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            raise InvalidInputError(f"the outbox has no readable file {name!r}") from exc
        with os.fdopen(descriptor, "rb") as handle:
            status = os.fstat(handle.fileno())
            self._check_made_by_algorithm(name, status)
            body = handle.read()
        path.unlink()
        return body

    def _check_made_by_algorithm(self, name: str, status: os.stat_result) -> None:
        # A hard link to someone else's file is still a regular file: its owner and link count tell.
        is_own = self.owner is None or status.st_uid == self.owner[0]
        if not stat.S_ISREG(status.st_mode) or status.st_nlink != 1 or not is_own:
            raise InvalidInputError(f"outbox entry {name!r} is not a plain file the algorithm wrote")


def write_new(path: Path, body: bytes) -> Path:
    """Write ``body`` as a new file the algorithm can read; returns ``path``."""
    # O_EXCL | O_NOFOLLOW: never write through something already there (a link the algorithm left, when
    # it runs as the worker's own user and so could write into the worker's folders).
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(body)
    return path


def create_job_folder(root: Path, owner: tuple[int, int] | None) -> JobFolder:
    """Lay out a job folder in the empty directory ``root``; the algorithm's part goes to ``owner``."""
    folder = JobFolder(root, owner)
    root.chmod(_SHARED)
    for shared in (folder.package, folder.environment, folder.inputs, folder.inbox):
        shared.mkdir(mode=_SHARED)
    for private in (folder.work, folder.scratch, folder.temp, folder.outbox):
        private.mkdir(mode=_PRIVATE)
        if owner is not None:
            os.chown(private, *owner)
    return folder


@contextlib.contextmanager
def temporary_job_folder(kind: str, owner: tuple[int, int] | None) -> Iterator[JobFolder]:
    """A job folder in the temp directory, removed with everything in it when the job ends."""
    root = Path(tempfile.mkdtemp(prefix=f"stratus-{kind}-"))
    try:
        yield create_job_folder(root, owner)
    finally:
        # The algorithm's files belong to its user; root removes them all the same.
        shutil.rmtree(root, ignore_errors=True)
