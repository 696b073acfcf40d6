"""Correct notebooks in natural styles get full marks (issue 11, item 5).

Each variant rewrites tests/corpus/correct_styles/notebook/hw3.ipynb the way students do:
definitions inside `if True:` / `if RUN_TESTS:` / `with` / `if __name__ == "__main__":`
blocks, module constants built with numpy calls (`np.dtype`, `np.sqrt`), Question 7's
answers computed with the student's own functions. Before, each of these cost the
problems involved every point (the definitions were dropped, or a kept function raised
NameError, or Q7 was "not answered"). Only the checks of the problems involved are graded.
"""
from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path

import pytest

from grader.outcome import Status
from grader.runner import grade
from tests.hw3testing import watch_notes
from tests.hw3testing import HW3

NOTEBOOK = Path(__file__).resolve().parent / "corpus" / "correct_styles" / "notebook" / "hw3.ipynb"


@pytest.fixture(autouse=True)
def _no_unfilled_field_in_any_note(monkeypatch):
    watch_notes(monkeypatch)


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _set(cell: dict, source: str) -> None:
    cell["source"] = source.splitlines(keepends=True)


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _in_block(cell: dict, header: str, tail: str = "") -> None:
    _set(cell, header + "\n" + textwrap.indent(_source(cell), "    ") + "\n" + tail)


def _blocks(nb: dict) -> str:
    code = _code_cells(nb)
    _set(code[0], _source(code[0]) + "\nRUN_TESTS = True\n")
    _in_block(code[2], "if True:")                            # alpha, K, B, N, f_true, MLP
    _in_block(code[8], "if RUN_TESTS:", "    print(cross_entropy(torch.zeros(3), 0))\n")
    _in_block(code[20], "with torch.no_grad():")              # softmax and its Jacobians
    _in_block(code[28], 'if __name__ == "__main__":')         # conv_output_size ... cnn_output_shape
    _in_block(code[30], "if True:")                           # Q7, Q8
    return "P1 P3 Q2 Q3 Q7 Q8"


def _computed_constants(nb: dict) -> str:
    code = _code_cells(nb)
    helpers = _source(code[1]).replace("np.asarray(a, dtype=np.float64)", "np.asarray(a, dtype=DTYPE)")
    _set(code[1], 'DTYPE = np.dtype("float64")\nHALF = np.sqrt(0.25)\n\n' + helpers)
    _set(code[12], _source(code[12]).replace("np.heaviside(to_np(x), 0.5)", "np.heaviside(to_np(x), HALF)"))
    _set(code[30], _source(code[30]).replace(
        'Q7 = {"output_dim": 128 * 24 * 24, "last_layer_params": 128 * 64 * 4 * 4}',
        'Q7 = {"output_dim": int(np.prod(cnn_output_shape((3, 256, 256), q7_layers))),\n'
        '      "last_layer_params": conv_params(64, 128, 4)}'))
    return "P5 Q1 Q6 Q7"


VARIANTS = {"blocks": _blocks, "computed_constants": _computed_constants}
LONG = {"P1.fit", "P2.noisy_fit"}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_correct_notebook_in_a_natural_style_gets_full_marks(variant, tmp_path, rubric):
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    original = copy.deepcopy(nb)
    problems = VARIANTS[variant](nb).split()
    assert nb != original
    folder = tmp_path / variant
    folder.mkdir()
    (folder / "hw3.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    entries = [e for e in rubric.checks if e.problem in problems and e.id not in LONG]
    result = grade(folder, HW3, rubric=rubric, entries=entries)
    failed = {o.check_id: (o.status.value, o.message) for o in result.outcomes if o.status is not Status.PASSED}
    assert not failed, (failed, result.notes)
    assert set(result.by_problem()) == set(problems)
    text = "\n".join(result.notes)
    if variant == "blocks":
        assert ('From blocks that are not run as such, only their definitions, imports and constants were kept: a '
                'with-block in cell 21 (the with statement itself was not run) and an `if __name__ == "__main__":` '
                "block in cell 29.") in text
    else:
        assert ("Also kept, although they call functions, the assignments of names that kept code needs: DTYPE (cell "
                "2, read by to_np), HALF (cell 2, read by heaviside) and Q7 (cell 31, an answer the grader reads).") in text


# ---------------------------------------------------------------- a notebook beside the template's stubs

TEMPLATE = Path(__file__).resolve().parents[1] / "student_template"
BESIDE_STUBS = {"P1.mlp", "P1.initialize", "P3.cross_entropy.single", "P3.cross_entropy.batch", "P3.ce_scaled_onehot",
                "P5.activations", "P5.softplus_derivative", "Q1.heaviside", "Q1.relu_via_heaviside", "Q7.answers",
                "Q8.layer1"}


def beside_the_stubs(folder: Path, nb: dict) -> Path:
    """The template's .py stubs as handed out, and the notebook next to them."""
    folder.mkdir(parents=True)
    for path in TEMPLATE.glob("*.py"):
        if path.name != "__init__.py":
            (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "hw3.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return folder


def _fill(path: Path, stub_line: str, code: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert stub_line in text
    path.write_text(text.replace(stub_line, code), encoding="utf-8")


def test_a_notebook_beside_the_templates_stubs_is_graded_where_they_are_stubs(tmp_path, rubric):
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in _code_cells(nb):   # the notebook leaves softplus_derivative out: its stub stays a stub
        _set(cell, _source(cell).replace("def softplus_derivative(", "def softplus_derivative_draft("))
    folder = beside_the_stubs(tmp_path / "sub", nb)
    # real code in a module wins over the notebook, even wrong ...
    _fill(folder / "losses.py", 'raise NotImplementedError("Problem 3: implement cross_entropy")', "return 0.0")
    # ... and calls the notebook's definition of a stub of its own module (heaviside)
    _fill(folder / "activations.py", 'raise NotImplementedError("Question 1: implement relu_via_heaviside")',
          "x = torch.as_tensor(x, dtype=torch.float64)\n    return x * heaviside(x)")
    result = grade(folder, HW3, rubric=rubric, entries=[e for e in rubric.checks if e.id in BESIDE_STUBS])
    statuses = {o.check_id: o.status for o in result.outcomes}
    assert statuses == {**dict.fromkeys(BESIDE_STUBS, Status.PASSED), "P3.cross_entropy.single": Status.FAILED,
                        "P3.cross_entropy.batch": Status.FAILED, "P5.softplus_derivative": Status.NOT_ATTEMPTED}, \
        ({o.check_id: o.message for o in result.outcomes}, result.notes)
    note = next(n for n in result.notes if n.startswith("Graded from the notebook"))
    assert note.startswith("Graded from the notebook hw3.ipynb, since the .py files still hold the template's stubs "
                           "(which raise NotImplementedError, or leave an answer None): MLP, count_params, initialize, "
                           "make_data, plot_fit, train (threelayerSGD.py), ce_scaled_onehot (losses.py), heaviside, ")
    assert note.endswith("Q7, Q8, cnn_output_shape, conv1d, conv_output_size, conv_params, pool_output_size (convolution.py).")
    assert "cross_entropy" not in note and "softplus_derivative" not in note and "relu_via_heaviside" not in note
