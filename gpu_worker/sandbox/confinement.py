"""Confining the algorithm's process before uploaded code runs: no network, a private view of the job's
folder and the worker's home, an unprivileged user, no way back to privileges, death with the worker.

Stdlib only, and run first: unshare(2) refuses a user namespace to a threaded process (and a mount
namespace would cover only the calling thread), while importing numpy starts threads.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import signal
import socket
import stat
import struct
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

# <linux/sched.h>, <linux/mount.h>, <linux/prctl.h>, <linux/capability.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
_CAPABILITY_VERSION_3 = 0x20080522
# <linux/sockios.h>, <net/if.h>: a new network namespace's loopback starts down.
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
_IFREQ = struct.Struct("16sH22x")
# Exit status of a process whose worker was gone before it could tie its life to the worker's.
EXIT_ORPHANED = 70
# The empty directory laid over a hidden one holds only mount points.
_HIDING_OPTIONS = "mode=0755,size=1m"


class ConfinementError(Exception):
    """The process cannot be confined as asked (e.g. the sandbox user cannot read the runtime)."""


@dataclass(frozen=True)
class ConfinementPlan:
    """What the worker asks of its algorithm's process."""

    job_dir: str
    # Drop to this user and group (only a root worker can), or stay the worker's user.
    uid: int | None = None
    gid: int | None = None
    # Paths the runtime imports from (sys.path, the interpreter's prefixes): they stay visible.
    keep_paths: tuple[str, ...] = ()
    # Of those, the ones the sandbox user must be able to read, or running there is refused.
    required_paths: tuple[str, ...] = ()
    # Shown empty, but for the kept paths inside it (the worker's home).
    hidden_home: str | None = None
    # The process dies with this one (None: with whatever its parent is).
    parent_pid: int | None = None

    def to_json(self) -> str:
        """The plan as JSON (the algorithm's process gets it on its command line)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ConfinementPlan:
        """The plan from `to_json`'s text."""
        values = json.loads(text)
        values["keep_paths"] = tuple(values["keep_paths"])
        values["required_paths"] = tuple(values["required_paths"])
        return cls(**values)


def confine(plan: ConfinementPlan) -> list[str]:
    """Confine this process as ``plan`` asks; returns what was done, for the worker's log.

    Namespaces are used where the kernel and the container allow them and skipped otherwise (Docker's
    default seccomp profile refuses them); the user is dropped whenever the worker is root. Raises
    ConfinementError, OSError (a step that is allowed but failed).
    """
    if not sys.platform.startswith("linux"):
        return ["no namespaces (not Linux)", "user unchanged"]
    is_root = os.geteuid() == 0
    namespaces = _unshare(is_root)
    notes = [f"namespaces: {', '.join(sorted(namespaces)) or 'none allowed'}"]
    if "mount" in namespaces:
        notes += _private_view(plan)
    if "network" in namespaces:
        _loopback_up()
    if is_root and plan.uid is not None and plan.gid is not None:
        standard_library = str(Path(os.__file__).parent)
        _check_readable([standard_library, plan.job_dir, *plan.required_paths], plan.uid, plan.gid)
        _drop_to(plan.uid, plan.gid)
        notes.append(f"user {plan.uid}:{plan.gid}")
    else:
        if "user" in namespaces:
            _drop_capabilities()  # those the new user namespace granted
        notes.append(f"user unchanged ({os.getuid()})")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)  # no setuid binary or file capability gives privileges back
    # No other process of its user (where the worker is not root: every job's algorithm) may trace it or
    # read its /proc files; the worker does the same to itself.
    _prctl(PR_SET_DUMPABLE, 0)
    _die_with_parent(plan.parent_pid)
    return notes


def make_undumpable() -> None:
    """Keep processes of this user from tracing this one or reading its /proc/<pid> files (environ)."""
    if sys.platform.startswith("linux"):
        _prctl(PR_SET_DUMPABLE, 0)


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _prctl(option: int, value: int) -> None:
    _check(_libc().prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl({option})")


def _unshare(is_root: bool) -> frozenset[str]:
    """Enter new mount and network namespaces, whichever are allowed; returns their names."""
    # Root makes them itself (with CAP_SYS_ADMIN); anyone else needs a user namespace of its own.
    user = 0 if is_root else CLONE_NEWUSER
    uid, gid = os.getuid(), os.getgid()
    for flags, names in (
        (CLONE_NEWNS | CLONE_NEWNET, {"mount", "network"}),
        (CLONE_NEWNET, {"network"}),
        (CLONE_NEWNS, {"mount"}),
    ):
        if _libc().unshare(flags | user) == 0:
            if user:
                _map_ids(uid, gid)
                names = names | {"user"}
            return frozenset(names)
    return frozenset()


def _map_ids(uid: int, gid: int) -> None:
    # Unmapped ids read as 65534 and may not create files; map the user to itself. An undumpable process
    # (one that changed users) finds its /proc/self files root's, these too: dumpable until confine ends.
    _prctl(PR_SET_DUMPABLE, 1)
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _mount(source: str | None, target: str, kind: str | None, flags: int, options: str | None = None) -> None:
    encoded = [value.encode() if value is not None else None for value in (source, target, kind, options)]
    _check(
        _libc().mount(encoded[0], encoded[1], encoded[2], ctypes.c_ulong(flags), encoded[3]),
        f"mount {target}",
    )


def _private_view(plan: ConfinementPlan) -> list[str]:
    """The worker's home and the job folder's siblings hidden, what the runtime needs left in place."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here shows outside, nor back
    keep = [os.path.realpath(path) for path in (*plan.keep_paths, plan.job_dir)]
    hidden = [plan.hidden_home] if plan.hidden_home else []
    hidden.append(str(Path(plan.job_dir).resolve().parent))
    return [note for directory in hidden if (note := _hide(Path(directory).resolve(), keep))]


def _hide(directory: Path, keep: list[str]) -> str | None:
    """Lay an empty tmpfs over ``directory`` and bind back each of its entries that holds a kept path.
    Returns a note, or None when the directory must stay as it is (it is, or is inside, a kept path)."""
    if directory == Path("/") or not directory.is_dir():
        return None
    if any(directory.is_relative_to(path) for path in keep):
        return f"{directory} left visible (the runtime needs it)"
    names = sorted(
        {Path(path).relative_to(directory).parts[0] for path in keep if _is_below(path, directory)}
    )
    # Open each entry before the tmpfs covers its path, then bind it back through /proc/self/fd.
    handles = {name: os.open(directory / name, os.O_PATH) for name in names if (directory / name).exists()}
    try:
        _mount("tmpfs", str(directory), "tmpfs", MS_NOSUID | MS_NODEV, _HIDING_OPTIONS)
        for name, handle in handles.items():
            target = directory / name
            if stat.S_ISDIR(os.fstat(handle).st_mode):
                target.mkdir()
            else:
                target.touch()
            _mount(f"/proc/self/fd/{handle}", str(target), None, MS_BIND | MS_REC)
    finally:
        for handle in handles.values():
            os.close(handle)
    return f"{directory} hidden" + (f" but {', '.join(handles)}" if handles else "")


def _is_below(path: str, directory: Path) -> bool:
    return Path(path) != directory and Path(path).is_relative_to(directory)


def _loopback_up() -> None:
    # Code that talks to itself over 127.0.0.1 still works; nothing outside the namespace is reachable.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as handle:
        answer = fcntl.ioctl(handle, SIOCGIFFLAGS, _IFREQ.pack(b"lo", 0))
        flags = _IFREQ.unpack(answer)[1]
        fcntl.ioctl(handle, SIOCSIFFLAGS, _IFREQ.pack(b"lo", flags | IFF_UP))


def _check_readable(paths: list[str], uid: int, gid: int) -> None:
    """Raises ConfinementError naming the first of ``paths`` the user could not read (checked as root,
    by mode bits, from / down)."""
    for path in paths:
        current = Path("/")
        for part in Path(os.path.realpath(path)).parts[1:]:
            _require(current, uid, gid, 0o1, path)  # search
            current = current / part
        _require(current, uid, gid, 0o4 | (0o1 if current.is_dir() else 0), path)


def _require(path: Path, uid: int, gid: int, bits: int, wanted: str) -> None:
    try:
        status = path.stat()
    except OSError as exc:
        raise ConfinementError(f"the sandbox user {uid}:{gid} cannot read {wanted}: {exc}") from exc
    shift = 6 if status.st_uid == uid else 3 if status.st_gid == gid else 0
    if (status.st_mode >> shift) & bits != bits:
        raise ConfinementError(
            f"the sandbox user {uid}:{gid} cannot read {wanted} "
            f"({path} is {stat.filemode(status.st_mode)}, owner {status.st_uid}:{status.st_gid})"
        )


def _drop_to(uid: int, gid: int) -> None:
    # Groups first: once the user changes, the process may no longer change them. A uid change from
    # root to a non-root user clears every capability.
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
        raise ConfinementError(f"could not become user {uid}:{gid}")


class _CapabilityHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


def _drop_capabilities() -> None:
    """Empty the effective, permitted and inheritable sets (capset(2), version 3: two 32-bit words)."""
    header = _CapabilityHeader(_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc().capset(ctypes.byref(header), ctypes.byref(data)), "capset")


def _die_with_parent(parent_pid: int | None) -> None:
    # Set after the user change, which clears it. The parent may have died before: then exit now.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(EXIT_ORPHANED)
