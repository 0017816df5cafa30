"""Ensemble: member k of one vmapped fit is Trainer(models[k]) fitted alone; one compilation whatever K."""

import functools
import json
import math

import braintools
import brainstate
import datasets
import jax
import numpy as np
import pytest
from float32 import assert_close_f32

from trainer import Ensemble, NonFiniteLossError, Trainer, metrics, objectives, rollout
from trainer.models import GainPopulation, RateRNN

LRS = [1e-1, 3e-2, 1e-2, 1e30]  # the last diverges at once; the others stop at different epochs
DECAYS = [0.0, 1e-3, 1e-2, 0.0]
N_EPOCHS, BATCH = 8, 16


@functools.lru_cache(maxsize=None)
def data():
    ds = datasets.load_dataset('delayed_match_task', n_trials=64, seq_len=6, n_symbols=2)
    return ds.split(48, seed=0)


def model(seed, hidden=8, cell='vanilla'):
    return RateRNN(2, hidden, 2, seed=seed, cell=cell)


KW = dict(objective=objectives.cross_entropy(), metrics={'acc': metrics.accuracy()}, progress=False)


def params_of(m):
    return {k: s.value for k, s in m.states(brainstate.ParamState).items()}


# At most 8 epochs of 3 steps (48 trials, batches of 16): what one member may drift from its
# solo fit, the vmapped program and the solo one rounding differently (tests/float32.py).
STEPS = N_EPOCHS * 3


def assert_same_history(alone, member, steps=STEPS):
    assert [r['epoch'] for r in alone] == [r['epoch'] for r in member]
    for ra, rb in zip(alone, member):
        assert list(ra) == list(rb)
        for key in ra:
            if key == 'time':
                continue
            if ra[key] is None:
                assert rb[key] is None
            elif key.endswith('acc'):  # a count of trials: equal, or a trial changed its answer
                assert rb[key] == pytest.approx(ra[key], abs=1e-6), (ra['epoch'], key)
            else:  # vmapped vs solo: float32 losses after the epoch's steps
                assert_close_f32(rb[key], ra[key], steps=3 * ra['epoch'], err_msg=f"epoch {ra['epoch']}, {key}")


def strip_time(history):
    return [{k: v for k, v in row.items() if k != 'time'} for row in history]


@functools.lru_cache(maxsize=None)
def fitted(compile_epoch):
    """One ensemble fit and each member alone: per-member lr, with a diverging member per step,
    with per-member weight decay in the compiled epoch (one NaN case is enough for the suite's time)."""
    train, held_out = data()
    lrs = LRS if not compile_epoch else LRS[:3]
    hparams = {'lr': lrs, **({'weight_decay': DECAYS[:3]} if compile_epoch else {})}
    ensemble = Ensemble([model(s) for s in range(len(lrs))], braintools.optim.Adam(lr=1e-2),
                        hparams=hparams, **KW)
    settings = dict(held_out=held_out, n_epochs=N_EPOCHS, batch_size=BATCH, patience=2,
                    compile_epoch=compile_epoch)
    if compile_epoch:
        result = ensemble.fit(train, **settings)
    else:
        with pytest.warns(RuntimeWarning, match=r'models\[3\]: the training loss became nan at epoch 1, step 1'):
            result = ensemble.fit(train, **settings)
    alone = []
    for k, lr in enumerate(lrs):
        decay = DECAYS[k] if compile_epoch else 0.0
        trainer = Trainer(model(k), braintools.optim.Adam(lr=lr, weight_decay=decay), **KW)
        try:
            alone.append(trainer.fit(train, **settings))
        except NonFiniteLossError as error:
            alone.append(error)
        alone[-1] = (alone[-1], trainer.model)
    return ensemble, result, alone


@pytest.mark.parametrize('compile_epoch', [False, True], ids=['per_step', 'compiled_epoch'])
def test_each_member_is_its_own_trainer(compile_epoch):
    _, result, alone = fitted(compile_epoch)
    stops = [len(m.history) for m in result.members[:3]]
    # The premise: early stopping fired at different epochs, and one member ran all epochs.
    assert len(set(stops)) == 3 and N_EPOCHS in stops, stops
    for k, ((own, own_model), member) in enumerate(zip(alone[:3], result.members[:3])):
        assert_same_history(own.history, member.history)
        assert (member.best_epoch, member.stopped_early) == (own.best_epoch, own.stopped_early)
        assert_close_f32(member.best_value, own.best_value, steps=STEPS)  # vmapped vs solo, as the history
        assert_close_f32(member.best_params, own.best_params, steps=STEPS)
        assert_close_f32(params_of(member.model), params_of(own_model), steps=STEPS)  # restored to the best epoch
        assert member.history[0]['lr'] == pytest.approx(LRS[k])
    assert result.n_compilations == {'train': 1, 'eval': 1}
    if compile_epoch:
        assert result.errors == {}
        return
    # The diverged member: the Trainer raises where the ensemble froze it, both at its initial weights.
    error, own_model = alone[3]
    assert isinstance(error, NonFiniteLossError) and 'at epoch 1, step 1' in str(error)
    assert 'at epoch 1, step 1' in result.errors[3] and result.members[3].history == []
    # Never stepped: its initial weights, exactly (no program computed them).
    jax.tree.map(np.testing.assert_array_equal, params_of(own_model), params_of(result.members[3].model))


def test_one_trace_and_one_compilation_whatever_k():
    train, held_out = data()
    calls = {}

    def forward(m, x):  # a Python call per trace: member 0 traces for every K
        calls[n] = calls.get(n, 0) + 1
        return rollout(m, x)

    for n in (2, 5):
        ensemble = Ensemble([model(s) for s in range(n)], braintools.optim.Adam(lr=1e-2),
                            forward=forward, **KW)
        result = ensemble.fit(train, held_out=held_out, n_epochs=2, batch_size=BATCH)
        assert result.n_compilations == {'train': 1, 'eval': 1}
        assert len(result.members) == n and all(len(m.history) == 2 for m in result.members)
    assert calls[2] == calls[5]


def test_seeds_give_each_member_its_own_batch_order_and_member_batch_maps():
    train, _ = data()
    seeds = [3, 7]
    # member_batch=1: the members one after another inside the program (jax.lax.map), not vmapped.
    result = Ensemble([model(s) for s in range(2)], braintools.optim.Adam(lr=1e-2), member_batch=1,
                      **KW).fit(train, n_epochs=2, batch_size=BATCH, seeds=seeds)
    assert result.n_compilations == {'train': 1, 'eval': 0}
    for k, seed in enumerate(seeds):
        own = Trainer(model(k), braintools.optim.Adam(lr=1e-2), **KW).fit(
            train, n_epochs=2, batch_size=BATCH, seed=seed)
        assert_same_history(own.history, result.members[k].history)  # lax.map'ed vs solo: 2 epochs of 3 steps
        assert_close_f32(result.members[k].best_params, own.best_params, steps=6)
    shared = Ensemble([model(s) for s in range(2)], braintools.optim.Adam(lr=1e-2), **KW).fit(
        train, n_epochs=2, batch_size=BATCH, seed=3)
    assert shared.members[1].history[0]['loss'] != pytest.approx(result.members[1].history[0]['loss'])


def test_checkpoint_holds_every_member_and_resumes_exactly(tmp_path):
    train, held_out = data()
    settings = dict(held_out=held_out, batch_size=BATCH, seeds=[3, 7], patience=1)

    def ensemble():
        return Ensemble([model(s) for s in range(2)], braintools.optim.Adam(lr=1e-2),
                        hparams={'lr': [1e-1, 1e-2]}, **KW)

    whole = ensemble().fit(train, n_epochs=5, checkpoint=str(tmp_path / 'whole.msgpack'), **settings)
    ensemble().fit(train, n_epochs=2, checkpoint=str(tmp_path / 'part.msgpack'), **settings)
    resumed = ensemble().fit(train, n_epochs=5, resume_from=str(tmp_path / 'part.msgpack'), **settings)
    assert [len(m.history) for m in whole.members] == [len(m.history) for m in resumed.members]
    assert any(m.stopped_early for m in whole.members)
    for a, b in zip(whole.members, resumed.members):  # the same program, stopped and resumed: bit for bit
        assert strip_time(a.history) == strip_time(b.history)
        assert a.best_epoch == b.best_epoch
        jax.tree.map(np.testing.assert_array_equal, a.best_params, b.best_params)
    with pytest.raises(ValueError, match='ensemble of 2 members'):
        Ensemble([model(s) for s in range(3)], braintools.optim.Adam(lr=1e-2), **KW).fit(
            train, n_epochs=5, resume_from=str(tmp_path / 'part.msgpack'),
            **{**settings, 'seeds': [3, 7, 9]})


def test_result_history_summary_plot_and_csv(tmp_path):
    _, result, _ = fitted(False)
    history = result.history
    assert len(history) == sum(len(m.history) for m in result.members)
    assert [(r['epoch'], r['member']) for r in history] == sorted((r['epoch'], r['member']) for r in history)
    bests = [m.best_value for m in result.members if m.best_value is not None]
    summary = result.summary()
    assert summary['best_held_out_loss']['mean'] == pytest.approx(np.mean(bests))
    assert summary['best_held_out_loss']['sd'] == pytest.approx(np.std(bests, ddof=1))
    assert summary['best_held_out_loss']['n'] == 3  # the diverged member has none
    finals = [m.history[-1]['held_out_acc'] for m in result.members if m.history]
    assert summary['final_held_out_acc']['max'] == pytest.approx(max(finals))
    assert result.best_member == int(np.argmin([m.best_value if m.best_value is not None else math.inf
                                                for m in result.members]))
    result.to_json(tmp_path / 'r.json')
    saved = json.loads((tmp_path / 'r.json').read_text())
    assert saved['best_member'] == result.best_member and saved['errors'].keys() == {'3'}
    assert [m['history'] for m in saved['members']] == [m.history for m in result.members]
    result.to_csv(tmp_path / 'h.csv')
    assert len((tmp_path / 'h.csv').read_text().strip().splitlines()) == len(history) + 1
    fig = result.plot(tmp_path / 'curves.png')
    assert (tmp_path / 'curves.png').stat().st_size > 5000
    assert [len(ax.lines) for ax in fig.axes] == [3 + 1, 3 + 1]  # a line per member with epochs, and the mean


def test_evaluate_returns_each_members_own_values():
    ensemble, result, _ = fitted(False)
    _, held_out = data()
    values = ensemble.evaluate(held_out)
    for k, m in enumerate(result.members):
        own = Trainer(m.model, braintools.optim.Adam(lr=1e-2), **KW).evaluate(held_out, batch_size=BATCH)
        assert set(values[k]) == {'loss', 'acc'}
        for key in own:
            if math.isfinite(own[key]):
                assert_close_f32(values[k][key], own[key])  # vmapped evaluation vs solo: no step taken


@pytest.mark.parametrize('models, match', [
    (lambda: [model(0), model(1, hidden=16)], r"models\[1\] is not structurally identical.*parameter 'cell"),
    (lambda: [model(0), model(1, cell='gru')], r"models\[1\] is not structurally identical.*lacks the parameter"),
    (lambda: [model(0), model(1), GainPopulation(1)], r"models\[2\].*it is a GainPopulation, models\[0\] a RateRNN"),
], ids=['hidden_size', 'cell', 'class'])
def test_structurally_different_members_are_named(models, match):
    with pytest.raises(ValueError, match=match):
        Ensemble(models(), braintools.optim.Adam(lr=1e-2), **KW)


def _registered():
    opt = braintools.optim.Adam(lr=1e-2)
    Trainer(model(9), opt, **KW)
    return opt


@pytest.mark.parametrize('build, error, match', [
    (lambda: Ensemble(model(0), braintools.optim.Adam(), **KW), TypeError, 'models must be a list'),
    (lambda: Ensemble([], braintools.optim.Adam(), **KW), ValueError, 'models is empty'),
    (lambda: (lambda m: Ensemble([m, m], braintools.optim.Adam(), **KW))(model(0)), ValueError,
     r'models\[1\] is the same object as models\[0\]'),
    (lambda: Ensemble([model(0), model(1)], _registered(), **KW), ValueError, 'already registered'),
    (lambda: Ensemble([model(0), model(1)], braintools.optim.Adam(), hparams={'lr': [1e-2]}, **KW),
     ValueError, r"hparams\['lr'\] has 1 values but the ensemble has 2 members"),
    (lambda: Ensemble([model(0), model(1)], braintools.optim.Adam(), hparams={'momentum': [0, 1]}, **KW),
     ValueError, "'momentum' is not a per-member hyper-parameter"),
    (lambda: Ensemble([model(0), model(1)], braintools.optim.Adam(), hparams={'lr': [1e-2, 0.0]}, **KW),
     ValueError, r"hparams\['lr'\]\[1\] must be a positive finite number, got 0.0"),
    (lambda: Ensemble([model(0), model(1)], braintools.optim.Adam(lr=braintools.optim.OneCycleLR(
        max_lr=0.1, total_steps=10)), hparams={'lr': [1e-2, 1e-3]}, **KW), ValueError,
     'the optimizer.s is OneCycleLR'),
], ids=['not_a_list', 'empty', 'same_model', 'registered', 'hparam_length', 'hparam_name',
        'hparam_value', 'schedule'])
def test_bad_arguments_are_named(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_seeds_must_match_the_members():
    train, _ = data()
    ensemble = Ensemble([model(0), model(1)], braintools.optim.Adam(), **KW)
    with pytest.raises(ValueError, match='seeds must be a list of 2 ints'):
        ensemble.fit(train, n_epochs=1, batch_size=BATCH, seeds=[1])
    with pytest.raises(ValueError, match=r'seeds\[1\] must be a non-negative int'):
        ensemble.fit(train, n_epochs=1, batch_size=BATCH, seeds=[1, -2])


def test_an_ensemble_trains_through_a_curriculum_as_each_member_alone():
    # A loss threshold of 0 is never met: every stage ends after max_epochs_per_stage, for every
    # member alike, so the members' solo fits move on at the same epochs as the ensemble.
    curriculum = datasets.Curriculum([{'seq_len': 4, 'n_symbols': 2}, {'seq_len': 6, 'n_symbols': 2}],
                                     task='delayed_match_task', n_trials=48, monitor='held_out_loss',
                                     threshold=0.0, max_epochs_per_stage=2)
    ensemble = Ensemble([model(0), model(1)], braintools.optim.Adam(lr=1e-2), **KW)
    result = ensemble.fit(curriculum, n_epochs=4, batch_size=BATCH)
    assert result.n_compilations == {'train': 2, 'eval': 2}  # one pair per trial length
    for k, member in enumerate(result.members):
        alone = Trainer(model(k), braintools.optim.Adam(lr=1e-2), **KW).fit(curriculum, n_epochs=4, batch_size=BATCH)
        assert [r['stage'] for r in member.history] == [0, 0, 1, 1]
        assert_same_history(alone.history, member.history, steps=12)  # 4 epochs x 3 steps, vmapped vs solo
        assert_close_f32(member.best_params, alone.best_params, steps=12)
