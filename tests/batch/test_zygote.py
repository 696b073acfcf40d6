"""The warm child (grader/zygote.py): as contained as a fresh one, and no state shared.

Each test grades with `SandboxConfig(zygote=True)` in this process, which then keeps one
zygote; the hostile cases of tests/corpus run again through it.
"""
from __future__ import annotations

import dataclasses
import os
import re
import signal
import time

import pytest

from grader import zygote
from grader.supervision import interruptions, prctl, procfs
from grader.outcome import Status
from grader.runner import grade, sandbox_for
from tests.corpus.test_hostile import CASES, WAITED_LIMIT
from tests.hw3testing import HW3

CE = ("P3.cross_entropy.single", "P3.cross_entropy.batch", "P3.cross_entropy.large_logits")
#: One check, one child: for a test about a child and its zygote rather than about grading a problem
#: (Problem 3's hidden checks would start a second child, and a child that dies, one per check).
SINGLE = ("P3.cross_entropy.single",)
NEIGHBOURS = ("Q6",)


@pytest.fixture(autouse=True, scope="module")
def _stop_zygotes():
    yield
    zygote.shutdown()


def _grade(folder, rubric, problems=("P3",), timeout=4.0, zygote_on=True, confine=True, p3_timeout=None, ids=None):
    """Grade `problems` (or only the checks `ids`) with a short time limit; (result, {check id: Outcome}).
    `p3_timeout`: Problem 3's own limit, when a case waits it out (the neighbours keep `timeout`)."""
    limit = {"P3": p3_timeout} if p3_timeout else {}
    entries = [dataclasses.replace(e, timeout=min(e.timeout, limit.get(e.problem, timeout))) for e in rubric.checks
               if (e.id in ids if ids else e.problem in problems)]
    config = sandbox_for(HW3, rubric, zygote=zygote_on)
    if not confine and hasattr(config, "confine"):   # the Landlock sandbox would stop a signal to the zygote
        config = dataclasses.replace(config, confine=False)
    result = grade(folder, HW3, rubric=rubric, entries=entries, sandbox=config)
    return result, {o.check_id: o for o in result.outcomes}


def _wrapped(check: str) -> dict:
    """losses.py whose cross_entropy answers correctly only if `check` (a block of code) passes."""
    return {"losses": f"""
_reference_cross_entropy = cross_entropy
def cross_entropy(f, y):
    problems = []
{check}
    if problems:
        raise AssertionError("; ".join(problems))
    return _reference_cross_entropy(f, y)
"""}


def test_the_child_is_forked_by_the_zygote_and_contained(submission, rubric):
    check = f"""
    import os, resource, stat, sys
    if os.getppid() == {os.getpid()}:
        problems.append("not forked by a zygote")
    if os.getsid(0) != os.getpid() or os.getpgid(0) != os.getpid():
        problems.append("not the leader of its own session")
    if resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY:
        problems.append("no memory limit")
    if resource.getrlimit(resource.RLIMIT_FSIZE)[0] != 64 * 2**20:
        problems.append("no file-size limit")
    if not (stat.S_ISCHR(os.fstat(0).st_mode) and os.fstat(0).st_rdev == os.stat(os.devnull).st_rdev):
        problems.append("stdin is not /dev/null")
    if not (len(sys.argv) == 3 and all(os.fstat(int(a)) for a in sys.argv[1:])):
        problems.append(f"argv {{sys.argv}}")
    leaked = [m for m in sys.modules if m.split(".")[0] == "reference" or m.startswith(("grader.checks", "grader.runner"))]
    if leaked:
        problems.append(f"modules of the grader in the child: {{leaked}}")
    others = sorted(int(fd) for fd in os.listdir("/proc/self/fd")
                    if int(fd) > 2 and int(fd) not in map(int, sys.argv[1:]))
    if len(others) > 1:  # listdir's own descriptor
        problems.append(f"inherited descriptors {{others}}")
    here = os.getcwd()   # a fresh folder of its own, in the grading's scratch folder
    if here != os.path.realpath(here) or not os.path.basename(here).startswith("child-") \
            or not os.path.basename(os.path.dirname(here)).startswith("hw3grade-scratch-"):
        problems.append(f"cwd {{here}}")
    print("hello from the child")
"""
    result, outcomes = _grade(submission(patch=_wrapped(check)), rubric, ids=SINGLE)
    assert outcomes["P3.cross_entropy.single"].status is Status.PASSED, outcomes["P3.cross_entropy.single"].detail
    assert any(isinstance(z, zygote.Zygote) and z.alive() for z in zygote._ZYGOTES.values())


def test_no_state_is_shared_between_submissions(submission, rubric):
    dirty = submission(patch={"losses": """
import builtins, sys, random, numpy, torch
torch.hw3_marker = 1
numpy.hw3_marker = 1
builtins.hw3_marker = 1
sys.modules["hw3_marker"] = sys
import os
os.environ["HW3_MARKER"] = "1"
torch.manual_seed(1234)
with open("/proc/self/stat") as fh:
    pass
"""})
    clean = submission(patch=_wrapped("""
    import builtins, sys, os, numpy, torch
    for name, obj in (("torch", torch), ("numpy", numpy), ("builtins", builtins)):
        if hasattr(obj, "hw3_marker"):
            problems.append(f"{name} was changed by another submission")
    if "hw3_marker" in sys.modules or "HW3_MARKER" in os.environ:
        problems.append("sys.modules or os.environ were changed by another submission")
    if torch.initial_seed() == 1234:
        problems.append("torch's seed was set by another submission")
"""))
    _grade(dirty, rubric, ids=SINGLE)
    _, outcomes = _grade(clean, rubric, ids=SINGLE)
    assert outcomes["P3.cross_entropy.single"].status is Status.PASSED, outcomes["P3.cross_entropy.single"].detail


def test_two_children_draw_different_numpy_and_python_random_numbers(submission, rubric):
    folder = submission(patch=_wrapped("""
    import numpy, random
    problems.append(f"draw {numpy.random.random()} {random.random()}")
"""))   # the child may write nothing outside its own folder: the draws come back in the message
    draws = set()
    for _ in range(2):
        _, outcomes = _grade(folder, rubric, ids=SINGLE)
        draws |= set(re.findall(r"draw [\d.e-]+ [\d.e-]+", outcomes["P3.cross_entropy.single"].detail))
    assert len(draws) >= 2, draws


HOSTILE = ("os_exit_in_function", "exit_at_import", "endless_loop", "huge_allocation", "forged_answer",
           "garbage_on_the_answer_channel", "syntax_error")


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_cases_are_contained_by_a_forked_child(case, submission, rubric):
    build, expected, message = CASES[case]
    waited = WAITED_LIMIT if Status.TIMEOUT in expected.values() else None   # the limit the case's message names
    result, outcomes = _grade(submission(**build), rubric, problems=("P3",) + NEIGHBOURS, p3_timeout=waited)
    for check_id, status in expected.items():
        assert outcomes[check_id].status is status, (check_id, outcomes[check_id])
    failing = [outcomes[c] for c, s in expected.items() if s is not Status.PASSED]
    assert any(re.search(message, o.message) or re.search(message, o.detail) for o in failing), \
        [o.message for o in failing]
    for key in NEIGHBOURS:
        score, top = result.by_problem()[key]
        assert score == top, (key, [o.message for o in result.outcomes if o.problem == key])


def test_the_process_group_dies_with_the_child(submission, rubric, tmp_path):
    pids = tmp_path / "pids.txt"
    folder = submission(patch={"losses": f"""
_reference_cross_entropy = cross_entropy
def cross_entropy(f, y):
    import os, time
    child = os.fork()
    if child == 0:
        time.sleep(3600)
        os._exit(0)
    with open({str(pids)!r}, "a") as fh:
        fh.write(f"{{child}}\\n")
    return _reference_cross_entropy(f, y)
"""})
    started = time.monotonic()
    # the test reads what the child wrote outside its folder: without the sandbox, the kill alone must reap
    _, outcomes = _grade(folder, rubric, confine=False)
    assert all(outcomes[c].status is Status.PASSED for c in CE)
    assert time.monotonic() - started < 120
    forked = [int(p) for p in pids.read_text().split()]
    assert forked
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(p) for p in forked):
        time.sleep(0.1)
    assert not [p for p in forked if _running(p)]


HIDING = {
    "grandchild": """
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            hide()
        os._exit(0)""",
    "sibling": """
    import ctypes
    if ctypes.CDLL(None).syscall(56, 0x00008000 | 17, 0, 0, 0, 0) == 0:   # clone(CLONE_PARENT): the zygote's
        hide()""",
}


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the sibling is made by the x86-64 clone syscall")
@pytest.mark.parametrize("how", sorted(HIDING))
def test_what_a_child_left_behind_dies_with_it_however_it_hid(submission, rubric, tmp_path, how):
    """A grandchild out of the child's session, or a sibling made with clone(CLONE_PARENT), that
    closed every descriptor, left behind when the child exits: it is the zygote's child (a
    subreaper's), which kills it, and tells its parent nothing."""
    pids = tmp_path / "pids.txt"
    folder = submission(patch={"losses": f"""
def cross_entropy(f, y):
    import os, time
    r, w = os.pipe()

    def hide():
        with open({str(pids)!r}, "a") as fh:
            fh.write(f"{{os.getpid()}}\\n")
        os.closerange(0, 65536)
        time.sleep(3600)
{HIDING[how]}
    os.close(w)
    os.read(r, 1)   # EOF: what it left has closed everything
    os._exit(0)
"""})
    mark = interruptions.interruptions()
    _, outcomes = _grade(folder, rubric, confine=False)   # the test reads a file outside the child's folder
    assert not any(outcomes[c].status.passed for c in CE)
    hidden = [int(p) for p in pids.read_text().split()]
    assert hidden
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(p) for p in hidden):
        time.sleep(0.1)
    try:
        assert not [p for p in hidden if _running(p)], f"what the child left ({how}) outlived it"
    finally:
        for p in hidden:
            if _running(p):
                os.kill(p, signal.SIGKILL)
    assert interruptions.interruptions_since(mark) == []   # killing a stray is no suspect of anyone's


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_zygote_is_replaced(submission, rubric):
    folder = submission()
    _grade(folder, rubric, ids=SINGLE)
    for z in list(zygote._ZYGOTES.values()):
        os.kill(z.process.pid, signal.SIGKILL)
        z.process.wait()
    _, outcomes = _grade(folder, rubric, ids=SINGLE)
    assert all(o.status is Status.PASSED for o in outcomes.values()), outcomes
    assert any(z.alive() for z in zygote._ZYGOTES.values())


def test_without_a_zygote_the_child_starts_fresh(submission, rubric, monkeypatch):
    """A zygote that cannot start costs nothing but time: the unwarmed path takes over."""
    zygote.shutdown()
    monkeypatch.setattr(zygote, "MODULE", "grader.no_such_zygote")
    monkeypatch.setattr(zygote, "_FAILURES", {})
    _, outcomes = _grade(submission(), rubric, ids=SINGLE)
    assert all(o.status is Status.PASSED for o in outcomes.values()), outcomes
    assert sum(zygote._FAILURES.values()) >= 1
    zygote.shutdown()


def test_a_grading_zygote_forks_the_children_of_one_grading_and_stops_before_judging(submission, rubric):
    """`hw3grade grade` and the kit (`grading_zygote`): a grading that starts two children (P3's visible and
    hidden checks) forks both from a zygote of its own, gone once the grading is; one child starts fresh."""
    zygote.shutdown()   # this module's kept zygote has the same key: it would be used, and left running
    forked = {"losses": _wrapped(f"""
    import os
    if os.getppid() == {os.getpid()}:
        problems.append("started fresh by the grading process")
""")["losses"]}
    entries = [e for e in rubric.checks if e.id in CE]
    assert {e.secret for e in entries} == {False, True}   # two children: the visible one and the hidden one
    warm = sandbox_for(HW3, rubric, grading_zygote=True)
    seen: list[int] = []
    judge = HW3.catalog[CE[0]].judge

    def judging_sees(ctx):
        seen.append(len(zygote.pids()))
        return judge(ctx)

    checks = {**HW3.catalog, CE[0]: dataclasses.replace(HW3.catalog[CE[0]], judge=judging_sees)}
    result = grade(submission(patch=forked), HW3, rubric=rubric, entries=entries, checks=checks, sandbox=warm)
    assert all(o.status is Status.PASSED for o in result.outcomes), [(o.check_id, o.detail) for o in result.outcomes]
    assert seen == [0] and zygote.pids() == []   # stopped before judging
    alone = grade(submission(patch=forked), HW3, rubric=rubric, entries=entries[:1], sandbox=warm)
    assert "started fresh by the grading process" in alone.outcomes[0].detail, alone.outcomes[0].detail
    assert zygote.pids() == []


def test_run_as_user_never_uses_the_zygote(rubric):
    """Gradescope's path (run_as_user) keeps starting every child fresh."""
    from grader.sandbox import Child

    config = dataclasses.replace(sandbox_for(HW3, rubric, zygote=True), run_as_user="nobody")
    assert Child._forked(type("C", (), {"config": config})(), 0, 0, "/") is None


# ---------------------------------------------------------------- nothing a child does reaches its zygote
def test_the_forked_child_is_dumpable_first_to_go_and_dies_with_its_zygote(submission, rubric):
    """The zygote is undumpable (tests/batch/test_hostile_batch.py: no child can trace it); its forked
    child is dumpable again, as a fresh one is, so it can write its own /proc/self files (as an ordinary
    user an undumpable process may not), and it gets SIGKILL if its zygote dies."""
    check = """
    import ctypes, signal
    libc = ctypes.CDLL(None)
    if libc.prctl(3, 0, 0, 0, 0) != 1:                      # PR_GET_DUMPABLE
        problems.append("the child is not dumpable")
    with open("/proc/self/oom_score_adj") as fh:
        if fh.read().strip() != "1000":
            problems.append("the child could not make itself first to go")
    death = ctypes.c_int(0)
    libc.prctl(2, ctypes.byref(death), 0, 0, 0)            # PR_GET_PDEATHSIG
    if death.value != signal.SIGKILL:
        problems.append(f"parent-death signal {death.value}")
"""
    _, outcomes = _grade(submission(patch=_wrapped(check)), rubric, ids=SINGLE)
    assert outcomes["P3.cross_entropy.single"].status is Status.PASSED, outcomes["P3.cross_entropy.single"].detail
    assert prctl.dumpable() in (0, 1, 2)   # prctl works here


#: The attacks below target the child's parent only when it is a zygote: a child started fresh
#: (no zygote to be had) has this test process as its parent.
ZYGOTE_PARENT = """
import os, signal
with open(f"/proc/{os.getppid()}/cmdline", "rb") as _fh:
    _ZYGOTE = os.getppid() if b"grader.zygote" in _fh.read() else None
if _ZYGOTE is None:
    raise RuntimeError("not forked by a zygote")
"""


def test_signals_a_child_sends_its_zygote_are_ignored(submission, rubric, monkeypatch):
    monkeypatch.setattr(zygote, "_FAILURES", {})
    folder = submission(patch={"losses": ZYGOTE_PARENT + """
for _signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM,
                signal.SIGQUIT, signal.SIGRTMIN):
    os.kill(_ZYGOTE, _signum)
"""})
    _grade(submission(), rubric, ids=SINGLE)   # a zygote to attack
    before = {z.process.pid for z in zygote._ZYGOTES.values() if z.alive()}
    mark = interruptions.interruptions()
    _, outcomes = _grade(folder, rubric, confine=False)
    assert all(o.status is Status.PASSED for o in outcomes.values()), outcomes
    assert {z.process.pid for z in zygote._ZYGOTES.values() if z.alive()} == before
    assert interruptions.interruptions_since(mark) == []


def test_a_zygote_stopped_by_its_child_is_killed_and_the_grading_disturbed(submission, rubric, monkeypatch):
    """SIGSTOP to its zygote: the zygote is killed at the next exchange, its child's process group too,
    and the grading notes an interference (the batch grades it again); the next grading gets a new zygote."""
    monkeypatch.setattr(zygote, "_FAILURES", {})
    folder = submission(patch={"losses": ZYGOTE_PARENT + """
os.kill(_ZYGOTE, signal.SIGSTOP)
"""})
    mark = interruptions.interruptions()
    started = time.monotonic()
    _grade(folder, rubric, confine=False, ids=SINGLE)
    assert time.monotonic() - started < 60
    kinds = [kind for kind, _ in interruptions.interruptions_since(mark)]
    assert "interference" in kinds, interruptions.interruptions_since(mark)
    assert not [z for z in zygote._ZYGOTES.values() if procfs.state(z.process.pid) in procfs.STOPPED]
    monkeypatch.setattr(zygote, "_FAILURES", {})   # each child stopped its zygote: three make a worker stay unwarmed
    mark = interruptions.interruptions()
    _, outcomes = _grade(submission(), rubric, ids=SINGLE)
    assert all(o.status is Status.PASSED for o in outcomes.values()), outcomes
    assert interruptions.interruptions_since(mark) == []
    assert any(z.alive() for z in zygote._ZYGOTES.values())


def test_a_child_ended_by_a_signal_nobody_sent_is_a_suspect(submission, rubric, monkeypatch):
    """A child that a SIGKILL ends which the grader did not ask for is noted as a suspect (the batch
    grades it again alone); one the grader kills at its time limit is not."""
    monkeypatch.setattr(zygote, "_FAILURES", {})
    mark = interruptions.interruptions()
    _grade(submission(patch={"losses": ZYGOTE_PARENT + "os.kill(os.getpid(), signal.SIGKILL)\n"}), rubric, ids=SINGLE)
    assert [kind for kind, _ in interruptions.interruptions_since(mark)][:1] == ["suspect"], interruptions.interruptions_since(mark)
    mark = interruptions.interruptions()
    _, outcomes = _grade(submission(patch={"losses": "def cross_entropy(f, y):\n    while True:\n        pass\n"}),
                         rubric, timeout=1.0, ids=SINGLE)
    assert outcomes["P3.cross_entropy.single"].status is Status.TIMEOUT
    assert interruptions.interruptions_since(mark) == []
