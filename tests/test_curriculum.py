"""datasets.Curriculum: stages, the advance rule, resuming, padding."""

import numpy as np
import pytest

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
    assert a['loss'] == pytest.approx(b['loss'], rel=1e-5)
    assert a['acc'] == b['acc']
