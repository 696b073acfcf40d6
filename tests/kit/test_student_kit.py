"""The student kit: built once, unpacked, run as a student runs it (`python check.py`), and searched for leaks.

End to end (marked slow; the kit build and the full runs train the MLP): the untouched
template, the reference, examples/buggy and one-bug variants; the kit's score on the
visible checks equals the autograder's for the same files; nothing hidden or of the
reference is in the zip; the kit runs without rich, psutil and jsonschema. The
mechanism under it (canonical keys, the frozen replayer, the choice of files, the table) is
tested directly and fast.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import reference
from tests.hw3testing import KIT_PENDING_DEPENDENT, REPO, warm_sandbox, write_submission
from grader import rubric as rubric_module
from grader.build.student_kit import KitBuildError, build_kit_report, kit_name, kit_sources, reference_as_submission
from grader.kit import frozen as frozen_module
from grader.kit import table
from grader.kit.frozen import FrozenMiss, FrozenReference, Unfreezable, canonical, canonical_call
from grader.kit.selfcheck import SELFCHECK_DIR
from grader.outcome import GradingResult, Outcome, Status
from grader.runner import grade, rng_for
from tests.hw3testing import HW3

#: One worker runs this module (`--dist loadgroup`): its module-scoped runs of the kit (the reference's and
#: examples/buggy's) are made once, not once on each worker that happens to get one of their tests.
pytestmark = pytest.mark.xdist_group("student-kit")
EXAMPLES = REPO / "examples"
TEMPLATE = REPO / "student_template"
#: The judges whose reference calls depend on what the student returned (found by the build):
#: the kit judges them only for answers equal to the reference's. The check authors are
#: moving these evaluations into the check modules; the set may only shrink.
PENDING_DEPENDENT = KIT_PENDING_DEPENDENT
#: Lines of reference function bodies that visible check modules repeat in numpy (reported to the lead):
#: {reference function: {line}}; the set may only shrink.
PENDING_SOURCE_LEAKS = {
    "convolution.conv1d": {"start = (m - 1) // 2"},                                     # q6.py explain_conv
    "convolution.conv_output_size": {"return (i + 2 * p - d * (k - 1) - 1) // s + 1"},  # q7.py _formula
    "gradients.two_layer_grad": {"return gb * x, gb, r * s"},                          # p6.py np_grad
    "gradients.two_layer_sgd": {"a, b, u = a - lr * ga, b - lr * gb, u - lr * gu"},    # p6.py np_sgd_in_order
}
#: Strings of hidden checks' inputs that the kit's shared probe code still names (reported to the lead).
PENDING_INPUT_LEAKS = {"frozen_bias", "frozen_layer", "linear_3_5", "no_bias", "sequential",   # P2.count_params.general
                       "affine_exp", "d_affine_exp", "abc"}                                    # P4.max_derivative.more


# ============================================================================ building and running the kit

@pytest.fixture(scope="module")
def kit(student_kit):
    """The kit, built once per test run from the packaged rubric (tests/conftest.py)."""
    return student_kit


def unpack(kit_report, dest: Path) -> Path:
    with zipfile.ZipFile(kit_report.path) as archive:
        archive.extractall(dest)
    return dest / kit_name(HW3)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    data: dict

    @property
    def outcomes(self) -> dict[str, dict]:
        return {o["check_id"]: o for o in self.data["result"]["outcomes"]}


def run_check(folder: Path, *args: str, command: list[str] | None = None, timeout: float = 1200) -> Run:
    """`python check.py ARGS --json FILE` in the kit's folder, as a student runs it (stdout piped)."""
    out = folder / "selfcheck-result.json"
    out.unlink(missing_ok=True)
    command = command or [sys.executable, "check.py"]
    proc = subprocess.run([*command, *args, "--json", str(out)], cwd=folder, capture_output=True, text=True,
                          timeout=timeout)
    data = json.loads(out.read_text()) if out.exists() else {}
    return Run(proc.returncode, proc.stdout, proc.stderr, data)


def with_modules(kit_report, dest: Path, source: Path | None = None, **patches) -> Path:
    """A fresh kit folder holding `source`'s modules, or the reference's (with `write_submission`'s patches)."""
    folder = unpack(kit_report, dest)
    if source is None:
        write_submission(folder, **patches)
    else:
        for path in sorted(source.glob("*.py")):
            shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def reference_run(kit, tmp_path_factory) -> Run:
    return run_check(with_modules(kit, tmp_path_factory.mktemp("reference")))


@pytest.fixture(scope="module")
def buggy_run(kit, tmp_path_factory) -> Run:
    return run_check(with_modules(kit, tmp_path_factory.mktemp("buggy"), EXAMPLES / "buggy"))


def visible_ids(rubric, problems=None) -> list[str]:
    return [e.id for e in rubric.select(problems, visible_only=True)]


# ============================================================================ what a student sees

@pytest.mark.slow
def test_untouched_template_is_not_started(kit, tmp_path, rubric):
    run = run_check(unpack(kit, tmp_path))
    assert run.returncode == 1, run.stderr
    given = {"P1.f_true"}       # f_true is given in the template: its check passes from the start
    assert set(run.outcomes) == set(visible_ids(rubric))
    for check_id, o in run.outcomes.items():
        expected = "passed" if check_id in given else "not_attempted"
        assert o["status"] == expected, (check_id, o["message"])
    assert "not started" in run.stdout
    assert "Hidden checks" in run.stdout and "Gradescope" in run.stdout
    assert "\x1b[" not in run.stdout, "no colour when the output is piped"


@pytest.mark.slow
def test_reference_passes_every_visible_check(reference_run, rubric):
    assert reference_run.returncode == 0, reference_run.stdout + reference_run.stderr
    assert set(reference_run.outcomes) == set(visible_ids(rubric))
    failed = {i: o["message"] for i, o in reference_run.outcomes.items() if o["status"] != "passed"}
    assert not failed
    visible_points = sum(e.points for e in rubric.select(visible_only=True))
    assert re.search(rf"TOTAL\s+visible checks\s+{visible_points:.1f}/{visible_points:.1f}", reference_run.stdout)
    assert "All visible checks pass." in reference_run.stdout


@pytest.mark.slow
def test_problem_1_plot_is_written_and_named(reference_run):
    found = re.search(r"P1: the plot of your fitted function is in\n  (\S+\.png)\n", reference_run.stdout)
    assert found, reference_run.stdout
    png = Path(found.group(1))
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and png.stat().st_size > 5000


@pytest.mark.slow
def test_buggy_example_fails_the_right_checks_with_teaching_messages(buggy_run, rubric):
    assert buggy_run.returncode == 1
    failed = {i: o["message"] for i, o in buggy_run.outcomes.items() if o["status"] != "passed"}
    expected = {   # the visible checks examples/buggy fails (tests/test_examples.py lists the hidden ones too)
        "P1.train.epochs": r"each epoch took \d+ steps, expected 3",
        "Q1.relu_derivative": re.escape("relu_derivative(0) returned 0, expected 1/2"),
        "Q6.conv1d.question": re.escape("It looks like cross-correlation: the kernel must be flipped"),
        "Q6.conv1d.modes": re.escape("It looks like cross-correlation"),
        "Q8.layer3": r"3b",
    }
    # P1.train.replay may pass or fail with the extra loop: it replays the student's own batches
    assert set(failed) <= set(expected) | {"P1.fit", "P2.noisy_fit", "P1.train.replay"}, failed
    for check_id, pattern in expected.items():
        assert check_id in failed, check_id
        assert re.search(pattern, failed[check_id]), (check_id, failed[check_id])
    assert "FAILED" in buggy_run.stdout and "Hint:" in buggy_run.stdout


@pytest.mark.slow
def test_problem_filter(kit, tmp_path):
    """`python check.py P3`: only Problem 3, and exit 0 when its visible checks pass (buggy's P3 bug is hidden)."""
    run = run_check(with_modules(kit, tmp_path / "a", EXAMPLES / "buggy"), "P3")
    assert run.returncode == 0, run.stdout
    assert {o["problem"] for o in run.outcomes.values()} == {"P3"}
    assert "Q1 " not in run.stdout and "P3 subtotal" in run.stdout
    run = run_check(unpack(kit, tmp_path / "b"), "q1")
    assert run.returncode == 1 and {o["problem"] for o in run.outcomes.values()} == {"Q1"}
    bad = subprocess.run([sys.executable, "check.py", "P9"], cwd=tmp_path / "b" / kit_name(HW3), capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "unknown problem P9" in bad.stderr


def test_a_notebook_dropped_beside_the_kits_stubs_is_checked(kit, tmp_path, rubric):
    """A notebook student unpacks the kit and drops hw3.ipynb next to its untouched stubs: the notebook is checked."""
    folder = unpack(kit, tmp_path)
    shutil.copy(REPO / "tests" / "corpus" / "correct_styles" / "notebook" / "hw3.ipynb", folder / "hw3.ipynb")
    run = run_check(folder, "P3", "Q1", "Q7", "Q8")
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert set(run.outcomes) == set(visible_ids(rubric, {"P3", "Q1", "Q7", "Q8"}))
    assert {o["status"] for o in run.outcomes.values()} == {"passed"}, run.stdout
    notes = " ".join(run.data["result"]["notes"])
    assert "Graded from the notebook hw3.ipynb, since the .py files still hold the template's stubs" in notes
    assert "MLP, count_params, initialize, make_data, plot_fit, train (threelayerSGD.py)" in notes
    assert "Q7, Q8, cnn_output_shape, conv1d, conv_output_size, conv_params, pool_output_size (convolution.py)" in notes


# ============================================================================ same score as the autograder

def _normalized(message: str) -> str:
    """Messages without timings, measured memory and scratch paths (they differ between any two runs)."""
    message = re.sub(r"\d+(\.\d+)? s\b", "<t> s", message)
    message = re.sub(r"peak memory \d+ MB", "peak memory <m> MB", message)
    return re.sub(r"/\S*hw3grade-\S*", "<scratch>", message)


def assert_same_as_autograder(run: Run, result: GradingResult, ids: list[str]) -> None:
    auto = {o.check_id: o for o in result.outcomes}
    assert set(run.outcomes) == set(ids)
    for check_id in ids:
        mine, theirs = run.outcomes[check_id], auto[check_id]
        assert (mine["status"], round(mine["score"], 6)) == (theirs.status.value, round(theirs.score, 6)), \
            (check_id, mine["message"], theirs.message)
        assert _normalized(mine["message"]) == _normalized(theirs.message), check_id
    kit_total = round(sum(o["score"] for o in run.outcomes.values()), 6)
    assert kit_total == round(sum(auto[i].score for i in ids), 6)


@pytest.mark.slow
def test_same_score_as_autograder_on_reference(reference_run, reference_result, rubric):
    assert_same_as_autograder(reference_run, reference_result, visible_ids(rubric))


@pytest.mark.slow
def test_same_score_as_autograder_on_buggy(buggy_run, buggy_result, rubric):
    assert_same_as_autograder(buggy_run, buggy_result, visible_ids(rubric))


ONE_BUG_VARIANTS = {
    "cross_entropy_mean": ({"losses": '''
        _per_sample = cross_entropy
        def cross_entropy(f, y):
            return _per_sample(f, y).mean()
        '''}, {"P3"}),
    "cross_entropy_logsumexp": ({"losses": '''
        def cross_entropy(f, y):                      # correct, in another style
            f = torch.as_tensor(f, dtype=torch.float64)
            if f.dim() == 1:
                return torch.logsumexp(f, 0) - f[int(y)]
            return torch.logsumexp(f, 1) - f[torch.arange(f.shape[0]), torch.as_tensor(y)]
        '''}, {"P3"}),
    "softmax_last_dim": ({"softmax": '''
        _softmax = softmax
        def softmax(x, dim=-1):
            return _softmax(x, -1)
        '''}, {"Q2", "Q3"}),
    "max_derivative_first": ({"gradients": '''
        def max_derivative(fs, dfs, x):
            return dfs[0](x)
        '''}, {"P4"}),
    "conv_output_size_no_dilation": ({"convolution": '''
        def conv_output_size(i, k, s=1, p=0, d=1):
            return (i + 2 * p - k) // s + 1
        '''}, {"Q7"}),
    "relu_interpolator_numpy": ({"interpolation": '''
        _relu_interpolator = relu_interpolator
        def relu_interpolator(X, F):                  # correct, returned as numpy arrays
            return tuple(t.numpy() for t in _relu_interpolator(X, F))
        '''}, {"Q5"}),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(ONE_BUG_VARIANTS))
def test_same_score_as_autograder_on_one_bug_variants(variant, kit, tmp_path, rubric):
    patch, problems = ONE_BUG_VARIANTS[variant]
    patch = {module: textwrap.dedent(source) for module, source in patch.items()}
    folder = with_modules(kit, tmp_path, patch=patch)
    run = run_check(folder, *sorted(problems))
    submission = write_submission(tmp_path / "submission", patch=patch)
    result = grade(submission, HW3, rubric=rubric, entries=rubric.select(problems, visible_only=True),
                   sandbox=warm_sandbox(HW3, rubric))
    assert_same_as_autograder(run, result, visible_ids(rubric, problems))
    assert run.returncode == (0 if all(o.status.passed for o in result.outcomes) else 1)


@pytest.mark.slow
def test_no_new_judge_depends_on_student_values(kit):
    """A judge that calls the reference on what the student returned cannot be frozen (see PENDING_DEPENDENT)."""
    assert set(kit.dependent) <= PENDING_DEPENDENT, {k: v for k, v in kit.dependent.items()
                                                     if k not in PENDING_DEPENDENT}


# ============================================================================ nothing hidden, nothing of the reference

def _kit_texts(kit_report, dest: Path) -> dict[str, str]:
    folder = unpack(kit_report, dest)
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8", errors="replace")
            for p in folder.rglob("*") if p.is_file()}


_GENERIC = ("for ", "if ", "elif ", "else", "while ", "with ", "try", "except", "finally", "def ", "class ",
            "raise ", "import ", "from ", "#", '"', "'")


def _reference_body_lines() -> dict[str, set[str]]:
    """{reference function: the distinctive lines of its body}: computations (no control-flow header, import
    or string), at least 20 characters, not in the template."""
    template = {line.strip() for p in TEMPLATE.glob("*.py") for line in p.read_text().splitlines()}
    found: dict[str, set[str]] = {}
    for path in sorted(Path(reference.__file__).parent.glob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            body = node.body[1:] if ast.get_docstring(node) else node.body
            lines = set()
            for stmt in body:
                for line in (ast.get_source_segment(source, stmt) or "").splitlines():
                    line = line.strip()
                    if len(line) >= 20 and line not in template and not line.startswith(_GENERIC):
                        lines.add(line)
            if lines:
                found[f"{path.stem}.{node.name}"] = lines
    return found


@pytest.mark.slow
def test_no_reference_source_in_the_kit(kit, tmp_path):
    bodies = _reference_body_lines()
    assert len(bodies) >= 40, "the test needs the reference's function bodies to search for"
    kit_lines = {line.strip() for text in _kit_texts(kit, tmp_path).values() for line in text.splitlines()}
    leaked = {name: (lines & kit_lines) - PENDING_SOURCE_LEAKS.get(name, set()) for name, lines in bodies.items()}
    assert not {name: sorted(lines) for name, lines in leaked.items() if lines}
    assert not any(name.startswith("reference/") or "/reference/" in name for name in kit.files)


@pytest.mark.slow
def test_no_hidden_check_in_the_kit(kit, tmp_path, rubric):
    texts = _kit_texts(kit, tmp_path)
    hidden = [e.id for e in rubric.checks if e.secret]
    assert hidden
    pattern = re.compile("|".join(rf"(?<![\w.]){re.escape(i)}(?![\w.])" for i in hidden))
    named = {path: pattern.findall(text) for path, text in texts.items() if pattern.search(text)}
    assert not named
    kit_rubric = rubric_module.load(tmp_path / kit_name(HW3) / SELFCHECK_DIR / "rubric.yaml")
    assert [e.id for e in kit_rubric.checks] == visible_ids(rubric)
    assert kit_rubric.limits.total_points == sum(e.points for e in kit_rubric.checks)
    frozen = json.loads(texts[f"{SELFCHECK_DIR}/frozen.json"])
    provenance = {c for entry in [*frozen["calls"].values(), *frozen["values"].values()] for c in entry["checks"]}
    assert provenance <= set(visible_ids(rubric))


@pytest.mark.slow
def test_no_frozen_value_of_a_hidden_check(kit, tmp_path, rubric):
    """Record what the hidden judges ask of the reference: none of it may be in frozen.json."""
    from grader.kit.record import record_reference

    hidden = [e for e in rubric.checks if e.secret]
    recording = record_reference(reference_as_submission(tmp_path / "reference", HW3), HW3, rubric, hidden)
    frozen_text = _kit_texts(kit, tmp_path / "kit")[f"{SELFCHECK_DIR}/frozen.json"]
    frozen = json.loads(frozen_text)
    hidden_only = set(recording.calls) - set(frozen["calls"])
    assert recording.calls, "the hidden judges call the reference: the test must see those calls"
    payloads = set()
    for key in hidden_only:
        payloads |= set(re.findall(r"[A-Za-z0-9+/=]{40,}", json.dumps(recording.calls[key].get("result"))))
    assert not {p for p in payloads if p in frozen_text}


def _strings(value, out: set) -> set:
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _strings(k, out)
            _strings(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _strings(v, out)
    return out


@pytest.mark.slow
def test_no_hidden_input_named_in_the_kit(kit, tmp_path, rubric):
    """Strings only hidden checks' probes carry (models, function families) are not in the kit's code."""
    checks = HW3.catalog
    probe_strings = {}
    for entry in rubric.checks:
        found: set = set()
        for probe in checks[entry.id].probes(rng_for(entry)):
            _strings(probe.params, found)
            found.add(probe.kind)
        probe_strings[entry.id] = found
    visible = set().union(*(probe_strings[i] for i in visible_ids(rubric)))
    hidden_only = set().union(*(probe_strings[e.id] for e in rubric.checks if e.secret)) - visible
    texts = "\n".join(_kit_texts(kit, tmp_path).values())
    named = {s for s in hidden_only if re.search(rf"(?<![\w.]){re.escape(s)}(?![\w.])", texts)}
    assert named <= PENDING_INPUT_LEAKS, named - PENDING_INPUT_LEAKS


@pytest.mark.slow
def test_no_hidden_hint_in_the_kit(kit, tmp_path, rubric):
    """A hidden check's hint is not in the kit, unless a visible check gives the same advice (then it is no
    secret): checked sentence by sentence, in the files' text with their line breaks joined."""
    checks = HW3.catalog
    said = " ".join(checks[e.id].hint or "" for e in rubric.checks if not e.secret)
    hidden = {e.id: checks[e.id].hint or "" for e in rubric.checks if e.secret}
    assert any(hidden.values()), "the test needs hidden hints to search for"
    texts = re.sub(r"\s+", " ", re.sub(r'"\s*\n\s*"', "", "\n".join(_kit_texts(kit, tmp_path).values())))
    leaked = {check_id: piece for check_id, hint in hidden.items() for piece in re.split(r"(?<=[.:;])\s+", hint)
              if len(piece) >= 30 and piece not in said and re.sub(r"\s+", " ", piece) in texts}
    assert not leaked


@pytest.mark.slow
def test_kit_runs_the_autograders_own_code(kit, tmp_path):
    """Same pipeline: every copied module (the grader's, the check package's, the probe files) is the
    repository's, byte for byte (so a traceback from the kit points at the repository's lines); the
    hidden modules are not copied."""
    folder = unpack(kit, tmp_path)
    copied = sorted((folder / SELFCHECK_DIR / "grader").rglob("*.py"))
    assert copied
    for path in copied:
        rel = path.relative_to(folder / SELFCHECK_DIR)
        original = (REPO / rel).read_text()
        if hashlib.sha256(original.encode()).hexdigest() != kit.originals[rel.as_posix()]:
            continue   # edited since the kit was built (by someone working in parallel): nothing to compare
        assert path.read_text() == original, rel
    assert not (folder / SELFCHECK_DIR / "grader" / "kit" / "record.py").exists()
    assignment_files = sorted((folder / SELFCHECK_DIR / "hw3").rglob("*.py"))   # the check package, probe files
    assert {p.name for p in assignment_files} >= {"p1.py", "q8.py", "training.py", "large.py"}
    assert not [p.name for p in assignment_files if p.stem.endswith("_hidden")]
    assert set(kit.withheld) >= {"hw3.checks.p1_hidden", "hw3.checks.q6_hidden"}
    for path in assignment_files:
        rel = path.relative_to(folder / SELFCHECK_DIR)
        original = (REPO / rel).read_text()
        if hashlib.sha256(original.encode()).hexdigest() == kit.originals[rel.as_posix()]:
            assert path.read_text() == original, rel
    assert not (folder / SELFCHECK_DIR / "hw3" / "rubric.yaml").exists()
    assert sorted(p.name for p in folder.glob("*.py")) == sorted(
        ["check.py"] + [p.name for p in TEMPLATE.glob("*.py") if not p.name.startswith("_")])
    assert (folder / "README.md").read_text() == (TEMPLATE / "README.md").read_text()


# ============================================================================ the student's Python

_BLOCKED_RUN = r"""
import importlib.abc, json, runpy, sys
BLOCKED = {"rich", "psutil", "jsonschema", "reference", "gradescope_utils", "pytest", "hypothesis"}
attempts = []

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            attempts.append(name)
            raise ImportError(f"{name} is not installed")
        return None

sys.meta_path.insert(0, Blocker())
sys.argv = ["check.py"] + sys.argv[1:]
try:
    runpy.run_path("check.py", run_name="__main__")
    status = 0
except SystemExit as exc:
    status = exc.code if isinstance(exc.code, int) else 1
kit = __import__("os").path.abspath(".")
outside = sorted(m.__file__ for n, m in sys.modules.items()
                 if n.split(".")[0] == "grader" and getattr(m, "__file__", None) and not m.__file__.startswith(kit))
print(json.dumps({"attempts": attempts, "outside": outside}))
sys.exit(status)
"""


@pytest.mark.slow
def test_kit_runs_without_rich_psutil_jsonschema(kit, tmp_path):
    """A Python without rich, psutil, jsonschema (and without the reference): imports of them are refused."""
    folder = with_modules(kit, tmp_path)
    run = run_check(folder, "P3", "Q7", command=[sys.executable, "-I", "-c", _BLOCKED_RUN])
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report == {"attempts": [], "outside": []}
    assert all(o["status"] == "passed" for o in run.outcomes.values())


@pytest.mark.slow
def test_a_call_without_frozen_answer_is_judged_on_gradescope(kit, tmp_path):
    folder = with_modules(kit, tmp_path)
    path = folder / SELFCHECK_DIR / "frozen.json"
    data = json.loads(path.read_text())
    data["calls"] = {k: v for k, v in data["calls"].items() if v["target"] != "losses.cross_entropy"}
    path.write_text(json.dumps(data))
    run = run_check(folder, "P3")
    assert run.returncode == 1
    assert set(run.data["offline"]) == {"P3.cross_entropy.single", "P3.cross_entropy.batch"}
    assert run.outcomes["P3.ce_scaled_onehot"]["status"] == "passed"
    assert re.search(r"cross_entropy of one sample\s+on Gradescope\s+0\.0/1\.0", run.stdout)
    assert "Judged on Gradescope only" in run.stdout
    assert "no frozen reference answer for reference.losses.cross_entropy" in \
        run.outcomes["P3.cross_entropy.single"]["detail"]


# ============================================================================ the mechanism, directly

def test_canonical_form_is_exact_and_names_functions():
    import torch

    from grader.probes import callables

    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    assert canonical(torch.from_numpy(a)) == canonical(torch.from_numpy(a.copy()))
    assert canonical(torch.from_numpy(a)) != canonical(torch.from_numpy(a.astype(np.float32)))
    assert canonical(torch.from_numpy(a)) != canonical(a)               # a tensor is not an array
    assert canonical(0.1) != canonical(float(np.nextafter(0.1, 1.0)))
    assert canonical(1) != canonical(1.0) and canonical(True) != canonical(1)
    poly = {"__fn__": "poly", "coeffs": [1.0, -2.0, 0.5]}
    assert canonical(callables.build(poly, None)) == canonical(callables.build(dict(poly), None))
    assert canonical(callables.build(poly, None)) != canonical(callables.build({**poly, "coeffs": [1.0]}, None))
    assert canonical(torch.sigmoid) == {"fn": "torch.sigmoid"}
    with pytest.raises(Unfreezable, match="model"):
        canonical(torch.nn.Linear(2, 2))
    with pytest.raises(Unfreezable):
        canonical(object())


def _frozen_with(target: str, args: tuple, result) -> FrozenReference:
    canon = canonical_call(args, {})
    entry = {"target": target, "args": canon, "result": frozen_module.encode_result(result), "checks": ["P3.x"]}
    return FrozenReference({"format": frozen_module.FORMAT, "calls": {frozen_module.call_key(target, canon): entry},
                            "values": {}}, HW3.reference, HW3.modules)


def test_replay_answers_exactly_and_up_to_rounding_and_says_when_it_cannot():
    import torch

    x = torch.tensor([0.5, 1.5, -2.0], dtype=torch.float64)
    frozen = _frozen_with("losses.cross_entropy", (x, 1), torch.tensor(0.25, dtype=torch.float64))
    with frozen_module.modules_installed(frozen.modules()):
        import importlib

        ce = importlib.import_module("reference.losses").cross_entropy
        from reference.losses import cross_entropy   # the form judges use inside functions
        assert cross_entropy(x, 1).item() == 0.25 and isinstance(cross_entropy(x, 1), torch.Tensor)
        assert ce(x * (1 + 1e-15), 1).item() == 0.25                    # another platform's last bit
        with pytest.raises(FrozenMiss, match=re.escape("no frozen reference answer for reference.losses."
                                                       "cross_entropy(...) (none of the 1 frozen calls")):
            ce(x + 1, 1)
        with pytest.raises(FrozenMiss, match="no visible check calls it"):
            importlib.import_module("reference.softmax").softmax(x)
        with pytest.raises(FrozenMiss, match=re.escape("its arguments include a Linear model")):
            ce(torch.nn.Linear(1, 1), 1)
    assert len(frozen.misses) == 3
    assert sys.modules["reference"] is reference          # the stand-ins are gone again


def test_recorded_exceptions_are_raised_again():
    frozen = FrozenReference({"format": frozen_module.FORMAT, "values": {}, "calls": {
        frozen_module.call_key("gradients.max_derivative", canonical_call((1.0,), {})):
            {"target": "gradients.max_derivative", "args": canonical_call((1.0,), {}),
             "raised": ["ValueError", "a tie"], "checks": []}}}, HW3.reference, HW3.modules)
    with pytest.raises(ValueError, match="a tie"):
        frozen.resolve("gradients.max_derivative")(1.0)


def _skeleton(folder: Path):
    """A fresh `hw3grade new` assignment (its own package names) with its visible and hidden entries."""
    from grader.assignment import load
    from grader.authoring import new

    new(folder)
    assignment = load(folder)
    rubric = assignment.load_rubric()
    return assignment, [e for e in rubric.checks if not e.secret], [e for e in rubric.checks if e.secret]


def test_the_kit_ships_whole_files_and_leaves_hidden_modules_out(tmp_path):
    assignment, visible, hidden = _skeleton(tmp_path / "skeleton_kit_files")
    sources, withheld, _ = kit_sources(visible, hidden, assignment)
    checks = f"{assignment.checks}"
    assert f"{checks}.e1" in sources and f"{checks}.e1_hidden" not in sources
    assert withheld == (f"{checks}.e1_hidden",)
    assert sources[f"{checks}.e1"] == (tmp_path / "skeleton_kit_files" / checks / "e1.py").read_text()
    assert "E1.relu.hidden" not in "\n".join(sources.values())


def test_a_shipped_module_that_imports_a_hidden_one_is_refused(tmp_path):
    assignment, visible, hidden = _skeleton(tmp_path / "skeleton_kit_imports")
    e1 = tmp_path / "skeleton_kit_imports" / assignment.checks / "e1.py"
    e1.write_text(e1.read_text() + "\n\ndef _later():\n    from .e1_hidden import _tensors  # noqa\n")
    with pytest.raises(KitBuildError, match=rf"{assignment.checks}\.e1_hidden .*is the autograder's only"):
        kit_sources(visible, hidden, assignment)


@pytest.mark.slow
def test_a_shipped_file_that_names_a_hidden_id_is_refused(tmp_path):
    assignment, _, _ = _skeleton(tmp_path / "skeleton_kit_ids")
    e1 = tmp_path / "skeleton_kit_ids" / assignment.checks / "e1.py"
    e1.write_text(e1.read_text() + "# E1.relu.hidden checks relu on other tensors\n")
    with pytest.raises(KitBuildError, match=re.escape("names the hidden check 'E1.relu.hidden'")):
        build_kit_report(tmp_path / "kit.zip", assignment)


def test_plain_table_colours_only_when_asked():
    outcomes = (
        Outcome("P3.a", "P3", "a check", Status.PASSED, 1.0, 1.0, "visible"),
        Outcome("P3.b", "P3", "b check", Status.FAILED, 0.0, 2.0, "visible", "expected 3\ngot 4"),
        Outcome("P3.c", "P3", "c check", Status.GRADER_ERROR, 0.0, 1.0, "visible", "Judged on Gradescope only"),
        Outcome("Q1.d", "Q1", "d check", Status.NOT_ATTEMPTED, 0.0, 1.0, "visible", "Not started yet"),
    )
    result = GradingResult(outcomes)
    plain = table.render(result, color=False, width=80, offline=frozenset({"P3.c"}), footer=("Hidden checks.",))
    assert "\x1b" not in plain
    lines = plain.splitlines()
    assert any(re.fullmatch(r"P3\s+b check\s+FAILED\s+0\.0/2\.0", line) for line in lines)
    assert any(re.fullmatch(r"P3\s+c check\s+on Gradescope\s+0\.0/1\.0", line) for line in lines)
    assert any(re.fullmatch(r"Q1\s+d check\s+not started\s+0\.0/1\.0", line) for line in lines)
    assert any(re.fullmatch(r"\s+P3 subtotal\s+1\.0/4\.0", line) for line in lines)
    assert re.search(r"TOTAL\s+visible checks\s+1\.0/5\.0", plain)
    assert plain.index("expected 3") > plain.index("b check") and "got 4" in plain
    assert plain.rstrip().endswith("Hidden checks.")
    coloured = table.render(result, color=True, width=80)
    assert "\x1b[1;31mFAILED" in coloured and "\x1b[32mpassed" in coloured


def test_build_refuses_a_rubric_whose_visible_checks_are_not_declared(tmp_path):
    bad = tmp_path / "rubric.yaml"
    bad.write_text("limits: {total_points: 1}\nchecks:\n"
                   "  - {id: P3.nowhere, problem: P3, title: t, points: 1, visibility: visible, rtol: 0, atol: 0,"
                   " timeout: 1, seed: 1}\n")
    with pytest.raises(KitBuildError, match=re.escape("visible check(s) P3.nowhere that hw3.checks does not")):
        build_kit_report(tmp_path / "kit.zip", HW3, rubric_path=bad)


def test_draw_fit_plots_the_contract_mlp_of_the_trained_parameters(tmp_path):
    """The kit's plot is the judge's view: the best run's trained l1, l2, l3 in the contract's forward pass
    (a prediction the child sends is never drawn), with the student's data; no parameters, no plot."""
    from grader.checks.png import png_size
    from hw3.checks import p1
    from hw3.checks.p1 import draw_fit

    rng = np.random.default_rng(0)
    x = p1.FIT_GRID
    params = {"l1.weight": rng.normal(size=(64, 1)) * 4, "l1.bias": rng.uniform(-8, 8, size=64),
              "l2.weight": np.eye(64) * 8, "l2.bias": np.full(64, -4.0)}
    h = 1 / (1 + np.exp(-(x[:, None] @ params["l1.weight"].T + params["l1.bias"])))
    h = 1 / (1 + np.exp(-(h @ params["l2.weight"].T + params["l2.bias"])))
    coef = np.linalg.lstsq(np.hstack([h, np.ones((x.size, 1))]), p1.f_true_np(x), rcond=None)[0]
    params["l3.weight"], params["l3.bias"] = coef[:64].reshape(1, 64), coef[64:]
    probe = p1.fit_probes(p1.P1_FIT)(np.random.default_rng(0))[0].params
    X = rng.normal(size=512)
    returned = {"runs": [{"params": params, "X": X, "Y": p1.f_true_np(X), "pred": np.zeros(x.size)}]}
    path = draw_fit(tmp_path / "fit.png", probe, returned, title="t")
    width, height = png_size(path.read_bytes())
    assert (width, height) == (800, 500)
    with pytest.raises(Exception, match="no trained parameters"):
        draw_fit(tmp_path / "none.png", probe, {"runs": [{"pred": p1.f_true_np(x)}]}, title="t")
    with pytest.raises(ValueError, match="l1, l2, l3"):
        draw_fit(tmp_path / "none.png", probe, {"runs": [], "layers": {"l1": "missing"}}, title="t")
    assert not (tmp_path / "none.png").exists()
