"""datasets.Curriculum: stages, the advance rule, resuming, padding."""

import numpy as np
import pytest
from float32 import assert_close_f32

import datasets
from datasets._curriculum import pad_steps

TASK = 'delayed_match_task'  # numpy-generated: these tests compile nothing to build stages


def curriculum(**kwargs):
    return datasets.Curriculum([{'seq_len': 4}, {'seq_len': 6}, {}], task=TASK, **kwargs)


def rows(*values, key='held_out_acc'):
    return [{key: v} for v in values]


@pytest.mark.parametrize('values, advance', [
    ((0.5,), False), ((0.89,), False), ((0.9,), True), ((0.2, 0.95), True), ((0.95, 0.2), False),
], ids=['below', 'just-below', 'at', 'crossed-last', 'fell-back'])
def test_advances_when_the_last_value_crosses_the_threshold(values, advance):
    assert curriculum(threshold=0.9).should_advance(0, rows(*values)) is advance


def test_a_loss_monitor_advances_at_or_below_the_threshold():
    c = curriculum(monitor='held_out_loss', threshold=0.1)
    assert c.maximize is False
    assert c.should_advance(0, rows(0.3, 0.1, key='held_out_loss'))
    assert not c.should_advance(0, rows(0.3, key='held_out_loss'))
    assert curriculum(monitor='held_out_loss', threshold=0.1, mode='max').should_advance(
        0, rows(0.3, key='held_out_loss'))


def test_the_last_stage_never_advances():
    c = curriculum(threshold=0.0, max_epochs_per_stage=1)
    assert c.should_advance(1, rows(1.0))
    assert not c.should_advance(2, rows(1.0))
    assert not c.should_advance(2, rows(*[1.0] * 50))


def test_min_epochs_and_max_epochs_per_stage():
    c = curriculum(min_epochs=3, max_epochs_per_stage=5)
    assert [c.should_advance(0, rows(*[1.0] * n)) for n in (1, 2, 3)] == [False, False, True]
    assert [c.should_advance(0, rows(*[0.0] * n)) for n in (4, 5)] == [False, True]


def test_epochs_without_evaluation_do_not_advance():
    assert not curriculum().should_advance(0, rows(None))
    assert not curriculum().should_advance(0, rows(float('nan')))
    assert not curriculum().should_advance(0, [])


def test_a_monitor_missing_from_the_history_is_an_error():
    with pytest.raises(KeyError, match="monitors 'held_out_acc'.*train with held-out data"):
        curriculum().should_advance(0, [{'loss': 0.1}])


def test_dict_stages_load_the_task_with_their_arguments_deterministically():
    c = curriculum()
    assert c.n_steps == (4, 6, 10) and c.max_steps == 10 and len(c) == 3
    first = c.stage_dataset(1, n_trials=32, seed=3)
    again = c.stage_dataset(1, n_trials=32, seed=3)
    reference = datasets.load_dataset(TASK, n_trials=32, seed=3, seq_len=6)
    for a in (again, reference):
        np.testing.assert_array_equal(first.inputs, a.inputs)
        np.testing.assert_array_equal(first.targets, a.targets)
    assert not np.array_equal(first.inputs, c.stage_dataset(1, n_trials=32, seed=4).inputs)


def test_taskdataset_stages_are_returned_as_they_are():
    ds = datasets.delayed_match_task(16, seq_len=5)
    c = datasets.Curriculum([ds, {}], task=TASK)
    assert c.stage_dataset(0, n_trials=99, seed=7) is ds
    assert datasets.Curriculum([ds, ds]).n_steps == (5, 5)  # no task needed without dicts


def test_stages_with_different_feature_counts_are_rejected():
    with pytest.raises(ValueError, match='same number of input features.*stage 0 has 4, stage 1 has 6'):
        datasets.Curriculum([{'n_symbols': 4}, {'n_symbols': 6}], task=TASK)
    values = datasets.from_arrays(np.zeros((4, 3, 4)), np.zeros((4, 3, 2)))
    with pytest.raises(ValueError, match='same kind of targets'):
        datasets.Curriculum([datasets.delayed_match_task(4, seq_len=3), values])


@pytest.mark.parametrize('stages, kwargs, error, match', [
    ([], {}, ValueError, 'non-empty list'),
    ({'seq_len': 4}, {'task': TASK}, ValueError, 'wrap a single stage in a list'),
    ([{'seq_len': 4}], {}, ValueError, 'task= must name it'),
    ([3], {}, TypeError, 'stage 0 must be a TaskDataset or a dict'),
    ([{}], {'task': TASK, 'threshold': float('nan')}, ValueError, 'threshold must be a finite'),
    ([{}], {'task': TASK, 'min_epochs': 0}, ValueError, 'min_epochs must be a positive int'),
    ([{}], {'task': TASK, 'mode': 'up'}, ValueError, "mode must be 'auto'"),
    ([{'seq_len': 1}], {'task': TASK}, ValueError, 'seq_len must be >= 2'),
], ids=['empty', 'bare-dict', 'no-task', 'not-a-stage', 'nan-threshold', 'min-epochs', 'mode',
        'bad-task-argument'])
def test_bad_arguments_are_refused(stages, kwargs, error, match):
    with pytest.raises(error, match=match):
        datasets.Curriculum(stages, **kwargs)


def test_position_resumes_mid_stage_and_after_a_finished_stage():
    c = curriculum(threshold=0.9)
    history = [{'stage': 0, 'held_out_acc': 0.4}, {'stage': 0, 'held_out_acc': 0.95},
               {'stage': 1, 'held_out_acc': 0.5}]
    assert c.position([]) == (0, [])
    assert c.position(history[:1]) == (0, history[:1])
    assert c.position(history[:2]) == (1, [])
    assert c.position(history) == (1, history[2:])
    # Resumed rows advance exactly where the uninterrupted run would.
    assert c.should_advance(1, c.position(history)[1] + [{'stage': 1, 'held_out_acc': 0.97}])
    last = [{'stage': 2, 'held_out_acc': 1.0}]
    assert c.position(last) == (2, last)
    with pytest.raises(ValueError, match="no 'stage' key"):
        c.position([{'held_out_acc': 0.5}])


def test_stage_index_is_checked():
    with pytest.raises(ValueError, match=r'stage must be an int in \[0, 3\), got 3'):
        curriculum().stage_dataset(3, n_trials=4, seed=0)


def test_padding_keeps_the_scored_steps():
    per_step = datasets.from_arrays(np.ones((3, 4, 2)), np.ones((3, 4), int), np.ones((3, 4)))
    padded = pad_steps(per_step, 7)
    assert padded.inputs.shape == (3, 7, 2) and padded.mask.shape == (3, 7)
    np.testing.assert_array_equal(padded.mask.sum(1), [4, 4, 4])
    np.testing.assert_array_equal(padded.inputs[:, 4:], 0.0)
    per_trial = pad_steps(datasets.delayed_match_task(4, seq_len=4), 6)
    np.testing.assert_array_equal(per_trial.mask[0], [0, 0, 0, 1, 0, 0])
    assert pad_steps(per_step, 4) is per_step
    with pytest.raises(ValueError, match='at least the stage\'s own 4 steps'):
        pad_steps(per_step, 3)


def test_a_padded_stage_scores_like_the_unpadded_one():
    import braintools
    from trainer import Trainer, metrics, objectives
    from trainer.models import RateRNN
    c = curriculum()
    plain = c.stage_dataset(0, n_trials=16, seed=0)
    padded = c.stage_dataset(0, n_trials=16, seed=0, n_steps=c.max_steps)
    trainer = Trainer(RateRNN(4, 8, 2, seed=1), braintools.optim.Adam(lr=1e-3),
                      objective=objectives.cross_entropy(), metrics={'acc': metrics.accuracy()},
                      progress=False)
    a, b = trainer.evaluate(plain, batch_size=16), trainer.evaluate(padded, batch_size=16)
    assert_close_f32(a['loss'], b['loss'])  # the padded stage's program vs the plain one's
    assert a['acc'] == b['acc']


# -- Trainer.fit(curriculum): the mechanism, not accuracy numbers -------------------

def _trainer(seed=0, **kwargs):
    import braintools
    from trainer import Trainer, metrics, objectives
    from trainer.models import RateRNN
    return Trainer(RateRNN(4, 8, 2, seed=seed), braintools.optim.Adam(lr=1e-2),
                   objective=objectives.cross_entropy(), metrics={'acc': metrics.accuracy()},
                   progress=False, **kwargs)


def small(**kwargs):
    """Three stages of 4, 6 and 10 steps; 40 trials each, 30 train (3 batches of 10), 10 held out."""
    return curriculum(**{"n_trials": 40, "held_out": 0.25, **kwargs})


def _without_time(history):
    return [{k: v for k, v in row.items() if k != 'time'} for row in history]


def test_stage_splits_are_the_stage_trials_split_by_the_seed():
    c = small(seed=3)
    train, held_out = c.stage_splits(1)
    expected = datasets.load_dataset(TASK, n_trials=40, seed=3, seq_len=6).split(0.75, seed=3)
    for part, reference in zip((train, held_out), expected):
        np.testing.assert_array_equal(part.inputs, reference.inputs)
        np.testing.assert_array_equal(part.targets, reference.targets)
    assert (len(train), len(held_out)) == (30, 10) and c.stage_splits(1)[0] is train  # drawn once
    everything, none = small(held_out=0.0).stage_splits(0)
    assert len(everything) == 40 and none is None
    padded, _ = small(pad=True).stage_splits(2)  # the longest stage gets a mask too: one structure
    assert padded.n_steps == 10 and padded.mask is not None


def test_fit_advances_on_the_threshold_and_stays_in_the_last_stage():
    result = _trainer().fit(small(threshold=0.0), n_epochs=5, batch_size=10)
    assert [row['stage'] for row in result.history] == [0, 1, 2, 2, 2]
    assert [row['epoch'] for row in result.history] == [1, 2, 3, 4, 5]
    # One compilation per distinct trial length (4, 6, 10 steps), train and held out.
    assert result.n_compilations == {'train': 3, 'eval': 3}
    # (A threshold never met keeps a stage going: test_patience_and_the_best_epoch_... below.)


def test_each_stage_trains_on_its_own_trials_with_its_own_shuffle():
    c = small(threshold=0.0)
    trainer = _trainer(seed=3)
    result = trainer.fit(c, n_epochs=2, batch_size=10, seed=5)
    # The same two epochs by hand: one plain fit per stage on the curriculum's splits.
    manual = _trainer(seed=3)
    first = manual.fit(c.stage_splits(0)[0], held_out=c.stage_splits(0)[1], n_epochs=1,
                       batch_size=10, seed=5, restore_best=False)
    second = manual.fit(c.stage_splits(1)[0], held_out=c.stage_splits(1)[1], n_epochs=1,
                        batch_size=10, seed=6)  # stage s shuffles with seed + s, from its epoch 1
    expected = [dict(first.history[0], stage=0), dict(second.history[0], epoch=2, stage=1)]
    assert _without_time(result.history) == _without_time(expected)


def test_padded_stages_compile_once():
    result = _trainer().fit(small(threshold=0.0, pad=True), n_epochs=3, batch_size=10)
    assert [row['stage'] for row in result.history] == [0, 1, 2]
    assert result.n_compilations == {'train': 1, 'eval': 1}


def test_patience_and_the_best_epoch_belong_to_the_last_stage():
    # min_delta=10: only a stage's first epoch is ever "best", every later one waits. Stages 0
    # and 1 move on at max_epochs_per_stage=3 regardless; patience=1 stops the last stage at
    # its second epoch, and the best epoch is that stage's first (not the fit's first).
    c = small(threshold=1.0, max_epochs_per_stage=3)
    result = _trainer().fit(c, n_epochs=12, batch_size=10, patience=1, min_delta=10.0)
    assert [row['stage'] for row in result.history] == [0, 0, 0, 1, 1, 1, 2, 2]
    assert result.stopped_early and (result.best_epoch, result.monitor) == (7, 'held_out_acc')
    assert result.best_value == result.history[6]['held_out_acc']


@pytest.mark.parametrize('stop', [2, 4], ids=['at-a-stage-boundary', 'mid-stage'])
def test_resume_mid_curriculum_is_bit_identical(tmp_path, stop):
    c = small(threshold=0.0, min_epochs=2)  # stages of 2, 2 and the rest
    whole = _trainer().fit(c, n_epochs=6, batch_size=10, seed=1, checkpoint=str(tmp_path / 'a'))
    first = _trainer()
    first.fit(small(threshold=0.0, min_epochs=2), n_epochs=stop, batch_size=10, seed=1,
              checkpoint=str(tmp_path / 'b'))
    resumed = _trainer().fit(small(threshold=0.0, min_epochs=2), n_epochs=6, batch_size=10, seed=1,
                             resume_from=str(tmp_path / 'b'))
    assert [row['stage'] for row in whole.history] == [0, 0, 1, 1, 2, 2]
    assert _without_time(resumed.history) == _without_time(whole.history)
    assert (resumed.best_epoch, resumed.best_value) == (whole.best_epoch, whole.best_value)
    import jax
    jax.tree.map(np.testing.assert_array_equal, resumed.best_params, whole.best_params)


def test_curriculum_fit_refuses_what_it_cannot_honour(tmp_path):
    trainer = _trainer()
    held = datasets.delayed_match_task(8, seq_len=4)
    with pytest.raises(ValueError, match='held_out must be None when training on a Curriculum'):
        trainer.fit(small(), held_out=held, n_epochs=1, batch_size=10)
    with pytest.raises(ValueError, match="advances on 'held_out_acc', which is not a history key"):
        trainer.fit(small(held_out=0.0), n_epochs=1, batch_size=10)
    plain = tmp_path / 'plain'
    trainer.fit(datasets.delayed_match_task(20, seq_len=4), n_epochs=1, batch_size=10,
                checkpoint=str(plain))
    with pytest.raises(ValueError, match='written by a fit on one dataset, not on a Curriculum'):
        _trainer().fit(small(), n_epochs=2, batch_size=10, resume_from=str(plain))
    staged = tmp_path / 'staged'
    _trainer().fit(small(), n_epochs=1, batch_size=10, checkpoint=str(staged))
    with pytest.raises(ValueError, match='written by a fit on a Curriculum'):
        _trainer().fit(datasets.delayed_match_task(20, seq_len=4), n_epochs=2, batch_size=10,
                       resume_from=str(staged))


@pytest.mark.parametrize('kwargs, match', [
    ({'held_out': 1.0}, r'held_out must be a fraction in \[0, 1\)'),
    ({'n_trials': 0}, 'n_trials must be a positive int'),
    ({'pad': 'yes'}, 'pad must be True or False'),
], ids=['held-out', 'n-trials', 'pad'])
def test_bad_trial_arguments_are_refused(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        curriculum(**kwargs)
