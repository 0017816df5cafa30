import brainstate
import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from float32 import assert_close_f32

from trainer import Simulator
from trainer.models import GainPopulation


def closed_form(g, n_steps, dt=0.1, tau=10.0):
    # r_{k+1} = r_k + dt/tau (-r_k + g tanh 1), r_0 = 0
    return g * np.tanh(1.0) * (1 - (1 - dt / tau) ** np.arange(1, n_steps + 1))


def test_run_shapes_and_values():
    res = Simulator(GainPopulation(1, g=2.0), dt=0.1 * u.ms).run(
        60. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])
    assert res['r'].shape == (600, 1)
    assert_close_f32(np.asarray(res['r'])[:, 0], closed_form(2.0, 600))  # 600 float32 steps vs float64 numpy


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
    assert_close_f32(jax.vmap(amp)(grid), [np.mean(closed_form(g, 50)[-5:]) for g in grid])  # vs float64
    assert_close_f32(float(jax.jit(amp)(2.0)), float(amp(2.0)))  # one XLA program vs op by op
    eps = 1e-2
    fd = (amp(1.0 + eps) - amp(1.0 - eps)) / (2 * eps)
    assert float(jax.grad(amp)(1.0)) == pytest.approx(float(fd), rel=1e-3)


def test_monitor_forms_time_axis_transient_and_sampling():
    sim = Simulator(GainPopulation(1, g=2.0), dt=0.1 * u.ms)
    expected = closed_form(2.0, 100)
    res = sim.run(10. * u.ms, inputs=lambda i, t: 1.0, transient=2. * u.ms, sample_every=4,
                  monitors={'rate': 'r', 'double': lambda m: 2 * m.r.value})
    assert sorted(res) == ['double', 'rate', 'ts']
    assert_close_f32(np.asarray(res['rate'])[:, 0], expected[20::4])  # float32 vs float64 numpy, 3 times
    assert_close_f32(np.asarray(res['double'])[:, 0], 2 * expected[20::4])
    assert_close_f32(u.get_magnitude(res['ts'] / u.ms), 0.1 * np.arange(21, 101, 4))
    assert res['ts'].unit == u.ms
    by_count = sim.run(10. * u.ms, inputs=lambda i, t: 1.0, transient=20, sample_every=4, monitors=['r'])
    # Another program (other monitors), the same float32 steps: one step off would be 4e-3 apart.
    assert_close_f32(by_count['r'], res['rate'])
    derived = sim.run(10. * u.ms, inputs=lambda i, t: 1.0, monitors=lambda m: m.r.value + 1.0, jit=False)
    assert sorted(derived) == ['output', 'ts']
    assert_close_f32(np.asarray(derived['output'])[:, 0], expected + 1.0)  # op by op, float32 vs float64


def test_dotted_monitor_reaches_into_a_network():
    class Net(brainstate.nn.Module):
        def __init__(self):
            super().__init__()
            self.node = GainPopulation(1, g=2.0)

        def update(self, x):
            return self.node.update(x)

    res = Simulator(Net(), dt=0.1 * u.ms).run(1. * u.ms, inputs=lambda i, t: 1.0, monitors=['node.r'])
    assert_close_f32(np.asarray(res['node.r'])[:, 0], closed_form(2.0, 10))  # float32 vs float64 numpy


def test_jit_false_gives_the_same_trajectory():
    sim = Simulator(GainPopulation(2, g=1.5), dt=0.1 * u.ms)
    kwargs = dict(inputs=np.linspace(0, 1, 30)[:, None] * np.ones((30, 2)), monitors=['r'])
    compiled, traced = (sim.run(3. * u.ms, jit=jit, **kwargs)['r'] for jit in (True, False))
    assert_close_f32(compiled, traced)  # one XLA program vs op by op: rounded apart on some CPUs


def test_brainmass_simulator_gives_the_same_result():
    brainmass = pytest.importorskip('brainmass')
    kwargs = dict(monitors={'x': 'x', 'sq': lambda m: m.x.value ** 2}, transient=1. * u.ms, sample_every=3)

    def model():
        return brainmass.HopfStep(2, a=-0.2, init_x=braintools.init.Constant(0.5),
                                  init_y=braintools.init.Constant(0.5))

    ours = Simulator(model(), dt=0.1 * u.ms).run(5. * u.ms, **kwargs)
    theirs = brainmass.Simulator(model(), dt=0.1 * u.ms).run(5. * u.ms, **kwargs)
    assert sorted(ours) == sorted(theirs) == ['sq', 'ts', 'x']
    for key in ('x', 'sq', 'ts'):
        assert_close_f32(u.get_magnitude(ours[key]), u.get_magnitude(theirs[key]))  # brainmass's program vs ours


def test_missing_dt_is_a_value_error_naming_dt():
    saved = brainstate.environ.pop('dt', None)  # another test may have set a global dt
    try:
        with pytest.raises(ValueError, match=r'dt is not set: pass Simulator\(model, dt=...\)'):
            Simulator(GainPopulation(1)).run(1. * u.ms)
    finally:
        if saved is not None:
            brainstate.environ.set(dt=saved)


@pytest.mark.parametrize('kwargs, match', [
    (dict(duration=0.05 * u.ms), 'duration must be a whole number of dt steps'),
    (dict(duration=0. * u.ms), 'duration must be >= 1 dt'),
    (dict(duration=1. * u.ms, transient=0.25 * u.ms), r'transient must be a whole number of dt steps'),
    (dict(duration=1. * u.ms, transient=10), r'transient \(10 steps\) must be shorter than the run \(10 steps\)'),
    (dict(duration=1. * u.ms, transient=-1), 'transient must be >= 0'),
    (dict(duration=1. * u.ms, transient=2.0), 'transient must be a duration'),
    (dict(duration=1. * u.ms, sample_every=0), 'sample_every must be an int >= 1, got 0'),
    (dict(duration=1. * u.ms, inputs=np.ones((7, 1))), 'inputs has length 7 along axis 0 but the run has 10 steps'),
    (dict(duration=1. * u.ms, monitors=['v']), r"monitor 'v' -> 'v' is not an attribute of GainPopulation"),
    (dict(duration=1. * u.ms, monitors={'E': 'M'}), r"monitor 'E' -> 'M' is not an attribute"),
    (dict(duration=1. * u.ms, monitors={'gain': 'g'}), r"'g' is a Param, not a state.*lambda m: m.g.value\(\)"),
    (dict(duration=1. * u.ms, monitors={'x': 3}), r"monitor 'x' must be a state name \(str\) or a callable"),
    (dict(duration=1. * u.ms, monitors={'ts': 'r'}), r"'ts' is the time axis"),
], ids=['fractional-duration', 'zero-duration', 'fractional-transient', 'transient-too-long', 'negative-transient',
        'float-transient', 'sample_every', 'short-inputs', 'unknown-monitor', 'unknown-dict-monitor',
        'param-monitor', 'bad-spec', 'ts-clash'])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Simulator(GainPopulation(1), dt=0.1 * u.ms).run(**kwargs)
