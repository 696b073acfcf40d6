"""Linux namespaces for the child: no network at all, and a /dev/shm of its own.

The child calls `isolate` first thing, while it is still single-threaded (the kernel refuses a
new user namespace to a threaded process) and before any student code. Where it works:

- a new network namespace: only a loopback device, left down. No TCP, UDP or abstract unix
  socket reaches anything outside the child (abstract unix sockets belong to a network
  namespace); sockets bound to a path in the file system are not cut by this (Landlock's
  file rules, or the other user on Gradescope, decide those);
- a new mount namespace with a fresh tmpfs on /dev/shm: what the child's code (or torch's
  shared memory, or a multiprocessing semaphore) puts there is its own, and is gone with the
  last of its processes; nothing a child writes there meets the next child;
- a new IPC namespace: System V shared memory, message queues and semaphores, and POSIX message
  queues, are the child's own and go with it (a segment left behind would pin memory on the
  machine and carry data from the visible checks' child to the hidden checks' one);
- a new user namespace first when the child is not root (unprivileged namespaces), mapping its
  own uid and gid only; then every capability is dropped, so the child cannot unmount that
  tmpfs to reach the machine's /dev/shm (a Landlock domain that handles files refuses any
  mount change too).

Where the kernel (or a container's seccomp profile) refuses, `isolate` says why and changes
nothing: Landlock's TCP rules, and the grader's sweep of the child's files at its close
(`grader.scratch.remove_owned`), are what holds then. Standard library only.
"""
from __future__ import annotations

import ctypes
import os

from ..supervision import prctl

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x08000000, 0x10000000, 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18
_CAP_VERSION_3 = 0x20080522
SHM = "/dev/shm"


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _fail(what: str) -> str:
    return f"{what} failed: {os.strerror(ctypes.get_errno())}"


def _threads() -> int:
    try:
        with open("/proc/self/status") as status:
            return int(next(line.split()[1] for line in status if line.startswith("Threads:")))
    except (OSError, StopIteration, ValueError):
        return 1


def isolate(shm_mb: int = 64) -> str:
    """Enter new user (if not root), network and mount namespaces with a private /dev/shm of
    `shm_mb` MB; "" when done, else why not (nothing is changed then but what already held)."""
    if _threads() != 1:
        return "the child is not single-threaded (a new user namespace needs one thread)"
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUSER
    if libc.unshare(flags) != 0 and (uid != 0 or libc.unshare(flags & ~CLONE_NEWUSER) != 0):
        return _fail("unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC)")
    if os.path.exists("/proc/self/uid_map") and _unmapped():
        try:
            _map_ids(uid, gid)
        except OSError as exc:
            return f"the user namespace's id maps could not be written ({exc})"
    if libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return _fail("making the mounts private")
    if os.path.isdir(SHM):
        options = f"size={max(int(shm_mb), 1)}m,mode=1777".encode()
        if libc.mount(b"tmpfs", SHM.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, options) != 0:
            return _fail(f"mounting a private {SHM}")
    return _drop_capabilities(libc)


def _unmapped() -> bool:
    with open("/proc/self/uid_map") as ids:
        return not ids.read().strip()


def _map_ids(uid: int, gid: int) -> None:
    """The same uid and gid inside as outside (files keep their owners, getuid() its answer)."""
    with open("/proc/self/setgroups", "w") as setgroups:   # required before an unprivileged gid_map
        setgroups.write("deny")
    with open("/proc/self/uid_map", "w") as ids:
        ids.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as ids:
        ids.write(f"{gid} {gid} 1")


def _drop_capabilities(libc) -> str:
    """No capability left, none to regain by exec (no_new_privs, an empty bounding set)."""
    for cap in range(64):
        if not prctl.drop_bounding_capability(cap):
            break   # past the kernel's last capability (EINVAL)
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        return _fail("dropping the capabilities")
    refused = prctl.no_new_privs()
    if refused:
        return f"prctl(PR_SET_NO_NEW_PRIVS) failed: {refused}"
    return ""
