"""Tests for trainer.objectives: values vs numpy, batching, transforms, units, masks, errors."""

import doctest

import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainer import objectives

RNG = np.random.default_rng(0)


def _series(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# Independent numpy references (float64).

def _weights(mask, shape):
    mask = np.asarray(mask, np.float64)
    return np.broadcast_to(mask.reshape(mask.shape + (1,) * (len(shape) - mask.ndim)), shape)


def np_mse(p, t, mask=None):
    se = (np.float64(p) - t) ** 2
    return se.mean() if mask is None else (se * _weights(mask, se.shape)).sum() / _weights(mask, se.shape).sum()


def np_rmse(p, t, mask=None):
    return np.sqrt(np_mse(p, t, mask))


def np_mae(p, t, mask=None):
    ae = np.abs(np.float64(p) - t)
    return ae.mean() if mask is None else (ae * _weights(mask, ae.shape)).sum() / _weights(mask, ae.shape).sum()


def _np_fc_upper(x):
    fc = np.corrcoef(np.float64(x).T)
    return fc[np.triu_indices(fc.shape[0], k=1)]


def np_fc_corr(p, t):
    return 1.0 - np.corrcoef(_np_fc_upper(p), _np_fc_upper(t))[0, 1]


def np_fc_rmse(p, t):
    return np.sqrt(np.mean((_np_fc_upper(p) - _np_fc_upper(t)) ** 2))


def np_cosine(p, t):
    p, t = np.float64(p).ravel(), np.float64(t).ravel()
    return 1.0 - p @ t / (np.linalg.norm(p) * np.linalg.norm(t))


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


# (builder, numpy reference, per-trial reference?) for the series objectives.
REGRESSION = [
    (objectives.mse, np_mse),
    (objectives.rmse, np_rmse),
    (objectives.timeseries_rmse, np_rmse),
    (objectives.mae, np_mae),
]
SERIES = [
    (objectives.fc_corr, np_fc_corr),
    (objectives.fc_rmse, np_fc_rmse),
    (objectives.cosine_sim, np_cosine),
]
ALL_BUILT = {
    'mse': objectives.mse(), 'rmse': objectives.rmse(), 'mae': objectives.mae(),
    'fc_corr': objectives.fc_corr(), 'fc_rmse': objectives.fc_rmse(),
    'cosine_sim': objectives.cosine_sim(), 'steady_state': objectives.steady_state(n_tail=5),
    'combine': objectives.combine((1.0, objectives.mse()), (2.0, objectives.fc_corr())),
}
REG_IDS = ['mse', 'rmse', 'timeseries_rmse', 'mae']
SERIES_IDS = ['fc_corr', 'fc_rmse', 'cosine_sim']


@pytest.mark.parametrize('builder, reference', REGRESSION + SERIES, ids=REG_IDS + SERIES_IDS)
def test_plain_value_matches_numpy(builder, reference):
    p, t = _series(60, 5, seed=1), _series(60, 5, seed=2)
    np.testing.assert_allclose(float(builder()(p, t)), reference(p, t), rtol=1e-5)


@pytest.mark.parametrize('builder, reference', REGRESSION, ids=REG_IDS)
def test_regression_batched_pools_all_elements(builder, reference):
    p, t = _series(3, 20, 4, seed=1), _series(3, 20, 4, seed=2)
    np.testing.assert_allclose(float(builder()(p, t)), reference(p, t), rtol=1e-5)


@pytest.mark.parametrize('builder, reference', SERIES, ids=SERIES_IDS)
def test_series_batched_averages_per_trial_scores(builder, reference):
    p, t = _series(2, 3, 40, 4, seed=1), _series(2, 3, 40, 4, seed=2)
    expected = np.mean([reference(p[i, j], t[i, j]) for i in range(2) for j in range(3)])
    np.testing.assert_allclose(float(builder()(p, t)), expected, rtol=1e-5)


@pytest.mark.parametrize('name', list(ALL_BUILT), ids=list(ALL_BUILT))
def test_jit_and_explicit_mask_none_match_eager(name):
    loss = ALL_BUILT[name]
    p, t = _series(30, 4, seed=3), _series(30, 4, seed=4)
    if name == 'steady_state':
        t = np.float32(0.3)
    eager = float(loss(p, t))
    assert np.isfinite(eager) and eager > 0
    np.testing.assert_allclose(float(jax.jit(loss)(p, t)), eager, rtol=1e-6)
    assert float(loss(p, t, mask=None)) == eager


@pytest.mark.parametrize('name', list(ALL_BUILT), ids=list(ALL_BUILT))
def test_vmap_matches_per_example_calls(name):
    loss = ALL_BUILT[name]
    p, t = _series(3, 30, 4, seed=5), _series(3, 30, 4, seed=6)
    if name == 'steady_state':
        t = np.float32([0.1, 0.2, 0.3])
    batched = jax.vmap(loss)(p, t)
    np.testing.assert_allclose(batched, [float(loss(p[i], t[i])) for i in range(3)], rtol=1e-5)


@pytest.mark.parametrize('builder, reference', [
    (objectives.mse, np_mse), (objectives.rmse, np_rmse), (objectives.mae, np_mae),
    (objectives.fc_corr, np_fc_corr), (objectives.fc_rmse, np_fc_rmse), (objectives.cosine_sim, np_cosine),
], ids=['mse', 'rmse', 'mae', 'fc_corr', 'fc_rmse', 'cosine_sim'])
def test_grad_matches_finite_differences(builder, reference):
    p, t = _series(40, 4, seed=7), _series(40, 4, seed=8)
    direction = _series(40, 4, seed=9)
    grad = jax.grad(builder())(jnp.asarray(p), t)
    h = 1e-5
    fd = (reference(np.float64(p) + h * direction, t) - reference(np.float64(p) - h * direction, t)) / (2 * h)
    np.testing.assert_allclose(float(jnp.vdot(grad, direction)), fd, rtol=2e-3)


@pytest.mark.parametrize('builder', [objectives.rmse, objectives.fc_rmse], ids=['rmse', 'fc_rmse'])
def test_rmse_gradient_at_a_perfect_fit_is_zero_not_nan(builder):
    x = _series(30, 4, seed=1)
    grad = jax.grad(builder())(jnp.asarray(x), x)
    np.testing.assert_array_equal(grad, np.zeros_like(x))


# Units.

@pytest.mark.parametrize('builder, reference', REGRESSION, ids=REG_IDS)
def test_same_unit_difference_returns_a_plain_differentiable_number(builder, reference):
    p, t = _series(20, 3, seed=1), _series(20, 3, seed=2)
    value = builder()(p * u.mV, t * u.mV)
    assert not isinstance(value, u.Quantity)
    np.testing.assert_allclose(float(value + 0.5), reference(p, t) + 0.5, rtol=1e-5)
    grad = jax.grad(lambda x: builder()(x * u.mV, t * u.mV) + 0.5)(jnp.asarray(p))
    np.testing.assert_allclose(grad, jax.grad(builder())(jnp.asarray(p), t), rtol=1e-6)


def test_compatible_units_are_expressed_in_the_prediction_unit():
    p, t = np.full(4, 2.0, np.float32), np.full(4, 1.0, np.float32)
    assert float(objectives.mse()(p * u.mV, t * u.mV)) == 1.0
    np.testing.assert_allclose(float(objectives.mse()(p * u.mV, (t / 1000) * u.volt)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(float(objectives.mae()((p / 1000) * u.volt, t * u.mV)), 1e-3, rtol=1e-4)


@pytest.mark.parametrize('builder', [objectives.mse, objectives.rmse, objectives.mae], ids=['mse', 'rmse', 'mae'])
@pytest.mark.parametrize('p_unit, t_unit, pattern', [
    (u.mV, u.second, r'prediction is in mV but target is in s'),
    (u.mV, None, r'prediction is in mV but target is in dimensionless'),
    (None, u.mV, r'prediction is in dimensionless but target is in mV'),
], ids=['mV-vs-s', 'mV-vs-plain', 'plain-vs-mV'])
def test_incompatible_units_raise_naming_both(builder, p_unit, t_unit, pattern):
    x = jnp.ones((5, 2))
    p = x if p_unit is None else x * p_unit
    t = x if t_unit is None else x * t_unit
    with pytest.raises(ValueError, match=pattern + '.*Convert the target'):
        builder()(p, t)


@pytest.mark.parametrize('builder', [objectives.fc_corr, objectives.fc_rmse, objectives.cosine_sim],
                         ids=SERIES_IDS)
def test_scale_invariant_objectives_accept_any_units_and_scales(builder):
    x = _series(50, 4, seed=3)
    plain = float(builder()(x, 2.0 * x + 0.0))
    assert abs(plain) < 1e-5
    np.testing.assert_allclose(float(builder()(x * u.mV, (3.0 * x) * u.second)), plain, atol=1e-5)
    y = _series(50, 4, seed=4)
    np.testing.assert_allclose(float(builder()(x * u.mV, (5.0 * y) * u.volt)), float(builder()(x, y)), rtol=1e-5)


# Masks.

def test_masked_mse_ignores_padded_trials_and_steps():
    p, t = _series(4, 10, 3, seed=1), _series(4, 10, 3, seed=2)
    mask = np.ones((4, 10), np.float32)
    mask[1, 6:] = 0.0
    mask[3] = 0.0
    expected = np_mse(p[:3], t[:3], mask[:3])
    garbage = p.copy()
    garbage[3] = 1e3
    garbage[1, 6:] = -1e3
    for loss in (objectives.mse(), jax.jit(objectives.mse())):
        np.testing.assert_allclose(float(loss(garbage, t, mask)), expected, rtol=1e-5)
    np.testing.assert_allclose(float(objectives.rmse()(garbage, t, mask)), np.sqrt(expected), rtol=1e-5)
    np.testing.assert_allclose(float(objectives.mae()(garbage, t, mask)), np_mae(p[:3], t[:3], mask[:3]), rtol=1e-5)


def test_masked_mean_of_an_all_zero_mask_is_zero_not_nan():
    p, t = _series(2, 5, seed=1), _series(2, 5, seed=2)
    assert float(objectives.mse()(p, t, np.zeros(2))) == 0.0
    grad = jax.grad(objectives.mse())(jnp.asarray(p), t, np.zeros(2))
    np.testing.assert_array_equal(grad, np.zeros_like(p))


@pytest.mark.parametrize('builder, reference', SERIES, ids=SERIES_IDS)
def test_series_trial_mask_drops_padded_trials(builder, reference):
    p, t = _series(3, 40, 4, seed=1), _series(3, 40, 4, seed=2)
    expected = np.mean([reference(p[i], t[i]) for i in range(2)])
    np.testing.assert_allclose(float(builder()(p, t, np.array([1.0, 1.0, 0.0]))), expected, rtol=1e-5)


@pytest.mark.parametrize('loss, args, pattern', [
    (objectives.mse(), (np.ones((2, 3)), np.ones((2, 3)), np.ones(3)), r'mask has shape \(3,\).*\(2, 3\)'),
    (objectives.fc_corr(), (np.ones((2, 9, 3)), np.ones((2, 9, 3)), np.ones((2, 9))),
     r'must weight whole trials, shape \(2,\).*trim the series'),
    (objectives.cross_entropy(), (np.ones((2, 3)), np.zeros(2, int), np.ones(3)), r'mask has shape \(3,\)'),
], ids=['mse', 'fc_corr-time-mask', 'cross_entropy'])
def test_bad_mask_shape_raises(loss, args, pattern):
    with pytest.raises(ValueError, match=pattern):
        loss(*args)


# steady_state: the seed's loss, bit for bit.

@pytest.mark.parametrize('n_tail', [1, 50, 200], ids=['tail1', 'tail50', 'longer-than-series'])
@pytest.mark.parametrize('unit', [None, u.mV], ids=['plain', 'mV'])
def test_steady_state_is_bit_identical_to_the_seed(n_tail, unit):
    trace = _series(120, 1, seed=11)
    prediction = trace if unit is None else trace * unit
    target = jnp.float32(1.5184532403945923)
    ours, seed = objectives.steady_state(n_tail=n_tail), seed_steadystate_loss(n_tail)
    assert np.array_equal(ours(prediction, target), seed(prediction, target))
    assert np.array_equal(jax.jit(ours)(prediction, target), jax.jit(seed)(prediction, target))
    g_ours = jax.grad(lambda x: ours(x, target))(jnp.asarray(trace))
    g_seed = jax.grad(lambda x: seed(x, target))(jnp.asarray(trace))
    assert np.array_equal(g_ours, g_seed) and np.any(g_ours != 0)


def test_steady_state_value_and_time_mask():
    trace = np.concatenate([np.zeros(10), np.full(4, 2.0), np.full(4, 9.0)]).astype(np.float32)
    assert float(objectives.steady_state(n_tail=8)(trace, 1.0)) == (5.5 - 1.0) ** 2
    mask = np.concatenate([np.ones(14), np.zeros(4)])
    assert float(objectives.steady_state(n_tail=8)(trace, 1.0, mask)) == 1.0


@pytest.mark.parametrize('n_tail', [0, -3, 2.5, True, None], ids=['zero', 'negative', 'float', 'bool', 'none'])
def test_steady_state_rejects_bad_n_tail(n_tail):
    with pytest.raises(ValueError, match=r'n_tail must be a positive int, got'):
        objectives.steady_state(n_tail=n_tail)


def test_builders_take_configuration_by_keyword_only():
    with pytest.raises(TypeError):
        objectives.steady_state(50)
    with pytest.raises(TypeError):
        objectives.cosine_sim(1e-8)


# cross_entropy.

def test_cross_entropy_per_trial_matches_numpy():
    logits, labels = _series(6, 4, seed=1), np.array([0, 3, 1, 2, 2, 0])
    expected = np_cross_entropy(logits, labels).mean()
    np.testing.assert_allclose(float(objectives.cross_entropy()(logits, labels)), expected, rtol=1e-5)
    np.testing.assert_allclose(float(jax.jit(objectives.cross_entropy())(logits, labels)), expected, rtol=1e-5)


def test_cross_entropy_per_step_with_padded_trial():
    logits = _series(3, 5, 4, seed=2)
    labels = RNG.integers(0, 4, (3, 5))
    mask = np.ones((3, 5), np.float32)
    mask[0, :2] = 0.0
    mask[2] = 0.0
    per = np_cross_entropy(logits[:2], labels[:2])
    expected = (per * mask[:2]).sum() / mask[:2].sum()
    garbage = logits.copy()
    garbage[2] = 50.0
    np.testing.assert_allclose(float(objectives.cross_entropy()(garbage, labels, mask)), expected, rtol=1e-5)
    np.testing.assert_allclose(float(objectives.cross_entropy()(logits, labels)),
                               np_cross_entropy(logits, labels).mean(), rtol=1e-5)


def test_cross_entropy_per_trial_label_uses_last_step_without_a_step_mask():
    logits, labels = _series(3, 5, 4, seed=3), np.array([1, 0, 3])
    last = np_cross_entropy(logits[:, -1], labels)
    np.testing.assert_allclose(float(objectives.cross_entropy()(logits, labels)), last.mean(), rtol=1e-5)
    trial_mask = np.array([1.0, 1.0, 0.0])
    np.testing.assert_allclose(float(objectives.cross_entropy()(logits, labels, trial_mask)), last[:2].mean(),
                               rtol=1e-5)


def test_cross_entropy_per_trial_label_broadcasts_over_masked_steps():
    logits, labels = _series(3, 5, 4, seed=4), np.array([1, 0, 3])
    mask = np.zeros((3, 5), np.float32)
    mask[0, 3:] = 1.0
    mask[1, 1:] = 1.0
    per = np_cross_entropy(logits, np.repeat(labels[:, None], 5, axis=1))
    expected = (per * mask).sum() / mask.sum()
    np.testing.assert_allclose(float(objectives.cross_entropy()(logits, labels, mask)), expected, rtol=1e-5)


def test_cross_entropy_grad_matches_finite_differences_and_vmap():
    logits, labels = _series(4, 3, seed=5), np.array([0, 2, 1, 1])
    direction = _series(4, 3, seed=6)
    grad = jax.grad(objectives.cross_entropy())(jnp.asarray(logits), labels)
    h = 1e-5
    f = lambda x: np_cross_entropy(x, labels).mean()  # noqa: E731
    fd = (f(np.float64(logits) + h * direction) - f(np.float64(logits) - h * direction)) / (2 * h)
    np.testing.assert_allclose(float(jnp.vdot(grad, direction)), fd, rtol=1e-3)
    # vmap over trials: each call sees (T, C) logits with a scalar label -> last step.
    seq = _series(4, 6, 3, seed=7)
    per_trial = jax.vmap(objectives.cross_entropy())(seq, labels)
    np.testing.assert_allclose(per_trial, np_cross_entropy(seq[:, -1], labels), rtol=1e-5)


@pytest.mark.parametrize('prediction, target, pattern', [
    (np.ones((4, 3)), np.zeros((4, 3), int), r'prediction has shape \(4, 3\) and target \(4, 3\)'),
    (np.ones((4, 5, 3)), np.zeros((5,), int), r'prediction has shape \(4, 5, 3\) and target \(5,\)'),
    (np.ones((4, 3)), np.zeros(4), r'integer class labels, got dtype float'),
    (np.ones((4, 3)) * u.mV, np.zeros(4, int), r'must be dimensionless, got mV'),
], ids=['same-rank', 'wrong-leading-axis', 'float-labels', 'unit-logits'])
def test_cross_entropy_rejects_bad_inputs(prediction, target, pattern):
    with pytest.raises(ValueError, match=pattern):
        objectives.cross_entropy()(prediction, target)


# Validation of the other builders.

@pytest.mark.parametrize('loss, args, pattern', [
    (objectives.mse(), (np.ones((3, 2)), np.ones(3)), r'mse: prediction has shape \(3, 2\) but target has shape \(3,\)'),
    (objectives.fc_corr(), (np.ones((9, 2)), np.ones((9, 2))), r'at least 3 regions, got shape \(9, 2\)'),
    (objectives.fc_rmse(), (np.ones(9), np.ones(9)), r'at least 2 regions, got shape \(9,\)'),
    (objectives.cosine_sim(), (np.ones(4), np.ones(5)), r'cosine_sim: prediction has shape \(4,\)'),
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
    p, t = _series(2, 30, 4, seed=1), _series(2, 30, 4, seed=2)
    mask = np.array([[1.0] * 30, [0.0] * 30])
    seen = {}

    def positional(prediction, target, m):
        seen['positional'] = m
        return jnp.float32(1.0)

    def keyword_only(prediction, target, *, mask=None):
        seen['keyword'] = mask
        return jnp.float32(2.0)

    loss = objectives.combine((2.0, objectives.mse()), (0.5, positional), [3.0, keyword_only])
    expected = 2.0 * np_mse(p[:1], t[:1]) + 0.5 * 1.0 + 3.0 * 2.0
    np.testing.assert_allclose(float(loss(p, t, mask)), expected, rtol=1e-5)
    assert seen['positional'] is mask and seen['keyword'] is mask
    np.testing.assert_allclose(float(jax.jit(objectives.combine((2.0, objectives.mse())))(p, t)),
                               2.0 * np_mse(p, t), rtol=1e-5)


def test_combine_with_a_two_argument_objective_rejects_a_mask_only():
    def user_loss(prediction, target):
        return jnp.mean(prediction - target)

    loss = objectives.combine((1.0, user_loss))
    assert float(loss(np.ones(3), np.zeros(3))) == 1.0
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
    result = doctest.testmod(objectives, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10 and result.failed == 0
