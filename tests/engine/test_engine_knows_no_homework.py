"""The engine (grader/) knows no homework: no file of it names a Homework 3 module, function,
problem key, probe kind or file (its folder, check modules, probe files, notebook module). Homework 3
lives in hw3/ (checks, probes, rubric, manifest), reference/ and student_template/; a second
assignment needs no edit of the engine (tests/assignments/)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from tests.hw3testing import HW3

ENGINE = Path(__file__).resolve().parents[2] / "grader"


def _homework_names() -> dict[str, str]:
    """{name: what it is} for every name of the assignment an engine file must not spell."""
    assignment = HW3
    names = {m: "module" for m in assignment.modules}
    names.update({k: "problem key" for k in assignment.rubric.problem_keys})
    for name, (_, text) in assignment.signatures().items():
        # constants (K, B, alpha) are too short or too common to tell apart; a torch function of the
        # same name (relu, softmax) is the library's word, not the homework's
        if not text.endswith("= ...") and not hasattr(torch, name) and not hasattr(torch.nn.functional, name):
            names.setdefault(name, "function")
    names.update({k: "probe kind" for k in _probe_kinds(assignment)})
    for name in _file_names(assignment):
        names.setdefault(name, "file name")
    return names


def _probe_kinds(assignment) -> set[str]:
    """The probe kinds the assignment's probe files register (the engine's own are no homework's)."""
    from grader.probes import child

    return {kind for kind, func in child._load_probe_kinds(assignment.probe_files()).items()
            if not func.__module__.startswith("grader.")}


def _file_names(assignment) -> set[str]:
    """The assignment's folder, its check package's and probe files' module and file names, its notebook module."""
    from grader.checks.catalog import check_modules

    assignment.import_paths()
    names = {assignment.manifest.parent.name, assignment.notebook_module, f"{assignment.notebook_module}.py",
             assignment.checks}
    for module in [*check_modules(assignment.checks), *assignment.probe_files()]:
        names |= {module, f"{module.rpartition('.')[2]}.py"}
    names |= {Path(path).name for path in assignment.probe_files().values()}
    return names


def _engine_files() -> list[Path]:
    return sorted(p for p in ENGINE.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix in (".py", ".yaml", ".json", ".html", ".md", ".sh", ".txt"))


def test_the_names_it_looks_for_are_the_homeworks():
    names = _homework_names()
    assert {"threelayerSGD", "losses", "P1", "Q8", "two_layer_sgd", "interpolation_matrix"} <= set(names)
    assert {"p1_train", "p2_count_params", "vjp_large"} <= {n for n, what in names.items() if what == "probe kind"}
    assert {"hw3", "hw3_notebook", "hw3_notebook.py", "hw3.checks", "hw3.checks.p1", "p1.py", "p1_hidden.py",
            "training.py", "hw3.probes.large"} <= {n for n, what in names.items() if what == "file name"}


@pytest.mark.parametrize("path", _engine_files(), ids=lambda p: str(p.relative_to(ENGINE)))
def test_no_engine_file_names_the_homework(path):
    names = _homework_names()
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")(?!\w)")
    found = [f"line {i}: {m.group(1)} ({names[m.group(1)]})"
             for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             for m in pattern.finditer(line)]
    assert not found, f"{path.relative_to(ENGINE.parent)} names Homework 3:\n" + "\n".join(found)
