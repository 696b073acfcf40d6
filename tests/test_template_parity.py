"""The student template and the reference expose the same contract, HOMEWORK.md's.

- the template's public surface (names, kinds, signatures) is HOMEWORK.md's,
  transcribed once in CONTRACT below;
- the reference exposes exactly the template's surface (parity);
- every template stub raises NotImplementedError as its first statement, with a
  message naming its problem, and carries a docstring;
- the parts of the starter script that are given (constants, f_true, the layers
  of MLP) are right, and the answer constants Q7/Q8 read as "not attempted";
- importing a template module is fast and prints nothing.

Signatures are compared without annotations: parameter names, kinds and defaults
(default reprs included, so ``lam=50`` differs from ``lam=50.0``) are the contract.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

MODULES = (
    "threelayerSGD",
    "losses",
    "activations",
    "gradients",
    "softmax",
    "interpolation",
    "convolution",
)

CONST = "constant"

# HOMEWORK.md, transcribed. For each module, every public name and what it is:
#   CONST                          a module-level constant;
#   (signature, key)               a function; key is the problem its stub names,
#                                  None for a function the template gives implemented;
#   {method: (signature, key)}     a class and its public methods (plus __init__).
CONTRACT: dict[str, dict[str, object]] = {
    "threelayerSGD": {
        "alpha": CONST,
        "K": CONST,
        "B": CONST,
        "N": CONST,
        "f_true": ("(x)", None),
        "MLP": {"__init__": ("(self)", None), "forward": ("(self, x)", "P1")},
        "initialize": ("(model)", "P1"),
        "make_data": ("(n=512, noise_std=0.0, generator=None)", "P1"),
        "train": ("(model, X, Y, epochs=1000, lr=0.1, batch_size=128, generator=None)", "P1"),
        "count_params": ("(model)", "P2"),
        "plot_fit": ("(model, X, Y, path)", "P1"),
    },
    "losses": {
        "cross_entropy": ("(f, y)", "P3"),
        "ce_scaled_onehot": ("(lam, k)", "P3"),
    },
    "activations": {
        "relu": ("(z)", "P5"),
        "leaky_relu": ("(z, alpha=0.01)", "P7"),
        "softplus": ("(z)", "P5"),
        "sigmoid": ("(z)", "P5"),
        "tanh": ("(z)", "P5"),
        "heaviside": ("(x)", "Q1"),
        "relu_derivative": ("(z)", "Q1"),
        "softplus_derivative": ("(z)", "P5"),
        "relu_via_heaviside": ("(x)", "Q1"),
        "sigmoid_k": ("(x, k)", "Q1"),
        "lipschitz_estimate": ("(g, xs)", "P5"),
        "mlp_forward": ("(As, bs, x, act)", "P5"),
        "sigmoid_mlp_to_tanh": ("(As, bs)", "P5"),
        "tanh_mlp_to_sigmoid": ("(Cs, ds)", "P5"),
    },
    "gradients": {
        "max_derivative": ("(fs, dfs, x)", "P4"),
        "dead_units": ("(a, b, X)", "P6"),
        "two_layer_grad": ("(a, b, u, x, y, activation='relu', alpha=0.01)", "P6"),
        "two_layer_sgd": (
            "(a, b, u, X, Y, lr, epochs, activation='relu', alpha=0.01, generator=None)",
            "P6",
        ),
    },
    "softmax": {
        "softmax": ("(x, dim=-1)", "Q2"),
        "softmax_jacobian": ("(x)", "Q2"),
        "sigmoid_jacobian": ("(x)", "Q2"),
        "softmax_vjp": ("(x, g)", "Q2"),
        "sigmoid_vjp": ("(x, g)", "Q2"),
        "softmax_temperature": ("(x, c)", "Q3"),
        "two_class_logit": ("(x)", "Q3"),
        "reduce_logits": ("(x)", "Q3"),
    },
    "interpolation": {
        "interpolation_matrix": ("(X, w, b1, phi)", "Q5"),
        "relu_interpolator": ("(X, F)", "Q5"),
        "sigmoid_interpolator": ("(X, F, lam=50.0)", "Q5"),
    },
    "convolution": {
        "conv1d": ("(x, k, mode='full')", "Q6"),
        "conv_output_size": ("(i, k, s=1, p=0, d=1)", "Q7"),
        "pool_output_size": ("(i, k, s=None)", "Q7"),
        "conv_params": ("(c_in, c_out, k, bias=False)", "Q7"),
        "cnn_output_shape": ("(in_shape, layers)", "Q7"),
        "Q7": CONST,
        "Q8": CONST,
    },
}

# Constants that are the homework's settings (not answers): equal in template and reference.
SETTINGS = {"threelayerSGD": {"alpha": 0.1, "K": 1000, "B": 128, "N": 512}}


# ----------------------------------------------------------------------------- helpers


def _load(package: str, module: str) -> types.ModuleType:
    return importlib.import_module(f"{package}.{module}")


def _imported_names(module: types.ModuleType) -> set[str]:
    """Names bound by import statements outside functions and classes."""
    tree = ast.parse(inspect.getsource(module))
    names: set[str] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(node, ast.Import):
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names if a.name != "*")
        else:
            todo.extend(ast.iter_child_nodes(node))
    return names


def public_names(module: types.ModuleType) -> dict[str, object]:
    """Module-level public names the module itself defines (not the ones it imports)."""
    imported = _imported_names(module)
    out = {}
    for name, obj in vars(module).items():
        if name.startswith("_") or name in imported or isinstance(obj, types.ModuleType):
            continue
        if callable(obj) and getattr(obj, "__module__", module.__name__) != module.__name__:
            continue  # e.g. `Tensor = torch.Tensor`, `Optional`: defined elsewhere
        out[name] = obj
    return out


def plain_signature(fn) -> str:
    """inspect.signature without annotations: names, kinds and defaults."""
    sig = inspect.signature(fn)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def class_methods(cls: type) -> dict[str, str]:
    """Public methods the class defines itself (not nn.Module's), plus __init__."""
    out = {}
    for name, attr in vars(cls).items():
        if (name == "__init__" or not name.startswith("_")) and inspect.isfunction(attr):
            out[name] = plain_signature(attr)
    return out


def surface(module: types.ModuleType) -> dict[str, object]:
    """What a module exposes: name -> CONST, a signature string, or {method: signature}."""
    out: dict[str, object] = {}
    for name, obj in public_names(module).items():
        if inspect.isclass(obj):
            out[name] = class_methods(obj)
        elif callable(obj):
            out[name] = plain_signature(obj)
        else:
            out[name] = CONST
    return out


def contract_surface(module: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, spec in CONTRACT[module].items():
        if spec == CONST:
            out[name] = CONST
        elif isinstance(spec, dict):
            out[name] = {m: sig for m, (sig, _key) in spec.items()}
        else:
            out[name] = spec[0]
    return out


def describe_differences(expected: dict, actual: dict, *, expected_is: str, actual_is: str) -> str:
    lines = []
    for name in sorted(expected.keys() - actual.keys()):
        lines.append(f"{name}: in {expected_is}, missing from {actual_is}")
    for name in sorted(actual.keys() - expected.keys()):
        lines.append(f"{name}: in {actual_is}, not in {expected_is}")
    for name in sorted(expected.keys() & actual.keys()):
        if expected[name] != actual[name]:
            lines.append(f"{name}: {expected_is} {expected[name]!r} != {actual_is} {actual[name]!r}")
    return "\n".join(lines)


def stub_cases() -> list[tuple[str, str, str]]:
    """(module, dotted name, key) of every stub the template must leave unimplemented."""
    cases = []
    for module, names in CONTRACT.items():
        for name, spec in names.items():
            if isinstance(spec, dict):
                cases += [(module, f"{name}.{m}", key) for m, (_s, key) in spec.items() if key]
            elif isinstance(spec, tuple) and spec[1]:
                cases.append((module, name, spec[1]))
    return cases


def problem_words(key: str) -> str:
    """'P3' -> 'Problem 3', 'Q7' -> 'Question 7'."""
    return {"P": "Problem", "Q": "Question"}[key[0]] + " " + key[1:]


# ----------------------------------------------------------------------------- template vs HOMEWORK.md


def test_contract_covers_every_key():
    # Q4 is graded through P5's conversions (L = 2); Q8 is the constant Q8 only.
    keys = {key for _m, _n, key in stub_cases()} | {"Q4", "Q8"}
    assert keys == {f"P{i}" for i in range(1, 8)} | {f"Q{i}" for i in range(1, 9)}


@pytest.mark.parametrize("module", MODULES)
def test_template_surface_is_the_contract(module):
    actual = surface(_load("student_template", module))
    expected = contract_surface(module)
    assert actual == expected, (
        f"student_template.{module} differs from HOMEWORK.md:\n"
        + describe_differences(expected, actual, expected_is="HOMEWORK.md", actual_is="template")
    )


# ----------------------------------------------------------------------------- reference vs template


@pytest.mark.parametrize("module", MODULES)
def test_reference_surface_equals_template(module):
    template = surface(_load("student_template", module))
    reference = surface(_load("reference", module))
    assert reference == template, (
        f"reference.{module} and student_template.{module} expose different names or signatures:\n"
        + describe_differences(template, reference, expected_is="template", actual_is="reference")
    )


@pytest.mark.parametrize("module", sorted(SETTINGS))
def test_reference_settings_equal_template(module):
    template, reference = _load("student_template", module), _load("reference", module)
    for name, value in SETTINGS[module].items():
        assert getattr(template, name) == value, name
        assert getattr(reference, name) == getattr(template, name), name
        assert type(getattr(reference, name)) is type(value), name


def test_reference_mlp_has_the_template_layers():
    assert _layers(_load("reference", "threelayerSGD").MLP()) == _layers(
        _load("student_template", "threelayerSGD").MLP()
    )


# ----------------------------------------------------------------------------- the stubs


@pytest.mark.parametrize(
    "module, name, key", stub_cases(), ids=[f"{m}.{n}" for m, n, _k in stub_cases()]
)
def test_stub_raises_not_implemented_naming_its_problem(module, name, key):
    mod = _load("student_template", module)
    if "." in name:
        cls_name, meth = name.split(".")
        fn = getattr(getattr(mod, cls_name)(), meth)  # bound method of a fresh instance
        src_fn = getattr(getattr(mod, cls_name), meth)
    else:
        fn = src_fn = getattr(mod, name)

    # Every argument None: the stub must raise before it looks at any of them.
    n_args = len(inspect.signature(fn).parameters)
    try:
        fn(*([None] * n_args))
    except NotImplementedError as exc:
        message = str(exc)
    except Exception as exc:  # noqa: BLE001 - any other error means it touched the arguments
        pytest.fail(
            f"{module}.{name} must raise NotImplementedError before touching its arguments; "
            f"called with None it raised {type(exc).__name__}: {exc}"
        )
    else:
        pytest.fail(f"{module}.{name} returned instead of raising NotImplementedError")
    assert re.search(rf"{problem_words(key)}(?!\d)", message), (
        f"{module}.{name}: message {message!r} should name {problem_words(key)}"
    )
    assert name.split(".")[-1] in message, f"{module}.{name}: message {message!r} should name the function"

    # Documented, and the raise is the first statement after the docstring.
    doc = inspect.getdoc(src_fn)
    assert doc and len(doc) >= 40, f"{module}.{name} needs a docstring a student can learn from"
    tree = ast.parse(textwrap.dedent(inspect.getsource(src_fn)))
    body = tree.body[0].body
    first = body[1] if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else body[0]
    assert isinstance(first, ast.Raise), f"{module}.{name}: the stub must raise as its first statement"


@pytest.mark.parametrize("module", MODULES)
def test_template_module_is_documented(module):
    doc = _load("student_template", module).__doc__
    assert doc and re.search(r"(Problem|Question)s? \d", doc), module


# ----------------------------------------------------------------------------- what the template gives


def _layers(model) -> list[tuple[str, str, int, int]]:
    return [
        (name, type(m).__name__, m.in_features, m.out_features)
        for name, m in model.named_children()
    ]


def test_starter_script_gives_settings_f_true_and_layers():
    import torch

    mod = _load("student_template", "threelayerSGD")
    for name, value in SETTINGS["threelayerSGD"].items():
        assert getattr(mod, name) == value and type(getattr(mod, name)) is type(value), name
    x = torch.linspace(-3, 3, 101, dtype=torch.float64)
    torch.testing.assert_close(mod.f_true(x), (x - 2) * torch.cos(4 * x), rtol=0, atol=0)
    model = mod.MLP()
    assert _layers(model) == [("l1", "Linear", 1, 64), ("l2", "Linear", 64, 64), ("l3", "Linear", 64, 1)]
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 4353


def test_answer_constants_read_as_not_attempted():
    mod = _load("student_template", "convolution")
    assert mod.Q7 is None and mod.Q8 is None
    source = inspect.getsource(mod)
    for expected in ('"output_dim"', '"last_layer_params"', '"1a"', '"1b"', '"2a"', '"2b"', '"3a"', '"3b"', '"3c"'):
        assert expected in source, f"the comment above Q7/Q8 should show the key {expected}"


def test_template_readme_and_init():
    init = (REPO / "student_template" / "__init__.py").read_text()
    tree = ast.parse(init)
    assert ast.get_docstring(tree)
    # besides the docstring, only the modules' order (__all__), which the grader's messages follow
    assigned = [n for n in tree.body[1:] if isinstance(n, ast.Assign)]
    assert len(tree.body) == 2 and assigned and assigned[0].targets[0].id == "__all__"
    assert ast.literal_eval(assigned[0].value) == list(MODULES)
    readme = (REPO / "student_template" / "README.md").read_text()
    for needed in ["check.py", "Gradescope", "if __name__", "0-based", "float64", *MODULES]:
        assert needed in readme, needed
    for key in [f"P{i}" for i in range(1, 8)] + [f"Q{i}" for i in range(1, 9)]:
        assert re.search(rf"\b{key}\b", readme), key


# ----------------------------------------------------------------------------- importing is cheap and silent

IMPORT_LIMIT_SECONDS = 0.5
_PROBE = r"""
import json, sys, time, importlib
import torch, numpy  # the homework's dependencies: their import cost is not the template's
report = {}
for name in sys.argv[1:]:
    sys.stdout.write("<<begin %s>>\n" % name); sys.stdout.flush()
    sys.stderr.write("<<begin %s>>\n" % name); sys.stderr.flush()
    start = time.perf_counter()
    importlib.import_module("student_template." + name)
    seconds = time.perf_counter() - start
    sys.stdout.write("<<end %s>>\n" % name); sys.stdout.flush()
    sys.stderr.write("<<end %s>>\n" % name); sys.stderr.flush()
    report[name] = {"seconds": seconds, "matplotlib": "matplotlib" in sys.modules}
sys.stdout.write("<<report>>" + json.dumps(report) + "\n")
"""


@pytest.fixture(scope="module")
def import_probe():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *MODULES],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.rsplit("<<report>>", 1)[1])
    return proc.stdout, proc.stderr, report


def _between(text: str, name: str) -> str:
    return text.split(f"<<begin {name}>>\n", 1)[1].split(f"<<end {name}>>\n", 1)[0]


@pytest.mark.parametrize("module", MODULES)
def test_template_import_is_fast_and_silent(module, import_probe):
    stdout, stderr, report = import_probe
    assert _between(stdout, module) == "", f"importing {module} printed to stdout"
    assert _between(stderr, module) == "", f"importing {module} wrote to stderr"
    assert report[module]["seconds"] < IMPORT_LIMIT_SECONDS, report[module]
    assert not report[module]["matplotlib"], f"importing {module} imported matplotlib"
