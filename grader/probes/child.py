"""The child process: imports the student's code and runs probes on request.

Run as ``python -m grader.probes.child REQUEST_FD ANSWER_FD``. The first message
configures it (the submission's modules, limits); each further message is
``{"op": "import" | "probe", "token": ..., ...}`` and gets exactly one answer
carrying the same token. Everything the student prints goes to stdout/stderr,
which the parent drains and caps; the protocol has its own descriptors.

Only the standard library, numpy, torch, this package's ``probes`` modules,
``grader.supervision`` (the prctl wrapper, the signal policy, the cgroups: standard library only) and the
assignment's probe files (named by the parent, loaded by path before any student code) are
imported here: nothing of the reference or of the checks' declarations.
"""
from __future__ import annotations

import os
import resource
import sys
import tempfile
from typing import Any

import numpy as np

from ..supervision import cgroups, prctl, signals
from . import callables, wire
from .registry import ANSWER_BYTES
from .student import ImportFailed, Missing, Student, describe_exception

PROBE_MODULES = ("grader.probes.registry", "grader.probes.calls_extra", "grader.probes.unittests",
                 "grader.probes.classes")


def main(argv: list[str]) -> int:
    request_fd, answer_fd = int(argv[1]), int(argv[2])
    _first_to_go()
    # Be a child subreaper: whatever student code starts, setsid and double forks included, stays
    # in this process's tree, where the parent finds and kills it (supervision.processes.kill_tree).
    # The zygote and the grader's own processes are subreapers too: what a child started and left
    # behind when it ended comes to them, never to init.
    prctl.become_subreaper()
    config = wire.receive(request_fd)
    # Its memory and pids cgroup first (grader/supervision/cgroups.py); without it, its rlimits alone.
    cgroups.join(config.get("cgroup") or [])
    sys.dont_write_bytecode = True
    isolated = _isolate(config)    # first: a new user namespace needs a single thread (before torch)
    _apply_limits(config)
    registry = _load_probe_kinds(config.get("probe_files") or {})
    # Nothing of the submission is on sys.path or loaded until here: a death before "ready" is
    # the grader's (interpreter, libraries, install), never the student's (the parent says so).
    student = Student(config.get("modules", {}), config.get("notebook"))
    student.guard_imports()
    confined = _confine(config, private_shm=not isolated)
    wire.send(answer_fd, {"token": config.get("token"), "ready": True, "confined": confined, "isolated": isolated,
                          "answer_bytes": dict(ANSWER_BYTES)})
    while True:
        try:
            request = wire.receive(request_fd)
        except EOFError:
            return 0
        answer = handle(request, student, registry)
        answer["token"] = request.get("token")
        _send(answer_fd, answer, _answer_limit(request))


def _first_to_go() -> None:
    """When a container runs out of memory, the kernel kills this process (and its forks), not the grader."""
    try:
        with open("/proc/self/oom_score_adj", "w") as adj:
            adj.write("1000")
    except OSError:
        pass


def _answer_limit(request: dict) -> int:
    """The size the parent accepts for this answer (it refuses anything larger unread)."""
    limit = request.get("max_answer")
    return limit if type(limit) is int and limit > 0 else wire.DEFAULT_ANSWER_BYTES


def _send(fd: int, answer: dict, limit: int) -> None:
    """Send one answer; one too large for its limit is replaced by a short "too_large" answer."""
    try:
        wire.send_answer(fd, answer, limit)
    except wire.TooLarge as exc:
        wire.send_answer(fd, {"token": answer.get("token"), "too_large": str(exc)}, limit)
    except (TypeError, ValueError) as exc:  # a field that is no JSON: a probe kind's bug
        wire.send_answer(fd, {"token": answer.get("token"), "grader_error": f"unreadable answer: {exc}"}, limit)


def _load_probe_kinds(probe_files: dict | None = None) -> dict:
    """The engine's probe kinds, and the assignment's from their files ({module name: path})."""
    import importlib
    import importlib.util

    for name in PROBE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    for name, path in (probe_files or {}).items():
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None   # a .py file's: a source loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
    from .registry import PROBES   # read after the probe files above have filled it

    return PROBES


def _apply_limits(config: dict) -> None:
    """Threads, memory and file-size limits, set before any student code runs."""
    import torch

    torch.set_num_threads(1)
    # Not torch.use_deterministic_algorithms(False): off is a new interpreter's default (the zygote never
    # changes it), and the call imports torch._inductor (sympy, ~800 modules): 3 s of CPU at every child's start.
    memory_mb = config.get("memory_mb")
    if memory_mb:
        # Address space, not RSS: torch maps much more than it touches, so the cap is
        # "what is mapped now" plus the budget a student's code may allocate.
        budget = _mapped_bytes() + int(memory_mb) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
    file_mb = config.get("file_mb")
    if file_mb:
        signals.survive_file_limit()   # writes past the cap fail instead of killing us
        cap = int(file_mb) * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))
    workdir = config.get("workdir")
    if workdir:
        os.chdir(workdir)
        # the child's own folder (fresh, removed with it) is also where its temporary files go
        os.environ["TMPDIR"] = workdir
        tempfile.tempdir = None
        os.environ["MPLCONFIGDIR"] = os.path.join(workdir, ".matplotlib")   # not a cache the next child reads


def _isolate(config: dict) -> str:
    """No network and a private /dev/shm (grader/probes/namespaces.py): "" when that holds, else why not."""
    if not config.get("isolate"):
        return "not asked for"
    from . import namespaces   # only when asked: Linux-only unshare(2) through ctypes

    return namespaces.isolate(int(config.get("memory_mb") or 64))


def _confine(config: dict, private_shm: bool = False) -> str:
    """Landlock this process and all it starts (grader/probes/landlock.py): "" when it applies,
    else why not (the parent says so once per run); nothing of the submission has run yet.
    Without the file rules (another user keeps the child from the grader's files: Gradescope),
    still no TCP, and no signal or abstract unix socket outside the child's own processes."""
    from . import landlock   # only where the child is confined: Linux-only syscalls through ctypes

    if not config.get("confine"):
        if config.get("reach"):
            landlock.restrict_reach()   # best effort: the user and the namespaces are the walls there too
        return "not asked for"
    workdir = config.get("workdir") or os.getcwd()
    paths = [*config.get("modules", {}).values(), config.get("notebook") or ""]
    try:
        return landlock.restrict(*landlock.child_policy(paths, workdir, private_shm))
    except OSError as exc:
        return f"the sandbox could not be set up ({exc})"


def _mapped_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def handle(request: dict, student: Student, registry: dict) -> dict[str, Any]:
    """Run one request; every outcome of student code becomes a plain answer."""
    op = request.get("op")
    try:
        if op == "import":
            student.load(request["module"])
            return {"ok": True, "value": None}
        if op == "probe":
            kind = registry.get(request.get("kind"))
            if kind is None:   # a grader bug (a check naming a probe nobody registered), not the student's
                return {"grader_error": f"unknown probe kind {request.get('kind')!r}"}
            params = to_student_args(wire.decode(request.get("params", {})), student, request.get("arrays", "torch"))
            returned = kind(student, **params)
            return {"ok": True, "value": wire.encode_value(returned, _answer_limit(request))}
        return {"grader_error": f"unknown op {op!r}"}
    except wire.TooLarge as exc:   # what the student's code returned is more than the check can take
        return {"too_large": str(exc)}
    except Missing as exc:
        return {"missing": str(exc)}
    except ImportFailed as exc:
        return {"import_error": str(exc)}
    except NotImplementedError as exc:
        return {"not_implemented": str(exc) or "NotImplementedError"}
    except MemoryError:
        return {"raised": {"type": "MemoryError", "message": "ran out of memory (the grader's limit for one check)"}}
    except BaseException as exc:  # student code may raise anything, SystemExit included
        return {"raised": {"type": type(exc).__name__, "message": describe_exception(exc, student.source_paths())}}


def to_student_args(value: Any, student: Student, arrays: str = "torch") -> Any:
    """Arrays become torch tensors (float64 / int64 as the contract says), or stay numpy arrays
    (dtype kept) when the check's `arrays` is "numpy"; fn specs become callables."""
    if isinstance(value, np.ndarray):
        if arrays == "numpy":
            return np.array(value)
        import torch

        return torch.from_numpy(np.array(value))
    if isinstance(value, list):
        return [to_student_args(v, student, arrays) for v in value]
    if isinstance(value, tuple):
        return tuple(to_student_args(v, student, arrays) for v in value)
    if isinstance(value, dict):
        if "__fn__" in value:
            return callables.build(value, student)
        return {k: to_student_args(v, student, arrays) for k, v in value.items()}
    return value


if __name__ == "__main__":
    sys.exit(main(sys.argv))
