"""trainer.callbacks and the one loop: the same callbacks on every front door, their state resumed."""

import csv

import braintools
import brainunit as u
import datasets
import numpy as np
import optax
import pytest

from trainer import Ensemble, Fitter, Simulator, Trainer, metrics, objectives
from trainer.callbacks import Callback, CSVLogger, EarlyStopping, History
from trainer.models import GainPopulation, RateRNN

KW = dict(objective=objectives.cross_entropy(), metrics={'acc': metrics.accuracy()}, progress=False)


def data():
    ds = datasets.load_dataset('delayed_match_task', n_trials=64, seq_len=6, n_symbols=2)
    return ds.split(48, seed=0)


class StopAt(Callback):
    """Stops after ``epoch``; records what it was shown."""

    def __init__(self, epoch):
        self.at, self.seen, self.started, self.ended = epoch, [], 0, 0

    def on_fit_start(self, fit):
        self.started += 1

    def on_epoch_end(self, epoch, logs):
        self.seen.append((epoch, logs))
        return epoch >= self.at

    def on_fit_end(self, fit):
        self.ended += 1


def test_a_callback_stops_a_trainer_and_sees_metrics_only():
    train, held_out = data()
    stop = StopAt(2)
    result = Trainer(RateRNN(2, 8, 2), braintools.optim.Adam(lr=1e-2), **KW).fit(
        train, held_out=held_out, n_epochs=6, batch_size=16, callbacks=[stop])
    assert len(result.history) == 2 and result.stopped_early
    assert (stop.started, stop.ended) == (1, 1)
    assert sorted(stop.seen[0][1]) == ['acc', 'held_out_acc', 'held_out_loss', 'loss']  # no bookkeeping
    assert stop.seen[0][1]['loss'] == result.history[0]['loss']


def test_the_same_callback_stops_an_ensemble_with_a_list_per_member():
    train, held_out = data()
    stop = StopAt(1)
    result = Ensemble([RateRNN(2, 8, 2, seed=s) for s in range(2)], braintools.optim.Adam(lr=1e-2), **KW).fit(
        train, held_out=held_out, n_epochs=5, batch_size=16, callbacks=[stop])
    assert [len(m.history) for m in result.members] == [1, 1]
    assert all(m.stopped_early for m in result.members)
    logs = stop.seen[0][1]
    assert logs['loss'] == [m.history[0]['loss'] for m in result.members]


def test_a_fitter_runs_the_callbacks_per_step():
    stop, history = StopAt(4), History()

    def predict(m):
        return Simulator(m, dt=0.1 * u.ms).run(5. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])['r']

    fitter = Fitter(GainPopulation(1, g=0.5), braintools.optim.Adam(lr=0.05),
                    objective=objectives.steady_state(n_tail=10), predict=predict, callbacks=[history, stop])
    result = fitter.fit(1.2, n_steps=20)
    assert result.n_steps == 5 and [row['step'] for row in history.rows] == [0, 1, 2, 3, 4]
    assert [logs['loss'] for _, logs in stop.seen] == result.history


def test_early_stopping_and_csv_state_resume_exactly(tmp_path):
    train, held_out = data()
    ckpt, log = str(tmp_path / 'run.msgpack'), str(tmp_path / 'log.csv')

    def trainer():
        return Trainer(RateRNN(2, 8, 2), braintools.optim.Adam(lr=3e-2), **KW)

    whole = trainer().fit(train, held_out=held_out, n_epochs=8, batch_size=16, monitor='held_out_acc',
                          callbacks=[EarlyStopping(2, monitor='held_out_acc', min_delta=10.0)])
    assert len(whole.history) == 3  # min_delta no epoch can meet: epoch 1 is best, stops 2 later
    trainer().fit(train, held_out=held_out, n_epochs=2, batch_size=16, checkpoint=ckpt, monitor='held_out_acc',
                  callbacks=[EarlyStopping(2, monitor='held_out_acc', min_delta=10.0), CSVLogger(log)])
    rest = trainer().fit(train, held_out=held_out, n_epochs=8, batch_size=16, resume_from=ckpt,
                         monitor='held_out_acc',
                         callbacks=[EarlyStopping(2, monitor='held_out_acc', min_delta=10.0), CSVLogger(log)])
    assert [{k: v for k, v in r.items() if k != 'time'} for r in rest.history] == \
        [{k: v for k, v in r.items() if k != 'time'} for r in whole.history]
    rows = list(csv.DictReader(open(log)))
    assert [int(r['epoch']) for r in rows] == [1, 2, 3]  # the resumed fit appended its epoch


def test_an_ensemble_refuses_a_resume_with_other_hparams(tmp_path):
    train, _ = data()
    ckpt = str(tmp_path / 'e.msgpack')

    def ensemble(lrs):
        return Ensemble([RateRNN(2, 8, 2, seed=s) for s in range(2)], braintools.optim.Adam(lr=1e-2),
                        hparams={'lr': lrs}, **KW)

    ensemble([1e-2, 3e-3]).fit(train, n_epochs=1, batch_size=16, checkpoint=ckpt)
    with pytest.raises(ValueError, match='hparams'):
        ensemble([1e-2, 1e-1]).fit(train, n_epochs=2, batch_size=16, resume_from=ckpt)
    with pytest.raises(ValueError, match='2-member ensemble checkpoint'):
        Trainer(RateRNN(2, 8, 2), braintools.optim.Adam(lr=1e-2), **KW).fit(
            train, n_epochs=2, batch_size=16, resume_from=ckpt)


def test_per_member_lr_through_an_optax_transform_is_refused():
    with pytest.raises(ValueError, match="hparams\\['lr'\\].*plain optax"):
        Ensemble([RateRNN(2, 8, 2, seed=s) for s in range(2)], optax.adam(1e-2), hparams={'lr': [1e-3, 1e-1]}, **KW)


def test_members_train_at_their_own_lr():
    train, _ = data()
    result = Ensemble([RateRNN(2, 8, 2, seed=0) for _ in range(2)], braintools.optim.Adam(lr=1e-2),
                      hparams={'lr': [1e-3, 1e-1]}, **KW).fit(train, n_epochs=2, batch_size=16)
    first, second = result.members
    assert (first.history[0]['lr'], second.history[0]['lr']) == pytest.approx((1e-3, 1e-1))
    assert first.history[-1]['loss'] != second.history[-1]['loss']  # same start, other rates


def test_plots_and_progress_show_metrics_not_bookkeeping(capsys):
    curriculum = datasets.Curriculum([{'seq_len': 4, 'n_symbols': 2}], task='delayed_match_task', n_trials=48)
    trainer = Trainer(RateRNN(2, 8, 2), braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(),
                      metrics={'acc': metrics.accuracy()})
    result = trainer.fit(curriculum, n_epochs=2, batch_size=16)
    assert [r['stage'] for r in result.history] == [0, 0]
    titles = [ax.get_title() or ax.get_ylabel() for ax in result.plot().axes]
    assert not any('stage' in t or 'time' in t or 'lr' == t for t in titles)
    err = capsys.readouterr().err
    assert 'stage' not in err and 'loss=' in err
