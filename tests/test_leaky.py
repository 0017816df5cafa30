"""LeakyRNN against its equation; Dale signs, masks and fixed weights through training."""

import braintools
import brainstate
import brainunit as u
import datasets
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainer import Trainer, objectives
from trainer.models import LeakyRNN
from trainer.nets import connectivity


def _data(n=16, t=5, f=3, seed=0):
    rng = np.random.default_rng(seed)
    return datasets.from_arrays(rng.standard_normal((n, t, f)).astype(np.float32), rng.integers(0, 2, n))


@pytest.mark.parametrize('activation', ['relu', 'softplus', 'tanh'])
def test_one_step_is_the_equation(activation):
    net = LeakyRNN(3, 6, 2, activation=activation, dale=0.5, sigma_rec=0.3, seed=1)
    brainstate.nn.init_all_states(net, batch_size=2)
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((2, 6)).astype(np.float32)
    f = {'relu': lambda v: np.maximum(v, 0), 'softplus': lambda v: np.log1p(np.exp(v)), 'tanh': np.tanh}[activation]
    net.x.value, net.r.value = jnp.asarray(x0), jnp.asarray(f(x0))
    inp = rng.standard_normal((2, 3)).astype(np.float32)
    w_in, w_rec, w_out = (np.asarray(p.value()) for p in (net.w_in, net.w_rec, net.w_out))
    b, b_out = np.asarray(net.b.value()), np.asarray(net.b_out.value())
    with brainstate.environ.context(dt=20. * u.ms):  # evaluation mode: no noise
        y = np.asarray(net(jnp.asarray(inp)))
    a = 0.2
    x1 = (1 - a) * x0 + a * (f(x0) @ w_rec + inp @ w_in + b)
    np.testing.assert_allclose(np.asarray(net.x.value), x1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y, f(x1) @ w_out + b_out, rtol=1e-5, atol=1e-5)


def test_recurrent_noise_is_drawn_in_training_steps_only():
    net = LeakyRNN(2, 4, 1, sigma_rec=0.1)

    def step(fit):
        brainstate.nn.init_all_states(net, batch_size=3)
        with brainstate.environ.context(dt=10. * u.ms, fit=fit):
            net(jnp.zeros((3, 2)))
        return np.asarray(net.x.value)

    assert np.all(step(False) == 0.0)  # zero input, zero state, zero bias: x stays 0 without noise
    noisy = step(True)
    # sqrt(2 a) sigma xi with a = 0.1: standard deviation about 0.045.
    assert np.all(noisy != 0.0) and 0.005 < noisy.std() < 0.2


def test_dale_signs_masks_and_fixed_weights_hold_through_training():
    rng = np.random.default_rng(0)
    rec_mask = (rng.random((8, 8)) < 0.5).astype(np.float32)
    in_mask = np.ones((3, 8), np.float32)
    in_mask[:, :2] = 0  # the first two units get no input
    net = LeakyRNN(3, 8, 2, dale=0.75, rec_mask=rec_mask, input_mask=in_mask, fixed=('w_out',),
                   readout='excitatory', sigma_rec=0.0)
    w_out = np.asarray(net.w_out.value())
    signs = net.signs
    trainer = Trainer(net, braintools.optim.Adam(lr=5e-2), objective=objectives.cross_entropy(), progress=False)
    before = np.asarray(net.w_rec.value())
    trainer.fit(_data(), n_epochs=3, batch_size=8)
    w_rec, w_in = np.asarray(net.w_rec.value()), np.asarray(net.w_in.value())
    assert not np.allclose(w_rec, before)  # it trained
    assert np.all(w_rec[signs > 0] >= 0) and np.all(w_rec[signs < 0] <= 0)
    assert np.all(w_rec[rec_mask == 0] == 0.0) and np.all(w_in[in_mask == 0] == 0.0)
    np.testing.assert_array_equal(np.asarray(net.w_out.value()), w_out)  # fixed: untouched
    assert np.all(w_out[signs < 0] == 0.0)  # read out from excitatory units only
    assert ('w_out', 'val') not in net.states(brainstate.ParamState)


def test_gradients_of_masked_entries_are_exactly_zero():
    mask = np.ones((4, 4), np.float32)
    mask[0, 1] = mask[2, 3] = 0
    net = LeakyRNN(2, 4, 1, rec_mask=mask, sigma_rec=0.0, activation='tanh')
    brainstate.nn.init_all_states(net, batch_size=2)
    weights = net.states(brainstate.ParamState)

    def loss():
        with brainstate.environ.context(dt=20. * u.ms):
            y = net(jnp.ones((2, 2)))
            y = net(jnp.ones((2, 2))) + y
        return jnp.sum(y ** 2)

    grads = brainstate.transform.grad(loss, weights)()
    g = np.asarray(grads[('w_rec', 'val')])
    assert g[0, 1] == 0.0 and g[2, 3] == 0.0 and np.any(g != 0.0)


def test_initial_spectrum_is_scaled_and_reported():
    net = LeakyRNN(2, 50, 1, dale=0.8, radius=1.2)
    assert net.spectral_radius() == pytest.approx(1.2, rel=1e-4)
    lead = net.leading_eigenvalue()
    assert isinstance(lead, complex) and abs(lead) <= 1.2 + 1e-4
    w = np.asarray(net.w_rec.value())
    # Balanced: each unit's excitatory input equals its inhibitory input.
    np.testing.assert_allclose(w.sum(0), 0.0, atol=1e-4)
    plain = LeakyRNN(2, 50, 1, radius=0.9)
    assert plain.spectral_radius() == pytest.approx(0.9, rel=1e-4)


def test_a_network_built_outside_dt_runs_under_any_dt():
    net = LeakyRNN(2, 4, 1)  # no environ.context(dt=...) here
    brainstate.nn.init_all_states(net, batch_size=1)
    with brainstate.environ.context(dt=1. * u.ms):
        net(jnp.ones((1, 2)))
    with brainstate.environ.context(dt=50. * u.ms):
        assert net(jnp.ones((1, 2))).shape == (1, 1)


@pytest.mark.parametrize('kwargs, match', [
    (dict(activation='sigmoid'), 'activation must be one of'),
    (dict(tau=100.0), 'tau must be a time quantity'),
    (dict(sigma_rec=-0.1), 'sigma_rec must be a non-negative'),
    (dict(dale=1.5), 'dale must be an excitatory fraction'),
    (dict(readout='excitatory'), "readout='excitatory' needs Dale"),
    (dict(fixed=('w_x',)), 'fixed must be a sequence of names'),
    (dict(rec_mask=np.ones((3, 3))), r'rec_mask must have shape \(4, 4\)'),
], ids=['activation', 'tau', 'sigma', 'dale', 'readout', 'fixed', 'mask'])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LeakyRNN(2, 4, 1, **kwargs)


def test_leading_eigenvalue_helper():
    assert connectivity.leading_eigenvalue(np.array([[0.0, 1.0], [-1.0, 0.0]])).real == pytest.approx(0.0)
