"""Red team, round 9: what a hostile student still gets, each marked xfail until its fix flips it.

Notes and reproducers: /work/notes/attack9/NN-*/README.md. Same patterns as the neighbours:
test_hostile_wire.py (a hostile losses.py graded in the warm zygote's child, its private temporary
folder counted), tests/checks/test_unusable_answers.py (forged observations judged in this process
by the runner's own `judge_observations`), tests/batch/test_analysis_isolation.py (the class analyses).
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np
import pytest

from grader import scratch
from grader.analysis import alike
from grader.checks.base import Observation
from grader.draws import rng_for
from grader.outcome import Status
from grader.probes import wire
from grader.runner import judge_observations
from tests.corpus.test_hostile_wire import CE_CHECKS, ONEHOT_CHECKS, _grade, _leftovers, _neighbours_intact, hostile
from tests.dense_sources import SHAPES, largest_compared
from tests.hw3testing import HW3, grade_checks

RUBRIC = HW3.load_rubric()


# ---------------------------------------------------------------- 01: a deep folder tree outlives the child

@pytest.fixture
def deep_tmp(tmp_path, monkeypatch):
    """A temporary folder of this test's own (test_hostile_wire's private_tmp), emptied by rm(1) afterwards:
    what the grader leaves would otherwise break pytest's own clean-up of its temporary folders
    (shutil.rmtree recurses too) in this and every later session."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    subprocess.run(["rm", "-rf", "--one-file-system", str(folder)], check=False)


DEEP_TREE = """
if not _os.path.exists("d"):       # once per child: each level costs a path walk under Landlock
    here = _os.open(".", _os.O_RDONLY)
    try:
        for _ in range(1500):      # deeper than the interpreter's recursion limit
            _os.mkdir("d")
            _os.chdir("d")
        with open("left-behind", "w") as out:
            out.write("still here")
    finally:
        _os.fchdir(here)
        _os.close(here)
return _reference_cross_entropy(f, y)
"""


def test_a_folder_tree_deeper_than_the_recursion_limit_is_removed(submission, rubric, deep_tmp):
    result, outcomes = _grade(submission(**hostile(DEEP_TREE)), rubric)
    assert all(outcomes[c].status is Status.PASSED for c in CE_CHECKS + ONEHOT_CHECKS), outcomes
    _neighbours_intact(result)
    assert _leftovers(deep_tmp) == [] and scratch.live() == []


# ---------------------------------------------------------------- 02: a non-finite answer is "not your fault"

def _judged(check_id: str, returned) -> object:
    entry = RUBRIC.entry(check_id)
    check = HW3.catalog[check_id]
    probes = check.probes(rng_for(entry))
    return judge_observations(entry, check, [Observation(p, returned=returned) for p in probes], HW3)


Q8_CORRECT = {"1a": {"k": 8, "s": 2, "p": 3, "d": 1}, "1b": {"k": 3, "s": 2, "p": 7, "d": 7}, "2a": {"k": 4, "s": 4},
              "2b": (64, 7, 7), "3a": {"k": 2, "s": 2}, "3b": {"k": 3, "s": 2, "p": 2, "d": 2},
              "3c": {"k": 3, "s": 2, "p": 1, "d": 1}}


@pytest.mark.parametrize("check_id, returned, fraction", [
    ("Q7.answers", {"output_dim": math.nan, "last_layer_params": 128 * 64 * 4 * 4}, 0.5),
    ("Q7.answers", {"output_dim": 128 * 24 * 24, "last_layer_params": math.inf}, 0.5),
    ("Q8.layer2", {**Q8_CORRECT, "2b": (64, 7, math.nan)}, 0.5),
    ("Q8.layer2", {**Q8_CORRECT, "2b": (64, math.inf, 7)}, 0.5),
], ids=["q7_nan", "q7_inf", "q8_2b_nan", "q8_2b_inf"])
def test_a_non_finite_answer_is_the_students_failure(check_id, returned, fraction):
    outcome = _judged(check_id, wire.decode(wire.encode(returned)))
    assert outcome.status is Status.FAILED, (outcome.status, outcome.detail)
    assert outcome.score == pytest.approx(fraction * outcome.max_score)


# ---------------------------------------------------------------- 03: a forged summary, one field of the wrong type

def _vjp_summary(probe, **forged) -> dict:
    """What the grader's vjp_large probe answers for a correct O(n) VJP (the parent's own expected values)."""
    from hw3.checks.q2 import expected_large

    n = int(probe.params["n"])
    expected = expected_large(probe.params)
    summary = {"type": "torch.Tensor", "shape": (n,), "dtype": "float64", "values": expected["values"],
               "sum": expected["sum"], "abs_max": 1.0, "elapsed": 0.05, "rss_before_mb": 300.0,
               "inputs_mb": 16.0, "peak_mb": 40.0}
    return {**summary, **forged}


def _mlp_summary(probe, **forged) -> dict:
    """What the grader's p1_mlp probe answers for a correct MLP (random parameters, the contract's forward)."""
    from hw3.checks.p1 import FORWARD_VARIANTS, LAYER_SHAPES, _forward

    rng = np.random.default_rng(0)
    params = {}
    for name, (i, o) in LAYER_SHAPES.items():
        params[f"{name}.weight"] = rng.normal(size=(o, i)).astype(np.float32)
        params[f"{name}.bias"] = rng.normal(size=o).astype(np.float32)
    layers = [(params[f"{name}.weight"], params[f"{name}.bias"]) for name in LAYER_SHAPES]
    out = _forward(layers, probe.params["x"], next(iter(FORWARD_VARIANTS.values()))).astype(np.float32)
    summary = {"linears": [[name, i, o] for name, (i, o) in LAYER_SHAPES.items()],
               "attributes": {name: [i, o] for name, (i, o) in LAYER_SHAPES.items()},
               "params": params, "contract": params, "out": out.view(wire.TorchArray)}
    return {**summary, **forged}


def _tie_answer(probe, **forged) -> dict:
    """What call_catch answers for a correct max_derivative at a tie: the ValueError it raised."""
    return {"raised": {"type": "ValueError", "mro": ["ValueError", "Exception", "BaseException", "object"],
                       "message": "ValueError: a tie", **forged}}


#: case -> (check, the probe's correct answer, the one field forged, the words the message names it by)
FORGED_FIELDS = {
    "vjp_elapsed_list": ("Q2.vjp_large", _vjp_summary, {"elapsed": [0.05]}, ("'elapsed'", "a list")),
    "vjp_shape_of_arrays": ("Q2.vjp_large", _vjp_summary, {"shape": (np.zeros(3),)}, ("'shape'", "numpy.ndarray")),
    "tie_raised_not_a_dict": ("P4.max_derivative.tie", lambda p: {"raised": 0.0}, {}, ("'raised'", "a float")),
    "tie_mro_a_number": ("P4.max_derivative.tie", _tie_answer, {"mro": 3}, ("'mro'", "an int")),
    "mlp_attributes_an_array": ("P1.mlp", _mlp_summary, {"attributes": np.zeros(3)}, ("'attributes'", "ndarray")),
    "mlp_linears_holding_inf": ("P1.mlp", _mlp_summary, {"linears": [["l1", math.inf, 64], ["l2", 64, 64],
                                                                     ["l3", 64, 1]]}, ("'linears'[0][1]", "inf")),
}


def _forged_outcome(check_id: str, answer, forged: dict):
    entry, check = RUBRIC.entry(check_id), HW3.catalog[check_id]
    observations = [Observation(p, returned=wire.decode(wire.encode(answer(p, **forged))))
                    for p in check.probes(rng_for(entry))]
    return judge_observations(entry, check, observations, HW3)


@pytest.mark.parametrize("case", FORGED_FIELDS)
def test_a_forged_summary_with_one_field_of_the_wrong_type_is_the_students_failure(case):
    check_id, answer, forged, words = FORGED_FIELDS[case]
    if forged:   # the same summary with the right field passes: the case is a real answer, one field forged
        assert _forged_outcome(check_id, answer, {}).status is Status.PASSED
    outcome = _forged_outcome(check_id, answer, forged)
    assert outcome.status is Status.FAILED, (outcome.status, outcome.detail)
    assert all(word in outcome.message for word in words), outcome.message
    assert "the grader's probe sends" in outcome.message


# ---------------------------------------------------------------- 04: answers alike, bounded per byte

DIGEST = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from grader.analysis import alike
    started = time.monotonic()
    try:
        alike.code_digest(Path(sys.argv[1]))
    except alike.NotCompared:    # over the bound: refused after counting, nothing parsed
        pass
    # VmHWM, not ru_maxrss: Linux carries the maxrss of the forked pytest process across exec
    peak = next(int(line.split()[1]) // 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(time.monotonic() - started, peak)
""")



def test_the_code_digest_of_a_submission_is_bounded_in_memory_and_time(tmp_path):
    folder = tmp_path / "mallory"
    folder.mkdir()
    # as much source as the analysis reads, one tiny statement per line (never imported by the grader)
    (folder / "scratchpad.py").write_text("x\n" * ((alike.MAX_SOURCE - 1000) // 2))
    started = time.monotonic()
    try:
        run = subprocess.run([sys.executable, "-c", DIGEST, str(folder)], capture_output=True, text=True,
                             timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the digest of one 2 MB submission took over {time.monotonic() - started:.0f} s")
    assert run.returncode == 0, run.stderr
    seconds, peak_mb = run.stdout.split()
    assert float(seconds) < 5 and int(peak_mb) < 100, (seconds, peak_mb)


DIGEST_COST = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from grader.analysis import alike

    def hwm():
        return next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))

    before, started = hwm(), time.monotonic()
    digest = alike.code_digest(Path(sys.argv[1]))
    print(json.dumps([digest is not None, time.monotonic() - started, hwm() - before]))
""")


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_densest_source_the_digest_still_parses_costs_tens_of_mb(tmp_path, shape):
    """At the largest size of each dense shape within the bound (the worst case; ~44 MB and under a
    second for `x\n` lines on 2 cores, bench/alike_digest.py), the digest is computed, and cheaply;
    a kB more is not compared, and the reason says why."""
    size = largest_compared(shape)
    assert size >= 40_000     # the bound is no lower than it must be: correct work is 32 kB
    (tmp_path / "scratchpad.py").write_text(SHAPES[shape](size))
    run = subprocess.run([sys.executable, "-c", DIGEST_COST, str(tmp_path)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    compared, seconds, added_mb = json.loads(run.stdout)
    assert compared and seconds < 5 and added_mb < 100, (seconds, added_mb)
    (tmp_path / "scratchpad.py").write_text(SHAPES[shape](size + 1000))
    with pytest.raises(alike.NotCompared, match="more than"):
        alike.code_digest(tmp_path)


# ---------------------------------------------------------------- 05: N(0, 1)'s values in order pass as IID draws

NOT_AT_RANDOM = {
    # the reproducer: N(0, 1)'s quantiles in increasing order, the same at every call
    "sorted_quantiles": """
        from statistics import NormalDist

        def initialize(model):
            for layer in (model.l1, model.l2, model.l3):
                n = layer.weight.numel()
                quantiles = [NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)]
                with torch.no_grad():
                    layer.weight.copy_(torch.tensor(quantiles, dtype=torch.float32).reshape(layer.weight.shape))
                    layer.bias.fill_(0.03)
        """,
    # random draws, each row sorted (l1's single column sorted)
    "rows_sorted": """
        def initialize(model):
            for layer in (model.l1, model.l2, model.l3):
                dim = 1 if layer.weight.shape[1] > 1 else 0
                with torch.no_grad():
                    layer.weight.copy_(torch.randn(layer.weight.shape).sort(dim=dim).values)
                    layer.bias.fill_(0.03)
        """,
    # one shuffled row of 64 quantiles (its neighbours uncorrelated: +0.04) for l1 and l3, and as every row of l2
    "repeated_rows": """
        from statistics import NormalDist

        def initialize(model):
            order = torch.randperm(64, generator=torch.Generator().manual_seed(1))
            row = torch.tensor([NormalDist().inv_cdf((i + 0.5) / 64) for i in range(64)])[order]
            with torch.no_grad():
                model.l1.weight.copy_(row.reshape(64, 1))
                model.l2.weight.copy_(row.repeat(64, 1))
                model.l3.weight.copy_(row.reshape(1, 64))
                for layer in (model.l1, model.l2, model.l3):
                    layer.bias.fill_(0.03)
        """,
}


@pytest.mark.parametrize("shape", sorted(NOT_AT_RANDOM))
def test_weights_with_n01_values_set_in_order_are_not_iid(submission, rubric, shape):
    outcome = grade_checks(submission(patch={"threelayerSGD": NOT_AT_RANDOM[shape]}), rubric,
                           ids=["P1.initialize"])["P1.initialize"]
    assert outcome.status is Status.FAILED, (outcome.status, outcome.detail)
    assert outcome.score == pytest.approx(0.5 * outcome.max_score)      # the biases are right
    assert "but not independent ones" in outcome.message and "Draw every weight at random" in outcome.message
    if shape == "repeated_rows":      # only l2 repeats, and only its columns show it
        assert outcome.message.count("not independent") == 1 and "down its columns" in outcome.message


def test_a_correct_initialize_that_seeds_torch_itself_passes(submission, rubric):
    """Every call gives the same weights, drawn at random: the homework asks for IID draws, not fresh ones."""
    source = """
        def initialize(model):
            torch.manual_seed(0)
            for layer in (model.l1, model.l2, model.l3):
                layer.weight.data = torch.randn(layer.weight.shape)
                layer.bias.data = torch.full(layer.bias.shape, 0.03)
        """
    outcome = grade_checks(submission(patch={"threelayerSGD": source}), rubric, ids=["P1.initialize"])["P1.initialize"]
    assert outcome.status is Status.PASSED, outcome.detail
