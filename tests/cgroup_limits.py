"""Gradescope's limits on this machine: a memory and CPU cgroup for a command and all it starts.

Gradescope gives a submission's container 768 MB and about half a CPU. `GradescopeLimits`
creates a cgroup (v2 `memory.max` / `cpu.max`, or v1 `memory.limit_in_bytes` /
`cpu.cfs_quota_us`) that a command joins before it execs, so the grader, runuser and the
child all count against it; afterwards it reads the peak memory and whether the kernel
killed anything for lack of memory. `available()` says why not where no cgroup can be
made (not root, no writable cgroup file system): callers skip with that reason.
"""
from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
GRADESCOPE_MEMORY_MB = 768
GRADESCOPE_CPUS = 0.5
PERIOD_US = 100_000


@dataclass
class Usage:
    peak_mb: float
    oom_kills: int


def _v2() -> bool:
    return (ROOT / "cgroup.controllers").is_file()


def own_v1_group(controller: str) -> Path:
    """This process's cgroup in a v1 hierarchy: a CPU group made in it stays under any quota we run in
    (tests/cpu_quota.py runs the containment suite with half this machine's CPU)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return ROOT / controller / path.lstrip("/")
    return ROOT / controller


def available() -> str:
    """"" when a limited cgroup can be made here, else why not."""
    if os.geteuid() != 0:
        return "creating a cgroup needs root"
    try:
        with GradescopeLimits():
            return ""
    except OSError as exc:
        return f"no cgroup could be created ({exc})"


class GradescopeLimits:
    """A fresh cgroup with `memory_mb` and `cpus` (None: no limit of that kind); use as a context manager
    (removed on exit). `usage` needs the memory limit."""

    def __init__(self, memory_mb: int | None = GRADESCOPE_MEMORY_MB, cpus: float | None = GRADESCOPE_CPUS) -> None:
        self.name = f"hw3grade-test-{uuid.uuid4().hex[:12]}"
        self.memory_mb, self.cpus = memory_mb, cpus
        self.dirs: list[Path] = []

    def __enter__(self) -> "GradescopeLimits":
        limit = str(self.memory_mb * 2**20) if self.memory_mb else None
        quota = int(self.cpus * PERIOD_US) if self.cpus else None
        if _v2():
            group = self._make(ROOT / self.name)
            if limit:
                (group / "memory.max").write_text(limit)
                (group / "memory.swap.max").write_text("0") if (group / "memory.swap.max").exists() else None
            if quota:
                (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        else:
            if limit:
                memory = self._make(ROOT / "memory" / self.name)
                (memory / "memory.limit_in_bytes").write_text(limit)
                swap = memory / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    swap.write_text(limit)
            if quota:
                cpu = self._make(own_v1_group("cpu") / self.name)
                (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (cpu / "cpu.cfs_quota_us").write_text(str(quota))
        return self

    def _make(self, path: Path) -> Path:
        path.mkdir()
        self.dirs.append(path)
        return path

    def join(self) -> None:
        """Move the calling process into the cgroup (use as subprocess's preexec_fn)."""
        pid = str(os.getpid())
        for group in self.dirs:
            (group / "cgroup.procs").write_text(pid)

    def run(self, command: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(command, preexec_fn=self.join, **kwargs)

    def usage(self) -> Usage:
        memory = self.dirs[0]
        if _v2():
            peak_file = memory / "memory.peak"
            peak = int(peak_file.read_text()) if peak_file.exists() else 0
            events = dict(line.split() for line in (memory / "memory.events").read_text().splitlines())
            return Usage(peak / 2**20, int(events.get("oom_kill", 0)))
        peak = int((memory / "memory.max_usage_in_bytes").read_text())
        control = dict(line.split() for line in (memory / "memory.oom_control").read_text().splitlines())
        return Usage(peak / 2**20, int(control.get("oom_kill", 0)))

    def __exit__(self, *exc) -> None:
        for group in reversed(self.dirs):
            for pid in (group / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), 9)
                except ProcessLookupError:
                    pass
            try:
                group.rmdir()
            except OSError:
                pass
