"""Fixed fitting targets: the seed's steady state, the multi-region signal, fc_matrix."""

import os

import brainunit as u
import jax.numpy as jnp
import numpy as np
import pytest
from float32 import assert_close_f32

import datasets


def test_steady_state_target_reproduces_the_seed_number():
    ds = datasets.load_dataset('steady_state_target')
    assert ds.inputs.shape == (1, 600, 1) and ds.targets.shape == (1, 600, 1)
    assert ds.targets.dtype == np.float32 and np.all(ds.inputs == 1.0)
    assert (ds.dt, ds.mask, ds.n_classes, ds.name) == (0.1 * u.ms, None, None, 'steady_state_target')
    # The seed's printed number, from its own program and machine: 600 float32 Euler steps apart.
    assert_close_f32(float(jnp.mean(ds.targets[0, -50:, 0])), 1.5184532403945923)


def test_steady_state_target_follows_the_euler_recursion():
    ds = datasets.steady_state_target(g=1.0, n_steps=50)
    rate = ds.targets[0, :, 0].astype(np.float64)
    drive = np.tanh(1.0)
    assert_close_f32(rate[0], drive * 0.01)  # XLA's float32 tanh and steps vs float64 numpy, one step each
    assert_close_f32(rate[1:], rate[:-1] + (drive - rate[:-1]) * 0.01)
    assert rate[-1] < drive  # rising toward g * tanh(1), not there yet


@pytest.mark.parametrize('kwargs, match', [(dict(g=float('nan')), 'g must be a finite number'),
                                           (dict(g='2'), 'g must be a finite number'),
                                           (dict(n_steps=0), 'n_steps must be a positive int')],
                         ids=['nan_gain', 'string_gain', 'no_steps'])
def test_steady_state_target_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.steady_state_target(**kwargs)


def test_multi_region_signal_and_its_fc():
    ds = datasets.load_dataset('multi_region_signal')
    assert ds.targets.shape == (1, 500, 8) and ds.inputs.shape == (1, 500, 1)
    assert (ds.dt, ds.n_classes, ds.mask) == (1.0 * u.ms, None, None)
    fc = datasets.fc_matrix(ds)
    assert fc.shape == (8, 8)
    np.testing.assert_allclose(fc, fc.T)
    np.testing.assert_allclose(np.diag(fc), 1.0)
    np.testing.assert_allclose(fc, np.corrcoef(ds.targets[0].T.astype(np.float64)))
    np.testing.assert_array_equal(datasets.multi_region_signal().targets, ds.targets)


def test_multi_region_signal_is_brainmass_example_signal():
    brainmass = pytest.importorskip('brainmass')
    path = os.path.join(os.path.dirname(brainmass.__file__), '_data', 'example_signal.npz')
    with np.load(path) as data:
        signal, fc = data['signal'], data['fc']
    ds = datasets.multi_region_signal()
    np.testing.assert_array_equal(ds.targets[0], signal.astype(np.float32))
    np.testing.assert_allclose(datasets.fc_matrix(ds), fc, atol=1e-6)


def test_fc_matrix_of_known_signals():
    t = np.linspace(0, 6, 200)
    fc = datasets.fc_matrix(np.stack([np.sin(t), -2 * np.sin(t), np.sin(t) + 0.1], axis=1))
    np.testing.assert_allclose(fc, [[1, -1, 1], [-1, 1, -1], [1, -1, 1]], atol=1e-12)


@pytest.mark.parametrize('signal, match',
                         [(np.zeros((10,)), r'shape \(n_steps, n_regions\)'),
                          (np.ones((10, 2)), r'regions \[0, 1\] are constant'),
                          (np.ones((2, 10, 2)), r'shape \(n_steps, n_regions\)')],
                         ids=['rank_one', 'constant', 'two_trials'])
def test_fc_matrix_rejects_bad_signals(signal, match):
    with pytest.raises(ValueError, match=match):
        datasets.fc_matrix(signal)


def test_fc_matrix_needs_a_one_trial_value_dataset():
    with pytest.raises(ValueError, match='one-trial dataset with value targets'):
        datasets.fc_matrix(datasets.delayed_match_task(4))
