"""SpikingRNN against its equations; unit-carrying states through fit, resume, predict and ensembles;
noise that follows training vs evaluation."""

import braintools
import brainstate
import brainunit as u
import datasets
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainer import Ensemble, Trainer, objectives
from trainer.core.state import batch_template
from trainer.models import LeakyRNN, SpikingRNN


def _data(n=16, t=5, f=3, seed=0):
    rng = np.random.default_rng(seed)
    x = np.abs(rng.standard_normal((n, t, f))).astype(np.float32)
    return datasets.from_arrays(x, rng.integers(0, 2, n))


def _trainer(net, **kwargs):
    return Trainer(net, braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(),
                   progress=False, **kwargs)


def test_one_step_is_the_equations():
    net = SpikingRNN(3, 6, 2, input_scale=5.0, seed=2)
    brainstate.nn.init_all_states(net, batch_size=2)
    rng = np.random.default_rng(0)
    v0 = (-65.0 + 20.0 * rng.random((2, 6))).astype(np.float32)
    i0 = rng.random((2, 6)).astype(np.float32)
    s0 = (rng.random((2, 6)) < 0.5).astype(np.float32)
    y0 = rng.random((2, 2)).astype(np.float32)
    net.V.value, net.I.value, net.spike.value, net.y.value = v0 * u.mV, jnp.asarray(i0), jnp.asarray(s0), jnp.asarray(y0)
    inp = rng.random((2, 3)).astype(np.float32)
    w_in, w_rec, w_out = (np.asarray(p.value()) for p in (net.w_in, net.w_rec, net.w_out))
    with brainstate.environ.context(dt=1. * u.ms):
        out = np.asarray(net(jnp.asarray(inp)))
    d_mem, d_syn, d_out = np.exp(-1 / 20), np.exp(-1 / 10), np.exp(-1 / 100)
    current = d_syn * i0 + s0 @ w_rec + inp @ w_in
    v = -65 + d_mem * (v0 + 65) + (1 - d_mem) * 15 * current
    spike = (v >= -50).astype(np.float32)
    v = v - spike * 15
    y = d_out * y0 + spike @ w_out
    assert 0 < spike.sum() < spike.size  # the case exercises both branches
    np.testing.assert_allclose(np.asarray(net.I.value), current, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(net.V.value.to_decimal(u.mV)), v, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(net.spike.value), spike)
    np.testing.assert_allclose(out, y, rtol=1e-5, atol=1e-5)


def test_the_surrogate_carries_a_gradient():
    net = SpikingRNN(3, 6, 2)
    brainstate.nn.init_all_states(net, batch_size=2)
    weights = net.states(brainstate.ParamState)

    def loss():
        with brainstate.environ.context(dt=1. * u.ms):
            return jnp.sum(net(jnp.ones((2, 3))))  # linear in the spikes: d loss / d spike = sum(w_out)

    grads = brainstate.transform.grad(loss, weights)()
    g = np.asarray(grads[('w_in', 'val')])
    assert np.all(np.isfinite(g)) and np.any(g != 0.0)


def test_a_state_in_mv_fits_and_resumes_exactly(tmp_path):
    data = _data()
    path = str(tmp_path / 'run.msgpack')
    straight = _trainer(SpikingRNN(3, 6, 2)).fit(data, n_epochs=2, batch_size=8, restore_best=False)
    first = _trainer(SpikingRNN(3, 6, 2))
    first.fit(data, n_epochs=1, batch_size=8, checkpoint=path)
    resumed = _trainer(SpikingRNN(3, 6, 2)).fit(data, n_epochs=2, batch_size=8, resume_from=path,
                                                 restore_best=False)
    assert [r['loss'] for r in resumed.history] == pytest.approx([r['loss'] for r in straight.history])
    for key, value in straight.best_params.items():
        np.testing.assert_allclose(np.asarray(resumed.best_params[key]), np.asarray(value), rtol=1e-6)


def test_predict_records_membrane_potentials_and_an_ensemble_trains():
    data = _data()
    net = SpikingRNN(3, 6, 2)
    p = _trainer(net).predict(data, record=['V', 'spike'])
    assert p.states['V'].shape == (16, 5, 6) and p.states['V'].dtype == np.float32
    assert np.all(p.states['V'] < -40.0) and np.all(p.states['V'] > -90.0)  # millivolts, unit stripped
    ensemble = Ensemble([SpikingRNN(3, 6, 2, seed=s) for s in range(2)], braintools.optim.Adam(lr=1e-2),
                        objective=objectives.cross_entropy(), progress=False)
    result = ensemble.fit(data, n_epochs=1, batch_size=8)
    assert len(result.members) == 2 and np.isfinite(result.members[1].history[-1]['loss'])


def test_an_unbatched_state_with_a_unit_is_broadcast_to_the_batch():
    class Cell(brainstate.nn.Module):
        def init_state(self, batch_size=None, **kwargs):
            self.v = brainstate.HiddenState(jnp.zeros(3) * u.mV)  # ignores batch_size

    template = batch_template(Cell(), 4)
    (value,) = template.values()
    assert value.shape == (4, 3) and str(u.get_unit(value)) == 'mV'


@pytest.mark.parametrize('make', [lambda: LeakyRNN(3, 6, 2, sigma_rec=0.5, sigma_in=0.2),
                                  lambda: SpikingRNN(3, 6, 2, sigma_rec=0.5)], ids=['leaky', 'spiking'])
def test_noise_is_on_in_training_and_off_when_evaluating(make):
    data = _data()
    trainer = _trainer(make())
    before = np.asarray(jax.random.key_data(brainstate.random.DEFAULT.value))
    first, second = trainer.evaluate(data), trainer.evaluate(data)
    assert first == second
    assert np.array_equal(np.asarray(jax.random.key_data(brainstate.random.DEFAULT.value)), before)
    trainer.fit(data, n_epochs=1, batch_size=8)  # training steps draw noise: the stream moves on
    assert not np.array_equal(np.asarray(jax.random.key_data(brainstate.random.DEFAULT.value)), before)


def test_predict_noise_advances_the_stream_a_seed_repeats_and_sigma_changes_apply():
    data = _data()
    net = LeakyRNN(3, 6, 2, sigma_rec=0.5, sigma_in=0.0)
    trainer = _trainer(net)
    quiet = trainer.predict(data).outputs
    assert np.array_equal(quiet, trainer.predict(data).outputs)
    a, b = trainer.predict(data, noise=True).outputs, trainer.predict(data, noise=True).outputs
    assert not np.array_equal(a, b) and not np.array_equal(a, quiet)
    seeded = trainer.predict(data, noise=True, seed=3).outputs
    np.testing.assert_array_equal(seeded, trainer.predict(data, noise=True, seed=3).outputs)
    net.sigma_rec = 0.0  # after a compile: the next program is compiled for the new value
    np.testing.assert_allclose(trainer.predict(data, noise=True, seed=3).outputs, quiet, rtol=1e-6)


def test_rates_in_hz_and_bad_constants():
    assert SpikingRNN.rates_hz(np.ones(4), 10. * u.ms) == pytest.approx(100.0)
    with pytest.raises(ValueError, match='tau_mem must be a quantity in ms'):
        SpikingRNN(2, 3, 1, tau_mem=20.0)
    with pytest.raises(ValueError, match='v_th must lie above v_rest'):
        SpikingRNN(2, 3, 1, v_th=-70. * u.mV)
