"""Correct work in styles unlike the reference gets full marks everywhere.

tests/corpus/correct_styles/ holds whole submissions written from HOMEWORK.md alone, each in
a style of its own (numpy-first with temporaries, plain Python loops, torch.nn.functional
one-liners, float32 tensors, a notebook) and five notebooks in the forms students hand in
(nb_*: a Colab export, %%time / %%capture definition cells, giant cells with top-level
training, names redefined and a last cell that raises, a notebook beside the untouched stubs).
Each is graded three ways, as its three users would: `hw3grade grade`, the Gradescope flow (run_autograder, the child as an unprivileged
user) under Gradescope's limits (768 MB and half a CPU, in a cgroup), and the student kit's
`python check.py`. The gradings of all styles run once per session, three at a time (the
half-CPU ones leave the other cores to the rest). The notebook is graded alone by `hw3grade
grade`, and next to the template's untouched stubs on Gradescope and in the kit (a student who
drops the notebook beside them): their stubs define nothing.

A float32 style may lose the checks that rubric.yaml declares float64_only, and only with a
message that says float64 is required.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.build.student_kit import kit_name
from grader.messages import FLOAT64_REQUIRED
from tests import cgroup_limits
from tests.hw3testing import HW3, KIT_PENDING_DEPENDENT, MODULES

from test_autograder import GradescopeRoot, base_dir, isolation, validate, zip_path  # noqa: F401  (fixtures)

STYLES_DIR = Path(__file__).resolve().parents[1] / "corpus" / "correct_styles"
TEMPLATE = Path(__file__).resolve().parents[2] / "student_template"
STYLES = sorted(p.name for p in STYLES_DIR.iterdir() if p.is_dir())
FLOAT32_STYLES = {"float32"}
KIT_JUDGED_ON_GRADESCOPE_ONLY = "Judged on Gradescope only"
TIMEOUT = 900


@dataclass
class StyleRuns:
    grade: dict                  # check id -> results.json test of `hw3grade grade`
    gradescope: dict | None      # the same, from run_autograder under the cgroup (None: skipped)
    usage: cgroup_limits.Usage | None
    kit: dict                    # check id -> the kit's outcome
    notes: str = ""              # why something was skipped
    gradescope_output: str = ""  # results.json's output (the notes) from run_autograder


def _by_id(results: dict, rubric) -> dict[str, dict]:
    by_name = {t["name"]: t for t in results["tests"]}
    return {e.id: by_name[f"{e.problem} {e.title}"] for e in rubric.checks if f"{e.problem} {e.title}" in by_name}


def _grade_cli(style: Path, out: Path) -> dict:
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(style), "-o", str(out), "--quiet"],
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert run.returncode == 0, run.stdout + run.stderr
    validate(out)
    return json.loads(out.read_text("utf-8"))


def _gradescope(style: Path, layout: GradescopeRoot, limits: cgroup_limits.GradescopeLimits | None) -> dict:
    shutil.copytree(style, layout.root / "submission")
    if list(style.glob("*.ipynb")):      # handed in next to the template's untouched stubs
        for name in MODULES:
            shutil.copy(TEMPLATE / f"{name}.py", layout.root / "submission" / f"{name}.py")
    env = layout.env()
    command = [str(layout.root / "run_autograder")]
    run = (limits.run if limits else subprocess.run)(command, env=env, cwd=layout.root, capture_output=True,
                                                     text=True, timeout=TIMEOUT)
    assert run.returncode == 0, run.stdout + run.stderr
    validate(layout.results)
    return json.loads(layout.results.read_text("utf-8"))


def _kit(style: Path, kit_zip: Path, dest: Path) -> dict:
    import zipfile

    with zipfile.ZipFile(kit_zip) as archive:
        archive.extractall(dest)
    folder = dest / kit_name(HW3)
    # a notebook student drops the notebook next to the kit's untouched stubs, which define nothing
    for path in style.iterdir():
        shutil.copy(path, folder / path.name)
    out = folder / "selfcheck.json"
    subprocess.run([sys.executable, "check.py", "--json", str(out)], cwd=folder, capture_output=True, text=True,
                   timeout=TIMEOUT)
    data = json.loads(out.read_text())
    return {o["check_id"]: o for o in data["result"]["outcomes"]}


@pytest.fixture(scope="module")
def style_runs(zip_path, base_dir, isolation, student_kit) -> dict[str, StyleRuns]:  # noqa: F811
    rubric = HW3.load_rubric()
    kit_zip = student_kit.path
    why_no_cgroup = cgroup_limits.available()
    work = Path(tempfile.mkdtemp(prefix="styles-", dir=base_dir))
    work.chmod(0o755)

    def gradescope_job(style: str):
        layout = GradescopeRoot.make(zip_path, work / f"gs-{style}", isolation)
        layout.setup()
        if why_no_cgroup:
            return _gradescope(STYLES_DIR / style, layout, None), None
        with cgroup_limits.GradescopeLimits() as limits:
            results = _gradescope(STYLES_DIR / style, layout, limits)
            return results, limits.usage()

    jobs = {}
    with ThreadPoolExecutor(max_workers=3) as pool:
        for style in STYLES:
            jobs[style, "gradescope"] = pool.submit(gradescope_job, style)
            jobs[style, "grade"] = pool.submit(_grade_cli, STYLES_DIR / style, work / f"{style}.json")
            jobs[style, "kit"] = pool.submit(_kit, STYLES_DIR / style, kit_zip, work / f"kit-{style}")
        runs = {}
        for style in STYLES:
            gs_results, usage = jobs[style, "gradescope"].result()
            runs[style] = StyleRuns(_by_id(jobs[style, "grade"].result(), rubric), _by_id(gs_results, rubric), usage,
                                    jobs[style, "kit"].result(), why_no_cgroup, gs_results.get("output", ""))
    return runs


def _full_marks(tests: dict[str, dict], style: str, rubric) -> None:
    """Every check at full marks; a float32 style may lose float64_only checks, saying why."""
    assert set(tests) == {e.id for e in rubric.checks}
    lost = {i: t for i, t in tests.items() if t["score"] < t["max_score"]}
    if style in FLOAT32_STYLES:
        float64_only = {e.id for e in rubric.checks if e.float64_only}
        assert set(lost) <= float64_only, {i: t["output"] for i, t in lost.items() if i not in float64_only}
        for check_id, test in lost.items():
            assert FLOAT64_REQUIRED in test["output"], (check_id, test["output"])
    else:
        assert not lost, {i: t["output"] for i, t in lost.items()}


def test_there_are_styles_for_every_user():
    assert {"numpy_first", "loops", "torch_functional", "float32", "notebook",
            "nb_colab", "nb_magics", "nb_giant", "nb_redefined", "nb_beside_stubs"} <= set(STYLES)
    for style in STYLES:
        files = {p.name for p in (STYLES_DIR / style).iterdir()}
        modules, notebooks = {f"{m}.py" for m in MODULES}, {f for f in files if f.endswith(".ipynb")}
        assert files in (modules, notebooks, modules | notebooks) and len(notebooks) <= 1, (style, files)


@pytest.mark.slow
@pytest.mark.parametrize("style", STYLES)
def test_hw3grade_grade_gives_full_marks(style_runs, style, rubric):
    _full_marks(style_runs[style].grade, style, rubric)


@pytest.mark.slow
@pytest.mark.parametrize("style", STYLES)
def test_gradescope_flow_under_gradescope_limits_gives_full_marks(style_runs, style, rubric):
    runs = style_runs[style]
    _full_marks(runs.gradescope, style, rubric)
    if runs.usage is None:
        pytest.skip(f"graded without Gradescope's limits: {runs.notes}")
    assert runs.usage.oom_kills == 0
    assert runs.usage.peak_mb < cgroup_limits.GRADESCOPE_MEMORY_MB


@pytest.mark.slow
@pytest.mark.parametrize("style", STYLES)
def test_student_kit_passes_every_visible_check(style_runs, style, rubric):
    """Visible checks pass in the kit, but for those it can only judge on Gradescope (tests/kit: PENDING_DEPENDENT)."""
    outcomes = style_runs[style].kit
    assert set(outcomes) == {e.id for e in rubric.checks if not e.secret}
    for check_id, outcome in outcomes.items():
        if outcome["status"] == "passed":
            continue
        if style in FLOAT32_STYLES and rubric.entry(check_id).float64_only:
            assert FLOAT64_REQUIRED in outcome["message"], (check_id, outcome["message"])
            continue
        assert check_id in KIT_PENDING_DEPENDENT and outcome["message"].startswith(KIT_JUDGED_ON_GRADESCOPE_ONLY), \
            (check_id, outcome["status"], outcome["message"])


@pytest.mark.slow
def test_gradescope_grades_a_notebook_beside_the_templates_stubs(style_runs):
    """The notebook style ran on Gradescope next to the template's stubs (full marks: the test above); the
    notes say which stubs the notebook's definitions replaced."""
    output = style_runs["notebook"].gradescope_output
    assert "Graded from the notebook hw3.ipynb, since the .py files still hold the template's stubs" in output
    assert "MLP, count_params, initialize, make_data, plot_fit, train (threelayerSGD.py)" in output
