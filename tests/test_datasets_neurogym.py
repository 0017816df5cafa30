"""datasets.from_neurogym and neurogym host streams, against real neurogym environments.

neurogym is the optional extra ``neurogym``; without it these tests skip.
"""

import warnings

import numpy as np
import pytest

import datasets

ngym = pytest.importorskip('neurogym', reason="needs the neurogym extra: pip install -e '.[neurogym]'")

ENVS = ['PerceptualDecisionMaking-v0', 'DelayMatchSample-v0', 'GoNogo-v0']


def make(name, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return ngym.make(name, dt=20, **kwargs)


@pytest.mark.parametrize('name', ENVS)
def test_trials_match_the_envs_own(name):
    env = make(name)
    ds = datasets.from_neurogym(env, 6, seed=3)
    unwrapped = env.unwrapped
    unwrapped.seed(3)
    for trial in range(6):
        info = unwrapped.new_trial()
        steps = unwrapped.ob.shape[0]
        np.testing.assert_array_equal(ds.inputs[trial, :steps], unwrapped.ob)
        np.testing.assert_array_equal(ds.targets[trial, :steps], unwrapped.gt)
        decision = np.zeros(ds.n_steps)
        decision[unwrapped.start_ind['decision']:unwrapped.end_ind['decision']] = 1
        np.testing.assert_array_equal(ds.mask[trial], decision)
        assert ds.conditions['ground_truth'][trial] == info['ground_truth']
    assert ds.n_classes == unwrapped.action_space.n and float(ds.dt.to_decimal(ds.dt.unit)) == 20


def test_the_seed_reaches_the_envs_generator():
    env = make('PerceptualDecisionMaking-v0')
    first = datasets.from_neurogym(env, 8, seed=0)
    env.reset(seed=123)  # gymnasium's reset seed does not reach new_trial's generator; ours does
    again = datasets.from_neurogym(env, 8, seed=0)
    other = datasets.from_neurogym(env, 8, seed=1)
    assert np.array_equal(first.inputs, again.inputs)
    assert not np.array_equal(first.inputs, other.inputs)


def test_variable_lengths_are_padded_under_the_mask():
    env = make('PerceptualDecisionMaking-v0', timing={'stimulus': ('uniform', (200, 1000))})
    ds = datasets.from_neurogym(env, 16, seed=0)
    env.unwrapped.seed(0)
    lengths = np.array([(env.unwrapped.new_trial(), env.unwrapped.ob.shape[0])[1] for _ in range(16)])
    assert len(set(lengths.tolist())) > 1 and ds.n_steps == lengths.max()
    for trial, length in enumerate(lengths):
        assert not ds.mask[trial, length:].any() and ds.mask[trial, length - 1] == 1  # decision ends the trial
    assert datasets.stream(env, held_out=4).n_steps == (100 + 1000 + 0 + 100) // 20  # every period at its longest


def test_loss_weights_by_period():
    env = make('GoNogo-v0')
    ds = datasets.from_neurogym(env, 4, seed=0, loss_weights={'stimulus': 0.2, 'delay': 0.2, 'decision': 1.0})
    np.testing.assert_allclose(ds.loss_weights[ds.mask == 1], 1.0)
    np.testing.assert_allclose(ds.loss_weights[ds.mask == 0], np.float32(0.2))  # GoNogo: no fixation period


def test_a_host_stream_is_a_pure_function_of_seed_epoch_and_step():
    s = datasets.stream(make('DelayMatchSample-v0'), seed=0, held_out=16)
    assert (s.kind, s.n_features, s.n_steps, s.n_classes) == ('host', 3, 160, 3)
    a = s.batch(2, 1, 8)
    assert np.array_equal(a['inputs'], datasets.stream(make('DelayMatchSample-v0'), seed=0).batch(2, 1, 8)['inputs'])
    assert not np.array_equal(a['inputs'], s.batch(3, 1, 8)['inputs'])
    data, idx = s.epoch(2, 3, 8, start_step=1)
    np.testing.assert_array_equal(data['inputs'][0], a['inputs'])
    np.testing.assert_array_equal(idx, [0, 1])
    np.testing.assert_array_equal(s.sampler(8)(data, 0)['inputs'], a['inputs'])
    held = s.held_out_set()
    assert held is s.held_out_set() and len(held) == 16
    assert not np.array_equal(held.inputs[:8], s.batch(0, 0, 8)['inputs'])


def test_a_host_mixture_of_neurogym_streams():
    mix = datasets.Multitask({'pdm': datasets.stream(make('PerceptualDecisionMaking-v0'), held_out=8),
                              'gng': datasets.stream(make('GoNogo-v0'), held_out=8)}, seed=0)
    assert mix.kind == 'host' and mix.n_features == 3 + 2 and mix.n_steps == 110
    data, idx = mix.epoch(0, 2, 8)
    assert data['inputs'].shape == (2, 8, 110, 5) and sorted(data['groups'][0].tolist()) == [0] * 4 + [1] * 4
    assert sorted(set(mix.held_out_set().conditions['task'].tolist())) == [0, 1]


def test_bad_arguments_raise():
    env = make('GoNogo-v0')
    with pytest.raises(TypeError, match='env must be a neurogym environment'):
        datasets.from_neurogym(object(), 4, seed=0)
    with pytest.raises(TypeError, match='score_periods must be a non-empty tuple'):
        datasets.from_neurogym(env, 4, seed=0, score_periods='decision')
    with pytest.raises(ValueError, match='covers no step'):
        datasets.from_neurogym(env, 4, seed=0, score_periods=('reward',))
    with pytest.raises(TypeError, match='loss_weights must be a dict'):
        datasets.from_neurogym(env, 4, seed=0, loss_weights=0.2)
    with pytest.raises(ValueError, match='longer than n_steps=10'):
        datasets.from_neurogym(env, 4, seed=0, n_steps=10)


def test_yang19_tasks_in_one_network_one_task_a_batch():
    names = ('go', 'anti', 'dms')
    mix = datasets.Multitask({n: datasets.stream(make(f'yang19.{n}-v0'), held_out=8) for n in names},
                             sampling='per_batch', seed=0)
    assert (mix.n_features, mix.n_classes, mix.n_steps) == (33 + 3, 17, 160)
    data, _ = mix.epoch(1, 6, 4)
    rule = data['inputs'][:, :, 0, 33:]  # (steps, trials, tasks)
    np.testing.assert_array_equal(rule.argmax(-1), data['groups'])
    assert all(len(set(g.tolist())) == 1 for g in data['groups'])
    held = mix.held_out_set()
    assert len(held) == 24 and list(np.unique(held.conditions['task_name'])) == sorted(names)
