"""Homework 4 (tests/assignments/hw4nn): an assignment declared `arrays: numpy`, whose reference uses
numpy-only API (`x.var(axis=0)`, population variance), and a small CNN checked by declaration
(grader/checks/classes.py: shape, parameter count, outputs, a training function)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.assignment import AssignmentError, load
from grader.checks import base
from grader.checks.base import JudgeContext, Observation, Probe
from grader.compare import Tolerance
from grader.outcome import Status
from grader.probes import child, wire
from grader.probes.student import Student
from grader.runner import grade

HW4 = Path(__file__).resolve().parent / "hw4nn"
HW0 = Path(__file__).resolve().parent / "hw0"
SUBMISSIONS = HW4 / "submissions"


@pytest.fixture(scope="module")
def hw4():
    return load(HW4)


def _statuses(folder: Path, assignment) -> dict[str, Status]:
    result = grade(folder, assignment)
    return {o.check_id: o for o in result.outcomes}


def test_the_manifest_declares_numpy_and_torch_stays_the_default(hw4):
    assert hw4.arrays == "numpy"
    assert load(HW0).arrays == "torch"


def test_a_bad_arrays_value_names_the_field_and_the_choices(tmp_path):
    manifest = tmp_path / "assignment.yaml"
    manifest.write_text((HW4 / "assignment.yaml").read_text().replace("arrays: numpy", "arrays: jax"))
    with pytest.raises(AssignmentError, match=r"'arrays' must be one of torch, numpy .* got 'jax'"):
        load(manifest)


def test_a_bad_arrays_value_on_a_declaration_is_refused():
    with pytest.raises(ValueError, match="arrays='tensor'"):
        base.call("norm.batchnorm", np.ones(2), arrays="tensor")


def test_reference_and_correct_pass_every_check_and_the_buggy_fails_its_bugs(hw4):
    correct = _statuses(SUBMISSIONS / "correct", hw4)
    assert {cid: o.status for cid, o in correct.items()} == dict.fromkeys(correct, Status.PASSED)
    buggy = _statuses(SUBMISSIONS / "buggy", hw4)
    assert buggy["B2.flatten"].status is Status.PASSED
    # numpy on both sides: the reference's x.var(axis=0) is the population variance, ddof=1 is wrong
    assert buggy["B1.batchnorm"].status is Status.FAILED and "values are not close" in buggy["B1.batchnorm"].message
    assert "SmallCNN(3) gives an output of shape (1, 2) for an input of shape (1, 1, 8, 8); expected (1, 3)." \
        in buggy["B2.shape"].message
    assert "SmallCNN(3) has 170 trainable parameters; expected 235." in buggy["B2.parameters"].message
    assert buggy["B2.forward"].status is Status.FAILED


def test_a_training_function_that_never_steps_fails_with_the_losses_it_left(hw4, tmp_path):
    folder = tmp_path / "no_step"
    shutil.copytree(SUBMISSIONS / "correct", folder)
    source = (folder / "cnn.py").read_text()
    (folder / "cnn.py").write_text(source.replace("        optimizer.step()\n", ""))
    outcome = _statuses(folder, hw4)["B2.train"]
    assert outcome.status is Status.FAILED
    assert "under train(model, X, y, epochs=20); it should be at most 0.9 times what it was" in outcome.message


def test_a_torch_function_of_a_numpy_assignment_gets_tensors_when_its_check_says_so(hw4):
    check = hw4.catalog["B2.flatten"]
    probe = check.probes(np.random.default_rng(0))[0]
    assert base.arrays_of(probe, check, hw4.arrays) == "torch"
    assert base.arrays_of(base.call("norm.batchnorm", np.ones(2)), None, hw4.arrays) == "numpy"


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(st.sampled_from(["float32", "float64", "int64", "int32", "uint8", "bool"]),
                  hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
       .filter(lambda a: a.ndim or a.dtype != bool))   # a 0-d bool decodes as a numpy scalar (wire.py, as before)
def test_numpy_arguments_cross_as_numpy_arrays_of_the_same_dtype_on_both_sides(array):
    sent = wire.decode(wire.encode({"args": (array, [array])}))
    student_side = child.to_student_args(sent, Student({}, None), "numpy")
    reference_side = base.as_arguments({"args": (array, [array])}, "numpy")
    for side in (student_side, reference_side):
        for got in (side["args"][0], side["args"][1][0]):
            assert type(got) is np.ndarray and got.dtype == array.dtype and got.shape == array.shape
            np.testing.assert_array_equal(got, array)


def test_under_torch_arguments_are_tensors_as_before():
    import torch

    sent = wire.decode(wire.encode({"x": np.arange(3.0)}))
    assert isinstance(child.to_student_args(sent, Student({}, None))["x"], torch.Tensor)
    assert isinstance(base.as_arguments({"x": np.arange(3.0)}, "torch")["x"], torch.Tensor)


def test_a_report_altered_by_student_code_fails_the_check_without_a_grader_error(hw4):
    check = hw4.catalog["B2.parameters"]
    probe: Probe = check.probes(np.random.default_rng(0))[0]
    ctx = JudgeContext((Observation(probe, returned={"parameters": "235"}),), Tolerance(1e-6, 1e-8),
                       np.random.default_rng(0), reference=hw4.reference_object, arrays=hw4.arrays)
    verdict = check.judge(ctx)
    assert verdict.fraction == 0 and "came back altered" in verdict.message
