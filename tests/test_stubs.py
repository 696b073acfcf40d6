"""grader.probes.stubs: the template's untouched stubs, told from the syntax tree, define nothing."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.probes.stubs import defined_names, from_notebook, stub_names
from tests.hw3testing import MODULES, REFERENCE_DIR

TEMPLATE = Path(__file__).resolve().parents[1] / "student_template"


@pytest.mark.parametrize("source", [
    'def f(x):\n    """Doc."""\n    raise NotImplementedError("Problem 3: implement f")\n',
    "def f(x):\n    raise NotImplementedError\n",
    "async def f():\n    raise NotImplementedError()\n",
    "class f:\n    def __init__(self):\n        self.a = 1\n    def forward(self, x):\n        raise NotImplementedError\n",
    "f = None\n",
    "f: dict = None\n",
    "def f(x):\n    return x\nf = None\n",                                   # the last binding is the stub
])
def test_untouched_stubs_are_stubs(source):
    assert stub_names(source) == {"f"}


@pytest.mark.parametrize("source", [
    "def f(x):\n    return x\n",
    "def f(x):\n    y = x\n    raise NotImplementedError\n",                  # work begun
    "def f(x):\n    pass\n",
    "def f(x):\n    raise ValueError('not yet')\n",
    "def f(x):\n    raise NotImplementedError\n\ndef f(x):\n    return x\n",   # filled in further down
    "def f(x):\n    raise NotImplementedError\nfrom math import sqrt as f\n",
    "class f:\n    def forward(self, x):\n        return x\n",
    "f = {'k': None}\n",
    "def f(:\n",                                                                # does not parse: its import says so
])
def test_real_code_is_not_a_stub(source):
    assert stub_names(source) == set()


@given(doc=st.text(), message=st.text())
def test_any_docstring_and_message_make_a_stub(doc, message):
    source = f"def f(x, *args, **kw):\n    {doc!r}\n    raise NotImplementedError({message!r})\n"
    assert stub_names(source) == {"f"}


def test_the_template_is_stubs_and_the_reference_none():
    for module in MODULES:
        template = (TEMPLATE / f"{module}.py").read_text(encoding="utf-8")
        assert stub_names(template), module
        assert not stub_names((REFERENCE_DIR / f"{module}.py").read_text(encoding="utf-8")), module
    threelayer = stub_names((TEMPLATE / "threelayerSGD.py").read_text(encoding="utf-8"))
    assert threelayer == {"MLP", "initialize", "make_data", "train", "count_params", "plot_fit"}   # f_true is given


def test_what_the_converted_notebook_defines_for_real():
    converted = textwrap.dedent("""\
        import torch
        def f(x):
            return x
        try:
            def g(x):
                return x
        except Exception:
            pass
        if True:
            Q7 = {"a": 1}
        def h(x):
            raise NotImplementedError
        Q8 = None
        rate = 0.1
    """)
    assert defined_names(converted) == {"f", "g", "Q7", "rate"}
    modules = {"m": "def f(x):\n    raise NotImplementedError\ndef h(x):\n    raise NotImplementedError\n"
                    "def k(x):\n    raise NotImplementedError\nQ7 = None\nQ8 = None\nrate = 0.5\n",
               "n": "def g(x):\n    return 2 * x\n"}
    assert from_notebook(modules, converted) == {"m": ["Q7", "f"]}
