"""The cgroup v2 side of grader/supervision/cgroups.py, against a fake cgroup file system in plain files.

The machine that runs the suite may have no cgroup v2 with memory and pids (this one has v1), so the
v2 logic runs here on a tree in tmp_path: `FakeCgroupFs` makes a group's control files on mkdir, as
the kernel does, from the controllers its parent enables, and refuses rmdir while a live process is
listed in it. Checked: which group is chosen and when v2 is refused, what a new group's files say,
how the kernel's counters are read, how a group is killed and removed, and which groups are swept.
The whole path on a real kernel is tests/corpus/test_cgroups.py (it skips where no group can be made).
"""
from __future__ import annotations

import errno
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.supervision import cgroups, procfs

GRADER_PID = 4242   # the fake tree's grader: only its cgroup lists it
CORE_FILES = {"cgroup.procs": "", "cgroup.subtree_control": "", "cgroup.events": "populated 0\nfrozen 0\n",
              "cgroup.kill": "", "cgroup.type": "domain\n"}
CONTROLLER_FILES = {
    "memory": {"memory.current": "0\n", "memory.max": "max\n", "memory.swap.max": "max\n", "memory.oom.group": "0\n",
               "memory.peak": "0\n",
               "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"},
    "pids": {"pids.current": "0\n", "pids.max": "max\n", "pids.peak": "0\n", "pids.events": "max 0\n"},
}


def _live(pid: str) -> bool:
    return procfs.state(int(pid)) not in (None, "Z", "X")


class FakeCgroupFs:
    """Plain folders under `root` that behave as cgroup v2's on mkdir and rmdir (Path.mkdir and Path.rmdir are
    patched for the folders under it): a new group gets the core files and those of the controllers its parent's
    cgroup.subtree_control enables, less `missing` (an older kernel's); a group is removed only when no live
    process is listed in it and it has no child group (EBUSY), and its files are kept in `removed`."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.missing: set[str] = set()
        self.refuse_mkdir = False
        self.removed: dict[str, dict[str, str]] = {}   # {group name: its files when it was removed}
        real_mkdir, real_rmdir = Path.mkdir, Path.rmdir

        def mkdir(path: Path, *args, **kwargs) -> None:
            if self.root not in path.parents:
                return real_mkdir(path, *args, **kwargs)
            if self.refuse_mkdir:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            real_mkdir(path, *args, **kwargs)
            self._populate(path)

        def rmdir(path: Path) -> None:
            if self.root not in path.parents:
                return real_rmdir(path)
            if any(_live(p) for p in path.joinpath("cgroup.procs").read_text().split()) or \
                    any(p.is_dir() for p in path.iterdir()):
                raise OSError(errno.EBUSY, "Device or resource busy", str(path))
            self.removed[path.name] = {f.name: f.read_text() for f in path.iterdir()}
            for f in path.iterdir():
                f.unlink()
            real_rmdir(path)

        monkeypatch.setattr(Path, "mkdir", mkdir)
        monkeypatch.setattr(Path, "rmdir", rmdir)

    def _populate(self, group: Path) -> None:
        enabled = (group.parent / "cgroup.subtree_control").read_text().split()
        files = {**CORE_FILES, "cgroup.controllers": " ".join(enabled) + "\n"}
        for controller in enabled:
            files.update(CONTROLLER_FILES.get(controller, {}))
        for name, text in files.items():
            if name not in self.missing:
                (group / name).write_text(text)

    def group(self, path: str, *, controllers: str, subtree: str, procs: str = "") -> Path:
        """A group the test sets up (before the grader runs): its controllers, what it enables, its processes."""
        folder = self.root / path
        os.makedirs(folder, exist_ok=True)
        for name, text in {"cgroup.controllers": controllers, "cgroup.subtree_control": subtree,
                           "cgroup.procs": procs}.items():
            (folder / name).write_text(text + "\n")
        return folder


@dataclass
class Tree:
    fs: FakeCgroupFs
    host: cgroups.Host
    parent: Path   # where the groups go: the grader's scope's parent

    def place(self) -> cgroups._Place:
        place = cgroups.placement(self.host)
        assert not isinstance(place, str), place
        return place


def _host(tmp_path: Path, root: Path, cgroup_line: str, pid: int = GRADER_PID) -> cgroups.Host:
    """/proc/self/mounts with one cgroup2 mount at `root`, and /proc/self/cgroup's one v2 line."""
    mounts, membership = tmp_path / "mounts", tmp_path / "cgroup"
    mounts.write_text(f"proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
                      f"cgroup2 {root} cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n")
    membership.write_text(cgroup_line + "\n")
    return cgroups.Host(mounts=mounts, cgroups=membership, pid=pid)


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Tree:
    """A systemd host's: the grader in a delegated scope whose parent enables memory and pids."""
    fs = FakeCgroupFs(tmp_path / "sys-fs-cgroup", monkeypatch)
    fs.group("", controllers="cpuset cpu io memory hugetlb pids", subtree="cpu io memory pids")
    parent = fs.group("user.slice/app.slice", controllers="cpu io memory pids", subtree="memory pids")
    fs.group("user.slice/app.slice/run-1.scope", controllers="memory pids", subtree="", procs=f"{GRADER_PID} 4243")
    return Tree(fs, _host(tmp_path, fs.root, "0::/user.slice/app.slice/run-1.scope"), parent)


@pytest.fixture
def sleeper():
    """A live process that is not the test's: another grader, or a process left in a group."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def _files(group: Path, *names: str) -> dict[str, str]:
    return {name: (group / name).read_text().strip() for name in names}


# Which group is chosen, and when v2 is refused

def test_the_groups_go_next_to_the_graders_own_cgroup_and_the_probe_is_removed(tree):
    assert tree.place() == cgroups._Place(2, (tree.parent,))
    [probe] = tree.fs.removed
    assert probe.startswith(f"{cgroups.PREFIX}{os.getpid()}-")
    assert not list(tree.parent.glob(cgroups.PREFIX + "*"))


def test_in_a_container_the_groups_go_in_its_root_next_to_the_leaf_the_grader_runs_in(tmp_path, monkeypatch):
    fs = FakeCgroupFs(tmp_path / "ns-root", monkeypatch)
    fs.group("", controllers="memory pids", subtree="memory pids")
    fs.group("init", controllers="memory pids", subtree="", procs=str(GRADER_PID))
    # the path is the host's; the mount's root is the container's cgroup, a suffix of it
    host = _host(tmp_path, fs.root, "0::/system.slice/docker-0123.scope/init")
    assert cgroups.placement(host) == cgroups._Place(2, (fs.root,))


def test_a_grader_in_the_root_cgroup_makes_the_groups_under_it(tmp_path, monkeypatch):
    fs = FakeCgroupFs(tmp_path / "root", monkeypatch)
    fs.group("", controllers="memory pids", subtree="memory pids", procs=f"1 {GRADER_PID}")
    assert cgroups.placement(_host(tmp_path, fs.root, "0::/")) == cgroups._Place(2, (fs.root,))


def test_a_grader_in_a_containers_root_with_its_processes_is_refused(tmp_path, monkeypatch):
    """The container's root is no real root: with processes in it, it can enable no controller (EBUSY)."""
    fs = FakeCgroupFs(tmp_path / "ns-root", monkeypatch)
    fs.group("", controllers="memory pids", subtree="", procs=f"1 {GRADER_PID}")
    why = cgroups.placement(_host(tmp_path, fs.root, "0::/"))
    assert isinstance(why, str) and "does not enable memory and pids" in why and str(fs.root) in why


@pytest.mark.parametrize("enabled", ["memory", "pids", ""])
def test_a_parent_that_does_not_enable_both_controllers_is_refused(tree, enabled):
    (tree.parent / "cgroup.subtree_control").write_text(enabled + "\n")
    why = cgroups.placement(tree.host)
    assert isinstance(why, str) and "does not enable memory and pids" in why and "Delegate=yes" in why
    assert not tree.fs.removed   # no group was tried


def test_a_parent_whose_cgroup_procs_is_not_writable_is_refused(tree, monkeypatch):
    """A child moves from the grader's cgroup to its own only if it may write their common parent's cgroup.procs."""
    real_access, guarded = os.access, tree.parent / "cgroup.procs"
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: (
        not mode & os.W_OK if Path(path) == guarded else real_access(path, mode, **kw)))
    why = cgroups.placement(tree.host)
    assert isinstance(why, str) and "not writable" in why and str(guarded) in why


def test_a_parent_where_no_group_can_be_made_is_refused(tree):
    tree.fs.refuse_mkdir = True
    why = cgroups.placement(tree.host)
    assert isinstance(why, str) and why.startswith(f"a cgroup could not be made in {tree.parent}")


def test_a_grader_not_listed_in_its_cgroup_is_refused(tmp_path, tree):
    host = _host(tmp_path, tree.fs.root, "0::/user.slice/app.slice/run-1.scope", pid=GRADER_PID + 100)
    why = cgroups.placement(host)
    assert isinstance(why, str) and "was not found" in why


def test_a_cgroup2_mount_without_the_pids_controller_is_refused(tree):
    (tree.fs.root / "cgroup.controllers").write_text("cpu io memory\n")
    assert cgroups.placement(tree.host) == "no cgroup v2 file system has the memory and pids controllers"


# A group's files: what is written, what is read

def test_a_new_group_has_256_processes_no_swap_and_one_oom_group_and_no_memory_limit_yet(tree):
    group = cgroups.ChildGroup(tree.place())
    [folder] = group.folders
    assert folder.parent == tree.parent and folder.name.startswith(f"{cgroups.PREFIX}{os.getpid()}-")
    assert group.procs == [str(folder / "cgroup.procs")]
    assert _files(folder, "pids.max", "memory.swap.max", "memory.oom.group", "memory.max") == {
        "pids.max": "256", "memory.swap.max": "0", "memory.oom.group": "1", "memory.max": "max"}


def test_the_memory_limit_is_what_the_child_held_when_ready_plus_its_budget(tree):
    group = cgroups.ChildGroup(tree.place())
    [folder] = group.folders
    (folder / "memory.current").write_text("157286400\n")
    group.limit_memory(448)
    assert group.at_ready == 157286400
    assert _files(folder, "memory.max")["memory.max"] == str(157286400 + 448 * 2**20)


def test_a_kernel_without_swap_accounting_oom_groups_or_cgroup_kill_still_gets_a_group(tree):
    tree.fs.missing = {"memory.swap.max", "memory.oom.group", "cgroup.kill"}
    group = cgroups.ChildGroup(tree.place())
    [folder] = group.folders
    assert _files(folder, "pids.max") == {"pids.max": "256"}
    assert not (folder / "memory.swap.max").exists() and not (folder / "memory.oom.group").exists()
    group.remove()
    assert not folder.exists()


def test_an_oom_kill_in_memory_events_is_the_childs_memory_failure_and_reaching_max_alone_is_not(tree):
    group = cgroups.ChildGroup(tree.place())
    events = group.folders[0] / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 40\noom 3\noom_kill 0\noom_group_kill 0\n")
    assert not group.ran_out_of_memory()   # reclaimed, or an allocation refused: nothing was killed
    events.write_text("low 0\nhigh 0\nmax 41\noom 4\noom_kill 2\noom_group_kill 1\n")
    assert group.ran_out_of_memory() and not group.hit_process_limit()
    group.mark()   # the next request starts from here
    assert not group.ran_out_of_memory()


def test_a_fork_refused_at_pids_max_is_the_process_limit(tree):
    group = cgroups.ChildGroup(tree.place())
    (group.folders[0] / "pids.events").write_text("max 7\n")
    assert group.hit_process_limit() and not group.ran_out_of_memory()
    assert group.events() == (0, 7)


def test_peaks_are_read_from_memory_peak_and_pids_peak(tree):
    group = cgroups.ChildGroup(tree.place())
    [folder] = group.folders
    (folder / "memory.peak").write_text("300000000\n")
    (folder / "pids.peak").write_text("3\n")
    assert group.peaks() == (300000000, 3)


# Killing and removing a group, and sweeping those of graders that are gone

def test_removing_a_group_writes_cgroup_kill_and_removes_its_folder(tree):
    group = cgroups.ChildGroup(tree.place())
    [folder] = group.folders
    group.remove()
    assert not folder.exists() and group.folders == ()
    assert tree.fs.removed[folder.name]["cgroup.kill"] == "1"


def test_a_process_left_in_a_group_is_killed_before_the_group_is_removed(tree, sleeper):
    group = cgroups.ChildGroup(tree.place())
    [folder] = group.folders
    (folder / "cgroup.procs").write_text(f"{sleeper.pid}\n")   # as if it had joined (cgroups.join)
    assert group.holds(sleeper.pid) and group.members() == {sleeper.pid}
    group.remove()   # the fake's cgroup.kill kills nothing: processes.end_listed does
    assert not _live(str(sleeper.pid))
    assert not folder.exists()


def test_finding_a_place_sweeps_the_groups_of_graders_that_are_gone_and_no_others(tree, sleeper):
    no_such_pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    orphan = subprocess.Popen(["sleep", "60"])   # left running in a dead grader's group
    try:
        gone = tree.parent / f"{cgroups.PREFIX}{no_such_pid}-0"
        gone.mkdir()
        (gone / "cgroup.procs").write_text(f"{orphan.pid}\n")
        kept = [tree.parent / f"{cgroups.PREFIX}{os.getpid()}-made-earlier",   # this grader's own
                tree.parent / f"{cgroups.PREFIX}{sleeper.pid}-0",              # another grader's, running
                tree.parent / "session-2.scope"]                               # not a child group
        for folder in kept:
            folder.mkdir()
        tree.place()
        assert not gone.exists() and not _live(str(orphan.pid))
        assert all(folder.exists() for folder in kept)
    finally:
        orphan.kill()
        orphan.wait()
