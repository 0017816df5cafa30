"""The FCD family: brainmass 0.1.1's numbers, batches and masks, jit / grad / vmap, clear errors.

One shape throughout, so the compiled kernels are shared: series of 120 steps
and 5 regions, windows of 20 every 5 steps (21 windows).
"""

import doctest

import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from float32 import assert_close_f32

from trainer import objectives
from trainer.objectives import fc_dynamics as _fcd

bm = pytest.importorskip('brainmass').objectives

WINDOW = dict(window_size=20, step_size=5)


def _series(seed, n=3):
    rng = np.random.default_rng(seed)
    # Slowly drifting mixtures, so the FC moves between windows and the FCD is not flat.
    t = np.linspace(0, 1, 120)[:, None]
    mix = rng.standard_normal((n, 5, 5))
    base = rng.standard_normal((n, 120, 5))
    return (base + np.einsum('btr,brs->bts', np.sin(6 * t + base[:, :1]), mix)).astype(np.float32)


PB, TB = _series(1), _series(2)
P1, T1 = PB[0], TB[0]
TRIAL_MASK = np.array([1.0, 0.0, 1.0], np.float32)


@pytest.mark.parametrize('ours, theirs', [
    (objectives.fcd(**WINDOW), bm.fcd(**WINDOW)),
    (objectives.fcd(**WINDOW, as_loss=True), bm.fcd(**WINDOW, as_loss=True)),
    (objectives.fcd_wasserstein(**WINDOW), bm.fcd_wasserstein(**WINDOW)),
    (objectives.fcd_ks(**WINDOW, bw_method=0.3, n_diag=2, midpoints=np.linspace(-0.9, 0.9, 40)),
     bm.fcd_ks(**WINDOW, bw_method=0.3, n_diag=2, midpoints=jnp.linspace(-0.9, 0.9, 40))),
], ids=['fcd', 'fcd-as_loss', 'fcd_wasserstein', 'fcd_ks-configured'])
def test_values_match_brainmass(ours, theirs):
    # Already looser than float32's 1e-5 (tests/float32.py): the kernel density estimate of 210
    # correlations and the distances between densities add their own rounding; atol for a 0.
    for p, t in ((P1, T1), (P1 * u.mV, 3.0 * T1)):
        np.testing.assert_allclose(float(ours(p, t)), float(theirs(p, t)), rtol=1e-4, atol=1e-6)


def test_fcd_matrix_and_distribution_match_brainmass():
    ours, theirs = objectives.fcd(**WINDOW)(P1), bm.fcd(**WINDOW)(jnp.asarray(P1))
    assert ours.shape == (21, 21)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_array_equal(np.diag(ours), np.ones(21))
    for kwargs in ({}, dict(normalize=False, bw_method='silverman', n_diag=3)):
        np.testing.assert_allclose(objectives.fcd_distribution(ours, **kwargs),
                                   bm.fcd_distribution(theirs, **kwargs), rtol=1e-4, atol=1e-6)
    density = objectives.fcd_distribution(ours)
    assert float(jnp.sum(density) * (1.98 / 99)) == pytest.approx(1.0, abs=1e-5)


def test_distances_match_brainmass_and_scipy():
    from scipy.stats import ks_2samp
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(60), rng.standard_normal(50) + 0.5
    grid = np.unique(np.concatenate([a, b]))
    pa, pb = (np.array([np.sum(s == g) for g in grid], np.float32) for s in (a, b))
    assert float(objectives.ks_distance(pa, pb)) == pytest.approx(ks_2samp(a, b).statistic, abs=1e-6)
    p, q, x = np.abs(a[:40]).astype(np.float32), np.abs(b[:40]).astype(np.float32), np.linspace(0, 4, 40)
    # brainmass's programs vs ours: float32 cumulative sums of 40 terms, a distance between CDFs in [0, 1].
    assert_close_f32(float(objectives.ks_distance(p, q)), float(bm.ks_distance(jnp.asarray(p), jnp.asarray(q))),
                     scale=1.0)
    assert_close_f32(float(objectives.wasserstein_1d(p, q, x)),
                     float(bm.wasserstein_1d(jnp.asarray(p), jnp.asarray(q), jnp.asarray(x))))
    assert float(objectives.wasserstein_1d(p, p, x)) == 0.0


def test_batches_average_trials_and_masks_drop_padding():
    fn = objectives.fcd_wasserstein(**WINDOW)
    per_trial = np.array([float(fn(PB[i], TB[i])) for i in range(3)])
    np.testing.assert_allclose(float(fn(PB, TB)), per_trial.mean(), rtol=1e-4)
    garbage = PB.copy()
    garbage[1] = 1e3 * np.random.default_rng(3).standard_normal(garbage[1].shape)
    np.testing.assert_allclose(float(fn(garbage, TB, TRIAL_MASK)), per_trial[[0, 2]].mean(), rtol=1e-4)


def test_fcd_without_target_gives_one_matrix_per_trial():
    matrices = objectives.fcd(**WINDOW)(PB)
    assert matrices.shape == (3, 21, 21)
    assert_close_f32(matrices[2], objectives.fcd(**WINDOW)(PB[2]), scale=1.0)  # batched vs one: correlations


def test_jit_grad_vmap_match_finite_differences_with_a_silent_region():
    loss = objectives.fcd_wasserstein(**WINDOW)
    batch = PB.copy()
    batch[1, :, 2] = 0.7  # a silent region: its FC is 0, and the gradient must stay finite
    direction = np.random.default_rng(4).standard_normal(P1.shape).astype(np.float32)
    values, grads = jax.jit(jax.vmap(jax.value_and_grad(loss)))(batch, TB)
    assert np.all(np.isfinite(grads)) and np.all(np.any(grads != 0, axis=(1, 2)))
    assert np.all(grads[1, :, 2] == 0)  # no direction to follow out of a silent region
    direction[:, 2] = 0.0  # ... and no derivative along it: FD checks the other regions
    h = 1e-2
    for i in (0, 1):
        assert float(values[i]) == pytest.approx(float(loss(batch[i], TB[i])), rel=1e-4)
        fd = (float(loss(batch[i] + h * direction, TB[i])) - float(loss(batch[i] - h * direction, TB[i]))) / (2 * h)
        assert float(jnp.vdot(grads[i], direction)) == pytest.approx(fd, rel=2e-2), i


def test_a_constant_series_has_no_distribution():
    # All FCD values equal: the KDE is singular, as in brainmass (documented NaN).
    const = np.ones((120, 5), np.float32)
    assert not np.isfinite(float(objectives.fcd_wasserstein(**WINDOW)(const, const)))


@pytest.mark.parametrize('call, error, pattern', [
    (lambda: objectives.fcd(window_size=1), ValueError, r'window_size must be an int >= 2, got 1'),
    (lambda: objectives.fcd_ks(step_size=0), ValueError, r'step_size must be an int >= 1, got 0'),
    (lambda: objectives.fcd_ks(n_diag=-1), ValueError, r'n_diag must be an int >= 0'),
    (lambda: objectives.fcd(as_loss=1), ValueError, r'as_loss must be True or False'),
    (lambda: objectives.fcd_wasserstein(midpoints=[0.0, 0.5, 0.6]), ValueError, r'evenly spaced grid'),
    (lambda: objectives.fcd(**WINDOW)(P1[:15]), ValueError, r'fcd: a series of 15 steps gives 0 windows'),
    (lambda: objectives.fcd_ks(window_size=50, step_size=40)(P1, T1), ValueError,
     r'fcd_ks: a series of 120 steps gives 2 windows of window_size=50 every step_size=40, but at least 3'),
    (lambda: objectives.fcd(**WINDOW)(P1[:, :2], T1[:, :2]), ValueError, r'at least 3 regions'),
    (lambda: objectives.fcd(**WINDOW)(PB, TB, np.ones((3, 120))), ValueError, r'must weight whole trials'),
    (lambda: objectives.fcd(**WINDOW)(P1, mask=np.ones(1)), ValueError, r'without a target, pass no mask'),
    (lambda: objectives.fcd_distribution(np.ones((3, 4))), ValueError, r'square matrix.*got shape \(3, 4\)'),
    (lambda: objectives.ks_distance(np.ones(3), np.ones(4)), ValueError, r'shapes \(3,\) and \(4,\)'),
    (lambda: objectives.wasserstein_1d(np.ones(3), np.ones(3), np.ones(4)), ValueError, r'x must be the grid'),
    (lambda: objectives.fcd(30, 5, False), TypeError, r'positional'),
], ids=['window', 'step', 'n_diag', 'as_loss', 'midpoints', 'short-series', 'few-windows', 'regions',
        'step-mask', 'matrix-mask', 'not-square', 'ks-shapes', 'w1-grid', 'positional-as_loss'])
def test_bad_input_raises_naming_the_argument(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_docstring_examples():
    result = doctest.testmod(_fcd)
    assert result.attempted >= 10 and result.failed == 0
