"""Tests for trainer.metrics: accuracy in every label layout, masks, transforms, and get()."""

import doctest

import brainunit as u
import jax
import numpy as np
import pytest

from trainer import metrics, objectives

# (B=3, T=40, C=4) logits, with the shapes test_objectives uses.
LOGITS = np.random.default_rng(3).standard_normal((3, 40, 4)).astype(np.float32)
STEP_LABELS = np.random.default_rng(6).integers(0, 4, (3, 40))
LAST = LOGITS[:, -1].argmax(-1)
TRIAL_LABELS = np.array([LAST[0], (LAST[1] + 1) % 4, LAST[2]])  # last-step accuracy 2/3
STEP_MASK = np.ones((3, 40), np.float32)
STEP_MASK[1, 25:] = 0.0
STEP_MASK[2] = 0.0  # trial 2 is padding
HITS = (LOGITS.argmax(-1) == STEP_LABELS).astype(np.float64)  # the numpy reference, per step


def test_accuracy_per_trial_matches_numpy():
    logits = LOGITS[:, -1]
    assert float(metrics.accuracy()(logits, TRIAL_LABELS)) == pytest.approx(2 / 3)
    assert float(metrics.accuracy()(logits, TRIAL_LABELS, np.array([0.0, 1.0, 1.0]))) == pytest.approx(0.5)


def test_accuracy_per_step_matches_numpy_and_ignores_padded_rows():
    accuracy = metrics.accuracy()
    assert float(accuracy(LOGITS, STEP_LABELS)) == pytest.approx(HITS.mean())
    garbage = LOGITS.copy()
    garbage[STEP_MASK == 0] = 0.0
    garbage[STEP_MASK == 0, 0] = 9.0  # padded steps predict class 0
    expected = (HITS[:2] * STEP_MASK[:2]).sum() / STEP_MASK[:2].sum()
    assert float(accuracy(garbage, STEP_LABELS, STEP_MASK)) == pytest.approx(expected)
    assert expected != pytest.approx(HITS.mean())


def test_accuracy_per_trial_label_on_a_series():
    accuracy = metrics.accuracy()
    last = (LOGITS[:, -1].argmax(-1) == TRIAL_LABELS).astype(np.float64)
    assert float(accuracy(LOGITS, TRIAL_LABELS)) == pytest.approx(last.mean())
    assert float(accuracy(LOGITS, TRIAL_LABELS, np.array([1.0, 1.0, 0.0]))) == pytest.approx(last[:2].mean())
    every_step = (LOGITS.argmax(-1) == TRIAL_LABELS[:, None]).astype(np.float64)
    expected = (every_step * STEP_MASK).sum() / STEP_MASK.sum()
    assert float(accuracy(LOGITS, TRIAL_LABELS, STEP_MASK)) == pytest.approx(expected)


def test_accuracy_under_jit_and_vmap():
    # Per-trial vmap: each call sees (T, C) logits and a scalar label, so the last step is scored.
    per_trial = np.asarray(jax.jit(jax.vmap(metrics.accuracy()))(LOGITS, TRIAL_LABELS))
    np.testing.assert_array_equal(per_trial, LOGITS[:, -1].argmax(-1) == TRIAL_LABELS)


def test_accuracy_ignores_units_and_scale():
    logits = LOGITS[:, -1]
    assert float(metrics.accuracy()(logits * 3.0 * u.mV, TRIAL_LABELS)) == float(
        metrics.accuracy()(logits, TRIAL_LABELS))


@pytest.mark.parametrize('prediction, target, mask, pattern', [
    (LOGITS, np.zeros(3), None, r'accuracy: target must hold integer class labels'),
    (LOGITS, STEP_LABELS[:, :5], None, r'accuracy: prediction has shape \(3, 40, 4\) and target \(3, 5\)'),
    (LOGITS, STEP_LABELS, np.ones(40), r'accuracy: mask has shape \(40,\)'),
], ids=['float-labels', 'wrong-steps', 'mask-shape'])
def test_accuracy_rejects_bad_inputs(prediction, target, mask, pattern):
    with pytest.raises(ValueError, match=pattern):
        metrics.accuracy()(prediction, target, mask)


ALL_NAMES = ['accuracy', 'cosine_sim', 'cross_entropy', 'fc_corr', 'fc_rmse', 'fcd', 'fcd_ks', 'fcd_wasserstein',
             'mae', 'mse', 'rmse', 'steady_state', 'timeseries_rmse']


@pytest.mark.parametrize('name', ALL_NAMES, ids=ALL_NAMES)
def test_get_resolves_every_name_to_a_built_mask_taking_callable(name):
    built = metrics.get(name)
    assert built.__name__ in ('loss', 'metric', 'score')
    assert objectives.accepts_mask(built)


def test_get_builds_working_instances():
    logits = LOGITS[:, -1]
    assert float(metrics.get(' Accuracy ')(logits, TRIAL_LABELS)) == float(metrics.accuracy()(logits, TRIAL_LABELS))
    assert float(metrics.get('mse')(np.ones(3), np.zeros(3))) == 1.0
    assert float(metrics.get('cross_entropy')(logits, TRIAL_LABELS)) == float(
        objectives.cross_entropy()(logits, TRIAL_LABELS))


def test_get_passes_callables_through_and_calls_builders():
    def custom(prediction, target):
        return 0.0

    assert metrics.get(custom) is custom
    assert metrics.get(metrics.accuracy).__name__ == 'metric'
    assert metrics.get(objectives.fc_corr).__name__ == 'score'  # brainmass's fc_corr() is the score


@pytest.mark.parametrize('value, pattern', [
    ('acc', r"Unknown metric 'acc'; available: accuracy, cosine_sim, cross_entropy, fc_corr"),
    (3, r'get expects a metric name or a callable, got int; available names: accuracy'),
], ids=['unknown-name', 'not-callable'])
def test_get_rejects_unknown_names_listing_the_available_ones(value, pattern):
    with pytest.raises(ValueError, match=pattern):
        metrics.get(value)


def test_public_names_reexports_and_docstring_examples():
    assert metrics.__all__ == sorted(metrics.__all__)
    for name in ('cross_entropy', 'mae', 'mse', 'rmse'):
        assert getattr(metrics, name) is getattr(objectives, name)
    from trainer.objectives import metrics as builders  # the public module re-exports them
    result = doctest.testmod(builders)
    assert result.attempted >= 5 and result.failed == 0
