"""Every public name's docstring example runs and prints what it says."""

import doctest
import importlib

import pytest

MODULES = [
    'trainer.__main__', 'trainer._checkpoint', 'trainer._checks', 'trainer._compiles', 'trainer._fitter', 'trainer._forward',
    'trainer._ensemble', 'trainer._ensemble_result',
    'trainer._params', 'trainer._progress', 'trainer._result', 'trainer._simulator',
    'trainer._trainer', 'trainer.models', 'trainer._prediction', 'trainer._fixed_points',
    'trainer._per_condition', 'trainer._psychometric', 'trainer._trajectories',
    'trainer._recipe', 'trainer._task_run', 'trainer.recipes',
    'trainer._program', 'trainer._placement', 'trainer._scores', 'trainer._state', 'trainer._fit',
    'trainer._errors', 'trainer._compile_cache', 'trainer.distributed',
    'datasets._batching', 'datasets._cogtask', 'datasets._curriculum', 'datasets._delayed_match',
    'datasets._fixed_targets', 'datasets._empirical',
    'trainer._fit_result', 'trainer._population', 'trainer._fit_many', 'trainer._many_result',
    'datasets._io', 'datasets._plot', 'datasets._record', 'datasets._registry',
]


@pytest.mark.parametrize('name', MODULES)
def test_examples_run(name, monkeypatch):
    from datasets import _registry
    monkeypatch.setattr(_registry, '_REGISTRY', dict(_registry._REGISTRY))  # examples register names
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
