"""runner.grade on its own: what each kind of trouble in the child costs, and which child runs what.

The checks are tiny declarations made here (grader.checks.base), handed to the runner with
`checks=` (nothing global to patch), the submission one file,
and the child the scripted stand-in of tests/core/scripted_child.py started through the real
sandbox: a probe's target names what the child does ("losses.echo", "losses.hang", ...), and
its log says which child (pid) ran which probe. A grading takes well under a second plus
whatever time limit a case waits out.
"""
from __future__ import annotations

import time

import pytest

from grader import messages, runner
from grader.checks import base
from grader.outcome import Status
from grader.probes import wire
from grader.rubric import CheckEntry, Limits, Rubric
from grader.sandbox import PROCESS_LIMIT, SandboxConfig
from tests.core.scripted_child import read_log, wrapper
from tests.hw3testing import HW3


class Declare:
    """declare(id, behaviour, *args, expect=..., fresh=False, timeout=5, visibility=...) -> the rubric entry
    of a one-probe check that passes when the child's answer equals `expect`; `checks`: what was declared."""

    def __init__(self) -> None:
        self.checks: dict[str, base.Check] = {}

    def __call__(self, check_id: str, behaviour: str, *args, expect=None, fresh: bool = False, timeout: float = 5.0,
                 visibility: str = "visible", module: str = "losses") -> CheckEntry:
        def probes(rng):
            return [base.call(f"{module}.{behaviour}", *args, label=f"{behaviour}({', '.join(map(repr, args))})")]

        def judge(ctx):
            return base.Verdict.passed() if ctx.values == [expect] else base.Verdict.failed(f"got {ctx.values!r}")

        self.checks[check_id] = base.Check(check_id, probes, judge, fresh_child=fresh)
        return entry(check_id, timeout=timeout, visibility=visibility)


@pytest.fixture
def declare() -> Declare:
    return Declare()


def entry(check_id: str, *, timeout: float = 5.0, visibility: str = "visible") -> CheckEntry:
    return CheckEntry(check_id, "P3", f"title of {check_id}", 1.0, visibility, 1e-6, 1e-8, timeout, 0)


def _grade(tmp_path, checks, entries, start: str = "ready", budget: float | None = None):
    """({check id: Outcome}, {(function, first argument): pid of the child that ran it}, pids of every start)
    of grading `entries` with `checks` (the tests' own declarations, handed to the runner)."""
    folder = tmp_path / "submission"
    folder.mkdir(exist_ok=True)
    (folder / "losses.py").write_text("# never imported: the scripted child only pretends\n")
    python, log = wrapper(tmp_path / "bin", start)
    rubric = Rubric(tuple(entries), (), Limits(import_timeout=5.0), "test", "0")
    result = runner.grade(folder, HW3, rubric=rubric, checks=checks, sandbox=SandboxConfig(python=python),
                          budget_seconds=budget)
    lines = read_log(log)
    ran = {(line[2], line[3]): int(line[1]) for line in lines if line[0] == "probe"}
    starts = [int(line[1]) for line in lines if line[0] == "start"]
    return {o.check_id: o for o in result.outcomes}, ran, starts


def _statuses(outcomes) -> dict[str, Status]:
    return {check_id: o.status for check_id, o in outcomes.items()}


def test_a_probe_that_raises_costs_its_check_only_and_no_child_restart(tmp_path, declare):
    entries = [declare("t.a", "echo", 1, expect=1), declare("t.b", "raise", 2), declare("t.c", "echo", 3, expect=3)]
    outcomes, ran, starts = _grade(tmp_path, declare.checks, entries)
    assert _statuses(outcomes) == {"t.a": Status.PASSED, "t.b": Status.ERROR, "t.c": Status.PASSED}
    assert "raise(2) raised scripted failure" in outcomes["t.b"].message
    assert (outcomes["t.a"].score, outcomes["t.b"].score) == (1.0, 0.0)
    assert len(starts) == 1 and set(ran.values()) == set(starts)


@pytest.mark.parametrize("behaviour, status, says", [
    ("hang", Status.TIMEOUT, "hang(2) did not finish within 0.5 s"),
    ("forged_only", Status.TIMEOUT, "did not finish within 0.5 s"),    # a forged token is never the answer
    ("exit", Status.ERROR, "While running exit(2), the process running your code exited with code 3"),
    ("sigkill", Status.ERROR, "was killed by signal SIGKILL"),
    ("garbage", Status.ERROR, "the answer from the student's code was unreadable"),
    ("two_kinds", Status.ERROR, "the answer from the student's code was unreadable"),
])
def test_a_child_that_fails_a_check_costs_that_check_only_and_the_next_gets_a_fresh_child(
        tmp_path, declare, behaviour, status, says):
    entries = [declare("t.a", "echo", 1, expect=1), declare("t.b", behaviour, 2, timeout=0.5),
               declare("t.c", "echo", 3, expect=3)]
    started = time.monotonic()
    outcomes, ran, starts = _grade(tmp_path, declare.checks, entries)
    assert _statuses(outcomes) == {"t.a": Status.PASSED, "t.b": status, "t.c": Status.PASSED}
    assert says in outcomes["t.b"].message, outcomes["t.b"].message
    assert ran[("echo", "1")] == ran[(behaviour, "2")] != ran[("echo", "3")]
    assert len(starts) == 2
    assert time.monotonic() - started < 10


def test_a_forged_answer_before_the_real_one_is_not_what_the_check_judges(tmp_path, declare):
    outcomes, _, _ = _grade(tmp_path, declare.checks, [declare("t.a", "forged_then_echo", 7, expect=7)])
    assert outcomes["t.a"].status is Status.PASSED, outcomes["t.a"].message


@pytest.mark.parametrize("start, detail", [
    ("exit", "exited with code 7 before running any student code; its output ends with: scripted start failure"),
    ("not_ready", "did not report ready (the child did not start correctly) before running any student code"),
])
def test_a_child_that_dies_before_ready_is_the_graders_fault_and_is_tried_twice_only(tmp_path, declare, start, detail):
    entries = [declare(f"t.{i}", "echo", i, expect=i) for i in range(4)]
    outcomes, ran, starts = _grade(tmp_path, declare.checks, entries, start=start)
    assert set(_statuses(outcomes).values()) == {Status.GRADER_ERROR}
    for outcome in outcomes.values():
        assert outcome.message == messages.child_start_failed() and outcome.score == 0
        assert detail in outcome.detail, outcome.detail
    assert len(starts) == runner.START_ATTEMPTS and not ran


def test_a_start_that_fails_once_is_tried_again_at_once_and_costs_nothing(tmp_path, declare):
    """A passing refusal (the sandbox user's process limit, a slow machine) at the first start: the
    same check starts a child again and passes; no student code had run, so nothing is given twice."""
    entries = [declare(f"t.{i}", "echo", i, expect=i) for i in range(3)]
    outcomes, ran, starts = _grade(tmp_path, declare.checks, entries, start="exit_first")
    assert set(_statuses(outcomes).values()) == {Status.PASSED}, {i: o.detail for i, o in outcomes.items()}
    assert len(starts) == 2 and set(ran.values()) == {starts[1]}


def test_each_fresh_child_check_runs_alone_in_a_child_and_they_go_first(tmp_path, declare):
    entries = [declare("t.v1", "echo", 1, expect=1), declare("t.f1", "echo", 2, expect=2, fresh=True),
               declare("t.v2", "echo", 3, expect=3), declare("t.f2", "echo", 4, expect=4, fresh=True)]
    outcomes, ran, starts = _grade(tmp_path, declare.checks, entries)
    assert set(_statuses(outcomes).values()) == {Status.PASSED}
    v1, f1, v2, f2 = (ran[("echo", str(i))] for i in (1, 2, 3, 4))
    assert v1 == v2 and len({v1, f1, f2}) == 3
    assert starts == [f1, f2, v1]   # one start per fresh check, the shared child last


def test_non_visible_checks_run_last_in_a_child_no_visible_check_used(tmp_path, declare):
    entries = [declare("t.s1", "echo", 1, expect=1, visibility="hidden"), declare("t.v1", "echo", 2, expect=2),
               declare("t.s2", "echo", 3, expect=3, visibility="after_due_date"), declare("t.v2", "echo", 4, expect=4)]
    outcomes, ran, starts = _grade(tmp_path, declare.checks, entries)
    assert set(_statuses(outcomes).values()) == {Status.PASSED}
    s1, v1, s2, v2 = (ran[("echo", str(i))] for i in (1, 2, 3, 4))
    assert v1 == v2 != s1 == s2
    assert starts == [v1, s1]


def test_a_hidden_check_with_a_child_of_its_own_runs_after_every_visible_check(tmp_path, declare):
    """Its inputs must never be in a child before a visible check runs (they could leave a trace there)."""
    entries = [declare("t.v1", "echo", 1, expect=1), declare("t.hf", "echo", 2, expect=2, fresh=True, visibility="hidden"),
               declare("t.vf", "echo", 3, expect=3, fresh=True), declare("t.v2", "echo", 4, expect=4)]
    outcomes, ran, starts = _grade(tmp_path, declare.checks, entries)
    assert set(_statuses(outcomes).values()) == {Status.PASSED}
    v1, hf, vf, v2 = (ran[("echo", str(i))] for i in (1, 2, 3, 4))
    assert starts == [vf, v1, hf] and v1 == v2   # visible (own child first), then the hidden one, alone


def test_the_graders_own_mistakes_are_grader_errors_and_cost_no_neighbour(tmp_path, declare):
    def broken_probes(rng):
        raise RuntimeError("a bug in a declaration")

    def broken_judge(ctx):
        raise KeyError("a bug in a judge")

    good = declare("t.good", "echo", 1, expect=1)
    bad_judge = declare("t.judge", "echo", 2)
    declare.checks["t.judge"] = base.Check("t.judge", declare.checks["t.judge"].probes, broken_judge)
    declare.checks["t.probes"] = base.Check("t.probes", broken_probes, broken_judge)
    entries = [entry("t.undeclared"), entry("t.probes"), good, bad_judge]
    outcomes, ran, _ = _grade(tmp_path, declare.checks, entries)
    assert _statuses(outcomes) == {"t.undeclared": Status.GRADER_ERROR, "t.probes": Status.GRADER_ERROR,
                                   "t.good": Status.PASSED, "t.judge": Status.GRADER_ERROR}
    assert "declares no check with that id" in outcomes["t.undeclared"].detail
    assert "a bug in a declaration" in outcomes["t.probes"].detail
    assert "a bug in a judge" in outcomes["t.judge"].detail
    assert outcomes["t.probes"].message == outcomes["t.judge"].message == messages.GRADER_BUG
    assert set(ran) == {("echo", "1"), ("echo", "2")}


def test_a_check_on_a_module_not_submitted_is_missing_without_starting_a_child(tmp_path, declare):
    outcomes, ran, starts = _grade(tmp_path, declare.checks, [declare("t.m", "echo", 1, expect=1, module="softmax")])
    assert outcomes["t.m"].status is Status.MISSING and "softmax" in outcomes["t.m"].message
    assert not starts and not ran


def test_once_the_budget_is_spent_the_remaining_checks_are_not_run(tmp_path, declare):
    entries = [declare("t.a", "hang", 1, timeout=30), declare("t.b", "echo", 2, expect=2)]
    started = time.monotonic()
    outcomes, ran, _ = _grade(tmp_path, declare.checks, entries, budget=0.5)
    assert _statuses(outcomes) == {"t.a": Status.TIMEOUT, "t.b": Status.TIMEOUT}
    assert "did not finish within 1 s" in outcomes["t.a"].message   # what was left of the budget, at least 1 s
    assert outcomes["t.b"].message.startswith(messages.BUDGET_EXHAUSTED.split(".")[0])
    assert ("echo", "2") not in ran
    assert time.monotonic() - started < 6


def test_a_timeout_names_the_process_limit_only_when_the_child_failure_says_it_met_it():
    """The flag on the failure decides, never its wording (a fork bomb: tests/corpus/test_cgroups.py)."""
    at_limit = wire.Failure(None, wire.FailureKind.TIMEOUT, PROCESS_LIMIT, at_process_limit=True)
    assert runner._status_of(at_limit, "f(1)", 5.0) == (Status.TIMEOUT, messages.timed_out("f(1)", 5.0, True))
    worded_alike = wire.Failure(None, wire.FailureKind.TIMEOUT, PROCESS_LIMIT)
    assert runner._status_of(worded_alike, "f(1)", 5.0) == (Status.TIMEOUT, messages.timed_out("f(1)", 5.0))
