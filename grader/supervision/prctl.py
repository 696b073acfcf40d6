"""The one wrapper of prctl(2): each setting the grader's processes use, by name.

Who calls what: the child, the zygote and every grading process become subreapers
(`become_subreaper`); the zygote, the batch, its forkserver and its workers are undumpable
(`set_dumpable`); a forked child dies with its zygote (`die_with_parent`); the child's
walls (grader/probes/landlock.py, namespaces.py) set no_new_privs and empty the bounding
set. Standard library only: the child and the zygote import this before anything else, and
the student kit ships it. Off Linux every setting is a no-op that says it did not apply.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_LIBC: list = []


def _libc():
    """The C library (None off Linux, or where it cannot be loaded)."""
    if not _LIBC:
        try:
            _LIBC.append(ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None)
        except OSError:
            _LIBC.append(None)
    return _LIBC[0]


def _prctl(option: int, arg: int = 0) -> int | None:
    """prctl(option, arg, 0, 0, 0): its result (-1 on an error: `ctypes.get_errno()` says which),
    None off Linux."""
    libc = _libc()
    if libc is None:
        return None
    try:
        return libc.prctl(option, arg, 0, 0, 0)
    except AttributeError:   # a C library without prctl
        return None


def become_subreaper() -> bool:
    """PR_SET_CHILD_SUBREAPER: orphans of this process's descendants (setsid and double forks
    included) come to it, not to init. Whether it worked."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1) == 0


def die_with_parent() -> None:
    """PR_SET_PDEATHSIG, SIGKILL: SIGKILL when the parent dies (a fork of this process keeps none)."""
    _prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))


def dumpable() -> int | None:
    """This process's PR_GET_DUMPABLE (None: not Linux)."""
    return _prctl(PR_GET_DUMPABLE)


def set_dumpable(flag: bool) -> int | None:
    """PR_SET_DUMPABLE: an undumpable process's memory (/proc/PID/mem), descriptors, environment
    and ptrace are out of reach of every process of the same user that lacks CAP_SYS_PTRACE, its own
    children included (root keeps them). Returns the previous setting (0, 1 or 2; None: not Linux)."""
    previous = dumpable()
    if previous is None or previous < 0 or _prctl(PR_SET_DUMPABLE, 1 if flag else 0) != 0:
        return None
    return previous


def no_new_privs() -> str:
    """PR_SET_NO_NEW_PRIVS: no exec gains privileges (setuid, file capabilities) from now on, for
    this process and all it starts. "" when set, else why not."""
    result = _prctl(PR_SET_NO_NEW_PRIVS, 1)
    if result is None:
        return "prctl is not available here"
    return "" if result == 0 else os.strerror(ctypes.get_errno())


def drop_bounding_capability(cap: int) -> bool:
    """PR_CAPBSET_DROP: `cap` can never be regained by exec. False past the kernel's last capability."""
    return _prctl(PR_CAPBSET_DROP, cap) == 0
