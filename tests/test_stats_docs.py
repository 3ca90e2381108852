"""The examples in the statistics and plot docstrings run and print what they say."""

import doctest
import importlib

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


@pytest.mark.parametrize("name", MODULES)
def test_every_public_function_has_a_numpydoc_docstring(name):
    mod = importlib.import_module(name)
    for attr in getattr(mod, "__all__", []):
        obj = getattr(mod, attr)
        if callable(obj) and not isinstance(obj, type):
            doc = obj.__doc__ or ""
            assert "Returns" in doc or "Parameters" in doc, f"{name}.{attr} lacks a numpydoc docstring"
