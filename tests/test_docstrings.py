"""Every public name's docstring example runs and prints what it says."""

import doctest
import importlib

import pytest

MODULES = [
    'trainer._checkpoint', 'trainer._compiles', 'trainer._ensemble', 'trainer._ensemble_result',
    'trainer._fitter', 'trainer._forward',
    'trainer._params', 'trainer._progress', 'trainer._result', 'trainer._simulator',
    'trainer._trainer', 'trainer.models',
    'datasets._batching', 'datasets._cogtask', 'datasets._delayed_match', 'datasets._fixed_targets',
    'datasets._io', 'datasets._plot', 'datasets._record', 'datasets._registry',
]


@pytest.mark.parametrize('name', MODULES)
def test_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
