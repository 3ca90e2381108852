"""The examples in the statistics and plot docstrings run and print what they say."""

import doctest
import importlib
import inspect

import pytest

MODULES = [
    "radgui.stats",
    "radgui.stats.bootstrap",
    "radgui.stats.decision",
    "radgui.stats.roc",
    "radgui.stats.calibration",
    "radgui.stats.reclassification",
    "radgui.stats.survival",
    "radgui.stats.icc",
    "radgui.plots.curves",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no docstring examples: this test would check nothing"


def public_functions(mod) -> list[str]:
    """The module's ``__all__``, or (without one) the functions defined in it whose names do not start with _."""
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n, obj in vars(mod).items() if not n.startswith("_") and inspect.isfunction(obj)
                 and obj.__module__ == mod.__name__]
    return [n for n in names if callable(getattr(mod, n)) and not isinstance(getattr(mod, n), type)]


@pytest.mark.parametrize("name", MODULES)
def test_every_public_function_has_a_numpydoc_docstring(name):
    mod = importlib.import_module(name)
    funcs = public_functions(mod)
    if not hasattr(mod, "__all__"):
        assert funcs, f"{name} has no public function: this test would check nothing"
    for attr in funcs:
        doc = getattr(mod, attr).__doc__ or ""
        assert "Returns" in doc or "Parameters" in doc, f"{name}.{attr} lacks a numpydoc docstring"


def test_public_functions_without_all_are_found():
    """A module without ``__all__`` is still checked: its own functions, not what it imports."""
    import radgui.stats.bootstrap as bootstrap

    assert not hasattr(bootstrap, "__all__")
    found = public_functions(bootstrap)
    assert found and all(getattr(bootstrap, n).__module__ == "radgui.stats.bootstrap" for n in found)
