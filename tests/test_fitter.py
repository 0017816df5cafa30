import brainstate
import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from float32 import assert_close_f32

from trainer import FitResult, Fitter, NonFiniteLossError, Simulator, objectives
from trainer.models import GainPopulation


def predict(m):
    return Simulator(m, dt=0.1 * u.ms).run(6. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])['r']


class VoltageOffset(brainstate.nn.Module):
    """A model whose trainable parameter carries a unit (mV)."""

    def __init__(self):
        super().__init__()
        self.v = brainstate.nn.Param(-60. * u.mV, fit=True)
        self.w = brainstate.nn.Param(jnp.ones(2), fit=True)

    def loss(self, target):
        return u.get_magnitude(((self.v.value() - target) / u.mV) ** 2) + jnp.sum(self.w.value() ** 2), None


def test_unit_param_snapshot_and_restore():
    model = VoltageOffset()
    result = Fitter(model, braintools.optim.Adam(lr=1.0),
                    loss_fn=lambda m: m.loss(-50. * u.mV)).fit(n_steps=20)
    assert isinstance(result.best_params['v'], u.Quantity)
    assert result.best_params['v'].unit == u.mV
    assert u.get_magnitude(result.best_params['v'] / u.mV) > -60.
    # The model holds exactly the best parameters, units included.
    assert u.math.allclose(model.v.value(), result.best_params['v'])
    assert result.best_loss == min(result.history)


def test_model_ends_at_best_not_last():
    # Large steps overshoot; the best point is not the last one.
    model = GainPopulation(1, g=0.5)
    target = float(jnp.mean(predict(GainPopulation(1, g=2.0))[-5:]))
    result = Fitter(model, braintools.optim.SGD(lr=30.0), objective=objectives.steady_state(n_tail=5),
                    predict=predict).fit(target=target, n_steps=15)
    best_step = int(np.argmin(result.history))
    assert best_step < len(result.history) - 1
    loss_now = float(objectives.steady_state(n_tail=5)(predict(model), target))
    # Another program than the Fitter's step; the loss is (amp - target) ** 2, so its float32 error
    # is 2 |amp - target| that of amp (~1e-6 |target|), however small the loss.
    assert_close_f32(loss_now, result.best_loss, scale=2 * np.sqrt(result.best_loss) * abs(target))


def test_nested_dotted_names():
    class Net(brainstate.nn.Module):
        def __init__(self):
            super().__init__()
            self.node = GainPopulation(1, g=0.5)

    net = Net()
    result = Fitter(net, braintools.optim.Adam(lr=0.1),
                    loss_fn=lambda m: ((m.node.g.value() - 1.0) ** 2, None)).fit(n_steps=3)
    assert list(result.best_params) == ['node.g']


def test_nan_loss_stops_and_keeps_best():
    model = GainPopulation(1, g=0.5)
    calls = []

    def loss_fn(m):
        g = m.g.value()
        return jnp.where(g > 0.75, jnp.nan, (g - 3.0) ** 2), None

    with pytest.raises(NonFiniteLossError, match=r'at step \d+'):
        Fitter(model, braintools.optim.SGD(lr=0.05), loss_fn=loss_fn,
               callbacks=[lambda info: calls.append(info['loss'])]).fit(n_steps=50)
    assert 0.5 < float(model.g.value()) <= 0.75
    assert len(calls) >= 2  # some steps were fine before the NaN


def test_nan_at_the_first_step_keeps_the_initial_parameters():
    model = GainPopulation(1, g=1.0)
    optimizer = braintools.optim.Adam(lr=0.1)
    with pytest.raises(NonFiniteLossError, match='at step 0'):
        Fitter(model, optimizer, loss_fn=lambda m: (jnp.log(m.g.value() - 1.0), None)).fit(n_steps=3)
    assert float(model.g.value()) == 1.0
    # The optimizer never took the failed step either.
    assert int(optimizer.step_count.value) == 0
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(optimizer.opt_state.value))


def test_loss_fn_with_objective_is_refused():
    with pytest.raises(ValueError, match='objective and transient would be ignored'):
        Fitter(GainPopulation(1), braintools.optim.Adam(lr=0.1), loss_fn=lambda m: (0.0, None),
               objective=objectives.mse())


def test_callback_stops_early():
    result = Fitter(GainPopulation(1), braintools.optim.Adam(lr=0.1),
                    loss_fn=lambda m: ((m.g.value() - 2.0) ** 2, None),
                    callbacks=[lambda info: info['step'] == 4]).fit(n_steps=50)
    assert result.n_steps == 5 and len(result.history) == 5


def test_callbacks_see_the_model_and_optimizer_after_every_step():
    # The loss of step i + 1 is measured at the parameters a callback saw after step i.
    model, optimizer, seen = GainPopulation(1, g=0.5), braintools.optim.Adam(lr=0.1), []

    def record(info):
        seen.append((float(info['model'].g.value()), int(optimizer.step_count.value)))

    result = Fitter(model, optimizer, loss_fn=lambda m: ((m.g.value() - 2.0) ** 2, None),
                    callbacks=[record]).fit(n_steps=6)
    assert [count for _, count in seen] == [1, 2, 3, 4, 5, 6]
    assert len({g for g, _ in seen}) == 6  # a new value after every step
    for (g, _), loss in zip(seen, result.history[1:]):
        assert_close_f32(loss, (g - 2.0) ** 2)  # the step's float32 loss vs float64 Python


def test_scipy_backend_recovers_gain():
    model = GainPopulation(1, g=0.5)
    target = float(jnp.mean(predict(GainPopulation(1, g=2.0))[-5:]))
    result = Fitter(model, None, objective=objectives.steady_state(n_tail=5), predict=predict,
                    backend='scipy', bounds={'g': (0.1, 4.0)}).fit(target=target, n_steps=2)
    assert result.raw.x.keys() == {'g'}
    assert result.backend == 'scipy'
    assert float(result.best_params['g']) == pytest.approx(2.0, abs=1e-2)


@pytest.mark.parametrize('kwargs, match', [
    (dict(), r'provide either loss_fn=callable\(model\)->\(loss, aux\) or predict'),
    (dict(predict=predict, loss_fn=lambda m: (0.0, None)), 'pass loss_fn or predict, not both'),
    (dict(predict=predict, backend='nevergrad'),
     r"backend must be one of \('grad', 'scipy', 'evosax'\), got 'nevergrad'. nevergrad is not supported"),
    (dict(predict=predict, bounds={'g': (0, 1)}), r"use them with backend='scipy'"),
    (dict(predict=predict, backend='scipy', bounds={'g': (0, 1)}, search_space={'g': (0, 1)}),
     'bounds and search_space are one argument'),
    (dict(predict=predict, objective=objectives.fc_corr()),
     r'the objective fc_corr returns a score to maximise.*objectives.fc_corr\(as_loss=True\)'),
    (dict(predict=predict, objective=objectives.combine((1.0, objectives.mse()), (1.0, objectives.cosine_sim()))),
     r'the objective combine returns a score.*negative weight'),
], ids=['neither', 'both', 'nevergrad', 'grad-with-bounds', 'bounds-and-search_space', 'score', 'combined-score'])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Fitter(GainPopulation(1), braintools.optim.Adam(lr=0.1), **kwargs)


def test_optimizer_must_be_braintools():
    with pytest.raises(TypeError, match='braintools.optim optimizer'):
        Fitter(GainPopulation(1), 'adam', predict=predict)


@pytest.mark.parametrize('n_steps', [0, -1, 2.5], ids=['zero', 'negative', 'float'])
def test_bad_n_steps(n_steps):
    with pytest.raises(ValueError, match=r'n_steps must be >= 1 \(an int\), got'):
        Fitter(GainPopulation(1), braintools.optim.Adam(lr=0.1), predict=predict).fit(1.0, n_steps=n_steps)


def test_no_trainable_parameters():
    class Frozen(GainPopulation):
        def __init__(self):
            super().__init__(1)
            self.g = brainstate.nn.Param(1.0, fit=False)

    with pytest.raises(ValueError, match='no trainable parameters'):
        Fitter(Frozen(), braintools.optim.Adam(lr=0.1), predict=predict).fit(1.0, n_steps=1)


def test_non_scalar_objective():
    with pytest.raises(ValueError, match='must return a scalar'):
        Fitter(GainPopulation(1), braintools.optim.Adam(lr=0.1), predict=predict,
               objective=lambda p, t: p - t).fit(1.0, n_steps=1)


def test_fit_result_repr_and_brainmass_construction():
    r = FitResult('grad', 1.66887e-05, {'g': 2.0, 'node.k': 1.0}, [1.0], 60, None, None)
    assert repr(r) == "FitResult(backend='grad', best_loss=1.66887e-05, n_steps=60, params=[g, node.k])"
    r = FitResult(backend='scipy', best_loss=0.125, best_params={'k': 2.0}, history=[0.125], n_steps=3)
    assert (r.prediction, r.model, r.optimizer, r.raw) == (None, None, None, None)
    assert repr(r) == "FitResult(backend='scipy', best_loss=0.125, n_steps=3, params=[k])"


# brainmass's defaults and options.

class BoundedGain(GainPopulation):
    """GainPopulation whose gain lives in (0.1, 4.0) through a sigmoid transform."""

    def __init__(self, g=1.0):
        super().__init__(1)
        self.g = brainstate.nn.Param(g, t=brainstate.nn.SigmoidT(0.1, 4.0), fit=True)


def test_defaults_are_adam_and_timeseries_rmse_and_verbose_prints(capsys):
    target = predict(GainPopulation(1, g=2.0))
    fitter = Fitter(GainPopulation(1, g=0.5), predict=predict)
    assert isinstance(fitter.optimizer, braintools.optim.Adam)
    assert float(fitter.optimizer.current_lr) == pytest.approx(1e-2)
    result = fitter.fit(target, n_steps=3, verbose=True)
    rmse = float(jnp.sqrt(jnp.mean((predict(GainPopulation(1, g=0.5)) - target) ** 2)))
    assert_close_f32(result.history[0], rmse)  # the Fitter's program vs an eager float32 rmse, before any step
    assert result.history[1] < result.history[0]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith('[grad] step 0: loss=')


def test_grad_defaults_reproduce_brainmass_fitter():
    brainmass = pytest.importorskip('brainmass')
    target = predict(GainPopulation(1, g=2.0))
    ours = Fitter(GainPopulation(1, g=0.5), predict=predict).fit(target, n_steps=5)
    theirs = brainmass.Fitter(GainPopulation(1, g=0.5), predict=predict).fit(target, n_steps=5)
    assert_close_f32(ours.history, theirs.history, steps=5)  # brainmass's program vs ours, 5 Adam steps


def test_scipy_searches_the_transform_box_with_a_method_name(capsys):
    target = float(jnp.mean(predict(GainPopulation(1, g=2.0))[-5:]))
    fitter = Fitter(BoundedGain(0.5), 'Nelder-Mead', objective=objectives.steady_state(n_tail=5),
                    predict=predict, backend='scipy')
    np.random.seed(0)  # ScipyOptimizer draws its starting points from numpy's global stream
    result = fitter.fit(target=target, n_steps=1, verbose=True)
    assert float(result.best_params['g']) == pytest.approx(2.0, abs=1e-2)
    assert result.raw.x.keys() == {'g'} and result.optimizer is fitter.optimizer
    assert isinstance(result.optimizer, braintools.optim.ScipyOptimizer) and result.optimizer.method == 'Nelder-Mead'
    assert capsys.readouterr().out.startswith('[scipy] best loss=')
    # An optimum outside the box stops at its edge.
    too_high = float(jnp.mean(predict(GainPopulation(1, g=6.0))[-5:]))
    result = Fitter(BoundedGain(0.5), {'method': 'L-BFGS-B'}, objective=objectives.steady_state(n_tail=5),
                    predict=predict, backend='scipy', search_space={'g': (0.2, 3.0)}).fit(too_high, n_steps=1)
    assert float(result.best_params['g']) == pytest.approx(3.0, abs=1e-3)


@pytest.mark.parametrize('model, kwargs, error, match', [
    (GainPopulation(1), dict(), ValueError, r"cannot derive search bounds for trainable parameter 'g'.*IdentityT"),
    (GainPopulation(1), dict(bounds={'gain': (0, 1)}), ValueError, r"bounds names unknown parameter\(s\) \['gain'\]"),
    (VoltageOffset(), dict(bounds={'v': (-70, -50), 'w': (0, 1)}), ValueError,
     r"dimensionless parameters only; \['v'\]"),
    (GainPopulation(1), dict(bounds={'g': (0, 1, 2)}), ValueError, r"bounds\['g'\] must be a \(low, high\) pair"),
], ids=['no-box', 'unknown-name', 'units', 'bad-pair'])
def test_scipy_bounds_errors(model, kwargs, error, match):
    fitter = Fitter(model, None, loss_fn=lambda m: (0.0, None), backend='scipy', **kwargs)
    with pytest.raises(error, match=match):
        fitter.fit(n_steps=1)


@pytest.mark.parametrize('optimizer, error, match', [
    (123, TypeError, r"optimizer must be a SciPy method name \(str\).*got int"),
    ({'method': 'Powell', 'n_sample': 8}, ValueError, r"optimizer options \['n_sample'\] are not ScipyOptimizer's"),
], ids=['int', 'nevergrad-option'])
def test_scipy_optimizer_argument(optimizer, error, match):
    with pytest.raises(error, match=match):
        Fitter(GainPopulation(1), optimizer, predict=predict, backend='scipy')
