"""Linux Landlock, by direct system calls: what the child may read and write, and whom it may signal.

The child calls `restrict` after its own imports and before any student code. From then
on it, and every process it starts, may

- read (and execute) only the paths it is given: the interpreter, the installed libraries
  (the grader's own packages left out, but for its probe code), the system's libraries,
  the submission's private copy;
- write only its working folder (and /dev/null);
- not signal, ptrace or read the memory of any process outside its own Landlock domain
  (the grader, its zygote, a batch worker, a classmate's child, the next child): ptrace is
  scoped since ABI 1, signals and abstract unix sockets since ABI 6;
- not connect or bind any TCP port (ABI 4: no rule allows one).

`restrict_reach` is the same without the file rules, for a child that another user already
keeps from the grader's files (Gradescope): no TCP, no signal or abstract socket outside.

Unprivileged (no root, no user namespace) and irreversible. Where the kernel has no
Landlock (older than 5.13, or disabled), `restrict` says why and changes nothing: the
parent reports that once per run. Standard library only (it runs in the child).
"""
from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys
import sysconfig
from typing import Iterable

from ..supervision import prctl

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446   # the same on x86_64 and arm64
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_DIR_ONLY = sum(1 << i for i in range(3, 13)) | (1 << 13)          # READ_DIR, REMOVE_*, MAKE_*, REFER
_TRUNCATE, _IOCTL_DEV = 1 << 14, 1 << 15
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1, 2
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2


def _handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1                  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        rights |= 1 << 13                   # REFER
    if abi >= 3:
        rights |= _TRUNCATE
    if abi >= 5:
        rights |= _IOCTL_DEV
    return rights


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi_version() -> int:
    """The kernel's Landlock ABI (0 where there is none)."""
    try:
        version = _libc().syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def restrict(readable: Iterable[str], writable: Iterable[str]) -> str:
    """Sandbox this process and its future children; "" when done, else why it could not be."""
    return _restrict(readable, writable, files=True)


def restrict_reach() -> str:
    """No TCP, and no signal or abstract unix socket outside this process's own domain, for this
    process and its future children; files untouched. "" when done, else why not."""
    return _restrict((), (), files=False)


def _ruleset_attr(abi: int, files: bool) -> bytes:
    """struct landlock_ruleset_attr: handled file rights, handled network rights, scopes."""
    handled_net = _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0
    scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("<QQQ", _handled_fs(abi) if files else 0, handled_net, scoped)
    return attr[: 24 if abi >= 6 else 16 if abi >= 4 else 8]


def _restrict(readable: Iterable[str], writable: Iterable[str], *, files: bool) -> str:
    abi = abi_version()
    if abi < 1:
        return "this kernel has no Landlock (Linux 5.13 or later, with Landlock enabled)"
    if not files and abi < 4:
        return f"this kernel's Landlock (ABI {abi}) has no network rules (ABI 4, Linux 6.7)"
    libc = _libc()
    handled = _handled_fs(abi) if files else 0
    attr = _ruleset_attr(abi, files)
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.c_char_p(attr), ctypes.c_size_t(len(attr)), 0)
    if ruleset < 0:
        return f"landlock_create_ruleset failed: {os.strerror(ctypes.get_errno())}"
    try:
        if files:
            read_rights = (EXECUTE | READ_FILE | READ_DIR) & handled
            for path in dict.fromkeys(readable):
                _allow(libc, ruleset, path, read_rights)
            for path in dict.fromkeys(writable):
                _allow(libc, ruleset, path, handled)
            _allow(libc, ruleset, os.devnull, (READ_FILE | WRITE_FILE | _TRUNCATE | _IOCTL_DEV) & handled)
        refused = prctl.no_new_privs()
        if refused:
            return f"prctl(PR_SET_NO_NEW_PRIVS) failed: {refused}"
        if libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0) != 0:
            return f"landlock_restrict_self failed: {os.strerror(ctypes.get_errno())}"
    finally:
        os.close(ruleset)
    return ""


def _allow(libc, ruleset: int, path: str, rights: int) -> None:
    """One path-beneath rule; paths that do not exist are skipped (not every system has /lib64)."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(path):
            rights &= ~_DIR_ONLY                 # directory rights on a file are refused (EINVAL)
        rule = struct.pack("<Qi", rights, fd)  # struct landlock_path_beneath_attr is packed: 12 bytes
        if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.c_char_p(rule), 0) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"landlock_add_rule({path}): {os.strerror(code)}")
    finally:
        os.close(fd)


def denied(exc: BaseException) -> bool:
    """Whether an OSError is Landlock's refusal (for messages)."""
    return isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM)


# ---------------------------------------------------------------- what the child needs

SYSTEM_READABLE = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/opt", "/dev", "/proc", "/sys",
                   "/run", "/var/lib", "/var/cache")
OWN_PACKAGES = frozenset({"grader", "reference", "student_template"})


def child_policy(submission_paths: Iterable[str], workdir: str,
                 private_shm: bool = False) -> tuple[list[str], list[str]]:
    """(readable, writable) for the child: the system, the interpreter and the installed libraries
    (the grader's own packages left out, but for the probe code this child runs), the submission's
    copy; writable only its working folder, and /dev/shm when it is the child's own
    (`private_shm`: grader/probes/namespaces.py mounted a fresh one; the machine's is shared with
    every later child). Computed in the child before any student code."""
    probes = os.path.dirname(os.path.abspath(__file__))
    readable = [*SYSTEM_READABLE, os.path.dirname(os.path.realpath(sys.executable)), probes]
    # the base installation's standard library (a venv's platstdlib would be the venv, site-packages and all)
    readable += [sysconfig.get_path("stdlib"),
                 sysconfig.get_path("platstdlib", vars={"platbase": sys.base_exec_prefix})]
    for entry in sys.path:
        readable += _library_entries(entry, probes)
    paths = [os.path.abspath(p) for p in submission_paths if p]
    if paths:
        readable.append(os.path.commonpath([os.path.dirname(p) for p in paths]))
    # its own /proc entry: clear_refs resets the peak-memory mark the VJP probe reports
    return readable, [workdir, f"/proc/{os.getpid()}", *(["/dev/shm"] if private_shm else [])]


def _library_entries(entry: str, probes: str) -> list[str]:
    """A sys.path folder's entries, less the grader's own packages (an editable install lists the
    repository itself there: its reference must stay out of reach) and their install records."""
    if not entry or not os.path.isdir(entry) or os.path.abspath(entry) == os.path.dirname(os.path.dirname(probes)):
        return [entry] if entry and os.path.isfile(entry) else []      # a zip on sys.path, or our own root
    kept = []
    for name in os.listdir(entry):
        stem = name.split("-", 1)[0].split(".", 1)[0].lower()
        if stem in OWN_PACKAGES or "hw3grade" in name.lower():
            continue
        kept.append(os.path.join(entry, name))
    return kept
