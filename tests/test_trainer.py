import dataclasses
import json

import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from float32 import assert_close_f32

import datasets
from trainer import NonFiniteLossError, Trainer, metrics, objectives
from trainer.core.compiles import total as total_compilations
from trainer.models import RateRNN


def make_data(n_trials=96, seq_len=6, seed=0):
    return datasets.delayed_match_task(n_trials, seq_len=seq_len, n_symbols=2, seed=seed)


def make_model(seed=0, hidden=8, cell='vanilla'):
    return RateRNN(2, hidden, 2, cell=cell, seed=seed)


def make_trainer(model=None, lr=1e-2, **kwargs):
    kwargs.setdefault('metrics', {'acc': metrics.accuracy()})
    return Trainer(model or make_model(), braintools.optim.Adam(lr=lr),
                   objective=objectives.cross_entropy(), progress=False, **kwargs)


def params_of(model):
    return jax.tree.map(np.asarray, {k: s.value for k, s in model.states(brainstate.ParamState).items()})


def assert_trees_equal(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)


def test_one_epoch_equals_hand_written_loop():
    data = make_data()
    trainer = make_trainer(make_model(seed=3), metrics=None)
    result = trainer.fit(data, n_epochs=1, batch_size=16, seed=5)

    # The seed's section-3b loop, hand-written, over the same minibatch order.
    model = make_model(seed=3)
    weights = model.states(brainstate.ParamState)
    optimizer = braintools.optim.Adam(lr=1e-2)
    optimizer.register_trainable_weights(weights)
    objective = objectives.cross_entropy()

    def loss_closure(x, y):
        with model.param_precompute():
            out = brainstate.transform.for_loop(model, jnp.swapaxes(x, 0, 1))
            return objective(jnp.swapaxes(out, 0, 1), y) + model.reg_loss()

    @brainstate.transform.jit
    def train_step(x, y):
        brainstate.nn.init_all_states(model, batch_size=x.shape[0])
        grads, loss = brainstate.transform.grad(loss_closure, weights, return_value=True)(x, y)
        optimizer.step(grads)
        return loss

    losses = [train_step(data.inputs[idx], data.targets[idx])
              for idx in datasets.batch_indices(len(data), 16, seed=5, epoch=1)]
    # The epoch loss is the mean over every scored trial: sum(loss_b * 16) / (16 * n_batches).
    # Not bit for bit: the Trainer's step is another XLA program than this one (it also masks,
    # checks finiteness, counts), so another CPU may round them apart; 6 steps of float32 apart.
    assert_close_f32(result.history[0]['loss'], np.sum(np.asarray(losses, np.float64) * 16) / (16 * len(losses)),
                     steps=len(losses))
    assert_close_f32(params_of(trainer.model), params_of(model), steps=len(losses))


def test_compiled_epoch_matches_per_step():
    data = make_data()
    a = make_trainer(make_model(seed=1)).fit(data, n_epochs=3, batch_size=16)
    b = make_trainer(make_model(seed=1)).fit(data, n_epochs=3, batch_size=16, compile_epoch=True)
    for ra, rb in zip(a.history, b.history):  # two programs (a scan over the epoch, or a step a call): float32
        assert_close_f32(rb['loss'], ra['loss'], steps=6 * ra['epoch'])  # apart by the epoch's 6 steps each
        assert ra['acc'] == pytest.approx(rb['acc'], abs=1e-6)  # a count of trials: equal
    assert_close_f32(params_of(b.model), params_of(a.model), steps=18)


@pytest.mark.parametrize('compile_epoch', [False, True], ids=['per-step', 'compiled-epoch'])
def test_compiles_once_per_fit(compile_epoch):
    train, held_out = make_data(100).split(80, seed=0)
    counts = []
    for n_epochs in (1, 1, 4):  # the first fit also warms JAX's op-by-op caches
        before = total_compilations()
        result = make_trainer().fit(train, held_out=held_out, n_epochs=n_epochs, batch_size=16,
                                    compile_epoch=compile_epoch)
        counts.append(total_compilations() - before)
        assert result.n_compilations == {'train': 1, 'eval': 1}
    # Nothing else compiles per epoch either: four epochs cost what one costs.
    assert counts[2] == counts[1]


def test_history_rows_and_best_epoch():
    train, held_out = make_data(96).split(64, seed=0)
    result = make_trainer(lr=3e-2).fit(train, held_out=held_out, n_epochs=3, batch_size=16)
    assert [r['epoch'] for r in result.history] == [1, 2, 3]
    assert list(result.history[0]) == ['epoch', 'loss', 'acc', 'held_out_loss', 'held_out_acc', 'lr', 'time']
    losses = result.curve('held_out_loss')
    assert result.monitor == 'held_out_loss'
    assert result.best_value == min(losses)
    assert result.best_epoch == int(np.argmin(losses)) + 1
    assert set(result.best_params) == {'cell.W.weight', 'readout.weight'}


def test_restore_best_leaves_model_at_best_epoch():
    train, held_out = make_data(96).split(64, seed=0)
    trainer = make_trainer(lr=0.5)  # large steps: the last epoch is rarely the best
    result = trainer.fit(train, held_out=held_out, n_epochs=6, batch_size=16, monitor='held_out_acc')
    assert result.best_epoch < 6
    assert trainer.evaluate(held_out, batch_size=16)['acc'] == pytest.approx(result.best_value)
    for name, value in result.best_params.items():
        state = trainer.model.states(brainstate.ParamState)[tuple(
            int(p) if p.isdigit() else p for p in name.split('.'))]
        assert_trees_equal(state.value, value)


def test_eval_every_and_final_epoch_evaluated():
    train, held_out = make_data(96).split(64, seed=0)
    result = make_trainer().fit(train, held_out=held_out, n_epochs=5, batch_size=16, eval_every=2)
    measured = [r['held_out_loss'] is not None for r in result.history]
    assert measured == [False, True, False, True, True]


def test_early_stopping_with_patience():
    train, held_out = make_data(96).split(64, seed=0)
    result = make_trainer(lr=0.0).fit(train, held_out=held_out, n_epochs=20, batch_size=16, patience=2)
    # lr = 0: nothing improves after epoch 1, so training stops after 1 + patience epochs.
    assert result.stopped_early and len(result.history) == 3 and result.best_epoch == 1


def test_callback_sees_history_and_can_stop():
    seen = []

    def stop_at_two(info):
        seen.append(len(info['history']))
        return info['epoch'] == 2

    result = make_trainer(callbacks=[stop_at_two]).fit(make_data(), n_epochs=10, batch_size=16)
    assert seen == [1, 2] and len(result.history) == 2 and result.stopped_early


def test_evaluate_weights_by_trials_not_batches():
    data = make_data(50)
    trainer = make_trainer()
    trainer.fit(data, n_epochs=1, batch_size=16)
    padded = trainer.evaluate(data, batch_size=16)     # 16 + 16 + 16 + 2 trials
    whole = make_trainer(trainer.model).evaluate(data, batch_size=50)
    assert_close_f32(padded['loss'], whole['loss'])  # two programs (batch shapes), no step between
    assert padded['acc'] == pytest.approx(whole['acc'], abs=1e-6)


@pytest.mark.parametrize('unit', ['epoch', 'step'])
def test_lr_schedule_changes_step_size(unit):
    data = make_data(64)
    schedule = braintools.optim.StepLR(base_lr=0.1, step_size=1, gamma=0.5)
    trainer = Trainer(make_model(), braintools.optim.SGD(lr=schedule), objective=objectives.cross_entropy(),
                      lr_schedule=unit, progress=False)
    result = trainer.fit(data, n_epochs=3, batch_size=16)
    if unit == 'epoch':
        assert result.curve('lr') == pytest.approx([0.1, 0.05, 0.025])
    else:  # 4 steps per epoch
        assert result.curve('lr') == pytest.approx([0.1, 0.1 * 0.5 ** 4, 0.1 * 0.5 ** 8])
    # The applied step really shrinks: compare with a constant-lr run.
    constant = Trainer(make_model(), braintools.optim.SGD(lr=0.1), objective=objectives.cross_entropy(),
                       progress=False)
    constant.fit(data, n_epochs=3, batch_size=16)
    start = params_of(make_model())
    moved = lambda m: sum(float(np.sum(np.abs(a - b))) for a, b in zip(
        jax.tree.leaves(params_of(m)), jax.tree.leaves(start)))
    assert moved(trainer.model) < 0.8 * moved(constant.model)


def test_grad_clip_norm_bounds_the_update():
    data = make_data(32)
    model = make_model()
    start = params_of(model)
    trainer = Trainer(model, braintools.optim.SGD(lr=1.0), objective=objectives.cross_entropy(),
                      grad_clip_norm=1e-3, progress=False)
    trainer.fit(data, n_epochs=1, batch_size=32)
    delta = np.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(
        jax.tree.leaves(params_of(model)), jax.tree.leaves(start))))
    assert 0 < delta <= 1e-3 * (1 + 1e-4)


def test_checkpoint_resume_is_exact(tmp_path):
    train, held_out = make_data(96).split(64, seed=0)
    opt = lambda: braintools.optim.Adam(lr=braintools.optim.StepLR(base_lr=0.02, step_size=2, gamma=0.5))
    fit = dict(held_out=held_out, batch_size=16, seed=7)
    straight = Trainer(make_model(seed=2), opt(), objective=objectives.cross_entropy(), progress=False)
    full = straight.fit(train, n_epochs=4, **fit)

    ckpt = str(tmp_path / 'run.msgpack')
    first = Trainer(make_model(seed=2), opt(), objective=objectives.cross_entropy(), progress=False)
    first.fit(train, n_epochs=2, checkpoint=ckpt, **fit)
    # A new process would rebuild the model from scratch: use a different init to prove the load.
    resumed = Trainer(make_model(seed=99), opt(), objective=objectives.cross_entropy(), progress=False)
    result = resumed.fit(train, n_epochs=4, resume_from=ckpt, checkpoint=ckpt, **fit)
    assert_trees_equal(params_of(resumed.model), params_of(straight.model))
    strip = lambda h: [{k: v for k, v in r.items() if k != 'time'} for r in h]
    assert strip(result.history) == strip(full.history)
    assert result.best_epoch == full.best_epoch
    assert result.n_compilations == {'train': 1, 'eval': 1}  # restored states keep their dtypes


def test_resume_with_other_seed_is_refused(tmp_path):
    ckpt = str(tmp_path / 'run.msgpack')
    make_trainer().fit(make_data(), n_epochs=1, batch_size=16, checkpoint=ckpt, seed=1)
    with pytest.raises(ValueError, match='seed=1'):
        make_trainer().fit(make_data(), n_epochs=2, batch_size=16, resume_from=ckpt, seed=2)


def test_nan_loss_stops_and_keeps_best(tmp_path):
    ckpt = str(tmp_path / 'run.msgpack')
    seen = {}

    def record(info):
        seen[info['epoch']] = (params_of(info['model']), open(ckpt, 'rb').read())

    trainer = make_trainer(callbacks=[record])
    # 4 steps per epoch: the loss turns NaN at the 11th step, epoch 3, step 2.
    trainer.objective = lambda p, t, mask=None: objectives.cross_entropy()(p, t, mask) * jnp.where(
        trainer.optimizer.step_count.value >= 10, jnp.nan, 1.0)
    with pytest.raises(NonFiniteLossError, match=r'epoch 3, step 2.*best epoch \(\d\)') as info:
        trainer.fit(make_data(64), n_epochs=5, batch_size=16, checkpoint=ckpt, monitor='loss')
    history = info.value.history
    assert [r['epoch'] for r in history] == [1, 2] and trainer.history == history
    best_epoch = int(np.argmin([r['loss'] for r in history])) + 1
    assert_trees_equal(params_of(trainer.model), seen[best_epoch][0])
    # The failed epoch never reached the checkpoint.
    assert open(ckpt, 'rb').read() == seen[2][1]
    # Nor the optimizer: its moments and step count are as after epoch 2, so training can go on.
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(trainer.optimizer.opt_state.value))
    assert int(trainer.optimizer.step_count.value) == 8
    trainer.objective = objectives.cross_entropy()
    assert np.isfinite(trainer.fit(make_data(64), n_epochs=1, batch_size=16).history[0]['loss'])


def test_progress_bar_shows_loss_and_metric(capsys):
    train, held_out = make_data(64).split(48, seed=0)
    Trainer(make_model(), braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(),
            metrics=['accuracy']).fit(train, held_out=held_out, n_epochs=2, batch_size=16)
    err = capsys.readouterr().err
    assert 'epoch 2/2' in err and 'loss=' in err and 'held_out_accuracy=' in err


def test_result_writes_csv_json_and_plot(tmp_path):
    train, held_out = make_data(64).split(48, seed=0)
    result = make_trainer().fit(train, held_out=held_out, n_epochs=2, batch_size=16)
    result.to_csv(tmp_path / 'h.csv')
    result.to_json(tmp_path / 'h.json')
    result.plot(tmp_path / 'curves.png')
    assert open(tmp_path / 'h.csv').read().splitlines()[0] == ','.join(result.history[0])
    assert json.load(open(tmp_path / 'h.json'))['history'][1]['epoch'] == 2
    assert (tmp_path / 'curves.png').stat().st_size > 5000


def test_accepts_plain_arrays():
    data = make_data(32)
    result = make_trainer().fit((data.inputs, data.targets), n_epochs=1, batch_size=16)
    assert len(result.history) == 1 and np.isfinite(result.history[0]['loss'])


@pytest.mark.parametrize('kwargs, match', [
    (dict(batch_size=0), 'batch_size must be a positive int'),
    (dict(batch_size=1000), 'batch_size must be at most 96'),
    (dict(n_epochs=0), 'n_epochs must be a positive int'),
    (dict(monitor='held_out_f1'), "monitor='held_out_f1' is not a history key"),
    (dict(patience=0), 'patience must be a positive int, got 0. Pass None'),
    (dict(mode='largest'), "mode must be 'auto', 'min' or 'max'"),
], ids=['batch-zero', 'batch-too-large', 'no-epochs', 'unknown-monitor', 'patience-zero', 'bad-mode'])
def test_bad_fit_arguments(kwargs, match):
    args = dict(n_epochs=1, batch_size=16, held_out=make_data(32))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_trainer().fit(make_data(), **args)


def test_feature_mismatch_is_named():
    brainstate.random.seed(0)
    with pytest.raises(ValueError, match='inputs have 2 features per step but the model expects 5'):
        make_trainer(RateRNN(5, 8, 2)).fit(make_data(), n_epochs=1, batch_size=16)


def test_feature_mismatch_without_n_input_attribute():
    class Bare(brainstate.nn.Module):  # no n_input attribute to check up front
        def __init__(self):
            super().__init__()
            self.readout = brainstate.nn.Linear(5, 2)

        def update(self, x):
            return self.readout(x)

    with pytest.raises(ValueError, match=r'\(16, 6, 2\).*Build the model for 2 input features'):
        make_trainer(Bare()).fit(make_data(), n_epochs=1, batch_size=16)


def test_no_trainable_parameters():
    class Empty(brainstate.nn.Module):
        def update(self, x):
            return x

    with pytest.raises(ValueError, match='no trainable parameters'):
        make_trainer(Empty())


def test_non_scalar_objective():
    trainer = Trainer(make_model(), braintools.optim.Adam(lr=1e-2), objective=lambda p, t: p,
                      progress=False)
    with pytest.raises(ValueError, match='must return a scalar'):
        trainer.fit(make_data(), n_epochs=1, batch_size=16)


def test_two_argument_objective_on_masked_data():
    trainer = Trainer(make_model(), braintools.optim.Adam(lr=1e-2), progress=False,
                      objective=lambda p, t: objectives.cross_entropy()(p, t))
    data = make_data()
    masked = dataclasses.replace(data, mask=np.ones((len(data), data.n_steps), np.float32))
    with pytest.raises(ValueError, match='takes no mask argument'):
        trainer.fit(masked, n_epochs=1, batch_size=16)


def test_optimizer_must_be_braintools():
    with pytest.raises(TypeError, match='braintools.optim optimizer'):
        Trainer(make_model(), object(), objective=objectives.cross_entropy())


def test_two_argument_objective_and_metric_on_unmasked_data():
    train, held_out = make_data(96).split(64, seed=0)
    ce = objectives.cross_entropy()
    trainer = Trainer(make_model(), braintools.optim.Adam(lr=1e-2), progress=False,
                      objective=lambda p, t: ce(p, t), metrics={'acc': lambda p, t: metrics.accuracy()(p, t)})
    result = trainer.fit(train, held_out=held_out, n_epochs=1, batch_size=16)
    assert np.isfinite(result.history[0]['held_out_loss'])
    reference = make_trainer(trainer.model).evaluate(held_out, batch_size=16)
    assert result.history[0]['held_out_acc'] == pytest.approx(reference['acc'])


def test_two_argument_objective_needs_full_held_out_batches():
    trainer = Trainer(make_model(), braintools.optim.Adam(lr=1e-2), progress=False,
                      objective=lambda p, t: objectives.cross_entropy()(p, t))
    with pytest.raises(ValueError, match='30 trials do not fill batches of 16'):
        trainer.fit(make_data(64), held_out=make_data(30), n_epochs=1, batch_size=16)


def test_fixed_target_matches_fitter_history():
    import brainunit as u
    from trainer import Fitter, Simulator
    from trainer.models import GainPopulation

    target = datasets.steady_state_target()  # one trial: inputs 1.0, the g* = 2 trajectory

    def amplitude_loss(prediction, trajectory):
        return objectives.steady_state(n_tail=50)(prediction, jnp.mean(trajectory[-50:]))

    def predict(m):
        # The seed's constant drive (the dataset's inputs are this 1.0 at every step).
        return Simulator(m, dt=0.1 * u.ms).run(60. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])['r']

    assert np.all(target.inputs == 1.0)
    fitted = Fitter(GainPopulation(1, g=0.5), braintools.optim.Adam(lr=0.1), objective=amplitude_loss,
                    predict=predict).fit(target=target.targets[0], n_steps=20)
    trainer = Trainer(GainPopulation(1, g=0.5), braintools.optim.Adam(lr=0.1),
                      objective=objectives.per_trial(amplitude_loss), progress=False,
                      forward=lambda m, inputs: predict(m)[None])
    result = trainer.fit(target, n_epochs=20, batch_size=1, shuffle=False)
    # Two XLA programs (the Trainer's batched step, the Fitter's): float32 apart after 20 Adam steps.
    assert_close_f32(result.curve('loss'), fitted.history, steps=20)
    assert result.best_epoch == int(np.argmin(fitted.history)) + 1


def test_refit_with_another_batch_size_continues():
    train, held_out = make_data(96).split(64, seed=0)
    trainer = make_trainer()
    first = trainer.fit(train, held_out=held_out, n_epochs=1, batch_size=16)
    second = trainer.fit(train, held_out=held_out, n_epochs=1, batch_size=32)
    assert second.history[0]['epoch'] == 1 and np.isfinite(second.history[0]['loss'])
    # The optimizer kept its state (Keras-like): Adam counted 4 + 2 steps.
    assert int(trainer.optimizer.step_count.value) == 6
    assert first.history[0]['loss'] != second.history[0]['loss']


def test_restore_best_false_keeps_last_parameters():
    train, held_out = make_data(96).split(64, seed=0)
    seen = {}
    trainer = make_trainer(lr=0.5, callbacks=[lambda info: seen.__setitem__(info['epoch'], params_of(info['model']))])
    result = trainer.fit(train, held_out=held_out, n_epochs=4, batch_size=16, restore_best=False,
                         monitor='held_out_acc')
    assert result.best_epoch < 4  # else the last and the best parameters would coincide
    assert_trees_equal(params_of(trainer.model), seen[4])
    assert_trees_equal(result.best_params['readout.weight'], seen[result.best_epoch][('readout', 'weight')])


def test_evaluate_with_ragged_step_mask_does_not_depend_on_batch_size():
    data = make_data(50)
    rng = np.random.default_rng(0)
    mask = (np.arange(data.n_steps)[None, :] >= rng.integers(1, data.n_steps, 50)[:, None]).astype(np.float32)
    masked = datasets.from_arrays(data.inputs, np.repeat(data.targets[:, None], data.n_steps, 1), mask)
    trainer = make_trainer()
    trainer.fit(masked, n_epochs=1, batch_size=16)
    padded = trainer.evaluate(masked, batch_size=16)
    whole = make_trainer(trainer.model).evaluate(masked, batch_size=50)
    assert_close_f32(padded['loss'], whole['loss'])  # two programs (batch shapes), no step between
    assert padded['acc'] == pytest.approx(whole['acc'], abs=1e-6)


def test_a_type_error_in_the_objective_is_not_blamed_on_the_inputs():
    def broken(p, t, mask=None):
        raise TypeError('my objective bug')

    trainer = Trainer(make_model(), braintools.optim.Adam(lr=1e-2), objective=broken, progress=False)
    with pytest.raises(TypeError, match='my objective bug'):
        trainer.fit(make_data(), n_epochs=1, batch_size=16)


def test_changing_the_objective_between_fits_retraces():
    trainer = make_trainer()
    trainer.fit(make_data(), n_epochs=1, batch_size=16)
    trainer.objective = lambda p, t, mask=None: objectives.cross_entropy()(p, t, mask) * 0.0 + 123.0
    assert trainer.fit(make_data(), n_epochs=1, batch_size=16).history[0]['loss'] == pytest.approx(123.0)


def test_resume_continues_the_random_stream(tmp_path):
    class NoisyRNN(RateRNN):
        def update(self, x):
            return super().update(x + 0.3 * brainstate.random.normal(size=x.shape))

    train = make_data(64)
    fit = dict(batch_size=16, seed=3)
    brainstate.random.seed(11)
    straight = make_trainer(NoisyRNN(2, 8, 2, cell='vanilla'), metrics=None)
    straight.fit(train, n_epochs=4, **fit)

    ckpt = str(tmp_path / 'noisy.msgpack')
    brainstate.random.seed(11)
    make_trainer(NoisyRNN(2, 8, 2, cell='vanilla'), metrics=None).fit(train, n_epochs=2, checkpoint=ckpt, **fit)
    brainstate.random.seed(12345)  # a new process would start elsewhere
    resumed = make_trainer(NoisyRNN(2, 8, 2, cell='vanilla'), metrics=None)
    resumed.fit(train, n_epochs=4, resume_from=ckpt, **fit)
    assert_trees_equal(params_of(resumed.model), params_of(straight.model))


def test_evaluate_inside_a_callback_at_another_batch_size():
    train, held_out = make_data(96).split(64, seed=0)
    reference = make_trainer().fit(train, held_out=held_out, n_epochs=2, batch_size=16)
    trainer = make_trainer()
    side = []
    trainer.callbacks = [lambda info: side.append(trainer.evaluate(held_out, batch_size=8))]
    result = trainer.fit(train, held_out=held_out, n_epochs=2, batch_size=16)
    strip = lambda h: [{k: v for k, v in r.items() if k != 'time'} for r in h]
    assert strip(result.history) == strip(reference.history)
    assert side[-1]['acc'] == pytest.approx(result.history[-1]['held_out_acc'])
