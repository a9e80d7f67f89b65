"""Confinement, applied in processes of their own (it cannot be undone): the algorithm's process runs as
the sandbox user where the worker is root, without network where namespaces are allowed, sees neither
the worker's home nor other jobs' folders, and cannot read the worker's environment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gpu_worker.sandbox.confinement import ConfinementPlan
from gpu_worker.sandbox.folders import JobFolder, temporary_job_folder
from gpu_worker.sandbox.launchers import RUNNER_IDS, confinement_plan, minimal_environment, runner_owner

TIMEOUT_S = 60
IS_ROOT = os.geteuid() == 0
# Run as a script: confine as the plan says, then look around and print what was seen.
PROBE = """
import json, os, socket, sys
from pathlib import Path
from gpu_worker.sandbox.confinement import ConfinementPlan, confine

plan, port, neighbour, worker = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
notes = confine(ConfinementPlan.from_json(plan))
seen = {"notes": notes, "uid": os.getuid(), "neighbour_visible": Path(neighbour).exists()}
try:
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    seen["network"] = "connected"
except OSError as exc:
    seen["network"] = type(exc).__name__
try:
    seen["worker_environ"] = Path(f"/proc/{worker}/environ").read_text()
except OSError as exc:
    seen["worker_environ"] = type(exc).__name__
seen["home"] = sorted(p.name for p in Path(os.path.expanduser("~root")).iterdir()) if os.access(
    os.path.expanduser("~root"), os.R_OK) else "unreadable"
print(json.dumps(seen))
"""


@pytest.fixture
def folder() -> Iterator[JobFolder]:
    # In the temp directory itself, as the worker's are (pytest's tmp_path is inside a root-only folder).
    with temporary_job_folder("test", runner_owner()) as job:
        yield job


@pytest.fixture
def listener() -> Iterator[int]:
    """A port on this host's loopback that accepts connections."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def neighbour() -> Iterator[Path]:
    """Another job's folder beside this one's."""
    with tempfile.TemporaryDirectory(prefix="stratus-execution-") as other:
        (Path(other) / "input.h5").write_bytes(b"another tenant's")
        yield Path(other) / "input.h5"


def _probe(plan: ConfinementPlan, port: int, neighbour: Path) -> dict[str, Any]:
    # The probe's parent (the plan's parent_pid) is this test process, standing in for the worker.
    result = subprocess.run(  # noqa: S603  # our probe, with this interpreter
        [
            sys.executable,
            "-s",
            "-P",
            "-c",
            PROBE,
            plan.to_json(),
            str(port),
            str(neighbour),
            str(os.getpid()),
        ],
        env={**minimal_environment(os.environ), "STRATUS_WORKER_SECRET": "x"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen: dict[str, Any] = json.loads(result.stdout)
    return seen


def _namespaces_allowed(seen: dict[str, Any]) -> bool:
    return "namespaces: mount, network" in seen["notes"]


def test_confined_process_reaches_nothing_outside_over_the_network(
    folder: JobFolder, listener: int, neighbour: Path
) -> None:
    seen = _probe(confinement_plan(folder, os.getpid()), listener, neighbour)

    if not _namespaces_allowed(seen):
        pytest.skip(f"this kernel or container allows no namespaces: {seen['notes']}")
    assert seen["network"] in ("ConnectionRefusedError", "OSError", "TimeoutError")


def test_confined_process_sees_no_other_jobs_folder_nor_the_workers_home(
    folder: JobFolder, listener: int, neighbour: Path
) -> None:
    seen = _probe(confinement_plan(folder, os.getpid()), listener, neighbour)

    if not _namespaces_allowed(seen):
        pytest.skip(f"this kernel or container allows no namespaces: {seen['notes']}")
    assert seen["neighbour_visible"] is False
    kept = {Path(path).relative_to(Path("~root").expanduser()).parts[0] for path in _under_home(folder)}
    assert seen["home"] == "unreadable" or set(seen["home"]) <= kept


def _under_home(folder: JobFolder) -> list[str]:
    home = Path("~root").expanduser()
    plan = confinement_plan(folder, None)
    return [path for path in plan.keep_paths if Path(path).is_relative_to(home) and Path(path) != home]


@pytest.mark.skipif(not IS_ROOT, reason="only a root worker can run the algorithm as another user")
def test_confined_process_runs_as_the_sandbox_user_without_the_workers_environment(
    folder: JobFolder, listener: int, neighbour: Path
) -> None:
    seen = _probe(confinement_plan(folder, os.getpid()), listener, neighbour)

    assert folder.owner is not None and seen["uid"] == folder.owner[0]
    assert seen["uid"] in RUNNER_IDS
    assert seen["worker_environ"] == "PermissionError"


def test_confinement_is_refused_when_the_sandbox_user_cannot_read_the_runtime(
    folder: JobFolder, listener: int, neighbour: Path
) -> None:
    if not IS_ROOT:
        pytest.skip("only a root worker switches users")
    hidden = Path(tempfile.mkdtemp())
    hidden.chmod(0o700)
    plan = confinement_plan(folder, os.getpid())
    needs = {"required_paths": (str(hidden),), "keep_paths": (*plan.keep_paths, str(hidden))}
    unreadable = ConfinementPlan(**{**plan.__dict__, **needs})

    result = subprocess.run(  # noqa: S603
        [sys.executable, "-s", "-P", "-c", PROBE, unreadable.to_json(), str(listener), str(neighbour), "1"],
        env=minimal_environment(os.environ),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    hidden.rmdir()

    assert result.returncode != 0
    assert "cannot read" in result.stderr


# Two processes of one user: the holder (the worker, with a secret in its environment) and the reader
# (an algorithm of the same user, as where the worker is not root). Root runs both as OTHER_UID.
OTHER_UID = 10002
HOLDER = f"""
import ctypes, os, sys, time
from gpu_worker.sandbox.confinement import make_undumpable
if os.geteuid() == 0:
    os.setgroups([])
    os.setresgid(*[{OTHER_UID}] * 3)
    os.setresuid(*[{OTHER_UID}] * 3)
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # dumpable, as any process starts (a uid change cleared it)
if sys.argv[1] == "undumpable":
    make_undumpable()
print("ready", flush=True)
time.sleep(60)
"""
READER = f"""
import os, sys
if os.geteuid() == 0:
    os.setgroups([])
    os.setresgid(*[{OTHER_UID}] * 3)
    os.setresuid(*[{OTHER_UID}] * 3)
try:
    print("read" if b"STRATUS_SECRET" in open(f"/proc/{{sys.argv[1]}}/environ", "rb").read() else "empty")
except PermissionError:
    print("denied")
"""


def _read_environ_of(holder_mode: str) -> str:
    environment = {**minimal_environment(os.environ), "STRATUS_SECRET": "the job's credentials"}
    holder = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", HOLDER, holder_mode], env=environment, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        reader = subprocess.run(  # noqa: S603
            [sys.executable, "-c", READER, str(holder.pid)],
            env=minimal_environment(os.environ),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=True,
        )
        return reader.stdout.strip()
    finally:
        holder.kill()
        holder.wait()


def test_a_process_of_the_same_user_reads_a_dumpable_processs_environment() -> None:
    assert _read_environ_of("dumpable") == "read"  # what make_undumpable is for


def test_make_undumpable_keeps_the_same_user_from_reading_the_environment() -> None:
    assert _read_environ_of("undumpable") == "denied"


# A worker that is not root: it confines itself with a user namespace of its own (where allowed), keeps
# its user, and ends up with no capabilities in that namespace either.
UNPRIVILEGED_PROBE = f"""
import encodings.idna  # before the probe drops its user: the runtime may be readable by root only
import json, os, socket, sys
from pathlib import Path
from gpu_worker.sandbox.confinement import ConfinementPlan, confine
os.setgroups([])
os.setresgid(*[{OTHER_UID}] * 3)
os.setresuid(*[{OTHER_UID}] * 3)
notes = confine(ConfinementPlan(job_dir=sys.argv[1], keep_paths=tuple(sys.argv[3:])))
seen = {{"notes": notes, "uid": os.getuid()}}
seen["capabilities"] = [line.split()[1] for line in Path("/proc/self/status").read_text().splitlines()
                        if line.startswith("CapEff")][0]
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=2).close()
    seen["network"] = "connected"
except OSError as exc:
    seen["network"] = type(exc).__name__
print(json.dumps(seen))
"""


@pytest.mark.skipif(not IS_ROOT, reason="the probe becomes another user to play a worker that is not root")
def test_a_worker_that_is_not_root_confines_within_a_user_namespace(listener: int) -> None:
    job = Path(tempfile.mkdtemp(prefix="stratus-execution-"))
    job.chmod(0o755)
    keep = confinement_plan_keep_paths()

    result = subprocess.run(  # noqa: S603
        [sys.executable, "-s", "-P", "-c", UNPRIVILEGED_PROBE, str(job), str(listener), *keep],
        env=minimal_environment(os.environ),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    job.rmdir()

    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    if "user" not in seen["notes"][0]:
        pytest.skip(f"this kernel or container allows no user namespaces: {seen['notes']}")
    assert seen["uid"] == OTHER_UID
    assert int(seen["capabilities"], 16) == 0
    assert seen["network"] != "connected"


def confinement_plan_keep_paths() -> list[str]:
    """What a worker keeps visible for its runtime (outside any home: this probe hides none)."""
    with temporary_job_folder("test", None) as folder:
        return list(confinement_plan(folder, None).keep_paths)
