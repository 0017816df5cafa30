"""Long trials: truncated BPTT (carried state), rematerialisation, braintrace online learning."""

import importlib.util
import warnings

import brainstate
import braintools
import brainunit as u
import datasets
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from trainer import Trainer, objectives
from trainer.core import checkpoint
from trainer.core.chunks import remat_rollout
from trainer.core.forward import rollout
from trainer.core.placement import Placement
from trainer.loop.chunked import ChunkedEngine
from trainer.loop.plan import FitOptions, Stages, make_plan
from trainer.models import RateRNN

needs_braintrace = pytest.mark.skipif(importlib.util.find_spec('braintrace') is None,
                                      reason="gradient='online' needs braintrace: pip install -e '.[online]'")


def _regression(n_trials=32, n_steps=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_trials, n_steps, 3)).astype(np.float32)
    y = np.cumsum(x[..., :2], axis=1).astype(np.float32) * 0.3
    return datasets.from_arrays(x, y)


def _trainer(gradient='bptt', chunk=None, lr=1e-2, **kw):
    return Trainer(RateRNN(3, 16, 2, seed=1), braintools.optim.Adam(lr=lr), objective=objectives.mse(),
                   progress=False, gradient=gradient, chunk=chunk, **kw)


def _params(trainer):
    return {k: [np.asarray(x) for x in jax.tree.leaves(s.value)]
            for k, s in trainer.model.states(brainstate.ParamState).items()}


def _equal(a, b):
    return a.keys() == b.keys() and all(all(np.array_equal(x, y) for x, y in zip(a[k], b[k])) for k in a)


@pytest.mark.parametrize('chunk', [12, 50], ids=['k=T', 'k>T'])
def test_tbptt_with_chunk_at_least_trial_equals_full_bptt(chunk):
    data = _regression()
    full, chunked = _trainer(), _trainer('tbptt', chunk)
    a = full.fit(data, n_epochs=2, batch_size=8)
    b = chunked.fit(data, n_epochs=2, batch_size=8)
    assert [r['loss'] for r in a.history] == [r['loss'] for r in b.history]  # bit-equal
    assert _equal(_params(full), _params(chunked))


def test_tbptt_takes_one_optimizer_step_per_chunk():
    data = _regression()
    trainer = _trainer('tbptt', 4)
    trainer.fit(data, n_epochs=1, batch_size=8)
    counts = [int(x) for s in trainer.program.opt_states for x in jax.tree.leaves(s.value)
              if np.ndim(x) == 0 and np.issubdtype(np.asarray(x).dtype, np.integer)]
    assert max(counts) == 12  # Adam's step count: 4 batches x 3 chunks (the LR schedule counts epochs)


def test_carried_state_crosses_chunks_and_resets_between_trials():
    # lr=0: the parameters stay, so the chunked epoch scores exactly the whole trials iff the state is
    # carried across chunks (else each chunk restarts from rest) and reset at each trial (else trial 2
    # starts where trial 1 ended).
    data = _regression()
    whole = Trainer(RateRNN(3, 16, 2, seed=1), optax.sgd(0.0), objective=objectives.mse(), progress=False)
    chunked = Trainer(RateRNN(3, 16, 2, seed=1), optax.sgd(0.0), objective=objectives.mse(), progress=False,
                      gradient='tbptt', chunk=3)
    a = whole.fit(data, n_epochs=1, batch_size=8, shuffle=False).history[0]['loss']
    b = chunked.fit(data, n_epochs=1, batch_size=8, shuffle=False).history[0]['loss']
    np.testing.assert_allclose(b, a, rtol=1e-6)
    # Without carrying (every chunk from the template) the score differs.
    engine = _engine(chunked, data)
    state = engine.program.read(engine.template)
    idx = np.arange(8)[None].repeat(4, 0)
    _, (carried, _) = engine.run_chunks(state, idx, np.arange(4, dtype=np.int32))
    _, (restarted, _) = engine.run_chunks(state, idx, np.zeros(4, np.int32))
    assert not np.allclose(carried['loss'][0][1:], restarted['loss'][0][1:])


def _engine(trainer, data, batch_size=8):
    engine = ChunkedEngine(trainer.learner, trainer.chunk)
    plan = make_plan(Stages(data, None), FitOptions(1, batch_size), engine.learner.names_for, engine.placement)
    engine.prepare(plan)
    return engine


def test_resume_mid_trial_is_bit_identical(tmp_path):
    data = _regression()
    trainer = _trainer('tbptt', 3)
    engine = _engine(trainer, data)
    start = engine.program.read(engine.template)
    idx, js = np.tile(np.arange(8), (4, 1)), np.arange(4, dtype=np.int32)
    straight, _ = engine.run_chunks(start, idx, js)
    half, _ = engine.run_chunks(start, idx[:2], js[:2])  # stopped after chunk 1 of 4
    assert not all(np.array_equal(v, engine.template[k]) for k, v in half.hidden.items())
    path = str(tmp_path / 'mid.msgpack')
    checkpoint.save(path, Placement.to_host(half), Placement.to_host(half.params),
                    {'epoch': 0, 'seed': 0, 'batch_size': 1, 'history': [], 'best_epoch': None, 'best_value': None,
                     'wait': 0})  # a Trainer's progress record (load checks its keys)
    loaded, _, _ = checkpoint.load(path, start)  # into a state that holds the template
    resumed, _ = engine.run_chunks(loaded, idx[2:], js[2:])
    for a, b in zip(jax.tree.leaves(_plain(straight)), jax.tree.leaves(_plain(resumed))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _plain(state):
    typed = jnp.issubdtype(state.rng.dtype, jax.dtypes.prng_key)
    return state._replace(rng=jax.random.key_data(state.rng) if typed else state.rng)


def test_fit_resume_with_tbptt_is_bit_identical(tmp_path):
    data = _regression()
    path = str(tmp_path / 'fit.msgpack')
    straight = _trainer('tbptt', 4)
    straight.fit(data, n_epochs=2, batch_size=8)
    first = _trainer('tbptt', 4)
    first.fit(data, n_epochs=1, batch_size=8, checkpoint=path)
    second = _trainer('tbptt', 4)
    second.fit(data, n_epochs=2, batch_size=8, resume_from=path)
    assert straight.history == [{**r, 'time': straight.history[i]['time']} for i, r in enumerate(second.history)]
    assert _equal(_params(straight), _params(second))


@pytest.mark.parametrize('chunk', [1, 3, 4, None], ids=['k=1', 'k=3+rest', 'k=4', 'sqrt'])
def test_remat_gradients_equal_plain_gradients(chunk):
    net = RateRNN(3, 16, 2, seed=0)
    weights = net.states(brainstate.ParamState)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 10, 3)), jnp.float32)

    def grads(forward):
        def loss():
            brainstate.nn.init_all_states(net, batch_size=4)
            return jnp.mean(forward(net, x) ** 2)
        with brainstate.environ.context(dt=1.0):
            return brainstate.transform.grad(loss, weights)()

    plain, remat = grads(rollout), grads(remat_rollout(chunk))
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(remat)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-7)


def test_remat_fit_matches_bptt_and_recomputes():
    data = _regression()
    a = _trainer().fit(data, n_epochs=2, batch_size=8)
    b = _trainer('remat', 4).fit(data, n_epochs=2, batch_size=8)
    np.testing.assert_allclose([r['loss'] for r in b.history], [r['loss'] for r in a.history], rtol=1e-5)
    net = RateRNN(3, 8, 2)
    brainstate.nn.init_all_states(net, batch_size=2)
    with brainstate.environ.context(dt=1.0):
        jaxpr = str(brainstate.transform.make_jaxpr(lambda x: remat_rollout(2)(net, x))(jnp.ones((2, 6, 3)))[0])
    assert 'checkpoint' in jaxpr or 'remat' in jaxpr


@needs_braintrace
def test_tbptt_and_remat_memory_against_bptt():
    import pathlib
    spec = importlib.util.spec_from_file_location(
        'long_trials', pathlib.Path(__file__).parents[1] / 'benchmarks' / 'long_trials.py')
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    small = {g: bench.step_memory(g, 120, hidden=16, batch=4, chunk=12) for g in ('bptt', 'remat', 'tbptt')}
    large = bench.step_memory('tbptt', 480, hidden=16, batch=4, chunk=12)
    assert small['remat'] < 0.5 * small['bptt']
    assert small['tbptt'] < 0.2 * small['bptt']
    assert large <= 1.1 * small['tbptt']  # flat in T


class _Net(brainstate.nn.Module):
    """An LSTM with a leaky rate readout: every weight has a braintrace online gradient."""

    def __init__(self, n_in=2, n_hidden=32, n_out=2, cell='LSTMCell', readout='LeakyRateReadout'):
        import braintrace
        super().__init__()
        self.n_input = n_in
        self.cell = getattr(braintrace.nn, cell)(n_in, n_hidden)
        with brainstate.environ.context(dt=1.0 * u.ms):
            self.out = (braintrace.nn.LeakyRateReadout(n_hidden, n_out, tau=2.0 * u.ms) if readout == 'LeakyRateReadout'
                        else braintrace.nn.Linear(n_hidden, n_out))

    def update(self, x):
        return self.out(self.cell(x))


@needs_braintrace
def test_online_fit_reaches_the_bptt_accuracy_band():
    data = datasets.load_dataset('delayed_match_task', n_trials=320, seq_len=6, n_symbols=2)
    train, held_out = data.split(256, seed=0)
    accuracy = {}
    for gradient in ('bptt', 'online'):
        brainstate.random.seed(0)  # the same initial weights whatever ran before in this process
        trainer = Trainer(_Net(n_hidden=16), braintools.optim.Adam(lr=2e-2), objective=objectives.cross_entropy(),
                          metrics=['accuracy'], progress=False, gradient=gradient)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # braintrace names the weights it leaves to non-temporal learning
            result = trainer.fit(train, held_out=held_out, n_epochs=4, batch_size=32)
        accuracy[gradient] = max(r['held_out_accuracy'] for r in result.history)
    assert accuracy['bptt'] >= 0.95
    assert accuracy['online'] >= accuracy['bptt'] - 0.05


@needs_braintrace
def test_online_refuses_weights_braintrace_cannot_learn_and_allows_them_on_request():
    data = datasets.load_dataset('delayed_match_task', n_trials=32, seq_len=4, n_symbols=2)

    def fit(**online):
        net = _Net(n_hidden=8, cell='GRUCell', readout='Linear')
        net.initial_out = np.asarray(net.out.weight.value['weight'])
        net.initial_wz = np.asarray(net.cell.Wz.weight.value['weight'])
        trainer = Trainer(net, braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(), progress=False,
                          gradient='online', online=online or None)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            trainer.fit(data, n_epochs=1, batch_size=16)
        return net

    with pytest.raises(ValueError, match=r"gives no online gradient to \['cell.Wr.weight', 'out.weight'\]"):
        fit()
    net = fit(algorithm='es_d_rtrl', decay_or_rank=0.9, allow_untrained=True)
    assert np.array_equal(np.asarray(net.out.weight.value['weight']), net.initial_out)  # left as it was
    assert not np.array_equal(np.asarray(net.cell.Wz.weight.value['weight']), net.initial_wz)


@needs_braintrace
def test_online_chunks_carry_traces_and_resume_bit_identical(tmp_path):
    data = datasets.load_dataset('delayed_match_task', n_trials=48, seq_len=6, n_symbols=2)
    path = str(tmp_path / 'online.msgpack')

    def fit(n_epochs, **kw):
        brainstate.random.seed(0)  # braintrace layers draw their weights from brainstate's RNG
        trainer = Trainer(_Net(n_hidden=8), braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(),
                          progress=False, gradient='online', chunk=3)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            trainer.fit(data, n_epochs=n_epochs, batch_size=16, **kw)
        return trainer

    straight = fit(2)
    fit(1, checkpoint=path)
    resumed = fit(2, resume_from=path)
    assert [r['loss'] for r in straight.history] == [r['loss'] for r in resumed.history]
    assert _equal(_params(straight), _params(resumed))
    # braintrace's traces are carried as hidden states, under names that do not change between processes.
    keys = [k for k in resumed.program.extra_hidden]
    assert ('online', 'etrace_xs', 'cell.Wf.weight') in keys and 'hidden' in checkpoint.read(path)


@pytest.mark.parametrize('kwargs, message', [
    ({'gradient': 'truncated'}, "gradient must be one of"),
    ({'gradient': 'tbptt'}, "needs chunk=k"),
    ({'gradient': 'tbptt', 'chunk': 0}, "chunk must be a positive int"),
    ({'gradient': 'bptt', 'chunk': 10}, "needs gradient='tbptt'"),
    ({'gradient': 'remat', 'forward': rollout}, "rematerialises the default rollout"),
    pytest.param({'gradient': 'online'}, "braintrace.nn layers", marks=needs_braintrace),
    ({'online': {'algorithm': 'd_rtrl'}}, "configures gradient='online'"),
], ids=['name', 'no-chunk', 'chunk-0', 'bptt-chunk', 'remat-forward', 'online-plain-model', 'online-not-online'])
def test_bad_gradient_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Trainer(RateRNN(3, 4, 2), braintools.optim.Adam(lr=1e-2), objective=objectives.mse(), **kwargs)


def test_chunk_must_divide_the_trial():
    with pytest.raises(ValueError, match=r"chunk=5 does not divide the trials' 12 steps; choose a divisor"):
        _trainer('tbptt', 5).fit(_regression(), n_epochs=1, batch_size=8)


def test_tbptt_compiled_epoch_equals_per_step_and_compiles_once():
    data = _regression()
    per_step = _trainer('tbptt', 4).fit(data, n_epochs=2, batch_size=8, held_out=data)
    scanned = _trainer('tbptt', 4).fit(data, n_epochs=2, batch_size=8, held_out=data, compile_epoch=True)
    assert per_step.n_compilations == {'train': 1, 'eval': 1} == scanned.n_compilations
    np.testing.assert_allclose([r['loss'] for r in scanned.history], [r['loss'] for r in per_step.history],
                               rtol=1e-6)


@needs_braintrace
def test_online_d_rtrl_traces_are_named_by_weight():
    data = datasets.load_dataset('delayed_match_task', n_trials=32, seq_len=4, n_symbols=2)
    trainer = Trainer(_Net(n_hidden=4), braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(),
                      progress=False, gradient='online', online={'algorithm': 'd_rtrl'})
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        result = trainer.fit(data, n_epochs=1, batch_size=16)
    assert np.isfinite(result.history[0]['loss'])
    assert ('online', 'etrace_bwg', 'cell.Wf.weight', '0') in trainer.program.extra_hidden
