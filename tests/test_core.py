"""Regression tests for the explicit-state core: each case gave a silently wrong number before."""

import brainstate
import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from float32 import assert_close_f32

import datasets
from trainer import Fitter, NonFiniteLossError, Trainer, metrics, objectives
from trainer.models import GainPopulation, RateRNN


def make_data(n_trials=64, seq_len=6, seed=0, dt=1.0):
    return datasets.delayed_match_task(n_trials, seq_len=seq_len, n_symbols=2, seed=seed, dt=dt)


def make_trainer(model=None, lr=1e-2, **kwargs):
    return Trainer(model or RateRNN(2, 8, 2, cell='vanilla'), braintools.optim.Adam(lr=lr),
                   objective=objectives.cross_entropy(), progress=False, **kwargs)


class Leaky(brainstate.nn.Module):
    """A leaky integrator whose output depends on dt: a stale dt gives other numbers."""

    def __init__(self):
        super().__init__()
        self.readout = brainstate.nn.Linear(1, 2)
        self.n_input = 2

    def init_state(self, batch_size=None):
        self.v = brainstate.HiddenState(jnp.zeros((batch_size, 1)))

    def update(self, x):
        dt = u.get_magnitude(brainstate.environ.get_dt())
        self.v.value = self.v.value + dt / 10.0 * (-self.v.value + x[:, :1])
        return 20.0 * self.readout(self.v.value)  # large enough for dt to matter visibly


def test_evaluate_at_another_dt_is_not_stale():
    fine, coarse = make_data(dt=0.1), make_data(dt=1.0)
    model = Leaky()
    trainer = make_trainer(model)
    trainer.evaluate(coarse, batch_size=16)
    reused = trainer.evaluate(fine, batch_size=16)['loss']
    fresh = make_trainer(model).evaluate(fine, batch_size=16)['loss']
    assert reused == pytest.approx(fresh, rel=1e-6)
    assert reused != pytest.approx(trainer.evaluate(coarse, batch_size=16)['loss'], rel=1e-3)


def test_fit_at_another_dt_retraces():
    fine, coarse = make_data(dt=0.1), make_data(dt=1.0)
    trainer = make_trainer(Leaky(), lr=0.0)
    first = trainer.fit(coarse, n_epochs=1, batch_size=16).history[0]['loss']
    second = trainer.fit(fine, n_epochs=1, batch_size=16).history[0]['loss']
    assert first != pytest.approx(second, rel=1e-3)
    assert_close_f32(second, trainer.evaluate(fine, batch_size=16)['loss'])  # train vs eval program, lr=0


def test_metrics_named_after_their_builders_never_overwrite_the_loss():
    data = make_data()
    trainer = make_trainer(metrics=[metrics.accuracy(), objectives.cross_entropy()], lr=0.0)
    row = trainer.fit(data, n_epochs=1, batch_size=16).history[0]
    assert set(row) >= {'loss', 'accuracy', 'cross_entropy'}
    assert_close_f32(row['loss'], row['cross_entropy'])  # the gradient's value vs the metric's own reduction


@pytest.mark.parametrize('metrics_arg, match', [
    ({'loss': 'accuracy'}, "the name 'loss' is reserved"),
    ([metrics.accuracy(), metrics.accuracy()], "two metrics are named 'accuracy'"),
    ('accuracy', r"wrap it in a list: metrics=\['accuracy'\]"),
    ({'acc': 42}, "get expects a metric name or a callable"),
], ids=['loss-reserved', 'duplicate', 'string', 'not-callable'])
def test_metric_names_are_checked(metrics_arg, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_trainer(metrics=metrics_arg)


def test_dict_metric_may_be_a_name():
    trainer = make_trainer(metrics={'acc': 'accuracy'})
    assert set(trainer.evaluate(make_data(), batch_size=16)) == {'loss', 'acc'}


def test_non_scalar_metric_is_refused():
    per_trial = lambda p, t, mask=None: jnp.mean(p, axis=(1, 2))  # noqa: E731
    trainer = make_trainer(metrics={'per_trial': per_trial})
    with pytest.raises(ValueError, match="metric 'per_trial' must return a scalar"):
        trainer.evaluate(make_data(), batch_size=16)


def test_train_and_held_out_losses_agree_on_identical_data():
    data = make_data(50)
    rng = np.random.default_rng(0)
    mask = (np.arange(data.n_steps)[None, :] >= rng.integers(1, data.n_steps, 50)[:, None]).astype(np.float32)
    masked = datasets.from_arrays(data.inputs, np.repeat(data.targets[:, None], data.n_steps, 1), mask)
    for batch_size in (10, 25):
        trainer = make_trainer(lr=0.0, metrics=['accuracy'])
        row = trainer.fit(masked, held_out=masked, n_epochs=1, batch_size=batch_size, shuffle=False).history[0]
        assert_close_f32(row['loss'], row['held_out_loss'])  # the train vs the eval program, lr=0
        assert row['accuracy'] == pytest.approx(row['held_out_accuracy'], abs=1e-6)


def test_one_optimizer_for_two_trainers_is_refused():
    optimizer = braintools.optim.Adam(lr=1e-2)
    Trainer(RateRNN(2, 8, 2), optimizer, objective=objectives.cross_entropy(), progress=False)
    with pytest.raises(ValueError, match='already registered with another model'):
        Trainer(RateRNN(2, 8, 2), optimizer, objective=objectives.cross_entropy(), progress=False)


def test_labels_beyond_the_output_width_are_named_before_compiling():
    base = make_data()
    data = datasets.from_arrays(base.inputs, np.arange(len(base)) % 4)
    with pytest.raises(ValueError, match='labels up to 3 but the model outputs 2'):
        make_trainer().fit(data, n_epochs=1, batch_size=16)
    with pytest.raises(ValueError, match='build the model with 4 outputs'):
        make_trainer().evaluate(data, batch_size=16)


def test_forward_returning_a_tuple_is_named():
    trainer = make_trainer(forward=lambda m, x: (m(x[:, 0]), 0))
    with pytest.raises(TypeError, match='forward must return one array'):
        trainer.fit(make_data(), n_epochs=1, batch_size=16)


def test_nan_update_with_finite_loss_is_caught():
    data = make_data()
    trainer = make_trainer(lr=float('nan'))
    start = {k: np.asarray(s.value['weight']) for k, s in trainer.weights.items()}
    with pytest.raises(NonFiniteLossError, match=r'parameters NaN or infinite.*epoch 1, step 0'):
        trainer.fit(data, n_epochs=2, batch_size=16)
    for k, s in trainer.weights.items():
        np.testing.assert_array_equal(s.value['weight'], start[k])


def test_fitter_nan_update_is_caught():
    fitter = Fitter(GainPopulation(1, g=0.5), braintools.optim.SGD(lr=float('nan')),
                    loss_fn=lambda m: ((m.g.value() - 2.0) ** 2, None))
    with pytest.raises(NonFiniteLossError, match='parameters NaN or infinite.*step 0'):
        fitter.fit(n_steps=3)
    assert float(fitter.model.g.value()) == pytest.approx(0.5)


def test_a_score_is_never_minimised():
    with pytest.raises(ValueError, match=r'Trainer: the objective fc_corr returns a score.*as_loss=True'):
        Trainer(RateRNN(2, 8, 2), braintools.optim.Adam(lr=1e-2), objective=objectives.fc_corr())
    trainer = Trainer(RateRNN(2, 8, 2), braintools.optim.Adam(lr=1e-2), progress=False,
                      objective=objectives.fc_corr(as_loss=True))
    assert trainer.objective is not None


@pytest.mark.parametrize('clip', [-1.0, 0.0, float('nan'), 'a'], ids=['negative', 'zero', 'nan', 'string'])
def test_grad_clip_norm_must_be_positive(clip):
    with pytest.raises(ValueError, match='grad_clip_norm must be a positive finite number'):
        make_trainer(grad_clip_norm=clip)


def test_eval_compiles_ahead_and_counts_once():
    train, held_out = make_data(80).split(64, seed=0)
    trainer = make_trainer(metrics=['accuracy'])
    first = trainer.fit(train, held_out=held_out, n_epochs=2, batch_size=16)
    again = trainer.fit(train, held_out=held_out, n_epochs=2, batch_size=16)
    assert first.n_compilations == {'train': 1, 'eval': 1}
    assert again.n_compilations == {'train': 0, 'eval': 0}


def _compiles_during(fn):
    """``(result, n)``: ``fn()`` and how many XLA compilations it started."""
    events = []

    def listen(event, duration, **kwargs):
        if event == '/jax/core/compile/backend_compile_duration':
            events.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        out = fn()
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    return out, len(events)


@pytest.mark.parametrize('make', [lambda: braintools.optim.Adam(lr=1e-3),
                                  lambda: braintools.optim.Adam(lr=1e-3, grad_clip_norm=1.0, weight_decay=1e-4)])
def test_registering_weights_compiles_the_optimizer_init_once(make):
    # optax's init, eager, compiles one zeros_like per weight shape; the Trainer's registration runs it
    # as one compiled program, shared by later optimizers of the same structure. Same moments (values,
    # dtypes, weak types), the optimizer's own init left in place.
    from trainer.core.step import register
    brainstate.random.seed(0)
    net = RateRNN(3, 7, 2, cell='gru')
    weights = net.states(brainstate.ParamState)
    eager, ours = make(), make()
    init = ours.tx.init
    jax.clear_caches()  # eager ops are cached by shape: count them from nothing
    _, n_eager = _compiles_during(lambda: eager.register_trainable_weights(weights))
    jax.clear_caches()
    _, n_ours = _compiles_during(lambda: register(ours, weights))
    assert n_ours == 1 < n_eager
    assert ours.tx.init is init  # the optimizer's own init is back in place
    again = make()
    _, n_again = _compiles_during(lambda: register(again, weights))
    assert n_again == 0  # a later Trainer of the same shapes reuses the compiled init, as eager ops would
    leaves = jax.tree.leaves(eager.opt_state.value), jax.tree.leaves(ours.opt_state.value)
    assert jax.tree.structure(eager.opt_state.value) == jax.tree.structure(ours.opt_state.value)
    for a, b in zip(*leaves):
        assert a.dtype == b.dtype and a.shape == b.shape and a.weak_type == b.weak_type
        np.testing.assert_array_equal(a, b)


def test_an_optimizer_init_with_captured_constants_is_compiled_on_its_own():
    # Two inits that trace to the same program text but capture different arrays must not share one.
    import optax
    from trainer.core.step import register
    net = RateRNN(3, 5, 2)
    weights = net.states(brainstate.ParamState)

    def offset_by(value):
        const = jnp.full((5,), value)  # a traced constant, not a literal
        return optax.GradientTransformation(
            init=lambda params: {'shift': jax.tree.map(lambda p: jnp.zeros(p.shape[-1:]) + const[0], params)},
            update=lambda updates, state, params=None: (updates, state))

    first, second = (braintools.optim.OptaxOptimizer(tx=offset_by(v), lr=1.0) for v in (1.0, 2.0))
    register(first, weights)
    register(second, weights)
    for a, b in zip(jax.tree.leaves(first.opt_state.value), jax.tree.leaves(second.opt_state.value)):
        np.testing.assert_array_equal(a + 1.0, b)


class _Scaled(brainstate.nn.Module):
    """A RateRNN whose logits pass through a fixed State and a plain array attribute."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.inner = RateRNN(n_in, 8, n_out)
        self.n_input = n_in
        self.scale = brainstate.State(jnp.ones(()))  # fixed: init_all_states leaves it alone
        self.gain = jnp.ones(())  # a plain attribute: a trace bakes it in

    def update(self, x):
        return self.inner(x) * self.scale.value * self.gain


def test_fixed_states_and_array_attributes_changed_between_calls_take_effect():
    # Zero logits give cross-entropy log(2) on two classes, whatever the weights.
    ds = datasets.delayed_match_task(64, seq_len=4, n_symbols=2, seed=0)
    net = _Scaled(ds.n_features, ds.n_classes)
    trainer = Trainer(net, braintools.optim.SGD(lr=0.0), objective=objectives.cross_entropy(), progress=False)
    before = trainer.evaluate(ds, batch_size=32)['loss']
    assert abs(before - np.log(2)) > 1e-3
    assert trainer.evaluate(ds, batch_size=32)['loss'] == before  # nothing changed: the same program
    n_eval = trainer.learner.program.compiles['eval']
    net.scale.value = jnp.zeros(())
    assert trainer.evaluate(ds, batch_size=32)['loss'] == pytest.approx(np.log(2), rel=1e-6)
    assert trainer.learner.program.compiles['eval'] == n_eval  # a State is an argument: no new compile
    net.scale.value, net.gain = jnp.ones(()), jnp.zeros(())
    assert trainer.evaluate(ds, batch_size=32)['loss'] == pytest.approx(np.log(2), rel=1e-6)
    net.gain = jnp.ones(())
    assert trainer.evaluate(ds, batch_size=32)['loss'] == before
    net.scale.value = jnp.zeros(())  # a fit reads it too
    history = trainer.fit(ds, n_epochs=1, batch_size=32).history
    assert history[-1]['loss'] == pytest.approx(np.log(2), rel=1e-6)
