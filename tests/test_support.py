"""The small modules: states, step, checkpoint, progress, result, compile counter, data, models."""


import brainstate
import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import datasets
from trainer import TrainResult
from trainer.core.checkpoint import load, save
from trainer.core.program import Program, environ_key
from trainer.core.compiles import counting, total
from trainer.core.data import as_dataset, eval_indices
from trainer.core.state import batch_template, strong
from trainer.core.step import register
from trainer.models import GainPopulation, RateRNN


def test_batch_template_keeps_batched_states():
    net = RateRNN(2, 5, 2, cell='lstm')
    template = batch_template(net, 3)
    assert {v.shape for v in template.values()} == {(3, 5)}


def test_strong_removes_weak_types():
    value = jnp.asarray(1.0)
    assert value.weak_type
    value = strong(value)
    assert not value.weak_type and value.dtype == jnp.float32


def test_register_gives_strong_optimizer_state():
    net = brainstate.nn.Linear(2, 3, b_init=braintools.init.Constant(0.0))
    weights = net.states(brainstate.ParamState)
    assert weights[('weight',)].value['bias'].weak_type  # what would cost a second compile
    opt = braintools.optim.Adam(lr=1e-2)
    register(opt, weights)
    leaves = jax.tree.leaves(opt.opt_state.value)
    assert leaves and not any(getattr(x, 'weak_type', False) for x in leaves)


def test_checkpoint_round_trip_with_units(tmp_path):
    class M(brainstate.nn.Module):
        def __init__(self, v):
            super().__init__()
            self.v = brainstate.nn.Param(v * u.mV, fit=True)

    a, b = M(-60.), M(0.)
    programs = []
    for m in (a, b):
        opt = braintools.optim.Adam(lr=0.1)
        register(opt, m.states(brainstate.ParamState))
        programs.append(Program(m, opt))
    path = str(tmp_path / 'c.msgpack')
    saved = programs[0].read()
    record = {'epoch': 3, 'seed': 0, 'batch_size': 1, 'history': [], 'best_epoch': None, 'best_value': None,
              'wait': 0}  # a Trainer's progress record (load checks its keys)
    save(path, saved, saved.params, record)
    state, best, progress = load(path, programs[1].read())
    programs[1].write(state)
    assert progress == record
    assert u.math.allclose(b.v.value(), -60. * u.mV)
    assert u.math.allclose(best[('v', 'val')], -60. * u.mV)


def test_missing_checkpoint_is_named(tmp_path):
    m = GainPopulation(1)
    opt = braintools.optim.Adam(lr=0.1)
    register(opt, m.states(brainstate.ParamState))
    with pytest.raises(FileNotFoundError, match='resume_from='):
        load(str(tmp_path / 'nope'), Program(m, opt).read())


def test_result_repr_and_curve():
    r = TrainResult([{'epoch': 1, 'loss': 0.5}, {'epoch': 2, 'loss': 0.25}], 'loss', 2, 0.25, {'w': 1}, False, {}, None)
    assert repr(r) == 'TrainResult(epochs=2, best_epoch=2, loss=0.25, params=[w])'
    assert r.curve('loss') == [0.5, 0.25]
    with pytest.raises(KeyError, match="'acc' is not in the history"):
        r.curve('acc')


def test_compile_counter():
    counts, x = {'x': 0}, jnp.arange(11.0)
    with counting(counts, 'x'):
        jax.jit(lambda v: v * 5 - 2)(x)
    assert counts['x'] == 1 and total() >= 1


def test_eval_indices_pad_with_zero_weight():
    idx, weight = eval_indices(5, 2)
    np.testing.assert_array_equal(idx, [[0, 1], [2, 3], [4, 0]])
    np.testing.assert_array_equal(weight, [[1, 1], [1, 1], [1, 0]])


def test_as_dataset_accepts_tuples_and_rejects_others():
    ds = as_dataset((np.zeros((4, 3, 2)), np.array([0, 1, 0, 1])), 'train')
    assert isinstance(ds, datasets.TaskDataset) and ds.n_classes == 2
    with pytest.raises(TypeError, match='train must be a datasets.TaskDataset'):
        as_dataset(np.zeros(3), 'train')


def test_rate_rnn_cells_and_bad_cell():
    for cell in ('vanilla', 'gru', 'lstm'):
        net = RateRNN(3, 4, 2, cell=cell)
        brainstate.nn.init_all_states(net, batch_size=5)
        assert net(jnp.ones((5, 3))).shape == (5, 2)
    with pytest.raises(ValueError, match="cell must be one of"):
        RateRNN(3, 4, 2, cell='transformer')


def test_gain_population_one_step():
    m = GainPopulation(1, g=2.0)
    brainstate.nn.init_all_states(m)
    with brainstate.environ.context(dt=0.1 * u.ms):
        r = m.update(1.0)
    assert float(r[0]) == pytest.approx(0.01 * 2.0 * np.tanh(1.0), rel=1e-6)


def test_program_runs_a_stateful_step_as_a_pure_function():
    net = RateRNN(2, 3, 2)
    opt = braintools.optim.SGD(lr=0.5)
    register(opt, net.states(brainstate.ParamState))
    program = Program(net, opt)
    before = program.read()

    def nudge(x):
        net.readout.weight.value = jax.tree.map(lambda w: w + x, net.readout.weight.value)
        return jnp.sum(net.readout.weight.value['bias'])

    step = program.jit('nudge', None, lambda: nudge)
    after, out = step(before, jnp.float32(1.0))
    key = ('readout', 'weight')
    np.testing.assert_allclose(after.params[key]['bias'], before.params[key]['bias'] + 1.0)
    assert float(out) == pytest.approx(float(np.sum(before.params[key]['bias'] + 1.0)))
    # Pure: the model is untouched until the state is written back.
    np.testing.assert_array_equal(net.readout.weight.value['bias'], before.params[key]['bias'])
    program.write(after)
    np.testing.assert_array_equal(net.readout.weight.value['bias'], after.params[key]['bias'])


def test_program_is_keyed_on_dt():
    net = GainPopulation(1, g=2.0)
    opt = braintools.optim.SGD(lr=0.1)
    register(opt, net.states(brainstate.ParamState))
    program = Program(net, opt)
    brainstate.nn.init_all_states(net)

    def one_step():
        return net.update(1.0)

    outs = {}
    for dt in (1.0, 0.1):
        with brainstate.environ.context(dt=dt * u.ms):
            state = program.read()
            outs[dt] = float(program.jit('step', None, lambda: one_step)(state)[1][0])
    # r after one Euler step from 0: dt / tau * g * tanh(1)
    assert outs[1.0] == pytest.approx(0.1 * 2 * np.tanh(1.0), rel=1e-6)
    assert outs[0.1] == pytest.approx(0.01 * 2 * np.tanh(1.0), rel=1e-6)
    with brainstate.environ.context(dt=0.1 * u.ms):
        assert environ_key() != ()


def test_rate_rnn_init_is_seeded_and_compiles_nothing():
    import jax
    before = total()
    a, b, c = (RateRNN(3, 6, 2, cell='gru', seed=s) for s in (1, 1, 2))
    leaves = lambda m: [np.asarray(x) for x in jax.tree.leaves(
        {k: s.value for k, s in m.states(brainstate.ParamState).items()})]
    assert all(np.array_equal(x, y) for x, y in zip(leaves(a), leaves(b)))
    assert not all(np.array_equal(x, y) for x, y in zip(leaves(a), leaves(c)))
    w = np.asarray(a.cell.Wh.weight.value['weight'])  # (3 + 6, 6): orthonormal columns
    np.testing.assert_allclose(w.T @ w, np.eye(6), atol=1e-5)
    assert total() - before <= 2
