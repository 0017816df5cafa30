"""delayed_match_task: brainmass parity, the match rule, exact balance, metadata."""

import brainunit as u
import numpy as np
import pytest

import datasets


@pytest.mark.parametrize('n, seq_len, n_symbols, seed',
                         [(128, 10, 4, 0), (33, 2, 2, 5), (64, 7, 9, 123)],
                         ids=['defaults', 'smallest', 'odd'])
def test_identical_to_brainmass(n, seq_len, n_symbols, seed):
    brainmass = pytest.importorskip('brainmass')
    inputs, targets = brainmass.datasets.delayed_match_task(
        n, seq_len=seq_len, n_symbols=n_symbols, seed=seed)
    ds = datasets.delayed_match_task(n_samples=n, seq_len=seq_len, n_symbols=n_symbols, seed=seed)
    assert ds.inputs.dtype == np.float32 and ds.targets.dtype == np.int32
    np.testing.assert_array_equal(ds.inputs, inputs)
    np.testing.assert_array_equal(ds.targets, targets)


def test_label_is_one_iff_probe_equals_cue_and_balance_is_exact():
    ds = datasets.load_dataset('delayed_match_task', n_trials=101, seq_len=6, n_symbols=5, seed=3)
    cue, probe = ds.inputs[:, 0].argmax(-1), ds.inputs[:, -1].argmax(-1)
    np.testing.assert_array_equal(ds.targets, (cue == probe).astype(np.int32))
    assert ds.targets.sum() == 50 and ds.n_classes == 2
    assert np.all(ds.inputs[:, 1:-1] == 0) and np.all(ds.inputs.sum(-1)[:, [0, -1]] == 1)


def test_no_mask_and_metadata_is_set():
    ds = datasets.delayed_match_task(8, seq_len=5, seed=2)
    assert ds.mask is None
    assert (ds.name, ds.seed, ds.dt) == ('delayed_match_task', 2, 1.0 * u.ms)
    assert datasets.delayed_match_task(4, dt=0.5).dt == 0.5 * u.ms


def test_seeded():
    a, b, c = (datasets.delayed_match_task(32, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert not np.array_equal(a.inputs, c.inputs)


@pytest.mark.parametrize('kwargs, match',
                         [(dict(n_trials=4, n_samples=5), 'n_samples is an alias of n_trials'),
                          (dict(n_trials=0), 'n_trials must be a positive int'),
                          (dict(seq_len=1), 'seq_len must be >= 2'),
                          (dict(n_symbols=1), 'n_symbols must be >= 2'),
                          (dict(seed=-3), 'seed must be a non-negative int')],
                         ids=['alias_conflict', 'no_trials', 'short', 'one_symbol', 'seed'])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.delayed_match_task(**kwargs)


def test_conditions_are_the_sample_and_test_symbols():
    ds = datasets.delayed_match_task(40, seq_len=5, n_symbols=3, seed=1)
    np.testing.assert_array_equal(ds.conditions['sample'], ds.inputs[:, 0].argmax(-1))
    np.testing.assert_array_equal(ds.conditions['test'], ds.inputs[:, -1].argmax(-1))
    np.testing.assert_array_equal(ds.targets, ds.conditions['sample'] == ds.conditions['test'])
