"""Reading and converting a student's notebook in a confined child process, never in the grader's own.

A notebook is bytes from the submission: however linear :mod:`grader.notebook` is, a 3 MB cell
of half a million statements still parses into half a gigabyte of syntax tree. So the grader's
(trusted) process only decides which notebooks there are and whether one is needed
(:func:`can_supply`, a bounded text scan of the .py modules, nothing parsed); a fresh Python
reads, chooses among and converts them (:func:`convert`) under limits it sets on itself before
it opens a notebook:

- address space (:data:`LIMITS` ``memory_mb`` beyond what it has mapped), CPU time, no core
  dump, no file written, first to go when the machine runs out of memory; Landlock where the
  kernel has it (it reads only the system, the libraries and the notebooks' folder);
- a wall-time limit the parent enforces by killing its process group;
- an answer the parent reads up to a bound: one line of JSON (which notebook, the notes),
  then the module's text, both validated before anything is written.

A notebook the child cannot convert within the limits raises :class:`NotebookRefused`, whose
message blames the notebook and says what to do; the .py modules are graded all the same.
"""
from __future__ import annotations

import json
import os
import re
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, AbstractSet, Sequence

from . import notebook
from .notebook import reader
from .supervision import processes

if TYPE_CHECKING:   # for the annotations only: the confined child imports nothing of the assignment
    from .assignment import Assignment


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 320           # beyond what the child's Python has mapped (3 MB of tiny statements need more)
    cpu_seconds: int = 40          # 30,000 constants convert in a few seconds
    wall_seconds: float = 120.0    # half a CPU, and a loaded machine
    answer_bytes: int = 2 * reader.MAX_SOURCE_BYTES + 2**20   # the module (at most its sources, rewritten) + notes


LIMITS = Limits()
#: The caps of grader.notebook.reader the child applies: the parent's values (tests shrink them there).
_CAPS = ("MAX_NOTEBOOK_BYTES", "MAX_SOURCE_BYTES", "MAX_CELLS", "MAX_FIELDS")
_MAX_NOTES, _MAX_NOTE_CHARS, _MAX_HEADER_BYTES = 200, 20_000, 2**20


class NotebookRefused(Exception):
    """The notebook could not be converted within the limits (message for the student)."""


class ConversionFailed(Exception):
    """The child failed for a reason of the grader's (message for the instructor)."""


@dataclass(frozen=True)
class Converted:
    chosen: int                      # index of the converted notebook in those given
    definitions: tuple[int, ...]     # each one's count of definitions when there were several, else ()
    notes: tuple[str, ...]           # the converter's notes for the student


# ---------------------------------------------------------------- is a notebook needed at all?

def can_supply(modules: dict[str, Path], assignment: Assignment) -> bool:
    """Whether a notebook may supply something the .py modules do not: a module is missing, or one
    mentions NotImplementedError (an untouched stub, maybe) or lacks a contract name of its own.
    A scan of the modules' bytes for those words, chunk by chunk: nothing of them is parsed."""
    if any(m not in modules for m in assignment.modules):
        return True
    names: dict[str, set[str]] = {}
    answers: dict[str, set[str]] = {}     # constants to fill in: `ANSWER = None` left as is is a stub too
    for name, (module, text) in assignment.signatures().items():
        names.setdefault(module, set()).add(name)
        if text.endswith("= ..."):
            answers.setdefault(module, set()).add(name)
    return any(not _mentions_all(path, names.get(module, set()), answers.get(module, set()))
               for module, path in modules.items())


def _mentions_all(path: Path, names: set[str], answers: AbstractSet[str] = frozenset()) -> bool:
    """Whether the file mentions every one of `names` as a word, never NotImplementedError, and
    leaves none of `answers` assigned None at the start of a line (the template's placeholder)."""
    words = {n.encode() for n in names} | {b"NotImplementedError"}
    pattern = re.compile(rb"(?<![\w])(" + b"|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
                         + rb")(?![\w])")
    unanswered = (re.compile(rb"(?m)^(?:" + b"|".join(re.escape(a.encode()) for a in sorted(answers))
                             + rb")[ \t]*=[ \t]*None(?![\w])") if answers else None)
    overlap = max(max(len(w) for w in words) + 1, 512)
    found: set[bytes] = set()
    tail = b""
    try:
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(1 << 20)
                if not chunk:
                    break
                window = tail + chunk
                found.update(m.group(1) for m in pattern.finditer(window))
                if b"NotImplementedError" in found or (unanswered is not None and unanswered.search(window)):
                    return False
                tail = window[-overlap:]
    except OSError:
        return False
    return found >= words - {b"NotImplementedError"}


# ---------------------------------------------------------------- the parent's side

def convert(notebooks: Sequence[Path], out: Path, assignment: Assignment, limits: Limits | None = None) -> Converted:
    """Choose among `notebooks` (the one defining the most; ties: the first) and write it to `out`
    as a module, in a confined child, for `assignment`'s contract. Raises :class:`NotebookRefused`
    (the notebook's fault: its message says so) or :class:`ConversionFailed` (the grader's)."""
    limits = limits or LIMITS
    paths = [str(Path(p).absolute()) for p in notebooks]
    request = {"notebooks": paths, "modules": list(assignment.modules), "constants": sorted(assignment.constants),
               "memory_mb": limits.memory_mb,
               "cpu_seconds": limits.cpu_seconds, "caps": {c: getattr(reader, c) for c in _CAPS}}
    code, answer, errors = _run_child(json.dumps(request).encode(), limits)
    names = _names([Path(p).name for p in paths])
    if answer is None:                       # more than any module the sources could make
        raise NotebookRefused(_too_large(names, limits))
    if code in (-signal.SIGXCPU, "timeout"):
        raise NotebookRefused(_too_slow(names, limits))
    if code == -signal.SIGKILL:              # killed by the kernel: the cgroup's memory ran out
        raise NotebookRefused(_too_large(names, limits))
    header, module = _validated(answer, len(paths))
    if "refused" in header:
        raise NotebookRefused(header["refused"])
    if header.get("memory"):
        raise NotebookRefused(_too_large(names, limits))
    if code != 0 or "bug" in header:
        detail = header.get("bug") or (errors.decode("utf-8", "replace").strip()[-500:] or f"exit status {code}")
        raise ConversionFailed(f"the notebook converter failed ({detail})")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(module)
    return Converted(header["chosen"], tuple(header["definitions"]), tuple(header["notes"]))


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _too_large(names: str, limits: Limits) -> str:
    return (f"your notebook {names} is too large to read within the grader's limits (more than "
            f"{limits.memory_mb} MB of memory): its code cells hold far more than a homework needs. Clear its "
            "outputs (Kernel > Restart & Clear Output), keep data in files rather than in cells, save, and "
            "resubmit (or submit your .py modules)")


def _too_slow(names: str, limits: Limits) -> str:
    return (f"your notebook {names} took too long to read (more than {limits.cpu_seconds} s): its code cells "
            "hold far more than a homework needs. Clear its outputs (Kernel > Restart & Clear Output), keep data "
            "in files rather than in cells, save, and resubmit (or submit your .py modules)")


def _run_child(request: bytes, limits: Limits) -> tuple[int | str, bytes | None, bytes]:
    """(exit status or "timeout", its answer or None when over the bound, the start of its stderr)."""
    root = str(Path(__file__).resolve().parent.parent)
    boot = "import sys; sys.path.insert(0, sys.argv[1]); from grader.confined_notebook import main; main()"
    try:
        child = subprocess.Popen([sys.executable, "-I", "-B", "-c", boot, root], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/",
                                 env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"},
                                 start_new_session=True)
    except OSError as exc:
        raise ConversionFailed(f"the notebook converter could not start ({exc})") from None
    assert child.stdout is not None and child.stderr is not None   # pipes, both
    threading.Thread(target=_feed, args=(child.stdin, request), daemon=True).start()
    answer, errors = bytearray(), bytearray()
    streams = {child.stdout.fileno(): (answer, limits.answer_bytes + 1), child.stderr.fileno(): (errors, 4096)}
    poller = select.poll()
    for fd in streams:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + limits.wall_seconds
    try:
        while streams:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout", bytes(answer), bytes(errors)
            for fd, _ in poller.poll(max(int(left * 1000), 1)):
                buffer, cap = streams[fd]
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    poller.unregister(fd)
                    del streams[fd]
                    continue
                buffer += chunk[: max(cap - len(buffer), 0)]
                if fd == child.stdout.fileno() and len(buffer) >= cap:
                    return "over", None, bytes(errors)
        try:
            return child.wait(timeout=max(deadline - time.monotonic(), 0.1)), bytes(answer), bytes(errors)
        except subprocess.TimeoutExpired:
            return "timeout", bytes(answer), bytes(errors)
    finally:
        _end(child)   # whatever it started goes with it (it starts nothing: its group, to be sure)


def _feed(pipe, data: bytes) -> None:
    try:
        with pipe:
            pipe.write(data)
    except OSError:   # it died before reading its request: its exit status says why
        pass


def _end(child: subprocess.Popen) -> None:
    if child.poll() is None:   # not yet reaped: its pid is still its group's
        processes.killpg(child.pid)
    for stream in (child.stdout, child.stderr):
        if stream is not None:   # a pipe
            stream.close()
    child.wait()


def _validated(answer: bytes, count: int) -> tuple[dict, bytes]:
    """The child's header and module text, checked field by field (ConversionFailed otherwise)."""
    line, newline, module = answer.partition(b"\n")
    try:
        if not newline or len(line) > _MAX_HEADER_BYTES:
            raise ValueError("no header")
        header = json.loads(line)
        if not isinstance(header, dict):
            raise ValueError("not an object")
        if "refused" in header or "bug" in header:
            text = header.get("refused", header.get("bug"))
            if not isinstance(text, str) or len(text) > _MAX_NOTE_CHARS:
                raise ValueError("bad message")
            return header, b""
        if header.get("memory") is True:
            return header, b""
        chosen, definitions, notes = header["chosen"], header["definitions"], header["notes"]
        if type(chosen) is not int or not 0 <= chosen < count:
            raise ValueError("bad choice")
        if not isinstance(definitions, list) or len(definitions) not in (0, count) \
                or not all(type(d) is int for d in definitions):
            raise ValueError("bad counts")
        if not isinstance(notes, list) or len(notes) > _MAX_NOTES \
                or not all(isinstance(n, str) and len(n) <= _MAX_NOTE_CHARS for n in notes):
            raise ValueError("bad notes")
        module.decode("utf-8")
    except (ValueError, KeyError, RecursionError) as exc:
        raise ConversionFailed(f"the notebook converter's answer was unreadable ({exc})") from None
    return header, module


# ---------------------------------------------------------------- the child's side

def main() -> None:
    """Read the request, confine this process, convert, answer on stdout (one JSON line, the module)."""
    request = json.loads(sys.stdin.buffer.read())
    out = sys.stdout.buffer
    try:
        for cap, value in request["caps"].items():
            if cap in _CAPS and type(value) is int:
                setattr(reader, cap, value)
        _confine(request)
        contract = tuple(request["modules"]), frozenset(request["constants"])
        header, module = _choose_and_convert([Path(p) for p in request["notebooks"]], *contract)
    except notebook.NotebookError as exc:
        header, module = {"refused": str(exc)}, ""
    except MemoryError:
        header, module = {"memory": True}, ""
    except Exception as exc:   # a bug of ours: said to the instructor
        header, module = {"bug": f"{type(exc).__name__}: {exc}"[:2000]}, ""
    out.write(json.dumps(header).encode() + b"\n" + module.encode("utf-8", "replace"))
    out.flush()


def _confine(request: dict) -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as adj:
            adj.write("1000")   # when the machine runs out of memory, this process goes first
    except OSError:
        pass
    cpu = int(request["cpu_seconds"])
    limits = [(resource.RLIMIT_CPU, cpu, cpu + 5), (resource.RLIMIT_CORE, 0, 0), (resource.RLIMIT_FSIZE, 0, 0)]
    try:   # address space: what is mapped now, plus the budget (macOS has no /proc, nor enforces it)
        with open("/proc/self/statm") as statm:
            budget = int(statm.read().split()[0]) * resource.getpagesize() + int(request["memory_mb"]) * 2**20
        limits.append((resource.RLIMIT_AS, budget, budget))
    except OSError:
        pass
    for kind, soft, hard in limits:
        _, ceiling = resource.getrlimit(kind)   # never above a limit this process already has
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        resource.setrlimit(kind, (soft, hard))
    if sys.platform.startswith("linux"):
        from .probes import landlock   # Linux only (ctypes syscalls): the converter's child elsewhere needs none

        readable, _ = landlock.child_policy(request["notebooks"], "")
        landlock.restrict(readable, [])   # where the kernel has no Landlock, the limits above still hold


def _choose_and_convert(notebooks: list[Path], modules: tuple[str, ...],
                        constants: frozenset[str]) -> tuple[dict, str]:
    definitions = [notebook.count_definitions(p) for p in notebooks] if len(notebooks) > 1 else []
    chosen = max(range(len(notebooks)), key=lambda i: (definitions[i] if definitions else 0, -i))
    text, notes = notebook.module_text(notebooks[chosen], modules, constants)
    return {"chosen": chosen, "definitions": definitions, "notes": notes}, text
