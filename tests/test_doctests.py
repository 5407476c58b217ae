"""The ``Examples`` sections of the docstrings run as doctests, against the installed marldyn.

Every module of the package (as imported, so an installed wheel is tested as installed) has its docstring
examples run with ``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``; and every public callable of the API reference
(the ``__all__`` of :data:`PUBLIC_MODULES`) has an ``Examples`` section with at least one example.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import marldyn

#: The modules whose ``__all__`` is the public API documented in the reference (docs/reference/).
PUBLIC_MODULES = (
    "marldyn",
    "marldyn.theory",
    "marldyn.theory.moments",
    "marldyn.theory.one_step",
    "marldyn.theory.markov",
    "marldyn.theory.lna",
    "marldyn.theory.agent_lna",
    "marldyn.theory.closure",
    "marldyn.theory.switching_cubature",
    "marldyn.theory.switching",
    "marldyn.analysis",
    "marldyn.compare",
    "marldyn.memory",
    "marldyn.plots",
    "marldyn.progress",
    "marldyn.reproduce",
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _all_modules() -> list[str]:
    names = ["marldyn"]
    for info in pkgutil.walk_packages(marldyn.__path__, "marldyn."):
        names.append(info.name)
    return sorted(names)


def _public_callables():
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if name.startswith("__") or not callable(value):
                continue
            yield f"{module_name}.{name}", value


@pytest.mark.parametrize("module_name", _all_modules())
def test_docstring_examples(module_name, tmp_path, monkeypatch):
    """Each module's doctests pass (run in a temporary directory, numpy's default print options)."""
    module = importlib.import_module(module_name)
    tests = [test for test in doctest.DocTestFinder(exclude_empty=True).find(module) if test.examples]
    if not tests:
        pytest.skip("no examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARLDYN_PROGRESS", "0")
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = []
    with np.printoptions(legacy=False):
        for test in tests:
            result = runner.run(test, out=report.append)
            if result.failed:
                break
    assert runner.failures == 0, "".join(report)


@pytest.mark.parametrize("qualified_name", [name for name, _ in _public_callables()])
def test_public_name_has_example(qualified_name):
    """Every public function and class shows how it is used, in an ``Examples`` section with a doctest."""
    value = dict(_public_callables())[qualified_name]
    doc = inspect.getdoc(value) or ""
    assert "Examples\n--------" in doc and ">>> " in doc.split("Examples\n--------", 1)[1], qualified_name
