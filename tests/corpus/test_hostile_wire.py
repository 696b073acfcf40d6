"""Hostile answers, a child that blocks or floods the parent, and the grader's folders.

Same pattern as test_hostile.py: each case patches `losses.py` (Problem 3) of an otherwise
correct submission; Problem 3's checks get the named status and message, while the
neighbouring problems (Q2, Q6, graded in the same session) keep full marks.

Student code runs in the child's process, so it can find the answer descriptor
(``sys.argv[2]``) and the current request's token (on the stack) and write anything
there: a frame the parent must validate like any network input (class 2). It can also
stop reading requests, fill or shrink the pipes, or return far more than a check needs
(class 3), and it can try to rename, delete or fill the grader's folders (class 5).

The children are forked from this test process's warm zygote (tests.hw3testing.warm_sandbox, the
batch's way): what the parent does with a hostile answer or a dead child is the same code either way,
and torch is imported once per test worker instead of once per child. The cgroup tests at the end
grade through `hw3grade grade`, the unwarmed start.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from grader import scratch
from grader.outcome import Status
from grader.runner import grade
from grader.supervision import cgroups
from tests.hw3testing import HW3, warm_sandbox

NEIGHBOURS = ("Q2", "Q6")
CE_CHECKS = ("P3.cross_entropy.single", "P3.cross_entropy.batch", "P3.cross_entropy.large_logits")
ONEHOT_CHECKS = ("P3.ce_scaled_onehot", "P3.ce_scaled_onehot.large_lam")
ALL_CE_ERROR = {**{c: Status.ERROR for c in CE_CHECKS}, **{c: Status.PASSED for c in ONEHOT_CHECKS}}
ALL_CE_FAILED = {**{c: Status.FAILED for c in CE_CHECKS}, **{c: Status.PASSED for c in ONEHOT_CHECKS}}
ALL_CE_TIMEOUT = {**{c: Status.TIMEOUT for c in CE_CHECKS}, **{c: Status.PASSED for c in ONEHOT_CHECKS}}

# What a hostile losses.py appends to the reference: find the request and the answer descriptor,
# and write raw frames of the grader's protocol (magic, JSON length, binary length).
FORGER = """
import json as _json, os as _os, struct as _struct, sys as _sys, time as _time
_reference_cross_entropy = cross_entropy


def _request():
    frame = _sys._getframe()
    while frame is not None:
        found = frame.f_locals.get("request")
        if isinstance(found, dict) and "token" in found:
            return found
        frame = frame.f_back
    raise RuntimeError("no request on the stack")


def _frame(text, blob=b""):
    return _struct.pack("!4sIQ", b"HW3F", len(text), len(blob)) + text + blob


def _forge(text=None, message=None, blob=b"", raw=None):
    token = _request()["token"]
    if raw is None:
        text = _json.dumps({"token": token, **message}).encode() if message is not None else \\
            text.replace(b"TOKEN", token.encode())
        raw = _frame(text, blob)
    _os.write(int(_sys.argv[2]), raw)
"""


def hostile(body: str) -> dict:
    """A submission whose cross_entropy runs `body` (the forger's helpers are defined)."""
    return {"patch": {"losses": FORGER + "\n\ndef cross_entropy(f, y):\n" + textwrap.indent(textwrap.dedent(body), "    ")}}


#: Every check's time limit here (the neighbours': Q2's n = 10^6 probe takes ~1 s on a busy machine; the
#: slowest answer to refuse, two million floats in nested lists, ~0.8 s).
LIMIT = 4.0
#: Problem 3's limit in a case that waits it out (once per cross_entropy check): its honest probes
#: answer within 0.02 s on a busy machine, and nothing in such a case is slow to refuse.
WAITED_LIMIT = 2.0


def _entries(rubric, timeout=LIMIT):
    limits = {"P3": timeout, **dict.fromkeys(NEIGHBOURS, max(timeout, LIMIT))}
    return [dataclasses.replace(e, timeout=min(e.timeout, limits[e.problem]))
            for e in rubric.checks if e.problem in limits]


def _limit_for(statuses) -> float:
    return WAITED_LIMIT if Status.TIMEOUT in statuses else LIMIT


def _grade(folder, rubric, **kwargs):
    result = grade(folder, HW3, rubric=rubric, entries=_entries(rubric, **kwargs), sandbox=warm_sandbox(HW3, rubric))
    return result, {o.check_id: o for o in result.outcomes}


def _neighbours_intact(result):
    scores = result.by_problem()
    for key in NEIGHBOURS:
        assert scores[key][0] == scores[key][1], f"{key} lost points: {scores[key]}"


def _check(outcomes, expected, message):
    for check_id, status in expected.items():
        assert outcomes[check_id].status is status, (check_id, outcomes[check_id])
    failing = [outcomes[c] for c, s in expected.items() if s is not Status.PASSED]
    assert any(re.search(message, o.message) or re.search(message, o.detail) for o in failing), \
        [o.detail for o in failing]
    for outcome in outcomes.values():   # every report can print and write it
        (outcome.message + outcome.detail).encode("utf-8")


# ---------------------------------------------------------------- class 2: every answer is hostile data

WIRE_CASES = {
    "json_nested_100000_deep": (
        hostile("""
            _forge(b'{"token":"TOKEN","ok":true,"value":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
            return _reference_cross_entropy(f, y)
        """), ALL_CE_ERROR, r"unreadable \(an answer nested 100001 levels deep"),
    "array_beyond_its_data": (
        hostile("""
            _forge(message={"ok": True, "value": {"__nd__": ["float64", [1000000], 0]}})
            return _reference_cross_entropy(f, y)
        """), ALL_CE_ERROR, r"malformed array: 7\.6 MB at offset 0 of a 0 bytes binary part"),
    "wrong_tag": (
        hostile("""
            _forge(message={"ok": True, "value": {"__fn__": "torch", "name": "exp"}})
            return _reference_cross_entropy(f, y)
        """), ALL_CE_ERROR, r"unknown or mixed tags \['__fn__'\]"),
    "unhashable_and_nan_keys": (
        hostile("""
            _forge(message={"ok": True, "value": {"__dict__": [[[1, 2], 0.0], [{"a": 1}, 1.0],
                                                               [{"__float__": "nan"}, 2.0]]}})
            return _reference_cross_entropy(f, y)
        """), ALL_CE_FAILED, r"returned a dict with keys .*; expected numbers \(a tensor, array"),
    "ok_without_a_value": (
        hostile("""
            _forge(message={"ok": True})
            return _reference_cross_entropy(f, y)
        """), ALL_CE_ERROR, r"an 'ok' answer without a value"),
    "raised_that_is_not_a_dict": (
        hostile("""
            _forge(message={"raised": "boom"})
            return _reference_cross_entropy(f, y)
        """), ALL_CE_ERROR, r"a 'raised' answer must be \{type, message\}"),
    "a_score_field": (
        hostile("""
            _forge(message={"ok": True, "value": 0.0, "score": 100, "status": "passed"})
            return _reference_cross_entropy(f, y)
        """), ALL_CE_ERROR, r"unexpected fields in the answer: \['score', 'status'\]"),
    "nan_literal": (
        hostile("""
            _forge(b'{"token":"TOKEN","ok":true,"value":NaN}')
            return _reference_cross_entropy(f, y)
        """), ALL_CE_ERROR, r"the answer is not JSON: NaN is not JSON"),
    "integer_of_5000_digits": (
        hostile("""
            _forge(b'{"token":"TOKEN","ok":true,"value":' + b"9" * 5000 + b"}")
            return _reference_cross_entropy(f, y)
        """), ALL_CE_ERROR, r"the answer is not JSON: .*digits"),
    "float_overflowing_to_inf": (
        hostile("""
            _forge(b'{"token":"TOKEN","ok":true,"value":1e999999}')
            return _reference_cross_entropy(f, y)
        """), ALL_CE_FAILED, r"inf"),
    "half_a_frame_then_exit": (
        hostile("""
            _forge(raw=_struct.pack("!4sIQ", b"HW3F", 1000, 0) + b'{"token": ')
            _os._exit(7)
        """), ALL_CE_ERROR, r"exited with code 7"),
    "half_a_frame_then_return": (
        hostile("""
            _forge(raw=_struct.pack("!4sIQ", b"HW3F", 1000, 0) + b'{"token": ')
            return _reference_cross_entropy(f, y)
        """), ALL_CE_TIMEOUT, rf"did not finish within {WAITED_LIMIT:g} s"),
    "closes_the_answer_channel_and_sleeps": (
        hostile("""
            _os.close(int(_sys.argv[2]))
            _time.sleep(3600)
        """), ALL_CE_ERROR, r"closed its channel to the grader"),
    "raises_a_text_with_lone_surrogates": (
        hostile("""
            raise ValueError("bad \\ud800 value \\udfff")
        """), ALL_CE_ERROR, r"raised ValueError: bad \? value \?"),
}


@pytest.mark.parametrize("case", sorted(WIRE_CASES))
def test_hostile_answer_costs_only_its_checks(case, submission, rubric):
    build, expected, message = WIRE_CASES[case]
    result, outcomes = _grade(submission(**build), rubric, timeout=_limit_for(expected.values()))
    _check(outcomes, expected, message)
    _neighbours_intact(result)


def test_a_flood_of_frames_with_stale_tokens_is_skipped(submission, rubric):
    """A thousand valid frames with tokens of no request: read and skipped, the real answer counts."""
    folder = submission(**hostile("""
        for i in range(1000):
            _os.write(int(_sys.argv[2]), _frame(b'{"token":"stale-%d","ok":true,"value":0.0}' % i))
        return _reference_cross_entropy(f, y)
    """))
    result, outcomes = _grade(folder, rubric, timeout=30)
    assert all(outcomes[c].status is Status.PASSED for c in CE_CHECKS + ONEHOT_CHECKS), outcomes
    _neighbours_intact(result)


# ---------------------------------------------------------------- class 3: never block, never hold what the child chooses

def _reset_peak_rss() -> int:
    """Reset this process's peak RSS (Linux >= 4.0); returns the RSS it starts from, in kB."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError as exc:
        pytest.skip(f"the peak RSS cannot be reset here ({exc})")
    return _status_kb("VmRSS")


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(field)


SIZE_CASES = {
    "forged_100_mb_frame": (
        hostile("""
            token = _request()["token"]
            text = _json.dumps({"token": token, "ok": True, "value": {"__nd__": ["uint8", [100 * 2**20], 0]}}).encode()
            _os.write(int(_sys.argv[2]), _struct.pack("!4sIQ", b"HW3F", len(text), 100 * 2**20) + text)
            chunk = b"\\x00" * 2**20
            for _ in range(100):
                _os.write(int(_sys.argv[2]), chunk)
            return _reference_cross_entropy(f, y)
        """), ALL_CE_ERROR, r"an answer of 100\.0 MB exceeds the 4\.0 MB this check accepts"),
    "returns_five_million_floats_as_a_list": (
        hostile("""
            return [0.5] * 5_000_000
        """), ALL_CE_ERROR, r"is too large for this check to read: it holds a list of 5,000,000 items"),
    "returns_a_huge_tensor": (
        hostile("""
            import torch
            return torch.zeros(3_000_000, dtype=torch.float64)
        """), ALL_CE_ERROR, r"an array of shape \(3000000,\) of about 22\.9 MB, more than the 4\.0 MB"),
    "returns_nested_lists_of_two_million_floats": (
        hostile("""
            return [[0.25] * 1000 for _ in range(2000)]
        """), ALL_CE_ERROR, r"more than 1\.0 MB of plain Python data"),
    "returns_a_frame_that_never_ends": (
        hostile("""
            token = _request()["token"]
            text = _json.dumps({"token": token, "ok": True, "value": {"__nd__": ["uint8", [3 * 2**20], 0]}}).encode()
            _os.write(int(_sys.argv[2]), _struct.pack("!4sIQ", b"HW3F", len(text), 3 * 2**20) + text + b"x" * 100_000)
            _time.sleep(3600)
        """), ALL_CE_TIMEOUT, rf"did not finish within {WAITED_LIMIT:g} s"),
}


@pytest.fixture(scope="module")
def warm(rubric, tmp_path_factory):
    """One grading of the reference first: what the parent imports or caches for judging is loaded."""
    from tests.hw3testing import write_submission

    folder = write_submission(tmp_path_factory.mktemp("warm") / "submission")
    result, _ = _grade(folder, rubric)
    assert result.score == result.max_score
    return result


@pytest.mark.parametrize("case", sorted(SIZE_CASES))
def test_oversized_answers_cost_their_checks_not_the_parents_memory(case, submission, rubric, warm):
    build, expected, message = SIZE_CASES[case]
    folder = submission(**build)
    start_kb = _reset_peak_rss()
    result, outcomes = _grade(folder, rubric, timeout=_limit_for(expected.values()))
    grown_mb = (_status_kb("VmHWM") - start_kb) / 1024
    _check(outcomes, expected, message)
    _neighbours_intact(result)
    # a grading of these problems adds about 10 MB to the parent; one 100 MB frame, or five
    # million floats parsed from JSON (~200 MB), could not hide under this line
    assert grown_mb < 48, f"the parent's peak RSS grew by {grown_mb:.0f} MB"


def test_a_child_that_stops_reading_costs_only_the_next_request(submission, rubric):
    """Forge an answer (so the parent writes the next request), shrink and fill the request pipe
    (opened for writing through /proc), then never read again: the parent's write times out."""
    folder = submission(**hostile("""
        if f.dim() == 1:   # cross_entropy.single only
            import fcntl
            _forge(message={"ok": True, "value": 0.0})
            fd = int(_sys.argv[1])
            writer = _os.open(f"/proc/self/fd/{fd}", _os.O_WRONLY)
            try:
                fcntl.fcntl(writer, 1031, 4096)   # F_SETPIPE_SZ: the smallest pipe there is
            except OSError:
                pass
            _os.set_blocking(writer, False)
            try:
                while True:
                    _os.write(writer, b"x" * 4096)
            except BlockingIOError:
                pass
            _time.sleep(3600)
        return _reference_cross_entropy(f, y)
    """))
    started = time.monotonic()
    result, outcomes = _grade(folder, rubric, timeout=WAITED_LIMIT)
    assert time.monotonic() - started < 90
    assert outcomes["P3.cross_entropy.single"].status is Status.TIMEOUT, outcomes["P3.cross_entropy.single"]
    assert f"did not finish within {WAITED_LIMIT:g} s" in outcomes["P3.cross_entropy.single"].message
    assert all(outcomes[c].status is Status.PASSED for c in CE_CHECKS[1:] + ONEHOT_CHECKS), outcomes
    _neighbours_intact(result)


# ---------------------------------------------------------------- class 5: the grader's folders belong to the grader

@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """A temporary folder of this test's own, so that what is left in it is ours to count."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


TAMPERING = """
here = _os.getcwd()
scratch = _os.path.dirname(here)
with open("junk.bin", "wb") as out:             # fill its own folder
    out.write(b"x" * 2_000_000)
import shutil
attacks = (lambda: _os.chmod(scratch, 0o777),
           lambda: _os.rename(_os.path.join(scratch, "submission"), _os.path.join(scratch, "gone")),
           lambda: open(_os.path.join(scratch, "planted.py"), "w").write("x = 1"),
           lambda: _os.chmod(here, 0),
           lambda: shutil.rmtree(scratch),
           lambda: _os.rename(scratch, scratch + "-renamed"))
# The guard keeps this test harmless should the grader regress: run as root, an rmtree of anything
# but the grader's own folder could empty the machine's temporary folder. Exit 4 = not attacked.
if not _os.path.basename(scratch).startswith("hw3grade-scratch-"):
    attacks = ()
for attack in attacks:
    try:
        attack()
    except OSError:
        pass
_os._exit(3 if attacks else 4)
"""


def test_tampering_with_the_graders_folders_costs_only_its_checks(submission, rubric, private_tmp):
    """chmod, rename, delete, plant and fill: the next child starts in a fresh folder all the same
    (here the child is the same user as the parent, root even, so some attempts succeed)."""
    result, outcomes = _grade(submission(**hostile(TAMPERING)), rubric)
    _check(outcomes, ALL_CE_ERROR, r"exited with code 3")
    _neighbours_intact(result)
    assert _leftovers(private_tmp) == [] and scratch.live() == []


def test_every_child_starts_in_a_fresh_folder_of_its_own(submission, rubric, private_tmp):
    """cross_entropy.single leaves files behind and crashes; the next child's folder is empty,
    and is its TMPDIR (with a shared folder, batch and large_logits would fail)."""
    folder = submission(**hostile("""
        import tempfile
        here = _os.getcwd()
        mine = f"marker-{_os.getpid()}"
        others = [n for n in _os.listdir(here) if not n.startswith(mine)]
        open(_os.path.join(here, f"{mine}-{len(others)}"), "w").close()
        if others or tempfile.gettempdir() != here or not _os.access(here, _os.W_OK):
            return f.sum(-1) * 0        # a folder another child used, or not its own: a wrong answer
        if f.dim() == 1:
            _os._exit(5)
        return _reference_cross_entropy(f, y)
    """))
    result, outcomes = _grade(folder, rubric)
    assert outcomes["P3.cross_entropy.single"].status is Status.ERROR
    assert "exited with code 5" in outcomes["P3.cross_entropy.single"].message
    assert all(outcomes[c].status is Status.PASSED for c in CE_CHECKS[1:] + ONEHOT_CHECKS), outcomes
    _neighbours_intact(result)
    assert _leftovers(private_tmp) == []


@pytest.mark.parametrize("body, status", [
    ("while True:\n    pass\n", Status.TIMEOUT),                                  # killed at its time limit
    ("_os._exit(9)\n", Status.ERROR),                                             # dies
    ("import signal\n_os.kill(_os.getpid(), signal.SIGKILL)\n", Status.ERROR),    # killed outright
    ("_forge(b'[' * 1000)\nreturn 0\n", Status.ERROR),                            # unreadable: killed by the parent
])
def test_temporary_folders_are_removed_on_every_exit_path(body, status, submission, rubric, private_tmp):
    result, outcomes = _grade(submission(**hostile("with open('left-behind', 'w') as out:\n    out.write('x')\n" + body)),
                              rubric, timeout=_limit_for([status]))
    assert all(outcomes[c].status is status for c in CE_CHECKS), outcomes
    _neighbours_intact(result)
    assert _leftovers(private_tmp) == [] and scratch.live() == []


def test_folders_of_a_grader_killed_outright_are_swept(private_tmp):
    """A grader killed by SIGKILL (an out-of-memory kill of the grader itself) leaves its folders;
    the next one removes them, read-only or not, and leaves a live grader's alone."""
    code = ("import os, sys, time; from grader import scratch\n"
            "s = scratch.make('scratch', mode=0o755); (s / 'submission').mkdir(); scratch.make('child')\n"
            "scratch.seal(s); print(s, flush=True); time.sleep(3600)\n")
    env = {**os.environ, "TMPDIR": str(private_tmp)}
    dead = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, text=True)
    live = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, text=True)
    try:
        dead_scratch, live_scratch = Path(dead.stdout.readline().strip()), Path(live.stdout.readline().strip())
        dead.kill()
        dead.wait()
        assert dead_scratch.exists() and len(_leftovers(private_tmp)) == 4
        removed = scratch.sweep_stale(str(private_tmp))
        assert len(removed) == 2 and not dead_scratch.exists() and live_scratch.exists()
        assert len(_leftovers(private_tmp)) == 2
    finally:
        live.kill()
        live.wait()
        scratch.sweep_stale(str(private_tmp))
    assert _leftovers(private_tmp) == []


def test_remove_all_takes_what_the_watchdog_leaves(private_tmp, monkeypatch):
    """The Gradescope watchdog ends the process with os._exit: remove_all() is its cleanup. The
    grading thread runs on until then: whatever folder it asks for afterwards is refused (in CI,
    a child's fallback folder made just after the cleanup outlived the grading)."""
    monkeypatch.setattr(scratch, "_ENDED", threading.Event())   # this test's process goes on
    made = scratch.make("staging", mode=0o755)
    inner = scratch.child_folder(None, made)
    (inner / "deep").mkdir()
    (inner / "deep" / "f").write_text("x")
    (inner / "deep").chmod(0)
    scratch.seal(made)
    assert len(scratch.live()) == 2
    scratch.remove_all()
    assert scratch.live() == [] and _leftovers(private_tmp) == []
    for late in (lambda: scratch.make("scratch"), lambda: scratch.child_folder(None),
                 lambda: scratch.child_folder(None, private_tmp)):
        with pytest.raises(OSError, match="the grading is ending"):
            late()
    assert scratch.live() == [] and _leftovers(private_tmp) == []


# ---------------------------------------------------------------- under Gradescope's memory limit (a cgroup)

MEMORY_HOG = """
_reference_cross_entropy = cross_entropy


def cross_entropy(f, y):
    import torch
    hold = []
    for _ in range(400):      # 20 MB at a time, up to 8 GB: whichever limit comes first stops it
        hold.append(torch.ones(2_500_000, dtype=torch.float64))
    return _reference_cross_entropy(f, y)
"""


def _grade_in_cgroup(folder: Path, out: Path, memory_mb: int) -> tuple[dict, object]:
    from tests import cgroup_limits

    why = cgroup_limits.available()
    if why:
        pytest.skip(why)
    with cgroup_limits.GradescopeLimits(memory_mb=memory_mb, cpus=None) as limits:
        run = limits.run([sys.executable, "-m", "grader", "grade", str(folder), "-o", str(out), "--quiet",
                          "--problems", "P3", *NEIGHBOURS], capture_output=True, text=True, timeout=900,
                         env={**os.environ, "TMPDIR": str(out.parent)})
        usage = limits.usage()
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(out.read_text("utf-8")), usage


def _points(results: dict, prefix: str) -> tuple[float, float]:
    tests = [t for t in results["tests"] if t["name"].startswith(prefix + " ")]
    assert tests, prefix
    return sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)


def test_the_worst_answers_under_768_mb_end_with_a_correct_results_json(submission, tmp_path):
    """A list of five million floats and a forged 100 MB frame, graded by `hw3grade grade` in a
    768 MB cgroup (parent and child together): every other check keeps its points, nothing is
    killed for lack of memory, and the peak stays under the limit."""
    folder = submission(patch={"losses": FORGER + textwrap.dedent("""

        def cross_entropy(f, y):
            return [0.5] * 5_000_000


        def ce_scaled_onehot(lam, k):
            token = _request()["token"]
            text = _json.dumps({"token": token, "ok": True, "value": {"__nd__": ["uint8", [100 * 2**20], 0]}}).encode()
            _os.write(int(_sys.argv[2]), _struct.pack("!4sIQ", b"HW3F", len(text), 100 * 2**20) + text)
            chunk = b"\\x00" * 2**20
            for _ in range(100):
                _os.write(int(_sys.argv[2]), chunk)
            return 0.0
    """)})
    results, usage = _grade_in_cgroup(folder, tmp_path / "results.json", 768)
    by_name = {t["name"]: t for t in results["tests"]}
    ce = [t for name, t in by_name.items() if name.startswith("P3 cross_entropy")]
    onehot = [t for name, t in by_name.items() if name.startswith("P3 ce_scaled_onehot")]
    assert len(ce) == 3 and len(onehot) == 2
    assert all(t["score"] == 0 for t in ce + onehot)
    visible = [t for t in ce + onehot if "hidden check" not in t.get("output", "")]
    assert any("list of 5,000,000 items" in t["output"] for t in visible), [t["output"] for t in visible]
    assert any("100.0 MB exceeds the 4.0 MB" in t["output"] for t in visible), [t["output"] for t in visible]
    for key in NEIGHBOURS:
        score, most = _points(results, key)
        assert score == most > 0, key
    assert usage.oom_kills == 0 and usage.peak_mb < 768, usage


def test_an_out_of_memory_kill_is_reported_as_one(submission, tmp_path):
    """In a cgroup tighter than the grader's own limit (600 MB), the kernel kills the child (it
    volunteers: oom_score_adj 1000) before the address-space limit stops it: each of cross_entropy's
    checks says it ran out of memory, never that it ran out of time, and the rest is graded."""
    results, usage = _grade_in_cgroup(submission(patch={"losses": MEMORY_HOG}), tmp_path / "results.json", 600)
    # the kill is counted in the group whose limit was met: this test's, or the child's own memory cgroup
    # nested in it (grader/supervision/cgroups.py), whose kills cgroup v1 does not count up here
    assert usage.oom_kills >= 1 or not cgroups.unavailable(), usage
    ce = [t for t in results["tests"] if t["name"].startswith("P3 cross_entropy")]
    assert len(ce) == 3 and all(t["score"] == 0 for t in ce)
    visible = [t for t in ce if "hidden check" not in t.get("output", "")]
    assert visible and all("ran out of memory, and the system stopped it" in t["output"] for t in visible), \
        [t["output"] for t in visible]
    assert not any("did not finish" in t["output"] or "time limit" in t["output"] for t in ce)
    for prefix in ("P3 ce_scaled_onehot", *NEIGHBOURS):
        score, most = _points(results, prefix)
        assert score == most > 0, prefix
