"""The registry: every task listed, kwargs passed through, clear errors."""

import subprocess
import sys

import numpy as np
import pytest

import datasets
from datasets import _registry

COGTASK_NAMES = [
    'anti_reach', 'context_decision_making', 'delay_comparison', 'delay_direction_classification',
    'delay_direction_reproduction', 'delay_match_category', 'delay_match_sample',
    'delay_paired_association', 'dual_delay_match_sample', 'evidence_accumulation', 'go_no_go',
    'hierarchical_reasoning', 'immediate_direction_classification',
    'immediate_direction_reproduction', 'interval_discrimination', 'perceptual_decision_making',
    'perceptual_decision_making_delay_response', 'post_decision_wager', 'probabilistic_reasoning',
    'pulse_decision_making', 'reaching_1d', 'ready_set_go', 'single_context_decision_making',
]
ALL_NAMES = sorted(COGTASK_NAMES + ['delayed_match_task', 'multi_region_signal', 'steady_state_target'])


@pytest.fixture
def scratch_registry(monkeypatch):
    monkeypatch.setattr(_registry, '_REGISTRY', dict(_registry._REGISTRY))


def test_every_task_is_listed_sorted_with_a_description():
    listed = datasets.list_datasets()
    names = [name for name, _ in listed]
    assert names == ALL_NAMES
    assert all(isinstance(d, str) and 10 < len(d) < 160 and '\n' not in d for _, d in listed)


def test_cogtask_covers_every_braintools_task():
    from braintools.cogtask import tasks
    from datasets._cogtask import _TASKS
    assert sorted(cls for cls, *_ in _TASKS.values()) == sorted(tasks.__all__)


def test_command_line_listing_names_every_task():
    out = subprocess.run([sys.executable, '-c', 'import datasets; print(datasets.list_datasets())'],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert all(f"'{name}'" in out for name in ALL_NAMES)


def _trials(n_trials):
    return datasets.from_arrays(np.zeros((n_trials, 2, 1)), np.zeros(n_trials))


def test_load_passes_kwargs_to_the_loader(scratch_registry):
    calls = []

    def loader(**kwargs):
        calls.append(kwargs)
        return _trials(kwargs['n_trials'] * 2)
    datasets.register_dataset('probe', loader, description='records its kwargs')
    assert len(datasets.load_dataset('probe', n_trials=3, seed=9)) == 6
    assert calls == [dict(n_trials=3, seed=9)]
    assert ('probe', 'records its kwargs') in datasets.list_datasets()


def test_duplicate_names_need_overwrite(scratch_registry):
    datasets.register_dataset('dup', lambda: _trials(1))
    with pytest.raises(ValueError, match="'dup' is already registered; pass overwrite=True"):
        datasets.register_dataset('dup', lambda: _trials(2))
    datasets.register_dataset('dup', lambda: _trials(2), overwrite=True)
    assert len(datasets.load_dataset('dup')) == 2


def test_registered_user_data_round_trips(scratch_registry):
    inputs, labels = np.zeros((6, 4, 2)), np.arange(6) % 2
    datasets.register_dataset('mine', lambda: datasets.from_arrays(inputs, labels, name='mine'))
    assert datasets.load_dataset('mine').targets.tolist() == labels.tolist()


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(KeyError, match="unknown dataset 'go_nogo'. Did you mean 'go_no_go'") as info:
        datasets.load_dataset('go_nogo')
    assert all(name in str(info.value) for name in ALL_NAMES)


@pytest.mark.parametrize('name, loader, error, match',
                         [('x', 3, TypeError, 'must be callable, got int'),
                          ('', lambda: 1, ValueError, 'name must be a non-empty str'),
                          (None, lambda: 1, ValueError, 'name must be a non-empty str')],
                         ids=['not_callable', 'empty_name', 'none_name'])
def test_register_rejects_bad_entries(scratch_registry, name, loader, error, match):
    with pytest.raises(error, match=match):
        datasets.register_dataset(name, loader)
