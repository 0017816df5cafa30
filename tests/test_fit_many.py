"""Many targets and many starts in one vmapped program (``Fitter.fit_many``, ``fit(n_starts=K)``)."""

import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainer import FitResult, Fitter, ManyFitResult, objectives
from trainer.models import GainPopulation
from trainer import Simulator
import brainunit as u


def predict(m):
    return Simulator(m, dt=0.1 * u.ms).run(20. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])['r']


def targets_at(gains):
    return np.stack([np.asarray(predict(GainPopulation(1, g=g))) for g in gains])


def gain_fitter(traces=None):
    def counted(m):
        if traces is not None:
            traces.append(1)
        return predict(m)

    return Fitter(GainPopulation(1, g=0.5), braintools.optim.Adam(lr=0.05),
                  objective=objectives.timeseries_rmse(), predict=counted)


def test_each_target_matches_its_own_solo_fit():
    gains = [1.0, 2.0, 3.0]
    targets = targets_at(gains)
    many = gain_fitter().fit_many(targets, n_steps=40)
    assert isinstance(many, ManyFitResult) and many.best_loss.shape == (3, 1)
    for k, target in enumerate(targets):
        solo = gain_fitter().fit(target, n_steps=40)
        member = many.per_target[k]
        assert isinstance(member, FitResult)
        np.testing.assert_allclose(member.history, solo.history, rtol=1e-4)
        np.testing.assert_allclose(member.best_params['g'], solo.best_params['g'], rtol=1e-4)
        assert member.best_loss == pytest.approx(solo.best_loss, rel=1e-4, abs=1e-7)
    assert np.all(np.diff(np.argsort([float(m.best_params['g']) for m in many.per_target])) > 0)


_COMPILED = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kw: _COMPILED.append(kw.get('fun_name', '?'))
    if event == '/jax/core/compile/backend_compile_duration' else None)


def test_one_compilation_serves_every_step_target_and_start():
    start = len(_COMPILED)
    fitter = Fitter(TwoWells(), braintools.optim.Adam(lr=0.05), loss_fn=two_wells)
    fitter.fit(n_steps=6, n_starts=3)
    assert sum('many_step' in name for name in _COMPILED[start:]) == 1


def test_one_trace_serves_any_number_of_targets():
    two, five = [], []
    gain_fitter(two).fit_many(targets_at([1.0, 2.0]), n_steps=3)
    gain_fitter(five).fit_many(targets_at([1.0, 1.5, 2.0, 2.5, 3.0]), n_steps=3)
    assert len(two) == len(five) <= 3  # traced a constant number of times, never once per target


class Cliff(brainstate.nn.Module):
    def __init__(self):
        super().__init__()
        self.x = brainstate.nn.Param(0.0, fit=True)


def cliff(prediction, target):
    # Defined for x < 1.5 only: a target beyond the cliff drives its fit into NaN.
    return (prediction - target) ** 2 + 0.1 * jnp.log(1.5 - prediction)


def test_a_diverging_target_freezes_alone():
    fitter = Fitter(Cliff(), braintools.optim.Adam(lr=0.1), objective=cliff, predict=lambda m: m.x.value())
    many = fitter.fit_many(np.array([0.5, 3.0]), n_steps=60)
    assert many.diverged_at[0, 0] == -1 and many.diverged_at[1, 0] > 0
    assert np.isnan(many.history[-1, 1, 0]) and np.isfinite(many.history[:, 0, 0]).all()
    assert float(many.best_params['x'][1, 0]) < 1.5
    solo = Fitter(Cliff(), braintools.optim.Adam(lr=0.1), objective=cliff,
                  predict=lambda m: m.x.value()).fit(0.5, n_steps=60)
    np.testing.assert_allclose(many.member(0).history, solo.history, rtol=1e-4)
    assert many.member(1).n_steps == many.diverged_at[1, 0] + 1


class TwoWells(brainstate.nn.Module):
    def __init__(self, x=-1.2):
        super().__init__()
        self.x = brainstate.nn.Param(x, t=brainstate.nn.SigmoidT(-3.0, 3.0), fit=True)


def two_wells(model):
    # A shallow well at x = -1 and the global minimum, twice as deep, at x = 2.
    x = model.x.value()
    return -(0.5 * jnp.exp(-(x + 1) ** 2 / 0.5) + jnp.exp(-(x - 2) ** 2 / 0.5)), None


def test_multi_start_finds_the_global_minimum_a_single_start_misses():
    single = Fitter(TwoWells(), braintools.optim.Adam(lr=0.05), loss_fn=two_wells).fit(n_steps=200)
    assert float(single.best_params['x']) == pytest.approx(-1.0, abs=0.05)
    model = TwoWells()
    best = Fitter(model, braintools.optim.Adam(lr=0.05), loss_fn=two_wells).fit(n_steps=200, n_starts=16, seed=0)
    assert float(best.best_params['x']) == pytest.approx(2.0, abs=0.05)
    assert best.best_loss == pytest.approx(-1.0, abs=1e-3)
    every = best.raw
    assert every.n_starts == 16 and len(every.starts) == 16
    assert every.best_loss[0, 0] == pytest.approx(single.best_loss, rel=1e-4)  # start 0: the model's own point
    assert float(model.x.value()) == pytest.approx(2.0, abs=0.05)


def test_evosax_backend_fits_many_targets_in_one_program():
    pytest.importorskip('evosax')
    fitter = Fitter(TwoWells(0.0), {'population_size': 16}, objective=lambda p, t: (p - t) ** 2,
                    predict=lambda m: m.x.value(), backend='evosax')
    many = fitter.fit_many(np.array([-2.0, 0.5, 2.5]), n_steps=30)
    np.testing.assert_allclose(many.best_params['x'][:, 0], [-2.0, 0.5, 2.5], atol=1e-2)
    assert many.history.shape == (30, 3, 1)


@pytest.mark.parametrize('call, match', [
    (lambda f: f.fit_many(np.array([1.0]), n_starts=0), r'n_starts must be an int >= 1'),
    (lambda f: f.fit_many([]), 'targets is empty'),
    (lambda f: f.fit_many(1.0), 'must have a leading target axis'),
], ids=['zero-starts', 'empty', 'scalar'])
def test_bad_arguments_are_named(call, match):
    fitter = Fitter(Cliff(), objective=cliff, predict=lambda m: m.x.value())
    with pytest.raises(ValueError, match=match):
        call(fitter)


def test_scipy_backend_refuses_fit_many():
    fitter = Fitter(TwoWells(), loss_fn=two_wells, backend='scipy')
    with pytest.raises(ValueError, match="fit_many runs backend='grad' or backend='evosax'"):
        fitter.fit_many(None)


class Scaled(brainstate.nn.Module):
    """x times a per-subject constant held in a non-trainable state."""

    def __init__(self):
        super().__init__()
        self.x = brainstate.nn.Param(0.5, t=brainstate.nn.SigmoidT(-4.0, 4.0), fit=True)
        self.scale = brainstate.State(jnp.ones(2))


@pytest.mark.parametrize('backend, optimizer', [('grad', braintools.optim.Adam(lr=0.05)),
                                                ('evosax', {'population_size': 16})], ids=['grad', 'evosax'])
def test_per_target_states_give_each_fit_its_own_constants(backend, optimizer):
    if backend == 'evosax':
        pytest.importorskip('evosax')
    fitter = Fitter(Scaled(), optimizer, objective=lambda p, t: jnp.sum((p - t) ** 2),
                    predict=lambda m: m.x.value() * m.scale.value, backend=backend)
    scales = np.array([[1.0, 1.0], [2.0, 2.0]], np.float32)
    many = fitter.fit_many(np.array([[2.0, 2.0], [2.0, 2.0]]), n_steps=200, per_target={'scale': scales})
    # The same target, read through each subject's own scale: x = 2 / scale.
    np.testing.assert_allclose(many.best_params['x'][:, 0], [2.0, 1.0], atol=2e-2)
    with pytest.raises(ValueError, match=r"per_target\['scale'\] must have shape \(2, 2\)"):
        fitter.fit_many(np.zeros((2, 2)), n_steps=1, per_target={'scale': np.ones((3, 2))})
    with pytest.raises(ValueError, match="per_target names 'nope'"):
        fitter.fit_many(np.zeros((2, 2)), n_steps=1, per_target={'nope': scales})


def test_callbacks_are_refused_rather_than_ignored():
    fitter = Fitter(Cliff(), objective=cliff, predict=lambda m: m.x.value(), callbacks=[lambda info: None])
    with pytest.raises(ValueError, match='call none. Drop callbacks'):
        fitter.fit_many(np.array([0.5]), n_steps=2)
