"""Every public name's docstring example runs and prints what it says."""

import doctest
import importlib
import pkgutil

import pytest

def _modules(package):
    """Every module of ``package``, found by walking it (a new module is covered without listing it)."""
    root = importlib.import_module(package)
    return [package] + sorted(m.name for m in pkgutil.walk_packages(root.__path__, package + '.'))


MODULES = _modules('trainer') + _modules('datasets')


@pytest.mark.parametrize('name', MODULES)
def test_examples_run(name, monkeypatch):
    from datasets import _registry
    monkeypatch.setattr(_registry, '_REGISTRY', dict(_registry._REGISTRY))  # examples register names
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
