"""Tests for trainer.objectives: values vs numpy, batching, transforms, units, masks, errors.

Compilation dominates the run time, so the tests share two input shapes:
one series ``(40, 4)`` and one batch of three ``(3, 40, 4)``.
"""

import doctest

import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from float32 import assert_close_f32

from trainer import objectives


def _normal(*shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


P1, T1 = _normal(40, 4, seed=1), _normal(40, 4, seed=2)
PB, TB = _normal(3, 40, 4, seed=3), _normal(3, 40, 4, seed=4)
DIRECTION = _normal(3, 40, 4, seed=5)
TRIAL_MASK = np.array([1.0, 1.0, 0.0], np.float32)  # trial 2 is padding
STEP_MASK = np.ones((3, 40), np.float32)
STEP_MASK[1, 25:] = 0.0
STEP_MASK[2] = 0.0


# Independent numpy references (float64).

def _weights(mask, shape):
    mask = np.asarray(mask, np.float64)
    return np.broadcast_to(mask.reshape(mask.shape + (1,) * (len(shape) - mask.ndim)), shape)


def _pooled(elementwise):
    def reference(p, t, mask=None):
        e = elementwise(np.float64(p) - t)
        return e.mean() if mask is None else (e * _weights(mask, e.shape)).sum() / _weights(mask, e.shape).sum()

    return reference


np_mse = _pooled(np.square)
np_mae = _pooled(np.abs)


def np_rmse(p, t, mask=None):
    return np.sqrt(np_mse(p, t, mask))


def _np_fc(x):
    with np.errstate(invalid='ignore', divide='ignore'):
        fc = np.nan_to_num(np.corrcoef(np.float64(x).T))  # a constant region correlates 0 with the rest
    np.fill_diagonal(fc, 1.0)
    return fc


def _np_fc_upper(x):
    fc = _np_fc(x)
    return fc[np.triu_indices(fc.shape[0], k=1)]


def np_fc_corr(p, t):
    return np.corrcoef(_np_fc_upper(p), _np_fc_upper(t))[0, 1]


def np_fc_rmse(p, t):
    return np.sqrt(np.mean((_np_fc(p) - _np_fc(t)) ** 2))  # all n**2 entries, as brainmass


def np_cosine(p, t):
    p, t = np.float64(p).ravel(), np.float64(t).ravel()
    return p @ t / (np.linalg.norm(p) * np.linalg.norm(t))


def _per_trial(reference):
    def batched(p, t, mask=None):
        scores = np.array([reference(p[i], t[i]) for i in range(len(p))])
        weights = np.ones(len(p)) if mask is None else np.asarray(mask, np.float64)
        return (scores * weights).sum() / weights.sum()

    return batched


def np_cross_entropy(logits, labels):
    logits = np.float64(logits)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -np.take_along_axis(log_p, labels[..., None], -1)[..., 0]


def seed_steadystate_loss(n_tail=50):
    """The seed's loss, verbatim."""

    def loss(prediction, target):
        amp = jnp.mean(u.get_magnitude(prediction[-n_tail:]))
        return (amp - target) ** 2

    return loss


# name: (built objective, reference for one series, reference for a batch, batch mask)
CASES = {
    'mse': (objectives.mse(), np_mse, np_mse, STEP_MASK),
    'rmse': (objectives.rmse(), np_rmse, np_rmse, STEP_MASK),
    'mae': (objectives.mae(), np_mae, np_mae, STEP_MASK),
    'fc_corr': (objectives.fc_corr(), np_fc_corr, _per_trial(np_fc_corr), TRIAL_MASK),
    'fc_rmse': (objectives.fc_rmse(), np_fc_rmse, _per_trial(np_fc_rmse), TRIAL_MASK),
    'cosine_sim': (objectives.cosine_sim(), np_cosine, _per_trial(np_cosine), TRIAL_MASK),
}
NAMES = list(CASES)
# The magnitude a value's float32 error scales with (see tests/float32.py): the scores and FC
# errors are built from correlations in [-1, 1], so one near 0 (the fc_corr of a silent region,
# -0.005) is accurate to ~1e-7 absolute, not relative; the pooled errors are their own scale.
SCALE = {'fc_corr': 1.0, 'fc_rmse': 1.0, 'cosine_sim': 1.0}


def _fd_atol(grad, direction):
    # A directional derivative sums 160 float32 products that may cancel: accurate to the
    # terms' magnitude, not the sum's (the finite difference itself is good to rtol ~1e-3).
    return 1e-5 * float(np.abs(np.float64(grad) * direction).sum())


@pytest.mark.parametrize('name', NAMES, ids=NAMES)
def test_plain_value_matches_numpy(name):
    loss, reference, _, _ = CASES[name]
    value = loss(P1, T1)
    assert_close_f32(float(value), reference(P1, T1), scale=SCALE.get(name))  # float32 jax vs float64 numpy
    assert jnp.shape(value) == () and float(loss(P1, T1, mask=None)) == float(value)


@pytest.mark.parametrize('name', NAMES, ids=NAMES)
def test_batched_value_matches_numpy(name):
    loss, _, batched, _ = CASES[name]
    assert_close_f32(float(loss(PB, TB)), batched(PB, TB), scale=SCALE.get(name))  # float32 jax vs float64 numpy


@pytest.mark.parametrize('name', NAMES, ids=NAMES)
def test_masked_batch_ignores_padded_rows(name):
    loss, _, batched, mask = CASES[name]
    garbage = PB.copy()
    garbage[_weights(mask, PB.shape) == 0] = 1e3
    kept = mask.any(axis=tuple(range(1, mask.ndim)))
    expected = batched(PB[kept], TB[kept], mask[kept])
    assert_close_f32(float(loss(garbage, TB, mask)), expected, scale=SCALE.get(name))  # float32 vs float64


# One compiled jit(vmap(value_and_grad)) per objective (one for the three pooled errors),
# shared by the tests below: compilation is most of this module's run time.
TRANSFORMED = {name: jax.jit(jax.vmap(jax.value_and_grad(case[0]))) for name, case in CASES.items()}
_POOLED = ('mse', 'rmse', 'mae')
_pooled_transformed = jax.jit(jax.vmap(lambda p, t: [jax.value_and_grad(CASES[n][0])(p, t) for n in _POOLED]))
TRANSFORMED.update({n: (lambda p, t, i=i: _pooled_transformed(p, t)[i]) for i, n in enumerate(_POOLED)})


@pytest.mark.parametrize('name', NAMES, ids=NAMES)
def test_jit_vmap_grad_match_numpy_and_finite_differences(name):
    reference = CASES[name][1]
    values, grads = map(np.asarray, TRANSFORMED[name](PB, TB))
    h = 1e-5
    for i in range(len(PB)):
        p, d = np.float64(PB[i]), DIRECTION[i]
        fd = (reference(p + h * d, TB[i]) - reference(p - h * d, TB[i])) / (2 * h)
        assert_close_f32(values[i], reference(PB[i], TB[i]), scale=SCALE.get(name))  # vmapped f32 vs f64 numpy
        np.testing.assert_allclose(np.vdot(grads[i], d), fd, rtol=2e-3, atol=_fd_atol(grads[i], d))


def test_rmse_gradient_at_a_perfect_fit_is_zero_not_nan():
    _, grads = TRANSFORMED['rmse'](PB, PB)
    np.testing.assert_array_equal(grads, np.zeros_like(PB))
    # FC rounding leaves a tiny residual whose direction sets the gradient: finite, not NaN.
    values, grads = TRANSFORMED['fc_rmse'](PB, PB)
    assert np.all(np.asarray(values) < 1e-3) and np.all(np.isfinite(grads))


@pytest.mark.parametrize('level', [0.5, 0.7], ids=['exact', 'inexact'])
@pytest.mark.parametrize('name', ['fc_corr', 'fc_rmse'], ids=['fc_corr', 'fc_rmse'])
def test_fc_gradient_stays_finite_with_a_silent_region(name, level):
    silent = PB.copy()
    silent[:, :, 1] = level  # 0.7 is not exact in binary: its mean leaves rounding noise
    values, grads = map(np.asarray, TRANSFORMED[name](silent, TB))
    assert np.all(np.isfinite(grads)) and np.any(grads != 0) and np.abs(grads).max() < 10
    assert np.all(grads[:, :, 1] == 0)
    exact = silent.copy()
    exact[:, :, 1] = 0.5
    # float32 jax vs float64 numpy: fc_corr here is -0.005, accurate to ~1e-7 absolute (issue #19).
    assert_close_f32(values, [CASES[name][1](exact[i], TB[i]) for i in range(3)], scale=1.0)


def test_all_zero_mask_gives_zero_loss_and_zero_gradient():
    loss = objectives.mse()
    zero = np.zeros((3, 40), np.float32)
    assert float(loss(PB, TB, zero)) == 0.0
    grad = jax.jit(jax.grad(loss))(PB, TB, zero)
    np.testing.assert_array_equal(grad, np.zeros_like(PB))
    assert_close_f32(jax.jit(jax.grad(loss))(PB, TB, STEP_MASK),  # jax vs the formula in float64 numpy
                     2 * (PB - TB) * _weights(STEP_MASK, PB.shape) / STEP_MASK.sum() / 4)


# Units.

def test_same_unit_difference_returns_a_plain_differentiable_number():
    loss = objectives.mse()
    value = loss(P1 * u.mV, T1 * u.mV)
    assert not isinstance(value, u.Quantity)
    assert_close_f32(float(value + 0.5), np_mse(P1, T1) + 0.5)  # float32 jax vs float64 numpy, here and below
    grad = jax.jit(jax.grad(lambda x: loss(x * u.mV, T1 * u.mV) + 0.5))(P1)
    assert_close_f32(grad, 2 * (P1 - T1) / P1.size)
    for name in ('rmse', 'mae'):
        assert_close_f32(float(CASES[name][0](P1 * u.mV, T1 * u.mV)), CASES[name][1](P1, T1))


def test_compatible_units_are_expressed_in_the_prediction_unit():
    # rtol 1e-4, not float32's 1e-5: the target's conversion (/ 1000 here, * 1000 inside) rounds
    # each residual twice more, by ~EPS * |t| / |p - t|; a missed factor 1000 is off by 1e3.
    np.testing.assert_allclose(float(objectives.mse()(P1 * u.mV, (T1 / 1000) * u.volt)), np_mse(P1, T1), rtol=1e-4)
    np.testing.assert_allclose(float(objectives.mae()((P1 / 1000) * u.volt, T1 * u.mV)), np_mae(P1, T1) / 1000,
                               rtol=1e-4)


@pytest.mark.parametrize('name', ['mse', 'rmse', 'mae'], ids=['mse', 'rmse', 'mae'])
@pytest.mark.parametrize('p_unit, t_unit, pattern', [
    (u.mV, u.second, r'prediction is in mV but target is in s'),
    (u.mV, None, r'prediction is in mV but target is in dimensionless'),
    (None, u.mV, r'prediction is in dimensionless but target is in mV'),
], ids=['mV-vs-s', 'mV-vs-plain', 'plain-vs-mV'])
def test_incompatible_units_raise_naming_both(name, p_unit, t_unit, pattern):
    p = P1 if p_unit is None else P1 * p_unit
    t = T1 if t_unit is None else T1 * t_unit
    with pytest.raises(ValueError, match=pattern + '.*Convert the target'):
        CASES[name][0](p, t)


@pytest.mark.parametrize('loss', [objectives.fc_corr(as_loss=True), objectives.fc_rmse(),
                                  objectives.cosine_sim(as_loss=True)], ids=['fc_corr', 'fc_rmse', 'cosine_sim'])
def test_scale_invariant_objectives_accept_any_units_and_scales(loss):
    assert abs(float(loss(P1 * u.mV, (3.0 * P1) * u.second))) < 1e-5
    # Scaled inputs round otherwise: float32 promises ~1e-7 of the [-1, 1] correlations they come from.
    assert_close_f32(float(loss(P1 * u.mV, (5.0 * T1) * u.volt)), float(loss(P1, T1)), scale=1.0)


@pytest.mark.parametrize('loss, args, pattern', [
    (objectives.mse(), (PB, TB, TRIAL_MASK[:2]), r'mask has shape \(2,\).*\(3, 40, 4\)'),
    (objectives.fc_corr(), (PB, TB, STEP_MASK), r'must weight whole trials, shape \(3,\).*trim the series'),
    (objectives.cross_entropy(), (PB, np.zeros(3, int), np.ones(4)), r'mask has shape \(4,\)'),
], ids=['mse', 'fc_corr-time-mask', 'cross_entropy'])
def test_bad_mask_shape_raises(loss, args, pattern):
    with pytest.raises(ValueError, match=pattern):
        loss(*args)


# steady_state: the seed's loss, bit for bit.

TRACE = _normal(120, 1, seed=11)
TARGET_AMP = jnp.float32(1.5184532403945923)


@pytest.mark.parametrize('n_tail', [50, 500], ids=['tail50', 'longer-than-series'])
def test_steady_state_is_bit_identical_to_the_seed(n_tail):
    ours, seed = objectives.steady_state(n_tail=n_tail), seed_steadystate_loss(n_tail)
    assert np.array_equal(ours(TRACE, TARGET_AMP), seed(TRACE, TARGET_AMP))
    assert np.array_equal(ours(TRACE * u.mV, TARGET_AMP), seed(TRACE * u.mV, TARGET_AMP))
    assert np.array_equal(jax.jit(ours)(TRACE, TARGET_AMP), jax.jit(seed)(TRACE, TARGET_AMP))
    expected = (np.float64(TRACE[-n_tail:]).mean() - np.float64(TARGET_AMP)) ** 2
    assert_close_f32(float(ours(TRACE, TARGET_AMP)), expected)  # float32 jax vs float64 numpy


def test_steady_state_gradient_and_vmap_match_the_seed():
    ours, seed = objectives.steady_state(), seed_steadystate_loss()
    g_ours = jax.jit(jax.grad(ours))(TRACE, TARGET_AMP)
    assert np.array_equal(g_ours, jax.jit(jax.grad(seed))(TRACE, TARGET_AMP))
    expected = np.zeros_like(TRACE)
    expected[-50:] = 2 * (TRACE[-50:].mean() - TARGET_AMP) / 50
    assert_close_f32(g_ours, expected)  # XLA's mean vs numpy's (pairwise) float32 mean
    traces, targets = np.stack([TRACE, 2 * TRACE]), np.array([0.5, 1.0], np.float32)
    batched = jax.jit(jax.vmap(ours))(traces, targets)
    assert_close_f32(batched, [float(seed(traces[i], targets[i])) for i in range(2)])  # vmapped vs one by one


def test_steady_state_time_mask_weights_the_tail():
    trace = np.concatenate([np.zeros((70, 1)), np.full((25, 1), 2.0), np.full((25, 1), 9.0)]).astype(np.float32)
    assert float(objectives.steady_state()(trace, 1.0)) == (5.5 - 1.0) ** 2
    mask = np.concatenate([np.ones(95), np.zeros(25)])
    assert float(objectives.steady_state()(trace, 1.0, mask)) == 1.0
    with pytest.raises(ValueError, match=r'steady_state: mask has shape \(50, 2\)'):
        objectives.steady_state()(trace, 1.0, np.ones((120, 2)))


@pytest.mark.parametrize('n_tail', [0, -3, 2.5, True, None], ids=['zero', 'negative', 'float', 'bool', 'none'])
def test_steady_state_rejects_bad_n_tail(n_tail):
    with pytest.raises(ValueError, match=r'n_tail must be a positive int, got'):
        objectives.steady_state(n_tail=n_tail)


def test_builders_take_configuration_by_keyword_only():
    with pytest.raises(TypeError):
        objectives.steady_state(50)
    with pytest.raises(TypeError):
        objectives.cosine_sim(1e-8)
    with pytest.raises(TypeError):
        objectives.fc_corr(True)


# cross_entropy: LOGITS (B=3, T=40, C=4).

LOGITS = PB
STEP_LABELS = np.random.default_rng(6).integers(0, 4, (3, 40))
TRIAL_LABELS = np.array([1, 0, 3])


def test_cross_entropy_per_trial_matches_numpy():
    logits = LOGITS[:, -1]
    expected = np_cross_entropy(logits, TRIAL_LABELS).mean()
    assert_close_f32(float(objectives.cross_entropy()(logits, TRIAL_LABELS)), expected)  # f32 jax vs f64 numpy


def test_cross_entropy_per_step_ignores_padded_steps_and_trials():
    per = np_cross_entropy(LOGITS, STEP_LABELS)
    loss = objectives.cross_entropy()
    assert_close_f32(float(loss(LOGITS, STEP_LABELS)), per.mean())  # float32 jax vs float64 numpy, twice
    garbage = LOGITS.copy()
    garbage[STEP_MASK == 0] = 50.0
    expected = (per[:2] * STEP_MASK[:2]).sum() / STEP_MASK[:2].sum()
    assert_close_f32(float(loss(garbage, STEP_LABELS, STEP_MASK)), expected)


def test_cross_entropy_per_trial_label_uses_the_last_step_without_a_step_mask():
    last = np_cross_entropy(LOGITS[:, -1], TRIAL_LABELS)
    loss = objectives.cross_entropy()
    assert_close_f32(float(loss(LOGITS, TRIAL_LABELS)), last.mean())  # float32 jax vs float64 numpy, twice
    assert_close_f32(float(loss(LOGITS, TRIAL_LABELS, TRIAL_MASK)), last[:2].mean())


def test_cross_entropy_per_trial_label_broadcasts_over_masked_steps():
    per = np_cross_entropy(LOGITS, np.repeat(TRIAL_LABELS[:, None], 40, axis=1))
    expected = (per * STEP_MASK).sum() / STEP_MASK.sum()
    assert_close_f32(float(objectives.cross_entropy()(LOGITS, TRIAL_LABELS, STEP_MASK)), expected)  # f32 vs f64


def test_cross_entropy_jit_vmap_grad_match_finite_differences():
    # vmap over trials: each call sees (T, C) logits and a scalar label, so the last step is scored.
    transformed = jax.jit(jax.vmap(jax.value_and_grad(objectives.cross_entropy())))
    values, grads = map(np.asarray, transformed(LOGITS, TRIAL_LABELS))
    assert_close_f32(values, np_cross_entropy(LOGITS[:, -1], TRIAL_LABELS))  # vmapped f32 vs f64 numpy
    assert np.all(grads[:, :-1] == 0)
    h = 1e-5
    for i in range(3):
        d = DIRECTION[i]
        f = lambda x: np_cross_entropy(x[-1], TRIAL_LABELS[i])  # noqa: E731
        fd = (f(np.float64(LOGITS[i]) + h * d) - f(np.float64(LOGITS[i]) - h * d)) / (2 * h)
        np.testing.assert_allclose(np.vdot(grads[i], d), fd, rtol=1e-3, atol=_fd_atol(grads[i], d))


@pytest.mark.parametrize('prediction, target, pattern', [
    (LOGITS, STEP_LABELS[..., None], r'prediction has shape \(3, 40, 4\) and target \(3, 40, 1\)'),
    (LOGITS, np.zeros(40, int), r'prediction has shape \(3, 40, 4\) and target \(40,\)'),
    (LOGITS[:, -1], np.zeros(3), r'integer class labels, got dtype float'),
    (LOGITS[:, -1] * u.mV, TRIAL_LABELS, r'must be dimensionless, got mV'),
], ids=['same-rank', 'wrong-leading-axis', 'float-labels', 'unit-logits'])
def test_cross_entropy_rejects_bad_inputs(prediction, target, pattern):
    with pytest.raises(ValueError, match=pattern):
        objectives.cross_entropy()(prediction, target)


@pytest.mark.parametrize('loss, args, pattern', [
    (objectives.mse(), (P1, T1[:, 0]), r'mse: prediction has shape \(40, 4\) but target has shape \(40,\)'),
    (objectives.fc_corr(), (P1[:, :2], T1[:, :2]), r'at least 3 regions, got shape \(40, 2\)'),
    (objectives.fc_rmse(), (P1[:, 0], T1[:, 0]), r'at least 2 regions, got shape \(40,\)'),
    (objectives.cosine_sim(), (P1, T1[:-1]), r'cosine_sim: prediction has shape \(40, 4\)'),
], ids=['mse-shapes', 'fc_corr-regions', 'fc_rmse-1d', 'cosine-shapes'])
def test_static_shape_errors(loss, args, pattern):
    with pytest.raises(ValueError, match=pattern):
        loss(*args)


@pytest.mark.parametrize('epsilon', [-1.0, float('inf'), 'x'], ids=['negative', 'inf', 'str'])
def test_cosine_sim_rejects_bad_epsilon(epsilon):
    with pytest.raises(ValueError, match='epsilon must be a finite float >= 0'):
        objectives.cosine_sim(epsilon=epsilon)


# combine and accepts_mask.

def test_combine_is_the_weighted_sum_and_forwards_the_mask():
    seen = {}

    def positional(prediction, target, m):
        seen['positional'] = m
        return 1.0

    def keyword_only(prediction, target, *, mask=None):
        seen['keyword'] = mask
        return 2.0

    loss = objectives.combine((2.0, objectives.mse()), (0.5, positional), [3.0, keyword_only])
    expected = 2.0 * np_mse(PB, TB, STEP_MASK) + 0.5 * 1.0 + 3.0 * 2.0
    assert_close_f32(float(loss(PB, TB, STEP_MASK)), expected)  # float32 jax vs float64 numpy, twice
    assert seen['positional'] is STEP_MASK and seen['keyword'] is STEP_MASK
    unmasked = objectives.combine((2.0, objectives.mse()), (-1.0, objectives.fc_corr()))
    assert_close_f32(float(unmasked(PB, TB)), 2.0 * np_mse(PB, TB) - _per_trial(np_fc_corr)(PB, TB))


def test_combine_with_a_two_argument_objective_rejects_a_mask_only():
    def user_loss(prediction, target):
        return float(np.mean(prediction - target))

    loss = objectives.combine((1.0, user_loss))
    assert loss(np.ones(3), np.zeros(3)) == 1.0
    with pytest.raises(ValueError, match=r'user_loss takes \(prediction, target\) only.*mask=None'):
        loss(np.ones(3), np.zeros(3), np.ones(3))


@pytest.mark.parametrize('args, pattern', [
    ((), r'at least one \(weight, objective\) pair'),
    (((1.0,),), r'argument 0 must be a \(weight, objective\) pair'),
    (((1.0, objectives.mse()), (float('nan'), objectives.mae())), r'argument 1: the weight must be a finite'),
    (((float('inf'), objectives.mse()),), r'weight must be a finite number, got inf'),
    ((('1.0', objectives.mse()),), r'weight must be a finite number'),
    (((1.0, 'mse'),), r"objective must be callable, got 'mse'"),
], ids=['empty', 'not-a-pair', 'nan-weight', 'inf-weight', 'str-weight', 'str-objective'])
def test_combine_rejects_bad_arguments(args, pattern):
    with pytest.raises(ValueError, match=pattern):
        objectives.combine(*args)


def _two(prediction, target):
    return 0.0


def _three(prediction, target, weights):
    return 0.0


def _star(*args):
    return 0.0


def _kw_only(prediction, target, *, mask=None):
    return 0.0


def _var_kw(prediction, target, **kwargs):
    return 0.0


@pytest.mark.parametrize('fn, expected', [
    (objectives.mse(), True), (objectives.cross_entropy(), True), (objectives.combine((1.0, _two)), True),
    (_two, False), (lambda p, t: 0.0, False), (_three, True), (_star, True), (_kw_only, True),
    (_var_kw, False), (jax.jit(_kw_only), True), (jax.jit(_two), False), (max, False),
], ids=['mse', 'cross_entropy', 'combine', 'two-args', 'lambda', 'third-positional', 'star-args',
        'keyword-only', 'var-kwargs', 'jit-mask', 'jit-two', 'builtin'])
def test_accepts_mask(fn, expected):
    assert objectives.accepts_mask(fn) is expected


def test_accepts_mask_rejects_non_callables():
    with pytest.raises(ValueError, match='expected a callable objective'):
        objectives.accepts_mask(3)


def test_public_names_and_docstring_examples():
    assert objectives.__all__ == sorted(objectives.__all__)
    assert objectives.timeseries_rmse is objectives.rmse
    assert all(getattr(objectives, name).__doc__ for name in objectives.__all__)
    assert objectives.mse().__name__ == 'loss'
    from trainer.objectives import losses  # the builders live there; the package re-exports them
    result = doctest.testmod(losses)
    assert result.attempted >= 10 and result.failed == 0
    from trainer.objectives import compose as _compose  # combine, per_trial, accepts_mask, is_score live there
    result = doctest.testmod(_compose)
    assert result.attempted >= 8 and result.failed == 0


# brainmass 0.1.1's meaning for the names it shares with us (test extra).

def _brainmass_objectives():
    return pytest.importorskip('brainmass').objectives


@pytest.mark.parametrize('build', [
    lambda o: o.fc_corr(), lambda o: o.fc_corr(as_loss=True), lambda o: o.fc_rmse(),
    lambda o: o.cosine_sim(), lambda o: o.cosine_sim(as_loss=True), lambda o: o.timeseries_rmse(),
], ids=['fc_corr', 'fc_corr-as_loss', 'fc_rmse', 'cosine_sim', 'cosine_sim-as_loss', 'timeseries_rmse'])
def test_same_call_gives_brainmass_number(build):
    theirs = build(_brainmass_objectives())
    ours = build(objectives)
    for p, t in ((P1, T1), (P1, P1), (P1 * u.mV, (2.0 * T1) * u.mV)):
        # Another library's program: scores and FC errors come from [-1, 1] correlations, and
        # (P1, P1) scores an rmse of 0, so the scale is 1 (atol 1e-6 as before).
        assert_close_f32(float(ours(p, t)), float(theirs(p, t)), scale=1.0)


def test_self_scores_are_one_and_fc_rmse_counts_every_entry():
    # A correlation of 1 in float32: ~EPS per rounding of the [-1, 1] values it is built from.
    assert float(objectives.fc_corr()(P1, 2.0 * P1)) == pytest.approx(1.0, abs=1e-6)
    assert float(objectives.cosine_sim()(P1, 2.0 * P1)) == pytest.approx(1.0, abs=1e-6)
    off_diagonal = np.sqrt(np.mean((_np_fc_upper(P1) - _np_fc_upper(T1)) ** 2))
    n = P1.shape[1]
    assert_close_f32(float(objectives.fc_rmse()(P1, T1)), off_diagonal * np.sqrt(1 - 1 / n), scale=1.0)  # f32 vs f64


@pytest.mark.parametrize('builder', [objectives.fc_corr, objectives.cosine_sim], ids=['fc_corr', 'cosine_sim'])
def test_as_loss_is_one_minus_the_score_batched_and_masked(builder):
    score, loss = builder(), builder(as_loss=True)
    assert score.__name__ == 'score' and loss.__name__ == 'loss'
    # Two programs (1 - score inside, or here): the same 1e-6 of a [-1, 1] score; 'score' itself misses by ~2.
    assert_close_f32(float(loss(PB, TB, TRIAL_MASK)), 1.0 - float(score(PB, TB, TRIAL_MASK)), scale=1.0)
    with pytest.raises(ValueError, match=r"as_loss must be True or False, got 'yes'"):
        builder(as_loss='yes')


def _user_score(prediction, target):
    return 1.0


_user_score.is_score = True


@pytest.mark.parametrize('fn, expected', [
    (objectives.fc_corr(), True), (objectives.fc_corr(as_loss=True), False),
    (objectives.cosine_sim(), True), (objectives.cosine_sim(as_loss=True), False),
    (objectives.fcd(), True), (objectives.fcd(as_loss=True), False),
    (objectives.fc_rmse(), False), (objectives.mse(), False), (_two, False), (_user_score, True),
    (objectives.combine((1.0, objectives.mse()), (0.5, objectives.fc_corr())), True),
    (objectives.combine((1.0, objectives.mse()), (-0.5, objectives.fc_corr())), False),
    (objectives.per_trial(objectives.fc_corr()), True), (objectives.per_trial(objectives.fc_rmse()), False),
], ids=['fc_corr', 'fc_corr-loss', 'cosine', 'cosine-loss', 'fcd', 'fcd-loss', 'fc_rmse', 'mse', 'plain',
        'user-marked', 'combine-plus', 'combine-minus', 'per_trial-score', 'per_trial-loss'])
def test_is_score(fn, expected):
    assert objectives.is_score(fn) is expected
