"""Hostile classes for `hw3grade batch`: nothing a child does reaches its zygote, its worker or
the batch, and an infrastructure failure is never a student's grade (issue 11, items 3 and 4).

Each class holds one attacker (`a_attacker`, graded first) and two correct classmates. Every
batch runs as `hw3grade batch -j 2 --problems P3 Q6` in a subprocess, with and without the
zygote, and must end with grades.csv, report.html and a documented exit status, never a
traceback; the classmates get exactly the checks' statuses and scores they get graded alone.
The attacks that, stopped as they must be, leave their worker and the batch as they were
(tracing, catchable signals, a grandchild left behind) share one class per mode (`quiet_class`):
each attacker beside a classmate, each test reading its own attacker's row and spy file. An attack
on a worker, the forkserver or the classmates has a class of its own.
As root the batch runs without capabilities (`setpriv`): CAP_SYS_PTRACE would let any child
trace anything, and an instructor's user has none of them.

The children's Landlock sandbox (grader/probes/landlock.py) stops these attacks at their first
step where the kernel has it (signals since Linux 6.12); the batch's own defences must hold
where it has not: so the attacks run with `--no-sandbox`, and one test shows the sandbox
stopping them.

The attacker's code runs at the import of losses.py, in every child that imports it; it finds
the processes above it by their parents: its zygote (when there is one), its worker, the
forkserver that forked the worker, the batch.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader import batch
from grader.supervision import procfs
from grader.outcome import GradingResult
from grader.runner import grade
from tests.hw3testing import HW3, warm_sandbox, write_submission

REPO = Path(__file__).resolve().parents[2]
PROBLEMS = ["P3", "Q6"]
CLASSMATES = ("b_classmate", "c_classmate")
TIMEOUT = 600
ZYGOTE = pytest.mark.parametrize("zygote", [True, False], ids=["zygote", "no-zygote"])

FIND_PROCESSES = '''
import ctypes, os, signal, sys, threading, time

def _stat(pid):
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[1])

def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""

def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if _stat(int(entry))[1] == pid:
                    found.append(int(entry))
            except (OSError, ValueError):
                pass
    return found

def _grading_processes():
    """The processes above this child: zygote (None without one), worker, forkserver, batch."""
    found = {"child": os.getpid(), "zygote": None}
    pid = os.getppid()
    if b"grader.zygote" in _cmdline(pid):
        found["zygote"], pid = pid, _stat(pid)[1]
    found["worker"] = pid
    found["forkserver"] = _stat(pid)[1]
    found["batch"] = _stat(found["forkserver"])[1]
    ok = (b"multiprocessing.forkserver" in _cmdline(found["worker"])
          and b"multiprocessing.forkserver" in _cmdline(found["forkserver"])
          and b"batch" in _cmdline(found["batch"]))
    if not ok:   # a worker whose forkserver was killed is someone else's orphan: its "parents" are not the batch's
        found["forkserver"] = found["batch"] = None
    return found, ok

_PROCS, _FOUND = _grading_processes()

def _spy(text):
    try:
        with open(SPY, "a") as fh:
            fh.write(text + "\\n")
    except OSError:
        pass
'''


def attacker(spy: Path, attack: str, *, judge: str = "") -> dict:
    """losses.py: the reference, then `attack` at import; cross_entropy answers correctly only if
    `judge` (an expression; empty: always) holds."""
    wrapper = ""
    if judge:
        wrapper = f'''
_reference_cross_entropy = cross_entropy
def cross_entropy(f, y):
    if not ({judge}):
        raise RuntimeError(f"the attack worked, or found nothing: {{_PROCS}} {{globals().get('_BREACHES')}}")
    return _reference_cross_entropy(f, y)
'''
    return {"losses": f"SPY = {str(spy)!r}\n{FIND_PROCESSES}\n{attack}\n{wrapper}"}


# ---------------------------------------------------------------- the attacks
TRACE_AND_WRITE = '''
_BREACHES = []
_libc = ctypes.CDLL(None, use_errno=True)
for _name in ("zygote", "worker", "forkserver", "batch"):
    _pid = _PROCS[_name]
    if not _pid:
        continue
    if _libc.ptrace(16, _pid, 0, 0) == 0:          # PTRACE_ATTACH
        _BREACHES.append(f"ptrace {_name}")
        time.sleep(0.1)
        _libc.ptrace(17, _pid, 0, 0)               # PTRACE_DETACH
    for _what, _mode in (("mem", "r+b"), ("environ", "rb")):
        try:
            with open(f"/proc/{_pid}/{_what}", _mode):
                _BREACHES.append(f"open /proc/<{_name}>/{_what} ({_mode})")
        except OSError:
            pass
    for _fd in range(64):   # its pipes to the batch, its zygote's socket: open one, and write into it
        try:
            os.close(os.open(f"/proc/{_pid}/fd/{_fd}", os.O_RDONLY | os.O_NONBLOCK))
            _BREACHES.append(f"open /proc/<{_name}>/fd/{_fd}")
        except OSError:
            pass
    _local = (ctypes.c_char * 1)()
    _iov_local = (ctypes.c_void_p * 2)(ctypes.addressof(_local), 1)
    _iov_remote = (ctypes.c_void_p * 2)(ctypes.addressof(_local), 1)
    # the permission is checked first (EPERM); an address not mapped there would be EFAULT
    if _libc.process_vm_readv(_pid, _iov_local, 1, _iov_remote, 1, 0) >= 0 or ctypes.get_errno() not in (1, 3, 13):
        _BREACHES.append(f"process_vm_readv {_name}")
_spy(f"breaches {_BREACHES} processes {_PROCS} found {_FOUND}")
'''

STOP_WORKER = '''
_spy(f"stopping {_PROCS['worker']}")
os.kill(_PROCS["worker"], signal.SIGSTOP)
time.sleep(60)   # the batch kills this child with its worker long before
'''

KILL_WORKER = '''
_spy(f"killing {_PROCS['worker']}")
for _ in range(5):
    try:
        os.kill(_PROCS["worker"], signal.SIGKILL)
        if _PROCS["zygote"]:
            os.kill(_PROCS["zygote"], signal.SIGKILL)
    except OSError:
        pass
    time.sleep(0.05)
'''

HARMLESS_SIGNALS = '''
_sent = []
_everything = [signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGQUIT, signal.SIGVTALRM,
               signal.SIGPROF, signal.SIGIO, signal.SIGRTMIN, signal.SIGRTMIN + 3]
for _ in range(20):
    for _name, _signals in (("zygote", _everything + [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]),
                            ("worker", _everything + [signal.SIGTERM, signal.SIGHUP]),
                            ("forkserver", _everything),
                            ("batch", _everything)):
        if _PROCS[_name]:
            for _signum in _signals + ([signal.SIGINT] if _name == "worker" else []):
                os.kill(_PROCS[_name], _signum)
                _sent.append((_name, int(_signum)))
    time.sleep(0.01)
_spy(f"sent {len(_sent)} signals to {_PROCS}")
'''

KILL_PARENT = '''
_parent = os.getppid()   # the zygote, or the worker without one
_spy(f"{SIGNAL_NAME} to {_parent}")
os.kill(_parent, getattr(signal, SIGNAL_NAME))
'''

STOP_FORKSERVER_KILL_WORKER = '''
_spy(f"stopping the forkserver {_PROCS['forkserver']}, killing {_PROCS['worker']}")
if _PROCS["forkserver"]:
    os.kill(_PROCS["forkserver"], signal.SIGSTOP)
os.kill(_PROCS["worker"], signal.SIGKILL)
'''

KILL_CLASSMATES = '''
def _classmates_children():
    """{classmate's worker: the children running its student's code}: the other workers (forked by
    our forkserver) that are grading, the children forked by their zygotes or started by them."""
    found = {}
    for w in _children(_PROCS["forkserver"]):
        if w == _PROCS["worker"]:
            continue
        for c in _children(w):
            if b"grader.zygote" in _cmdline(c):
                found.setdefault(w, []).extend(_children(c))
            elif b"grader.probes.child" in _cmdline(c):
                found.setdefault(w, []).append(c)
    return {w: cs for w, cs in found.items() if cs}

def _hunt(first):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            for w, children in _classmates_children().items():
                for pid in ([w] if TARGET == "worker" else children):
                    os.kill(pid, signal.SIGKILL)
                    _spy("killed " + TARGET + f" {pid}")
                    first.set()
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.02)

_first = threading.Event()
threading.Thread(target=_hunt, args=(_first,), daemon=True).start()
_first.wait(15)   # this child stays (and hunts) until it has hit a classmate, or 15 s
'''


HIDE_AND_OUTLIVE = '''
def cross_entropy(f, y):   # a grandchild out of the child's session, holding no descriptor, left behind
    r, w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.closerange(0, 65536)
            time.sleep(4)
            _spy("escaped: alive 4 s after its child ended")
            os._exit(0)
        os._exit(0)
    os.close(w)
    os.read(r, 1)   # EOF: the grandchild has closed everything
    os._exit(0)
'''


# ---------------------------------------------------------------- helpers
def _same_user(command: list[str]) -> list[str]:
    """As root: without any capability (an ordinary instructor's user), same uid for everything."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): cannot drop CAP_SYS_PTRACE")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-all", "--", *command]


def run_batch_cli(folder: Path, out: Path, *, zygote: bool, sandbox: bool = False) -> subprocess.CompletedProcess:
    command = _same_user([sys.executable, "-m", "grader", "batch", str(folder), "-o", str(out), "-j", "2",
                          "--no-progress", "--problems", *PROBLEMS] + ([] if zygote else ["--no-zygote"])
                         + ([] if sandbox else ["--no-sandbox"]))
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        for pid in [proc.pid, *procfs.descendants(proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        stdout, stderr = proc.communicate()
        pytest.fail(f"hw3grade batch did not end within {TIMEOUT} s:\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def read_csv(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["submission_id"]: row for row in csv.DictReader(fh)}


def result_of(out: Path, submission_id: str) -> GradingResult:
    return GradingResult.from_dict(json.loads((out / submission_id / "grading.json").read_text())["result"])


def verdicts(result: GradingResult) -> list[tuple[str, str, float]]:
    return [(o.check_id, o.status.value, o.score) for o in result.outcomes]


@pytest.fixture(scope="module")
def alone(tmp_path_factory) -> list[tuple[str, str, float]]:
    """What a correct classmate gets graded alone: its checks' statuses and scores (a warm child's, which are
    a fresh one's: tests/batch/test_zygote.py)."""
    rubric = HW3.load_rubric()
    folder = write_submission(tmp_path_factory.mktemp("alone") / "correct")
    return verdicts(grade(folder, HW3, rubric=rubric, entries=rubric.select(set(PROBLEMS)), submission_id="alone",
                          sandbox=warm_sandbox(HW3, rubric)))


def make_class(tmp_path: Path, losses: dict) -> tuple[Path, Path, Path]:
    folder, out, spy = tmp_path / "class", tmp_path / "out", tmp_path / "spy.txt"
    write_submission(folder / "a_attacker", patch=losses)
    for name in CLASSMATES:
        write_submission(folder / name)
    return folder, out, spy


def assert_ended_well(proc: subprocess.CompletedProcess, out: Path, codes=(0,),
                      ids=("a_attacker", *CLASSMATES)) -> dict[str, dict]:
    report = f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert proc.returncode in codes, report
    assert "Traceback" not in proc.stderr, report
    assert (out / "grades.csv").is_file() and (out / "report.html").is_file(), report
    rows = read_csv(out / "grades.csv")
    assert set(rows) == set(ids), report
    return rows


def assert_classmates_as_alone(out: Path, rows: dict, alone, spy: Path, classmates=CLASSMATES) -> None:
    for name in classmates:
        assert rows[name]["status"] == "graded", (name, rows[name], _spy_text(spy))
        assert verdicts(result_of(out, name)) == alone, (name, _spy_text(spy))


def assert_grader_error(out: Path, rows: dict, spy: Path, *words: str, any_of: tuple[str, ...] = ()) -> str:
    """The attacker's result: a grader failure whose text has every one of `words` and one of `any_of`."""
    assert rows["a_attacker"]["status"] == "grader_error", (rows["a_attacker"], _spy_text(spy))
    failure = result_of(out, "a_attacker").grader_failure
    assert failure and all(w in failure for w in words), failure
    assert not any_of or any(w in failure for w in any_of), failure
    results = json.loads((out / "a_attacker" / "results.json").read_text())
    assert results["score"] == 0 and "not a problem with your submission" in results["output"]   # "not your fault"
    return failure


def _spy_text(spy: Path) -> str:
    return spy.read_text() if spy.exists() else "(no spy file)"


# ---------------------------------------------------------------- the quiet class
#: Attacks that, stopped as they must be, leave their worker and the batch as they were: one class per
#: mode grades them all, attacker -> (attack, judge). The ids alternate with QUIET_CLASSMATES', so that
#: with -j 2 each attacker is graded beside a classmate.
# a_trace's children need not all find the chain (on a slow machine a worker may outlive its forkserver, whose
# start timed out): its test asks that one did ("found True" in its spy), and that no child breached anything
QUIET = {"a_trace": (TRACE_AND_WRITE, "not _BREACHES"), "c_signals": (HARMLESS_SIGNALS, ""),
         "e_hide": (HIDE_AND_OUTLIVE, "")}
QUIET_CLASSMATES = ("b_classmate", "d_classmate", "f_classmate")
QUIET_GROUP = pytest.mark.xdist_group("hostile-quiet")   # quiet_class's two batches run once, on one worker


@dataclass
class QuietRun:
    proc: subprocess.CompletedProcess
    out: Path
    spies: dict[str, Path]   # each attacker's own spy file
    ended: float             # time.monotonic() when the batch had ended

    def rows(self) -> dict[str, dict]:
        return assert_ended_well(self.proc, self.out, ids=(*QUIET, *QUIET_CLASSMATES))


@pytest.fixture(scope="module", params=[True, False], ids=["zygote", "no-zygote"])
def quiet_class(request, tmp_path_factory) -> QuietRun:
    root = tmp_path_factory.mktemp("quiet")
    folder, out = root / "class", root / "out"
    spies = {name: root / f"{name}.spy.txt" for name in QUIET}
    for name, (attack, judge) in QUIET.items():
        write_submission(folder / name, patch=attacker(spies[name], attack, judge=judge))
    for name in QUIET_CLASSMATES:
        write_submission(folder / name)
    proc = run_batch_cli(folder, out, zygote=request.param)
    return QuietRun(proc, out, spies, time.monotonic())


# ---------------------------------------------------------------- item 3
@QUIET_GROUP
def test_no_child_can_trace_or_write_the_memory_of_the_batch_processes(quiet_class, alone):
    """ptrace, /proc/<pid>/mem (read-write), environ, the descriptors and process_vm_readv of the
    zygote, the worker, the forkserver and the batch all fail: the attacker answers correctly only
    if every one failed (and it found those processes), so it gets full marks, as do its classmates."""
    out, spy = quiet_class.out, quiet_class.spies["a_trace"]
    rows = quiet_class.rows()
    assert_classmates_as_alone(out, rows, alone, spy, QUIET_CLASSMATES)
    assert rows["a_trace"]["status"] == "graded"
    assert verdicts(result_of(out, "a_trace")) == alone, _spy_text(spy)
    assert "breaches []" in _spy_text(spy)
    if "found True" not in _spy_text(spy):
        pytest.skip("no child of the attacker found the chain of processes above it (a slow machine: its "
                    "worker outlived a forkserver whose start timed out), so nothing was attacked")


@ZYGOTE
def test_a_worker_stopped_by_its_child_is_replaced(tmp_path, alone, zygote):
    """SIGSTOP to its worker: the batch sees the worker stopped, kills it with its zygote and child,
    starts another, grades the submission again alone (stopped again: a grader error), and the
    classmates get their real result."""
    folder, out, spy = make_class(tmp_path, attacker(tmp_path / "spy.txt", STOP_WORKER))
    started = time.monotonic()
    proc = run_batch_cli(folder, out, zygote=zygote)
    rows = assert_ended_well(proc, out)
    assert_classmates_as_alone(out, rows, alone, spy)
    assert_grader_error(out, rows, spy, "stopped", "2 attempts")
    assert _spy_text(spy).count("stopping") == 2
    assert time.monotonic() - started < 300


@ZYGOTE
def test_a_worker_killed_by_its_child_again_and_again(tmp_path, alone, zygote):
    """SIGKILL to its worker (and zygote), five times, on each attempt: a grader error for it only;
    a rerun without --force grades it again (and only it)."""
    folder, out, spy = make_class(tmp_path, attacker(tmp_path / "spy.txt", KILL_WORKER))
    proc = run_batch_cli(folder, out, zygote=zygote)
    rows = assert_ended_well(proc, out)
    assert_classmates_as_alone(out, rows, alone, spy)
    assert_grader_error(out, rows, spy, "killed by SIGKILL", "graded again on the next run")
    kept = {name: (out / name / "grading.json").read_bytes() for name in CLASSMATES}
    again = run_batch_cli(folder, out, zygote=zygote)
    rows = assert_ended_well(again, out)
    assert "graded 1, unchanged 2, grader failures 1" in again.stdout, again.stdout
    assert rows["a_attacker"]["status"] == "grader_error"
    assert {name: (out / name / "grading.json").read_bytes() for name in CLASSMATES} == kept


@QUIET_GROUP
def test_sigterm_and_other_catchable_signals_change_nothing(quiet_class, alone):
    """SIGTERM (and SIGHUP, SIGINT) to the worker and the zygote, SIGUSR1, SIGALRM, SIGQUIT, real-time
    signals... to them, the forkserver and the batch, twenty times: all ignored. Nobody is disturbed:
    the attacker gets its own (full) marks, and nothing is graded twice."""
    out, spy = quiet_class.out, quiet_class.spies["c_signals"]
    rows = quiet_class.rows()
    assert_classmates_as_alone(out, rows, alone, spy, QUIET_CLASSMATES)
    assert rows["c_signals"]["status"] == "graded"
    assert verdicts(result_of(out, "c_signals")) == alone
    assert f"graded {len(rows)}, unchanged 0, grader failures 0" in quiet_class.proc.stdout
    assert "sent" in _spy_text(spy)


@ZYGOTE
def test_a_stopped_forkserver_never_hangs_the_batch(tmp_path, alone, zygote):
    """SIGSTOP to the forkserver that forks the workers, SIGKILL to its own worker: the batch kills
    the stopped forkserver, multiprocessing starts another, and the batch goes on."""
    folder, out, spy = make_class(tmp_path, attacker(tmp_path / "spy.txt", STOP_FORKSERVER_KILL_WORKER))
    proc = run_batch_cli(folder, out, zygote=zygote)
    rows = assert_ended_well(proc, out)
    assert_classmates_as_alone(out, rows, alone, spy)
    assert_grader_error(out, rows, spy, "2 attempts", any_of=("killed by SIGKILL", "its forkserver"))


# ---------------------------------------------------------------- item 4
@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGSTOP"])
@ZYGOTE
def test_a_child_whose_parent_is_killed_or_stopped_is_a_grader_error(tmp_path, alone, zygote, signal_name):
    """Its zygote (its worker without one) killed or stopped under it: not the student's own limits,
    so a grader error ("not your fault"), graded again on the next run, never cached."""
    losses = attacker(tmp_path / "spy.txt", KILL_PARENT.replace("SIGNAL_NAME", repr(signal_name)))
    folder, out, spy = make_class(tmp_path, losses)
    proc = run_batch_cli(folder, out, zygote=zygote)
    rows = assert_ended_well(proc, out)
    assert_classmates_as_alone(out, rows, alone, spy)
    # with the zygote, each of its children kills (stops) its zygote; after three, the worker starts its
    # children fresh (grader/zygote.py, MAX_FAILURES), and the next one kills (stops) the worker itself
    worker = "the process grading it was killed by SIGKILL" if signal_name == "SIGKILL" else \
        "the process grading it was stopped"
    assert_grader_error(out, rows, spy, "2 attempts",
                        any_of=(worker, "because the zygote") if zygote else (worker,))
    record = json.loads((out / "a_attacker" / "grading.json").read_text())
    assert not batch.cache.cached_result(out / "a_attacker", record["fingerprint"])


@ZYGOTE
def test_classmates_whose_worker_is_killed_are_graded_again(tmp_path, alone, zygote):
    """The attacker kills the other worker, whatever it grades: each classmate it hits is graded
    again alone and gets its real result; the attacker, undisturbed itself, gets its own."""
    folder, out, spy = make_class(tmp_path, attacker(tmp_path / "spy.txt", KILL_CLASSMATES.replace(
        "TARGET", '"worker"')))
    proc = run_batch_cli(folder, out, zygote=zygote)
    rows = assert_ended_well(proc, out)
    if "killed worker" not in _spy_text(spy):
        pytest.skip("the attacker found no classmate's worker to kill (timing)")
    assert_classmates_as_alone(out, rows, alone, spy)
    assert rows["a_attacker"]["status"] == "graded"   # its own result (its hunting may slow its own checks)


@ZYGOTE
def test_classmates_whose_child_is_killed_are_graded_again(tmp_path, alone, zygote):
    """The attacker SIGKILLs the children running its classmates' code: a child ended by a signal
    nothing of the grader sent is a suspect, graded again alone, and the classmates get their real
    result (the zygote, which reaps each child, knows which kills it was asked for; without it, the
    child's own handle in grader/sandbox.py knows whether the grader killed it)."""
    folder, out, spy = make_class(tmp_path, attacker(tmp_path / "spy.txt", KILL_CLASSMATES.replace(
        "TARGET", '"child"')))
    proc = run_batch_cli(folder, out, zygote=zygote)
    rows = assert_ended_well(proc, out)
    if "killed child" not in _spy_text(spy):
        pytest.skip("the attacker found no classmate's child to kill (timing)")
    assert_classmates_as_alone(out, rows, alone, spy)


@QUIET_GROUP
def test_nothing_a_child_leaves_behind_outlives_it(quiet_class, alone):
    """Its grandchild leaves the child's session and closes every descriptor, so neither the process
    group nor the pipes lead to it, and the child exits: it comes to the zygote or the worker (both
    subreapers), which kill it at once; the classmates are untouched."""
    out, spy = quiet_class.out, quiet_class.spies["e_hide"]
    rows = quiet_class.rows()
    assert_classmates_as_alone(out, rows, alone, spy, QUIET_CLASSMATES)
    time.sleep(max(0.0, quiet_class.ended + 6 - time.monotonic()))
    assert "escaped" not in _spy_text(spy)


@ZYGOTE
def test_with_the_sandbox_the_attacks_fail_at_their_first_step(tmp_path, alone, zygote):
    """Landlock scopes signals (and ptrace) to the child's own domain: its SIGKILL to its worker
    fails (PermissionError at import: its own error), nothing is disturbed, nobody is graded twice."""
    from grader.probes import landlock

    if landlock.abi_version() < 6:
        pytest.skip(f"Landlock ABI {landlock.abi_version()} here: signals are scoped since ABI 6 (Linux 6.12)")
    folder, out, spy = make_class(tmp_path, attacker(tmp_path / "spy.txt", '''
os.kill(_PROCS["worker"], signal.SIGKILL)
os.kill(_PROCS["batch"], signal.SIGTERM)
'''))
    proc = run_batch_cli(folder, out, zygote=zygote, sandbox=True)
    rows = assert_ended_well(proc, out)
    assert_classmates_as_alone(out, rows, alone, spy)
    assert "graded 3, unchanged 0, grader failures 0" in proc.stdout, proc.stdout
    attacked = result_of(out, "a_attacker")
    p3 = [o for o in attacked.outcomes if o.problem == "P3"]
    assert {o.status.value for o in p3} == {"error"} and "PermissionError" in p3[0].message, p3[0]


def test_a_grading_past_the_watchdog_is_given_up_and_the_batch_goes_on(tmp_path):
    """A worker that is neither dead nor stopped but never finishes (here: any grading, with a
    watchdog of one second) is killed and replaced; twice, a grader failure; the batch still ends
    with its outputs."""
    folder = tmp_path / "class"
    write_submission(folder / "slow")
    out = tmp_path / "out"
    summary = batch.run_batch(folder, out, jobs=1, problems=PROBLEMS, watchdog=1.0, confine=False)
    assert (summary.graded, summary.failed, summary.error) == (1, 1, "")
    failure = result_of(out, "slow").grader_failure
    assert "watchdog" in failure and "2 attempts" in failure, failure
    assert (out / "grades.csv").is_file() and (out / "report.html").is_file()
    assert read_csv(out / "grades.csv")["slow"]["status"] == "grader_error"
