"""trainer.analysis: per-condition scores, psychometric fits, fixed points, trajectory plots.

The trained two-choice network is the example's (examples/analyze_decision_network.py):
one short training serves the example's own checks and the analysis tests below.
"""

import importlib.util
import os

import brainstate
import jax.numpy as jnp
import numpy as np
import pytest

import datasets
from trainer import analysis
from trainer.analysis import Prediction
from trainer.models import GainPopulation, RateRNN

EXAMPLE = os.path.join(os.path.dirname(__file__), '..', 'examples', 'analyze_decision_network.py')

pytestmark = pytest.mark.xdist_group('analysis')  # one worker: the module fixtures are built once


def outputs_choosing(choices, n_classes=2):
    choices = np.asarray(choices)
    return Prediction(np.eye(n_classes)[choices], choices)


# -- per_condition --------------------------------------------------------------------------

def test_per_condition_counts_and_scores_each_condition_sorted():
    ds = datasets.from_arrays(np.zeros((6, 1, 1)), [0, 1, 1, 0, 1, 0],
                              conditions={'coherence': [6.4, 0.0, 6.4, 0.0, 12.8, 6.4]})
    rows = analysis.per_condition(outputs_choosing([0, 0, 1, 1, 1, 1]), ds, by='coherence')
    assert rows == [{'coherence': 0.0, 'n': 2, 'accuracy': 0.0},
                    {'coherence': 6.4, 'n': 3, 'accuracy': 2 / 3},
                    {'coherence': 12.8, 'n': 1, 'accuracy': 1.0}]
    assert str(rows).splitlines() == ['coherence  n  accuracy', '        0  2         0',
                                      '      6.4  3    0.6667', '     12.8  1         1']


def test_per_condition_by_several_conditions_and_other_metrics():
    ds = datasets.from_arrays(np.zeros((4, 2, 1)), np.arange(8.0).reshape(4, 2, 1),
                              conditions={'rule': [1, 0, 1, 0], 'go': [True, True, False, True]})
    prediction = Prediction(np.zeros((4, 2, 1)))
    rows = analysis.per_condition(prediction, ds, by=('rule', 'go'), metric='mse')
    # mse of zeros against targets: the mean of the squared targets in each group.
    assert [(r['rule'], r['go'], r['n']) for r in rows] == [(0, True, 2), (1, False, 1), (1, True, 1)]
    np.testing.assert_allclose([r['mse'] for r in rows], [(4 + 9 + 36 + 49) / 4, (16 + 25) / 2, 0.5])

    def worst(outputs, targets, mask=None):
        return jnp.max(jnp.abs(outputs - targets))

    assert [r['worst'] for r in analysis.per_condition(prediction, ds, by='rule', metric=worst)] == [7.0, 5.0]


def test_trial_labels_read_the_scored_steps():
    ds = datasets.from_arrays(np.zeros((3, 3, 1)), [[0, 2, 2], [0, 0, 1], [1, 1, 0]],
                              mask=[[0, 1, 1], [0, 0, 1], [1, 1, 0]])
    np.testing.assert_array_equal(analysis.trial_labels(ds), [2, 1, 1])
    assert analysis.trial_labels(datasets.from_arrays(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)))) is None


@pytest.mark.parametrize(
    'kwargs, match',
    [(dict(by='contrast'), r"by='contrast' is not a condition of the dataset; it has \['coherence'\]"),
     (dict(by=np.zeros(4)), 'by must be a condition name or a tuple of them'),
     (dict(by=()), 'by must be a condition name'),
     (dict(metric='accuracyy'), "Unknown metric 'accuracyy'")],
    ids=['unknown', 'array', 'empty', 'unknown_metric'])
def test_per_condition_rejects_bad_arguments(kwargs, match):
    ds = datasets.from_arrays(np.zeros((4, 1, 1)), [0, 1, 0, 1], conditions={'coherence': np.zeros(4)})
    with pytest.raises(ValueError, match=match):
        analysis.per_condition(outputs_choosing([0, 1, 0, 1]), ds, **kwargs)
    with pytest.raises(ValueError, match='prediction has 3 trials but dataset has 4'):
        analysis.per_condition(outputs_choosing([0, 1, 0]), ds)


# -- psychometric ---------------------------------------------------------------------------

def test_psychometric_recovers_a_known_observer():
    rng = np.random.default_rng(0)
    coherence = rng.choice([0.0, 3.2, 6.4, 12.8, 25.6, 51.2], size=6000)
    side = rng.integers(0, 2, 6000)
    signed = np.where(side == 1, 1, -1) * coherence
    truth = dict(slope=0.15, bias=2.0, lapse=0.05)
    choices = np.where(rng.random(6000) < analysis.logistic(signed, **truth), 2, 1)
    ds = datasets.from_arrays(np.zeros((6000, 2, 1)), np.stack([np.zeros(6000), side + 1], 1),
                              mask=np.tile([0, 1], (6000, 1)),
                              conditions={'coherence': coherence, 'ground_truth': side})
    curve = analysis.psychometric(outputs_choosing(choices, 3), ds)
    assert curve.choice == 2  # the label trials with positive evidence ask for
    np.testing.assert_array_equal(curve.evidence, np.unique(signed))
    assert curve.n.sum() == 6000
    level = signed == 12.8
    assert curve.fraction[list(curve.evidence).index(12.8)] == np.mean(choices[level] == 2)
    np.testing.assert_allclose([curve.slope, curve.bias, curve.lapse], [0.15, 2.0, 0.05], rtol=0.25, atol=0.02)
    assert len(curve.plot().axes) == 1


def test_psychometric_takes_signed_evidence_and_an_explicit_choice():
    ds = datasets.from_arrays(np.zeros((4, 1, 1)), [0, 0, 1, 1], conditions={'x': [-2.0, -1.0, 1.0, 2.0]})
    curve = analysis.psychometric(outputs_choosing([1, 0, 1, 0]), ds, evidence='x', sign=None, choice=0)
    np.testing.assert_array_equal(curve.fraction, [0, 1, 0, 1])
    assert curve.choice == 0 and curve.name == 'x'
    with pytest.raises(ValueError, match='sign must take exactly two values'):
        analysis.psychometric(outputs_choosing([1, 0, 1, 0]), ds, evidence='x', sign='x')
    with pytest.raises(ValueError, match=r'evidence must be a condition name or an array of '
                                         r'shape \(n_trials,\) = \(4,\), got shape \(3,\)'):
        analysis.psychometric(outputs_choosing([1, 0, 1, 0]), ds, evidence=np.ones(3), sign=None)
    with pytest.raises(ValueError, match='psychometric needs choices'):
        analysis.psychometric(Prediction(np.zeros((4, 1))), ds, evidence='x', sign=None)


# -- fixed points ---------------------------------------------------------------------------

class Bistable(brainstate.nn.Dynamics):
    """``dh/dt = (h - h^3 + I) / tau``: stable points near -1 and +1, unstable near 0."""

    def init_state(self, batch_size=None):
        self.h = brainstate.HiddenState(jnp.zeros((batch_size, 1)))

    def update(self, x):
        h = self.h.value
        self.h.value = h + (h - h ** 3 + x) * brainstate.environ.get_dt() / 10.0
        return self.h.value


def test_gain_population_fixed_point_matches_the_closed_form():
    g, drive, dt, tau = 1.5, np.array([0.3, -0.2, 1.0]), 0.5, 10.0
    starts = np.random.default_rng(0).normal(size=(32, 3)) * 2
    fps = analysis.fixed_points(GainPopulation(3, g=g), drive, starts, dt=dt)
    assert fps.locations.shape == (32, 3) and fps.q.shape == (32,)
    assert len(fps.unique) == 1 and fps.unique_q[0] <= fps.tol  # every start ends at r* = g tanh(I)
    np.testing.assert_allclose(fps.unique[0], g * np.tanh(drive), atol=1e-4)
    np.testing.assert_allclose(fps.jacobians[0], (1 - dt / tau) * np.eye(3), atol=1e-5)
    np.testing.assert_allclose(fps.eigenvalues[0], [1 - dt / tau] * 3, atol=1e-5)
    assert fps.labels == ['stable']
    np.testing.assert_allclose(fps.as_states()['r'], fps.unique.reshape(1, 3))


def test_bistable_system_has_two_stable_points_and_a_saddle():
    starts = {'h': np.linspace(-2, 2, 21)[:, None]}
    with brainstate.environ.context(dt=1.0):  # dt from the environment
        fps = analysis.fixed_points(Bistable(1), 0.0, starts)
    order = np.argsort(fps.unique[:, 0])
    np.testing.assert_allclose(fps.unique[order, 0], [-1, 0, 1], atol=1e-4)
    assert [fps.labels[i] for i in order] == ['stable', 'unstable', 'stable']
    # F'(h) = 1 + dt (1 - 3 h^2) / tau: 0.8 at +-1, 1.1 at 0.
    np.testing.assert_allclose(fps.eigenvalues[order, 0].real, [0.8, 1.1, 0.8], atol=1e-4)
    assert fps.outputs.shape == (3, 1)


def test_fixed_points_rejects_bad_starts():
    lstm = RateRNN(2, 4, 2, cell='lstm')
    with pytest.raises(ValueError, match=r"several hidden states \['cell.c', 'cell.h'\]"):
        analysis.fixed_points(lstm, 0.0, np.zeros((3, 4)), dt=1.0)
    with pytest.raises(ValueError, match=r"missing \['cell.c'\], unknown \[\]"):
        analysis.fixed_points(lstm, 0.0, {'cell.h': np.zeros((3, 4))}, dt=1.0)
    with pytest.raises(ValueError, match=r"initial_states\['cell.h'\] must have shape \(n, 4\)"):
        analysis.fixed_points(RateRNN(2, 4, 2), 0.0, np.zeros((3, 5)), dt=1.0)
    with pytest.raises(ValueError, match='dt is not set'):
        analysis.fixed_points(RateRNN(2, 4, 2), 0.0, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r'inputs must be a scalar or one value per feature '
                                         r'\(2, model.n_input\), got shape \(3,\)'):
        analysis.fixed_points(RateRNN(2, 4, 2), np.zeros(3), np.zeros((3, 4)), dt=1.0)
    with pytest.raises(ValueError, match='n_iter must be a positive int'):
        analysis.fixed_points(RateRNN(2, 4, 2), 0.0, np.zeros((3, 4)), dt=1.0, n_iter=0)


def test_sample_states_draws_recorded_points():
    ds = datasets.from_arrays(np.random.default_rng(0).normal(size=(3, 5, 2)), [0, 1, 0])
    prediction = analysis.predict(RateRNN(2, 6, 2), ds, record=True)
    scored = np.zeros((3, 5))
    scored[1, 4] = 1
    starts = analysis.sample_states(prediction, 4, scored_only=scored)
    np.testing.assert_array_equal(starts['cell.h'], np.repeat(prediction.states['cell.h'][1:2, 4], 4, 0))
    with pytest.raises(ValueError, match='no recorded states'):
        analysis.sample_states(analysis.predict(RateRNN(2, 6, 2), ds), 4)


# -- trajectories ---------------------------------------------------------------------------

def test_plot_trajectories_draws_every_trial_in_two_principal_components():
    ds = datasets.from_arrays(np.random.default_rng(0).normal(size=(12, 6, 2)), np.arange(12) % 2,
                              conditions={'side': np.arange(12) % 2, 'level': np.arange(12.0)})
    prediction = analysis.predict(RateRNN(2, 5, 2), ds, record=True)
    fig = analysis.plot_trajectories(prediction, ds, color_by='side')
    ax = fig.axes[0]
    assert len(ax.lines) == 12
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ['0', '1']
    states = prediction.states['cell.h'].reshape(-1, 5)
    mean, axes, _ = analysis.pca(states)
    np.testing.assert_allclose(ax.lines[3].get_xydata(), (prediction.states['cell.h'][3] - mean) @ axes.T,
                               rtol=1e-5, atol=1e-6)
    many = analysis.plot_trajectories(prediction, ds, color_by='level', n_trials=4)
    assert len(many.axes) == 2 and len(many.axes[0].lines) == 4  # 12 levels: a colour bar


# -- a trained two-choice network (the example) ---------------------------------------------

@pytest.fixture(scope='module')
def example(tmp_path_factory):
    spec = importlib.util.spec_from_file_location('analyze_decision_network', EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp('analysis_example')
    results = module.main(str(out), n_epochs=5, n_trials=512, n_hidden=32)
    return out, results


def test_example_saves_its_figures(example):
    out, _ = example
    for name in ('decision_psychometric.png', 'decision_trajectories.png',
                 'decision_accuracy_by_coherence.png'):
        assert (out / name).stat().st_size > 10000


def test_trained_network_is_more_accurate_at_higher_coherence(example):
    _, results = example
    table = results['table']
    assert [row['coherence'] for row in table] == sorted(row['coherence'] for row in table)
    accuracy = [row['accuracy'] for row in table]
    assert all(b >= a - 0.02 for a, b in zip(accuracy, accuracy[1:]))
    assert accuracy[0] < 0.7 and accuracy[-1] > 0.95  # chance at zero coherence, right when it is clear


def test_trained_network_psychometric_curve_is_monotone(example):
    _, results = example
    curve = results['curve']
    assert np.all(np.diff(curve.fraction) >= -0.05)
    assert curve.fraction[0] < 0.05 and curve.fraction[-1] > 0.95 and curve.slope > 0


def test_trained_network_has_one_stable_point_per_choice(example):
    _, results = example
    fps = results['fixed_points']
    assert fps.stable.sum() >= 2 and np.all(fps.unique_q <= fps.tol)
    favoured = set((fps.outputs[fps.stable, 1:].argmax(-1) + 1).tolist())
    assert favoured == {1, 2}
    # Found again from themselves: q at each point is below tol in the trained model's own step.
    again = analysis.fixed_points(results['model'], results['fixed_point_input'], fps.as_states(),
                                  dt=results['test'].dt)
    assert again.n_iter == 0 and np.all(again.q <= fps.tol)


def test_a_nan_start_is_skipped_and_the_rest_are_searched():
    from trainer.models import GainPopulation
    good = np.array([[0.0], [3.0]])
    clean = analysis.fixed_points(GainPopulation(1, g=2.0), 0.5, good, dt=1.0)
    with pytest.warns(UserWarning, match='1 of 3 starts hold NaN'):
        fps = analysis.fixed_points(GainPopulation(1, g=2.0), 0.5, np.insert(good, 1, np.nan, axis=0), dt=1.0)
    assert fps.n_iter > 0 and fps.labels == clean.labels == ['stable']
    np.testing.assert_allclose(fps.unique, clean.unique, atol=1e-5)
    assert np.isnan(fps.q[1]) and np.isnan(fps.locations[1]).all() and len(fps.q) == 3
