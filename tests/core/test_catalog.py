"""grader/checks/catalog.py: each check belongs to the module that declares it, with nothing global set up.

A check package of two modules, the second importing helpers (and, carelessly, the list) of the first,
as a problem's hidden checks in a module of their own would."""
from __future__ import annotations

import importlib
import re
import sys
import textwrap

import pytest

from grader.checks.catalog import declared_in, load_checks

FIRST = '''
from grader.checks.base import Check, CheckList, Verdict, value_of

CHECKS = CheckList(__name__)


def answer_probes(rng):
    return [value_of("stats.ANSWER")]


CHECKS.add(Check("A1.answer", answer_probes, lambda ctx: Verdict.passed()))
'''

SECOND = '''
from grader.checks.base import Check, CheckList, Verdict

from .a1 import CHECKS as FIRST_CHECKS, answer_probes   # helpers of another module, and its list

CHECKS = CheckList(__name__)

CHECKS.add(Check("A1.answer.hidden", answer_probes, lambda ctx: Verdict.passed()))
'''

ONLY_IMPORTS = '''
from .a1 import CHECKS   # declares nothing of its own
'''


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A fresh check package, named after the test: a1.py, a1_hidden.py, a2.py; removed from sys.modules after."""
    name = "catalog_" + re.sub(r"\W", "_", tmp_path.name)
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "a1.py").write_text(textwrap.dedent(FIRST))
    (folder / "a1_hidden.py").write_text(textwrap.dedent(SECOND))
    (folder / "a2.py").write_text(textwrap.dedent(ONLY_IMPORTS))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


def _owners(package: str) -> dict[str, str]:
    return {check_id: check.declared_in for check_id, check in load_checks(package).items()}


def test_each_check_belongs_to_the_module_that_declares_it(package):
    assert _owners(package) == {"A1.answer": f"{package}.a1", "A1.answer.hidden": f"{package}.a1_hidden"}


def test_import_order_and_importing_again_change_nothing(package):
    importlib.import_module(f"{package}.a1_hidden")     # the importing module first: a1 comes in through it
    first = _owners(package)
    importlib.reload(importlib.import_module(f"{package}.a1"))
    assert _owners(package) == first == _owners(package)


def test_a_module_holding_anothers_list_declares_nothing(package):
    assert declared_in(importlib.import_module(f"{package}.a2")) == ()


def test_a_check_module_imports_with_nothing_set_up_and_its_checks_judge_on_their_own(package):
    module = importlib.import_module(f"{package}.a1")
    (check,) = declared_in(module)
    assert check.id == "A1.answer" and check.judge(None).fraction == 1.0


def test_a_check_declared_in_two_modules_is_refused_naming_both(package, tmp_path):
    (tmp_path / package / "a3.py").write_text(textwrap.dedent(FIRST))
    with pytest.raises(ValueError, match=rf"'A1.answer' is declared twice: in {package}.a1 and in {package}.a3"):
        load_checks(package)
