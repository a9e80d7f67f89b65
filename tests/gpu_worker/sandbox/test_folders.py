"""The job folder: what the worker stages is the algorithm's to read, and what it takes back from the
outbox is only ever a plain file the algorithm wrote there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from stratus.errors import InvalidInputError

from gpu_worker.sandbox.folders import JobFolder, create_job_folder, write_new


@pytest.fixture
def folder(tmp_path: Path) -> JobFolder:
    root = tmp_path / "job"
    root.mkdir()
    return create_job_folder(root, None)


def test_take_returns_and_removes_an_outbox_file(folder: JobFolder) -> None:
    (folder.outbox / "output.h5").write_bytes(b"result")

    assert folder.take("output.h5") == b"result"
    assert not (folder.outbox / "output.h5").exists()


@pytest.mark.parametrize("name", ["../package/Runner.py", "/etc/passwd", ".hidden", "", "a/b"])
def test_take_refuses_a_name_outside_the_outbox(folder: JobFolder, name: str) -> None:
    with pytest.raises(InvalidInputError):
        folder.take(name)


def test_take_refuses_a_link_to_another_file(folder: JobFolder, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"the worker's")
    (folder.outbox / "output.h5").symlink_to(secret)

    with pytest.raises(InvalidInputError):
        folder.take("output.h5")


def test_take_refuses_a_hard_link_to_another_file(folder: JobFolder, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"the worker's")
    os.link(secret, folder.outbox / "output.h5")

    with pytest.raises(InvalidInputError, match="not a plain file"):
        folder.take("output.h5")


def test_take_refuses_a_fifo_without_blocking(folder: JobFolder) -> None:
    os.mkfifo(folder.outbox / "output.h5")

    with pytest.raises(InvalidInputError):
        folder.take("output.h5")


def test_take_refuses_a_file_of_another_user_when_the_algorithm_has_its_own(tmp_path: Path) -> None:
    root = tmp_path / "job"
    root.mkdir()
    folder = JobFolder(root, (os.getuid() + 1, os.getgid() + 1))
    folder.outbox.mkdir(parents=True)
    (folder.outbox / "output.h5").write_bytes(b"not the algorithm's")

    with pytest.raises(InvalidInputError, match="not a plain file"):
        folder.take("output.h5")


def test_write_new_never_writes_through_what_is_there(folder: JobFolder, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    (folder.inputs / "000000.h5").symlink_to(target)

    with pytest.raises(FileExistsError):
        write_new(folder.inputs / "000000.h5", b"input")

    assert not target.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give the algorithm's folders to its user")
def test_the_algorithm_owns_only_its_work_folder(tmp_path: Path) -> None:
    root = tmp_path / "job"
    root.mkdir()

    folder = create_job_folder(root, (10001, 10001))

    assert {path.name: path.stat().st_uid for path in (folder.package, folder.inputs, folder.work)} == {
        "package": 0,
        "inputs": 0,
        "work": 10001,
    }
