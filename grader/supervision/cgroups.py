"""A memory and pids cgroup per child, where one can be made (issue 17: forks that multiply the
memory limit, fork bombs).

RLIMIT_AS bounds each process, not the child's processes together: a child that forks eight times
may map eight budgets, and nothing but the user's own limit bounds how many processes it starts.
A cgroup bounds them all: `memory.max` (the rubric's `memory_mb` on top of what the child holds when
it says "ready", as its RLIMIT_AS is that budget on top of what it maps then), no swap, and
`pids.max` (256, the process limit of Gradescope's sandbox user; torch's threads count).

Where the group goes:

- cgroup v2: a *sibling* of the grader's own cgroup. v2 lets no process live in a cgroup that
  enables controllers for its children, so a group under ours would mean moving the grader (and
  a library caller's every thread) into a leaf first; a sibling moves nothing of the grader. Its
  parent must enable memory and pids in `cgroup.subtree_control` (it does for a delegated systemd
  scope, `systemd-run --user --scope -p Delegate=yes`, and for root in a container whose processes
  sit in a leaf), and we must be able to write there: moving a process between two cgroups needs
  write access to their common ancestor's `cgroup.procs`, that parent.
- cgroup v1 (separate memory and pids hierarchies, no such rule): a group under the grader's own
  in each, which needs root.

The child joins its group itself, first thing (`join`): a fresh child and a zygote's fork alike.
Where it cannot, it goes on with its rlimits alone. The parent (grader/sandbox.py) limits its
memory once it is ready, reads the group's out-of-memory and process-limit counters, kills
whatever is left in it (`cgroup.kill`, else `processes.end_listed`) and removes it.

Not on Gradescope (`run_as_user`): the container's 768 MB cgroup and the sandbox user's process
limit hold there. The child runs as the grader's user, so it could write its own group's files
(raise its limits, leave the group); Landlock's file rules (the child writes only its own folder,
grader/probes/landlock.py) keep it from them. Standard library only: the child imports it.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from . import processes

PREFIX = "hw3grade-child-"
PIDS_MAX = 256
_numbers = itertools.count()


@dataclass(frozen=True)
class Host:
    """What finding a place reads of this process: its mounts, its cgroups and its pid (a test's fake tree:
    tests/core/test_cgroups_v2.py)."""

    mounts: Path = Path("/proc/self/mounts")
    cgroups: Path = Path("/proc/self/cgroup")
    pid: int = field(default_factory=os.getpid)


@dataclass(frozen=True)
class _Place:
    """Where this process makes its children's groups: one folder (v2), or the memory and the pids one (v1)."""

    version: int
    parents: tuple[Path, ...]


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _counter(path: Path, key: str) -> int:
    for line in (_read(path) or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


def _mounts(host: Host) -> list[tuple[str, str, set[str]]]:
    """(file system type, mount point, options) of each cgroup mount."""
    found = []
    for line in (_read(host.mounts) or "").splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] in ("cgroup", "cgroup2"):
            found.append((fields[2], fields[1], set(fields[3].split(","))))
    return found


def _own(host: Host, mount: Path, hierarchy: str) -> Path | None:
    """This process's cgroup folder in the hierarchy mounted at `mount` ("" : v2, else a v1 controller).
    In a cgroup namespace (a container) the mount's root is some suffix of /proc/self/cgroup's path."""
    for line in (_read(host.cgroups) or "").splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers != hierarchy and hierarchy not in controllers.split(","):
            continue
        parts = [p for p in path.split("/") if p]
        for i in range(len(parts) + 1):
            group = mount.joinpath(*parts[i:])
            if str(host.pid) in (_read(group / "cgroup.procs") or "").split():
                return group
    return None


def _v2_place(host: Host) -> _Place | str:
    mounts = [Path(point) for kind, point, _ in _mounts(host) if kind == "cgroup2"]
    mount = next((m for m in mounts if {"memory", "pids"} <= set((_read(m / "cgroup.controllers") or "").split())),
                 None)
    if mount is None:
        return "no cgroup v2 file system has the memory and pids controllers"
    own = _own(host, mount, "")
    if own is None:
        return f"this process's cgroup was not found under {mount}"
    parent = own if own == mount else own.parent   # the root cgroup alone may hold processes and children
    if not {"memory", "pids"} <= set((_read(parent / "cgroup.subtree_control") or "").split()):
        return (f"{parent} does not enable memory and pids for its children (cgroup.subtree_control); run the "
                "grader in a delegated scope: systemd-run --user --scope -p Delegate=yes hw3grade ...")
    if not os.access(parent / "cgroup.procs", os.W_OK):   # making a group there is not enough to move into it
        return (f"{parent}/cgroup.procs is not writable: a child could not move from this process's cgroup into "
                "a group next to it (cgroup v2 asks that of their common parent)")
    return _Place(2, (parent,))


def _v1_place(host: Host) -> _Place | str:
    parents = []
    for controller in ("memory", "pids"):
        mount = next((Path(p) for kind, p, options in _mounts(host) if kind == "cgroup" and controller in options),
                     None)
        own = _own(host, mount, controller) if mount is not None else None
        if own is None:
            return f"no cgroup file system has the {controller} controller"
        parents.append(own)
    return _Place(1, tuple(parents))


@lru_cache(maxsize=1)
def _place() -> _Place | str:
    """This process's `placement`, found once."""
    return placement(Host())


def placement(host: Host) -> _Place | str:
    """Where children's groups go, or why none can be made; tried by making (and removing) one, and the groups
    of graders that are gone removed."""
    v2 = any(kind == "cgroup2" and "memory" in (_read(Path(point) / "cgroup.controllers") or "").split()
             for kind, point, _ in _mounts(host))
    place = _v2_place(host) if v2 else _v1_place(host)   # the memory controller lives in one hierarchy or the other
    if isinstance(place, str):
        return place
    try:
        probe = ChildGroup(place)
        probe.remove()
    except OSError as exc:
        return f"a cgroup could not be made in {place.parents[0]} ({exc.strerror or exc})"
    _remove_stale(place)
    return place


def _remove_stale(place: _Place) -> None:
    """Groups whose maker is gone (a batch worker killed before it removed its child's): empty them, remove them."""
    for folder in [f for parent in place.parents for f in parent.glob(PREFIX + "*")]:
        maker = folder.name[len(PREFIX):].partition("-")[0]
        if maker.isdigit() and not Path(f"/proc/{maker}").exists():
            processes.end_listed(lambda: [int(p) for p in (_read(folder / "cgroup.procs") or "").split()])
            _remove(folder, within=1.0)


def unavailable() -> str:
    """"" when each child gets a memory and pids cgroup here, else why not (one line)."""
    place = _place()
    return place if isinstance(place, str) else ""


def describe() -> str:
    """One line for the instructor: what bounds a child's processes together here."""
    why = unavailable()
    if why:
        return f"no memory and pids cgroup per child ({why}): each process has its own memory limit"
    place = _place()
    assert not isinstance(place, str)
    return (f"a memory and pids cgroup per child (cgroup v{place.version}, in {place.parents[0]}; "
            f"at most {PIDS_MAX} processes)")


class ChildGroup:
    """One child's cgroup: made with its process limit and no swap, memory limited once the child is ready."""

    def __init__(self, place: _Place) -> None:
        self.version = place.version
        name = f"{PREFIX}{os.getpid()}-{next(_numbers)}"
        self.folders: tuple[Path, ...] = ()
        try:
            for parent in place.parents:
                (parent / name).mkdir()
                self.folders += (parent / name,)
            self._write("pids.max", str(PIDS_MAX))
            if self.version == 2:
                self._write("memory.swap.max", "0", optional=True)
                self._write("memory.oom.group", "1", optional=True)   # an out-of-memory kill ends the whole child
        except OSError:
            self.remove()
            raise
        self.marks = self.events()
        self.at_ready = 0   # what it held when it said "ready" (`limit_memory`)

    @classmethod
    def make(cls) -> "ChildGroup | None":
        """A new group, or None where none can be made (`unavailable` says why)."""
        place = _place()
        if isinstance(place, str):
            return None
        try:
            return cls(place)
        except OSError:
            return None

    @property
    def procs(self) -> list[str]:
        """The files the child writes its pid into to join (`join`)."""
        return [str(folder / "cgroup.procs") for folder in self.folders]

    def _file(self, name: str) -> Path:
        """A controller's file: in the one folder (v2), or in its own hierarchy's (v1)."""
        if self.version == 1 and name.startswith("pids."):
            return self.folders[-1] / name
        return self.folders[0] / name

    def _write(self, name: str, value: str, optional: bool = False) -> None:
        path = self._file(name)
        if optional and not path.exists():
            return
        path.write_text(value)

    def holds(self, pid: int) -> bool:
        return all(str(pid) in (_read(folder / "cgroup.procs") or "").split() for folder in self.folders)

    def limit_memory(self, budget_mb: int) -> None:
        """What it holds now (the child's own imports) plus `budget_mb`, as the child's RLIMIT_AS."""
        self.at_ready = int(_read(self._file("memory.current" if self.version == 2 else "memory.usage_in_bytes")) or 0)
        limit = self.at_ready + budget_mb * 2**20
        if self.version == 2:
            self._write("memory.max", str(limit))
        else:
            self._write("memory.limit_in_bytes", str(limit))
            self._write("memory.memsw.limit_in_bytes", str(limit), optional=True)   # and no swap

    def events(self) -> tuple[int, int]:
        """(out-of-memory kills, forks refused at pids.max) so far."""
        memory = ("memory.events", "oom_kill") if self.version == 2 else ("memory.oom_control", "oom_kill")
        return _counter(self._file(memory[0]), memory[1]), _counter(self._file("pids.events"), "max")

    def ran_out_of_memory(self) -> bool:
        """An out-of-memory kill in the group since the last `mark`."""
        return self.events()[0] > self.marks[0]

    def hit_process_limit(self) -> bool:
        """A fork refused at pids.max since the last `mark`."""
        return self.events()[1] > self.marks[1]

    def peaks(self) -> tuple[int, int]:
        """(the most memory it held, in bytes; the most processes at once), where the kernel counts them."""
        memory = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        return int(_read(self._file(memory)) or 0), int(_read(self._file("pids.peak")) or 0)

    def mark(self) -> None:
        self.marks = self.events()

    def members(self) -> set[int]:
        return {int(pid) for folder in self.folders for pid in (_read(folder / "cgroup.procs") or "").split()}

    def kill(self) -> None:
        """Kill every process left in the group (all at once where the kernel can, cgroup.kill, 5.14)."""
        if not self.folders:
            return
        kill_file = self.folders[0] / "cgroup.kill"
        if self.version == 2 and kill_file.exists():
            with contextlib.suppress(OSError):
                kill_file.write_text("1")
        processes.end_listed(self.members)

    def remove(self) -> None:
        """Kill what is left and remove the group; its folders go once the last process is gone."""
        self.kill()
        for folder in reversed(self.folders):
            _remove(folder)
        self.folders = ()


def _remove(folder: Path, within: float = 5.0) -> None:
    """rmdir, again while a killed process is still exiting (busy); left (`leftovers`) after `within` s."""
    end = time.monotonic() + within
    while True:
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > end:
                return
            time.sleep(0.01)


def join(procs: list[str]) -> str:
    """The child's first act: move this process into its group; "" when it did, else why not."""
    for path in procs:
        try:
            with open(path, "w") as group:
                group.write(str(os.getpid()))
        except OSError as exc:
            return f"could not join its cgroup ({exc.strerror or exc})"
    return ""


def leftovers() -> list[Path]:
    """The groups this process made for its children that still exist (another grader's are its own)."""
    place = _place()
    if isinstance(place, str):
        return []
    return [folder for parent in place.parents for folder in parent.glob(f"{PREFIX}{os.getpid()}-*")]
