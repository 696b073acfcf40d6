"""grader.notebook: a student's notebook becomes a module of its imports, definitions and constants."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.notebook import NotebookError, code_cells, count_definitions, notebook_to_module

# The code cells of seed 001 (a real student's notebook), transcribed faithfully from
# the exported text: In [1]-[6], [9] and [10]. The export breaks two long lines
# ("u\n→dtype", ".\n→unsqueeze"), joined back here.
SEED_001_CELLS = [
    # In [1]
    """import torch
import numpy as np
from torch import nn, optim
from torch.nn import functional as F
from torch.utils.data import TensorDataset, DataLoader
import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split
""",
    # In [2]
    """alpha = 0.1
K = 1000
B = 128
N = 512
def f_true(x) :
    return (x-2) * np.cos(x*4)
np.random.seed(0)
X_train = torch.tensor(np.random.normal(loc = 0.0, scale = 1.0, size = N), dtype=torch.float32)
y_train = f_true(X_train)
X_val = torch.tensor(np.random.normal(loc = 0.0, scale = 1.0, size = N//5), dtype=torch.float32)
y_val = f_true(X_val)
train_dataloader = DataLoader(TensorDataset(X_train.unsqueeze(1), y_train.unsqueeze(1)), batch_size=B, shuffle=True)
test_dataloader = DataLoader(TensorDataset(X_val.unsqueeze(1), y_val.unsqueeze(1)), batch_size=B)
""",
    # In [3]
    """# Define model
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1 = nn.Linear(1, 64, bias=True)
        self.linear2 = nn.Linear(64, 64, bias=True)
        self.linear3 = nn.Linear(64, 1, bias=True)
    def forward(self, x):
        x = torch.sigmoid(self.linear1(x))
        x = torch.sigmoid(self.linear2(x))
        x = self.linear3(x)
        return x
""",
    # In [4]
    """# Model construction
model = MLP()
loss_function = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=alpha)
# Initialization
for layer in [model.linear1, model.linear2, model.linear3]:
    layer.weight.data = torch.normal(0, 1, layer.weight.shape)
    layer.bias.data = torch.full(layer.bias.shape, 0.03)
""",
    # In [5]
    """# Training
f_val = []
for epoch in range(K):
    for _ in range(N // B):
        for x_data, y_data in train_dataloader:
            # forward
            y_pred = model(x_data)
            # loss
            loss = loss_function(y_pred, y_data.float())
            # backward
            loss.backward()
            # update
            optimizer.step()
            optimizer.zero_grad()
    # save loss
    f_val.append(loss)
plt.plot(list(range(K)), f_val, color='green', label="cyclic SGD")
plt.xlabel('Epoch')
plt.ylabel('MSELoss')
plt.legend()
plt.show()
""",
    # In [6]
    """# Plot
with torch.no_grad():
    xx = torch.linspace(-2,2,1024).unsqueeze(1)
    plt.plot(X_train,y_train,'rx',label='Data points')
    plt.plot(xx,f_true(xx),'r',label='True Fn')
    plt.plot(xx, model(xx),label='Learned Fn')
plt.legend()
plt.show()
""",
    # In [9]
    """# Model construction
model = MLP()
loss_function = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=alpha)


# Initialization
for layer in [model.linear1, model.linear2, model.linear3]:
    layer.weight.data = torch.normal(0, 1, layer.weight.shape)
    layer.bias.data = torch.full(layer.bias.shape, 0.03)
""",
    # In [10]
    """# Training
f_val = []

for epoch in range(K):
    for _ in range(N // B):
        for x_data, y_data in train_dataloader:
            # forward
            y_pred = model(x_data)
            # loss
            loss = loss_function(y_pred, y_data.float())
            # backward
            loss.backward()
            # update
            optimizer.step()
            optimizer.zero_grad()
    # save loss
    f_val.append(loss)
plt.plot(list(range(K)), f_val, color='green', label="cyclic SGD")
plt.xlabel('Epoch')
plt.ylabel('MSELoss')
plt.legend()
plt.show()
""",
]
SEED_001_MARKDOWN = ["# 1 Mathematical Foundations of Deep Neural Networks",
                     "1.2 Problem 1: 3-layer MLP to fit a univariate function."]


def write_notebook(path: Path, cells, *, as_string: bool = False) -> Path:
    """An nbformat-4 notebook: a str is a code cell, ("markdown"|"raw", text) another kind."""
    out = []
    for i, cell in enumerate(cells):
        kind, text = cell if isinstance(cell, tuple) else ("code", cell)
        source = text if as_string else text.splitlines(keepends=True)
        entry = {"cell_type": kind, "metadata": {}, "source": source}
        if kind == "code":
            entry.update(outputs=[], execution_count=i + 1)
        out.append(entry)
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3"}}, "cells": out}
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


def convert(tmp_path: Path, cells, **kw) -> tuple[str, list[str], ast.Module]:
    nb = write_notebook(tmp_path / "hw.ipynb", cells, **kw)
    out = tmp_path / "scratch" / "hw3_notebook.py"
    notes = notebook_to_module(nb, out)
    text = out.read_text(encoding="utf-8")
    return text, notes, ast.parse(text)


def top_names(tree: ast.Module) -> list[str]:
    """The names the module binds at top level, in order."""
    names = []
    for s in tree.body:
        if isinstance(s, (ast.FunctionDef, ast.ClassDef)):
            names.append(s.name)
        elif isinstance(s, ast.Assign):
            names += [t.id for t in s.targets if isinstance(t, ast.Name)]
        elif isinstance(s, (ast.AnnAssign, ast.AugAssign)) and isinstance(s.target, ast.Name):
            names.append(s.target.id)
    return names


# ---------------------------------------------------------------- seed 001

SEED_CELLS = [("markdown", SEED_001_MARKDOWN[0])] + SEED_001_CELLS[:1] + [("markdown", SEED_001_MARKDOWN[1])] \
    + SEED_001_CELLS[1:]


def test_seed_001_keeps_what_is_graded(tmp_path):
    text, notes, tree = convert(tmp_path, SEED_CELLS)
    assert text.startswith("# Generated by hw3grade from the notebook")
    for line in ("import torch", "import numpy as np", "from torch import nn, optim",
                 "from torch.nn import functional as F", "import matplotlib.pyplot as plt"):
        assert line in text
    assert top_names(tree) == ["alpha", "K", "B", "N", "f_true", "MLP", "loss_function", "f_val",
                               "loss_function", "f_val"]
    for kind in (ast.For, ast.While, ast.With, ast.Expr, ast.If):
        assert not any(isinstance(s, kind) for s in tree.body), kind
    for name in ("model", "optimizer", "X_train", "y_train", "train_dataloader", "xx"):
        assert name not in top_names(tree)
    # markdown cells do not count: the code cells are numbered 1..8
    assert "# cell 3\nclass MLP(nn.Module):" in text
    assert "# cell 8" in text and "# cell 9" not in text


def test_seed_001_notes_say_what_was_skipped(tmp_path):
    _, notes, _ = convert(tmp_path, SEED_CELLS)
    summary = [n for n in notes if n.startswith("Skipped top-level code")]
    assert len(summary) == 1, notes
    s = summary[0]
    assert "4 for-loops in cells 4, 5, 7, 8" in s
    assert "12 plotting calls in cells 5, 6, 8" in s
    assert "a with-block in cell 6" in s
    assert "assignments that call functions" in s and "model = MLP()" in s
    assert "np.random.seed(0)" in s
    assert len(s) < 400
    # sklearn is not a grading dependency: its import is guarded, and the note says so
    if not _installed("sklearn"):
        assert any(n.startswith("sklearn is not installed") for n in notes)


def _installed(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


IMPORT_PROBE = textwrap.dedent("""
    import importlib.util, json, sys, time
    import torch, numpy, matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot
    spec = importlib.util.spec_from_file_location("hw3_notebook", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    start = time.perf_counter()
    spec.loader.exec_module(module)
    seconds = time.perf_counter() - start
    out = module.MLP()(torch.zeros(7, 1))
    print(json.dumps({"seconds": seconds, "constants": [module.alpha, module.K, module.B, module.N],
                      "shape": list(out.shape), "f_true_at_2": float(module.f_true(torch.tensor(2.0))),
                      "leftovers": [n for n in ("model", "optimizer", "X_train", "f_val_plot") if hasattr(module, n)]}))
""")


def test_seed_001_module_imports_quickly_without_training(tmp_path):
    convert(tmp_path, SEED_CELLS)
    module = tmp_path / "scratch" / "hw3_notebook.py"
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-c", IMPORT_PROBE, str(module)], capture_output=True, text=True,
                          timeout=10, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["seconds"] < 1.0
    assert report["constants"] == [0.1, 1000, 128, 512]
    assert report["shape"] == [7, 1]
    assert report["f_true_at_2"] == 0.0
    assert report["leftovers"] == []


# ---------------------------------------------------------------- reading

def test_source_as_string_or_list_and_other_cells_ignored(tmp_path):
    cells = [("markdown", "# title\nx = 1"), "a = 1\n", ("raw", "b = 2"), "def f():\n    return a\n"]
    for as_string in (False, True):
        text, notes, tree = convert(tmp_path, cells, as_string=as_string)
        assert top_names(tree) == ["a", "f"]
        assert "# cell 2\ndef f" in text
        assert notes == []


def test_nbformat_3_is_read(tmp_path):
    nb = {"nbformat": 3, "worksheets": [{"cells": [
        {"cell_type": "markdown", "source": ["hi"]},
        {"cell_type": "code", "input": ["def f(x):\n", "    return x\n"], "language": "python"}]}]}
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(nb))
    assert code_cells(path) == [(1, "def f(x):\n    return x\n")]
    assert count_definitions(path) == 1


@pytest.mark.parametrize("content, fragment", [
    (b"not json at all", "not valid notebook JSON"),
    (b'{"cells": [', "not valid notebook JSON"),
    (b"[1, 2, 3]", "not a notebook"),
    (b'{"metadata": {}}', "not a notebook"),
    (b'{"cells": [3]}', "not a JSON object"),
    (b'{"cells": [{"cell_type": "code", "source": 42}]}', "neither text nor a list"),
    (b'\xff\xfe{"cells": []}', "not UTF-8"),
])
def test_malformed_notebook_raises_notebook_error(tmp_path, content, fragment):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookError, match=fragment) as info:
        notebook_to_module(path, tmp_path / "out.py")
    assert isinstance(info.value, ValueError)
    assert "bad.ipynb" in str(info.value)
    assert count_definitions(path) == -1


def test_utf8_bom_and_unicode_are_fine(tmp_path):
    path = tmp_path / "bom.ipynb"
    nb = {"nbformat": 4, "cells": [{"cell_type": "code", "source": "α = 0.1  # ステップ\n"}]}
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(nb, ensure_ascii=False).encode("utf-8"))
    notebook_to_module(path, tmp_path / "m.py")
    namespace: dict = {}
    exec((tmp_path / "m.py").read_text(encoding="utf-8"), namespace)
    assert namespace["α"] == 0.1


# ---------------------------------------------------------------- magics and syntax errors

def test_magics_and_shell_lines_are_dropped(tmp_path):
    cells = [
        "%matplotlib inline\n!pip install torch\nimport math\n",
        "%%time\ndef hidden():\n    return 1\nfor i in range(10**9):\n    pass\n",
        "def f(x):\n    %time y = 1\n    return x\n",
        "math.sqrt?\nrate = 0.5\n",
        "s = '''\n%not a magic inside a string\n'''\n",
        "  %%capture\nz = 1\n",
    ]
    text, notes, tree = convert(tmp_path, cells)
    assert top_names(tree) == ["f", "rate", "s"]
    assert "hidden" not in text
    assert [line for line in text.splitlines() if "%" in line] == ["s = '\\n%not a magic inside a string\\n'"]
    ns: dict = {}
    exec(text, ns)
    assert ns["f"](3) == 3 and ns["s"] == "\n%not a magic inside a string\n"
    assert not [n for n in notes if "syntax error" in n]
    assert "2 cells starting with a %% magic in cells 2, 6" in notes[-1]


def test_cell_with_syntax_error_is_skipped_whole(tmp_path):
    cells = ["alpha = 0.1\n", "def g(x):\n    return x\n\ndef broken(:\n    pass\n", "def h():\n    return 2\n"]
    text, notes, tree = convert(tmp_path, cells)
    assert top_names(tree) == ["alpha", "h"]
    assert len(notes) == 1
    assert notes[0].startswith("Code cell 2 has a syntax error (")
    assert "line 4" in notes[0] and "def broken(:" in notes[0] and "whole cell was skipped" in notes[0]


# ---------------------------------------------------------------- what is kept

KEPT = [
    "x = 1",
    "x = -2.5e-3 + 3 * (4 - 1) ** 2",
    "x = (1, [2, 3], {'a': 4}, {5})",
    "x = not True or 1 < 2 <= 3",
    "x = 1 if True else 2",
    "x = f'{1:>3}'",
    "x = torch.tensor([1.0, 2.0], dtype=torch.float64)",
    "x = torch.zeros(3, 4)",
    "x = torch.linspace(-2, 2, 1024).unsqueeze",  # attribute of a cheap call: still cheap
    "x = np.array([[1, 2], [3, 4]])",
    "x = np.linspace(0, 1, 5)",
    "x = nn.Linear(1, 64)",
    "x = nn.Sequential(nn.Linear(1, 64), nn.Sigmoid(), nn.Linear(64, 1))",
    "x = nn.MSELoss()",
    "x = torch.nn.ReLU()",
    "x = math.sqrt(2) * math.pi",
    "x = list(range(10))",
    "x = dict(a=1, b=len('ab'))",
    "x = lambda t: (t - 2) * torch.cos(4 * t)",
    "x: float = 0.1",
    "x, *rest = (1, 2, 3)",
    "x = torch.float32",
]
SKIPPED = [
    ("x = torch.tensor(np.random.normal(size=3))", "an assignment that calls functions"),
    ("x = np.array([np.random.rand()])", "an assignment that calls functions"),
    ("x = torch.randn(3)", "an assignment that calls functions"),
    ("x = torch.optim.SGD([], lr=0.1)", "an assignment that calls functions"),
    ("x = sorted([3, 1])", "an assignment that calls functions"),
    ("x = nn.init.normal_(torch.zeros(2))", "an assignment that calls functions"),
    ("x = [i for i in range(3)]", "an assignment that calls functions"),
    ("x = open('data.csv')", "an assignment that calls functions"),
    ("x = unknown_name + 1", "an assignment that uses skipped results"),
    ("print(1)", "a call"),
    ("plt.plot([1], [2])", "a plotting call"),
    ("for i in range(3):\n    pass", "a for-loop"),
    ("while False:\n    pass", "a while-loop"),
    ("with open(__file__) as fh:\n    pass", "a with-block"),
    ("if True:\n    y = 1", "an if-block"),
    ("try:\n    y = 1 / 0\nexcept ZeroDivisionError:\n    pass", "a try-block"),
    ("if __name__ == '__main__':\n    train()", '`if __name__ == "__main__":` block'),
    ("del math", "another statement"),
    ("math", "a displayed value"),
]
PRELUDE = "import math\nimport torch\nimport numpy as np\nfrom torch import nn\nimport matplotlib.pyplot as plt\n"


@pytest.mark.parametrize("statement", KEPT)
def test_cheap_assignments_are_kept(tmp_path, statement):
    text, notes, tree = convert(tmp_path, [PRELUDE, statement + "\n"])
    assert notes == []
    assert ast.unparse(ast.parse(statement)) in text


@pytest.mark.parametrize("statement, kind", SKIPPED)
def test_other_top_level_code_is_skipped_with_a_note(tmp_path, statement, kind):
    text, notes, tree = convert(tmp_path, [PRELUDE, statement + "\n"])
    assert len(tree.body) == 5, text  # the prelude's imports only
    assert len(notes) == 1 and notes[0].startswith("Skipped top-level code")
    assert f"{kind} in cell 2" in notes[0]


def test_statements_that_need_skipped_results_are_skipped(tmp_path):
    cells = [PRELUDE, "model = nn.Sequential(nn.Linear(1, 1))\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
             "lr = opt.defaults\nmodel.weight = torch.zeros(1)\nn = N_SAMPLES * 2\n"
             "class Fancy(Base):\n    pass\n@register\ndef f():\n    pass\ndef g(x: Tensor) -> int:\n    return 1\n"]
    text, notes, tree = convert(tmp_path, cells)
    assert top_names(tree) == ["model"] and "model.weight = torch.zeros(1)" in text  # model is kept, so is this
    assert "an assignment that calls functions in cell 2 (opt = torch.optim.SGD(" in notes[0]
    assert "2 assignments that use skipped results in cell 2 (lr = opt.defaults, n = N_SAMPLES * 2)" in notes[0]
    assert "3 definitions that use skipped results" in notes[0]
    assert "Fancy needs Base" in notes[0] or "f needs register" in notes[0]
    exec(text, {})  # imports cleanly: nothing refers to a name that is not there


def test_future_import_is_hoisted_and_makes_annotations_lazy(tmp_path):
    cells = ["x = 1\n", "from __future__ import annotations\ndef g(x: Tensor) -> Tensor:\n    return x\n"]
    text, notes, tree = convert(tmp_path, cells)
    body = [s for s in tree.body]
    assert isinstance(body[0], ast.ImportFrom) and body[0].module == "__future__"
    assert top_names(tree) == ["x", "g"]
    exec(compile(text, "m.py", "exec"), {})


def test_try_with_only_imports_is_kept_and_main_guard_dropped(tmp_path):
    cells = ["try:\n    import numpy as np\nexcept ImportError:\n    pass\n",
             "def f():\n    return np.zeros(1)\n",
             "if __name__ == '__main__':\n    f()\n"]
    text, notes, tree = convert(tmp_path, cells)
    assert isinstance(tree.body[0], ast.Try)
    assert top_names(tree) == ["f"]
    assert "__main__" not in text
    assert '`if __name__ == "__main__":` block in cell 3' in notes[0]


def test_missing_packages_are_guarded(tmp_path):
    cells = ["import torch\nimport surely_not_installed_pkg_xyz as snp\n"
             "from surely_not_installed_pkg_xyz.sub import thing\n",
             "@snp.decorate\ndef decorated():\n    pass\n", "def plain():\n    return snp\n"]
    text, notes, tree = convert(tmp_path, cells)
    ns: dict = {}
    exec(text, ns)
    assert "plain" in ns and "decorated" not in ns
    assert notes[0].startswith("surely_not_installed_pkg_xyz is not installed on the grader")


def test_notebook_name_cannot_inject_code(tmp_path):
    nb = write_notebook(tmp_path / "x\nimport os; os._exit(3)\n.ipynb", ["a = 1\n"])
    out = tmp_path / "m.py"
    notebook_to_module(nb, out)
    ns: dict = {}
    exec(out.read_text(), ns)
    assert ns["a"] == 1 and "os" not in ns


# ---------------------------------------------------------------- property: order and kinds

KEEP_SNIPPETS = ["v{i} = {i}", "def f{i}(x):\n    return x + {i}", "class C{i}:\n    k = {i}", "import math",
                 "w{i} = (v0, {i}) if True else None", "t{i} = tuple(range({i}))"]
SKIP_SNIPPETS = ["for _ in range({i}):\n    pass", "print({i})", "s{i} = sorted([{i}, 1])", "while False:\n    pass",
                 "%time q = {i}", "!echo {i}", "with open(__file__) as fh:\n    pass"]


@st.composite
def notebooks(draw):
    cells = draw(st.lists(st.lists(st.tuples(st.booleans(), st.integers(0, 5), st.integers(0, 99)),
                                   min_size=1, max_size=5), min_size=1, max_size=6))
    sources, expected = [], []
    for c, cell in enumerate(cells, start=1):
        parts = []
        for keep, which, i in cell:
            if keep:
                snippet = KEEP_SNIPPETS[which].format(i=i)
                if "v0" in snippet:
                    parts.append("v0 = 0")
                    expected.append((c, ast.unparse(ast.parse("v0 = 0"))))
                parts.append(snippet)
                expected.append((c, ast.unparse(ast.parse(snippet))))
            else:
                parts.append(SKIP_SNIPPETS[which].format(i=i))
        sources.append("\n".join(parts) + "\n")
    return sources, expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(notebooks())
def test_kept_statements_come_out_in_order_and_import(tmp_path, case):
    sources, expected = case
    text, notes, tree = convert(tmp_path, sources)
    got, cell = [], None
    for line_no, stmt in ((s.lineno, s) for s in tree.body):
        comment = text.splitlines()[line_no - 2]
        if comment.startswith("# cell "):
            cell = int(comment.split()[-1])
        got.append((cell, ast.unparse(stmt)))
    assert got == expected
    ns: dict = {"__file__": str(tmp_path / "x")}
    exec(compile(text, "hw3_notebook.py", "exec"), ns)
    assert len(notes) <= 1 and all(n.startswith("Skipped top-level code") for n in notes)
    assert not notes or len(notes[0]) < 600


def test_count_definitions(tmp_path):
    nb = write_notebook(tmp_path / "a.ipynb", ["def a():\n    pass\nclass B:\n    pass\n",
                                               "%%time\ndef c():\n    pass\n", "def d(:\n", "x = 1\n"])
    assert count_definitions(nb) == 2


def test_shell_assignments_are_dropped(tmp_path):
    text, notes, tree = convert(tmp_path, ["files = !ls\nt = %timeit -o 1 + 1\nrate = 0.5\n"])
    assert top_names(tree) == ["rate"] and notes == []


def test_imports_of_the_submissions_own_modules_are_guarded_without_a_package_note(tmp_path):
    (tmp_path / "helpers.py").write_text("HELP = 1\n")
    text, notes, tree = convert(tmp_path, ["from activations import relu\nimport helpers\nimport math\n"
                                           "def f(z):\n    return relu(z)\n"])
    assert [type(s).__name__ for s in tree.body] == ["Try", "Try", "Import", "FunctionDef"]
    assert notes == []
    ns: dict = {}
    exec(text, ns)  # neither module is importable here: the import is skipped, f is still defined
    assert "f" in ns


def test_deeply_nested_code_is_skipped_not_fatal(tmp_path):
    chain = "+".join(["1"] * 30000)
    text, notes, tree = convert(tmp_path, [f"x = {chain}\ndef g():\n    return {chain}\n", "y = 2\n"])
    assert top_names(tree) == ["y"]
    assert len([n for n in notes if "nested too deeply" in n or "could not be read" in n]) >= 1
