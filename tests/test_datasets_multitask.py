"""datasets.Multitask: tasks on one input width, length and readout, a rule input, per-task groups."""

import jax
import numpy as np
import pytest

import datasets
from trainer import metrics, objectives
from trainer.objectives.scores import as_sums, make_score, mean_of


def toy(n, steps, features, label, seed=0, per_trial=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, steps, features))
    y = np.full(n, label) if per_trial else np.full((n, steps), label)
    mask = None if per_trial else np.ones((n, steps))
    return datasets.from_arrays(x, y, mask, conditions={'i': np.arange(n)})


@pytest.fixture(scope='module')
def mix():
    return datasets.Multitask({'a': toy(20, 4, 2, 0), 'b': toy(10, 6, 3, 2, seed=1)}, held_out=0.2, seed=0)


def test_the_common_shape_pads_inputs_adds_the_rule_and_pads_time(mix):
    assert (mix.kind, mix.n_features, mix.n_steps, mix.n_classes) == ('stored', 3 + 2, 6, 3)
    train = mix.train_set()
    task = train.conditions['task']
    assert len(train) == 16 + 8 and sorted(set(task.tolist())) == [0, 1]
    a, b = train[task == 0], train[task == 1]
    np.testing.assert_array_equal(a.inputs[:, :, 3:], np.broadcast_to([1.0, 0.0], (16, 6, 2)))  # rule 'a'
    np.testing.assert_array_equal(b.inputs[:, :, 3:], np.broadcast_to([0.0, 1.0], (8, 6, 2)))
    assert not a.inputs[:, :, 2].any() and not a.inputs[:, 4:, :3].any()  # padded width and time are zero
    np.testing.assert_array_equal(a.mask[:, 4:], 0.0)  # padded steps are not scored
    # Labels keep their meaning.
    assert set(np.unique(a.targets[a.mask > 0])) == {0} and set(np.unique(b.targets)) == {2}
    assert list(np.unique(train.conditions['task_name'])) == ['a', 'b']


def test_each_task_holds_out_fixed_disjoint_trials(mix):
    held, train = mix.held_out_set(), mix.train_set()
    assert held is mix.held_out_set() and len(held) == 4 + 2
    for k in (0, 1):
        trained = set(train.conditions['i'][train.conditions['task'] == k].tolist())
        kept = set(held.conditions['i'][held.conditions['task'] == k].tolist())
        assert kept and not trained & kept


def test_a_per_trial_label_is_scored_at_its_own_last_step():
    m = datasets.Multitask({'a': toy(5, 3, 1, 1, per_trial=True), 'b': toy(5, 6, 1, 0)}, held_out=None)
    a = m.train_set()[m.train_set().conditions['task'] == 0]
    np.testing.assert_array_equal(a.mask[0], [0, 0, 1, 0, 0, 0])
    assert a.targets.shape == (5, 6) and a.targets[0, 2] == 1


def test_epoch_indices_are_a_pure_function_of_seed_and_epoch(mix):
    np.testing.assert_array_equal(mix.epoch_indices(3, 8), mix.epoch_indices(3, 8))
    assert not np.array_equal(mix.epoch_indices(3, 8), mix.epoch_indices(4, 8))
    task = mix.train_set().conditions['task']
    rows = mix.epoch_indices(0, 6)
    assert rows.shape == (4, 6)
    np.testing.assert_array_equal((task[rows] == 0).sum(axis=1), 4)  # 16:8 trials -> 4:2 a batch


def test_per_batch_sampling_gives_one_task_a_batch_by_weight():
    m = datasets.Multitask({'a': toy(40, 4, 2, 0), 'b': toy(40, 4, 2, 1)}, sampling='per_batch',
                           weights={'a': 3, 'b': 1}, held_out=None)
    task = m.train_set().conditions['task']
    rows = m.epoch_indices(0, 4, n_steps=400)
    per_batch = task[rows]
    assert (per_batch == per_batch[:, :1]).all()
    assert 0.68 < (per_batch[:, 0] == 0).mean() < 0.82  # weight 3/4


def test_contradicting_tasks_are_separable_only_with_the_rule_input():
    x = np.random.default_rng(0).normal(size=(8, 3, 2))
    a = datasets.from_arrays(x, np.zeros((8, 3)), np.ones((8, 3)))
    b = datasets.from_arrays(x, np.ones((8, 3)), np.ones((8, 3)))  # same inputs, the other label

    def labels_per_input(rule_input):
        train = datasets.Multitask({'a': a, 'b': b}, rule_input=rule_input, held_out=None).train_set()
        seen = {}
        for trial in range(len(train)):
            seen.setdefault(train.inputs[trial].tobytes(), set()).add(int(train.targets[trial, 0]))
        return seen

    assert all(labels == {0, 1} for labels in labels_per_input(False).values())  # no readout can fit both
    assert all(len(labels) == 1 for labels in labels_per_input(True).values())


@pytest.fixture(scope='module')
def streams():
    return {'gng': datasets.stream('go_no_go', held_out=16),
            'pdm': datasets.stream('perceptual_decision_making', held_out=16, loss_weights=0.2)}


@pytest.mark.parametrize('sampling', ['mixed', 'per_batch'])
def test_a_device_mixture_draws_in_the_trace(streams, sampling):
    m = datasets.Multitask(streams, sampling=sampling, seed=1)
    assert m.kind == 'device' and m.n_features == 9 + 2 and m.n_steps == 110
    data, keys = m.epoch(0, 3, 8)
    assert data is None and keys.shape == (3, 2)
    sample = jax.jit(m.sampler(8))
    batch = jax.device_get(sample(None, keys[0]))
    assert batch['inputs'].shape == (8, 110, 11) and batch['loss_weights'].shape == (8, 110)
    np.testing.assert_array_equal(batch['inputs'][:, 0, 9:].argmax(1), batch['groups'])  # the rule names the task
    if sampling == 'mixed':
        assert sorted(batch['groups'].tolist()) == [0] * 4 + [1] * 4
    else:
        assert len(set(batch['groups'].tolist())) == 1
    again = jax.device_get(sample(None, keys[0]))
    assert np.array_equal(batch['inputs'], again['inputs'])
    assert not np.array_equal(batch['inputs'], jax.device_get(sample(None, keys[1]))['inputs'])


def test_a_stream_mixture_holds_out_each_streams_own_set(streams):
    m = datasets.Multitask(streams)
    held = m.held_out_set()
    gng = held[held.conditions['task'] == 0]
    np.testing.assert_array_equal(gng.targets[:, :100], streams['gng'].held_out_set().targets)
    assert held.loss_weights is not None  # the gng part weighs its loss by its mask


def test_per_task_held_out_sums_are_exact(mix):
    held = mix.held_out_set()
    score = make_score(None, lambda model, x: x[..., :3], objectives.cross_entropy(),
                       {'acc': metrics.accuracy()}, groups=mix.tasks)
    data = {'inputs': held.inputs, 'targets': held.targets, 'mask': held.mask,
            'groups': held.conditions['task']}
    loss, (values, count) = jax.jit(score)(data, None, None)
    means = mean_of(as_sums(loss, values, count))
    for k, name in enumerate(mix.tasks):
        part = held[held.conditions['task'] == k]
        logits = part.inputs[..., :3]
        alone = float(metrics.accuracy()(logits, part.targets, part.mask))
        assert means[f'acc/{name}'] == pytest.approx(alone, abs=1e-6)


def test_bad_mixtures_raise(streams):
    with pytest.raises(TypeError, match='must all be TaskDatasets or all Streams'):
        datasets.Multitask({'a': toy(4, 2, 1, 0), 'b': streams['gng']})
    with pytest.raises(ValueError, match='share one dt'):
        datasets.Multitask({'a': toy(4, 2, 1, 0), 'b': datasets.from_arrays(np.ones((4, 2, 1)), np.zeros(4), dt=2.0)})
    with pytest.raises(ValueError, match='weights must be a dict naming every task'):
        datasets.Multitask(streams, weights={'gng': 1.0})
    with pytest.raises(ValueError, match="sampling must be one of"):
        datasets.Multitask(streams, sampling='round_robin')
    with pytest.raises(ValueError, match='mix label and value targets'):
        datasets.Multitask({'a': toy(4, 2, 1, 0), 'v': datasets.from_arrays(np.ones((4, 2, 1)), np.ones((4, 2, 1)))})
    with pytest.raises(TypeError, match='no fixed training set'):
        datasets.Multitask(streams).train_set()


@pytest.mark.parametrize('sampling', ['mixed', 'per_batch'])
def test_a_device_mixture_generated_apart_equals_its_inline_draws(streams, sampling):
    m = datasets.Multitask(streams, sampling=sampling, seed=2)
    data, idx = m.epoch(1, 3, 8, inline=False)
    _, keys = m.epoch(1, 3, 8)
    inline = jax.jit(m.sampler(8))
    for step in idx:
        a, b = jax.device_get(m.sampler(8, inline=False)(data, step)), jax.device_get(inline(None, keys[step]))
        np.testing.assert_array_equal(a['groups'], b['groups'])
        np.testing.assert_array_equal(a['targets'], b['targets'])
        np.testing.assert_allclose(a['inputs'], b['inputs'], atol=1e-5)
