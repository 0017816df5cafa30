import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainer import Simulator
from trainer.models import GainPopulation


def closed_form(g, n_steps, dt=0.1, tau=10.0):
    # r_{k+1} = r_k + dt/tau (-r_k + g tanh 1), r_0 = 0
    return g * np.tanh(1.0) * (1 - (1 - dt / tau) ** np.arange(1, n_steps + 1))


def test_run_shapes_and_values():
    res = Simulator(GainPopulation(1, g=2.0), dt=0.1 * u.ms).run(
        60. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])
    assert res['r'].shape == (600, 1)
    np.testing.assert_allclose(np.asarray(res['r'])[:, 0], closed_form(2.0, 600), rtol=1e-5)


def test_batched_and_array_inputs():
    sim = Simulator(GainPopulation(3, g=1.0), dt=0.1 * u.ms)
    res = sim.run(1. * u.ms, inputs=np.ones((10, 4, 3)), monitors=['r'], batch_size=4)
    assert res['r'].shape == (10, 4, 3)
    out = sim.run(1. * u.ms, inputs=np.ones((10, 3)))
    assert out['output'].shape == (10, 3)


def test_dt_from_environment():
    with brainstate.environ.context(dt=0.1 * u.ms):
        res = Simulator(GainPopulation(1)).run(1. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])
    assert res['r'].shape == (10, 1)


def test_jit_grad_vmap():
    def amp(g):
        res = Simulator(GainPopulation(1, g=g), dt=0.1 * u.ms).run(
            5. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])
        return jnp.mean(res['r'][-5:])

    grid = jnp.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(jax.vmap(amp)(grid), [np.mean(closed_form(g, 50)[-5:]) for g in grid], rtol=1e-5)
    assert float(jax.jit(amp)(2.0)) == pytest.approx(float(amp(2.0)), rel=1e-6)
    eps = 1e-2
    fd = (amp(1.0 + eps) - amp(1.0 - eps)) / (2 * eps)
    assert float(jax.grad(amp)(1.0)) == pytest.approx(float(fd), rel=1e-3)


@pytest.mark.parametrize('kwargs, match', [
    (dict(duration=0.05 * u.ms), 'whole number of dt steps'),
    (dict(duration=1. * u.ms, inputs=np.ones((7, 1))), 'inputs has 7 rows but the run has 10 steps'),
    (dict(duration=1. * u.ms, monitors=['v']), r"monitors names \['v'\]"),
], ids=['fractional-duration', 'short-inputs', 'unknown-monitor'])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Simulator(GainPopulation(1), dt=0.1 * u.ms).run(**kwargs)
