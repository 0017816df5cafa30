"""Every braintools.cogtask task: shapes, seeds, mask/target alignment, label rules, errors.

Compiling a cogtask generator costs ~1 s, once per (task, dt, parameters) per
process; another seed or n_trials reuses it. Each task is generated here at
N trials, and the arrays are shared by the tests through a module fixture.
"""

import functools

import brainunit as u
import numpy as np
import pytest

import datasets

N = 64
# name: (n_steps, n_features, n_classes, response steps, default dt in ms)
EXPECTED = {
    'anti_reach': (100, 11, 9, 25, 20),
    'context_decision_making': (150, 19, 3, 10, 10),
    'delay_comparison': (125, 2, 3, 25, 20),
    'delay_direction_classification': (115, 10, 3, 25, 20),
    'delay_direction_reproduction': (115, 10, None, 25, 20),
    'delay_match_category': (122, 9, 3, 25, 20),
    'delay_match_sample': (115, 9, 3, 25, 20),
    'delay_paired_association': (115, 9, 5, 25, 20),
    'dual_delay_match_sample': (190, 9, 3, 25, 20),
    'evidence_accumulation': (150, 21, 3, 25, 20),
    'go_no_go': (100, 3, 2, 25, 20),  # cogtask claims 3 classes; no-go answers with label 0
    'hierarchical_reasoning': (200, 5, 3, 50, 10),
    'immediate_direction_classification': (160, 10, 3, 100, 5),
    'immediate_direction_reproduction': (160, 10, None, 100, 5),
    'interval_discrimination': (155, 2, 3, 25, 20),
    'perceptual_decision_making': (110, 9, 3, 5, 20),
    'perceptual_decision_making_delay_response': (135, 9, 3, 5, 20),
    'post_decision_wager': (140, 9, 5, 50, 20),
    'probabilistic_reasoning': (130, 9, 3, 25, 20),
    'pulse_decision_making': (151, 3, 3, 7, 20),
    'reaching_1d': (100, 9, 9, 25, 20),
    'ready_set_go': (140, 3, 3, 50, 20),  # cogtask claims 2 classes and emits 3
    'single_context_decision_making': (115, 17, 3, 10, 10),
}
NAMES = sorted(EXPECTED)
VARIABLE_LENGTH = {'hierarchical_reasoning', 'interval_discrimination', 'ready_set_go'}


@pytest.fixture(scope='module')
def load():
    @functools.lru_cache(maxsize=None)
    def cached(name, seed=0, mask='response', n_trials=N):
        return datasets.load_dataset(name, n_trials=n_trials, seed=seed, mask=mask)
    yield cached
    cached.cache_clear()


def _response_labels(ds):
    """The label at each trial's first response step."""
    return ds.targets[np.arange(len(ds)), (ds.mask > 0).argmax(1)]


def _mean_where(values, where):
    return (values * where[..., None]).sum(1) / where.sum(1, keepdims=True)


@pytest.mark.parametrize('name', NAMES)
def test_shapes_dtypes_and_labels(load, name):
    n_steps, n_features, n_classes, _, dt = EXPECTED[name]
    ds = load(name)
    assert ds.inputs.shape == (N, n_steps, n_features) and ds.inputs.dtype == np.float32
    assert ds.mask.shape == (N, n_steps) and ds.mask.dtype == np.float32
    assert (ds.n_classes, ds.dt, ds.seed, ds.name) == (n_classes, dt * u.ms, 0, name)
    if n_classes is None:
        assert ds.targets.shape == (N, n_steps, 3) and ds.targets.dtype == np.float32
    else:
        assert ds.targets.shape == (N, n_steps) and ds.targets.dtype == np.int32
        # n_classes counts the labels emitted: every class shows up, none beyond.
        assert np.unique(ds.targets).tolist() == list(range(n_classes))


@pytest.mark.parametrize('name', NAMES)
def test_same_seed_same_arrays_other_seed_other_arrays(load, name):
    again = datasets.load_dataset(name, n_trials=N, seed=0)
    for field in ('inputs', 'targets', 'mask'):
        np.testing.assert_array_equal(getattr(again, field), getattr(load(name), field))
    assert not np.array_equal(load(name, seed=1).inputs, again.inputs)


@pytest.mark.parametrize('name', NAMES)
def test_mask_is_the_response_period_aligned_with_the_target(load, name):
    ds, valid = load(name), load(name, mask='valid').mask > 0
    mask = ds.mask > 0
    assert set(np.unique(ds.mask)) <= {0.0, 1.0}
    assert np.all(mask.sum(1) == EXPECTED[name][3])
    assert not np.any(mask & ~valid)
    # The response is every task's last phase: it ends where the trial's valid steps end.
    np.testing.assert_array_equal(mask[:, ::-1].argmax(1), valid[:, ::-1].argmax(1))
    if ds.n_classes is None:
        # fixation_out (output 0) is released exactly in the response period.
        np.testing.assert_array_equal(mask, valid & (ds.targets[..., 0] == 0))
        np.testing.assert_allclose(np.linalg.norm(ds.targets[..., 1:], axis=-1), mask, atol=1e-6)
    elif name == 'go_no_go':
        assert not np.any((ds.targets != 0) & ~mask)
    else:
        # Label 0 is "fixate"; any other label is an answer, due only when the mask is on.
        np.testing.assert_array_equal(ds.targets != 0, mask)


def test_variable_length_tasks_pad_and_mask_the_padding(load):
    for name in sorted(VARIABLE_LENGTH):
        valid = load(name, mask='valid').mask
        lengths = valid.sum(1)
        assert lengths.min() < lengths.max() <= valid.shape[1]
        assert np.all(load(name).inputs[valid == 0] == 0)


def test_perceptual_decision_label_is_the_choice_with_stronger_evidence(load):
    ds = load('perceptual_decision_making')
    # Stimulus units (features 1-8) are cosine-tuned to 8 directions; choice 0 is 0 rad, choice 1 pi.
    stimulus = _mean_where(ds.inputs[:, :, 1:], ds.mask == 0)
    evidence = stimulus @ np.cos(np.linspace(0, 2 * np.pi, 8, endpoint=False))
    clear = np.abs(evidence) > 0.1  # ~2 noise sd; 0-coherence trials have no true answer
    assert clear.mean() > 0.6
    np.testing.assert_array_equal(_response_labels(ds)[clear], np.where(evidence > 0, 1, 2)[clear])


def test_delay_match_sample_label_says_whether_test_equals_sample(load):
    ds = load('delay_match_sample')
    stimulus = ds.inputs[:, :, 1:]
    sample = stimulus[np.arange(N), (np.abs(stimulus).sum(-1) > 0).argmax(1)]
    test = stimulus[np.arange(N), (ds.mask > 0).argmax(1)]
    match = np.all(np.isclose(sample, test), axis=-1)
    assert 0 < match.mean() < 1
    np.testing.assert_array_equal(_response_labels(ds), np.where(match, 1, 2))


def test_go_no_go_answers_only_after_a_go_cue(load):
    ds = load('go_no_go')
    go = ds.inputs[:, :, 1].sum(1) > ds.inputs[:, :, 2].sum(1)
    assert 0 < go.mean() < 1
    np.testing.assert_array_equal(_response_labels(ds), go.astype(np.int32))


def test_delay_comparison_label_says_whether_test_exceeds_sample(load):
    ds = load('delay_comparison')
    response = ds.mask > 0
    sample = _mean_where(ds.inputs[:, :, 1:], (ds.inputs[:, :, 1] != 0) & ~response)[:, 0]
    test = _mean_where(ds.inputs[:, :, 1:], response)[:, 0]
    clear = np.abs(test - sample) > 0.03  # the noise on each mean is ~0.005
    assert clear.mean() > 0.8
    np.testing.assert_array_equal(_response_labels(ds)[clear], np.where(test > sample, 1, 2)[clear])


def test_anti_reach_answers_at_or_opposite_the_stimulus(load):
    ds = load('anti_reach')
    location = ds.inputs[:, :, 1:9].sum(1).argmax(1)
    anti = ds.inputs[:, :, 10].sum(1) > ds.inputs[:, :, 9].sum(1)
    assert 0 < anti.mean() < 1
    answer = np.where(anti, (location + 4) % 8, location)
    np.testing.assert_array_equal(_response_labels(ds), answer + 1)


def test_interval_discrimination_label_says_which_interval_was_longer(load):
    ds = load('interval_discrimination')
    on = ds.inputs[:, :, 1] > 0
    onsets = np.argwhere(np.diff(on.astype(int), axis=1) == 1)
    assert len(onsets) == 2 * N
    first = [on[i, :onsets[2 * i + 1, 1] + 1].sum() for i in range(N)]
    second = on.sum(1) - first
    clear = np.asarray(first) != second  # equal step counts hide the ms difference
    answer = np.where(np.asarray(first) > second, 1, 2)
    np.testing.assert_array_equal(_response_labels(ds)[clear], answer[clear])


def test_pulse_decision_label_is_the_sign_of_the_summed_pulses(load):
    ds = load('pulse_decision_making')
    evidence = ds.inputs[:, :, 1].sum(1) - ds.inputs[:, :, 2].sum(1)
    clear = np.abs(evidence) > 1e-3
    np.testing.assert_array_equal(_response_labels(ds)[clear], np.where(evidence > 0, 2, 1)[clear])


@pytest.mark.parametrize('name', ['delay_match_sample', 'go_no_go', 'perceptual_decision_making',
                                  'delay_comparison'])
def test_two_choice_tasks_are_balanced(load, name):
    labels = _response_labels(load(name, n_trials=512))
    share = np.mean(labels == labels.max())
    assert abs(share - 0.5) < 4 * np.sqrt(0.25 / 512)


def test_equals_cogtasks_own_batch_sample():
    from braintools import cogtask
    ds = datasets.from_cogtask(cogtask.ReadySetGo, n_trials=40, seed=7, dt=20.0, mask='valid',
                               response_phases=('production',))
    inputs, targets, valid = cogtask.ReadySetGo(dt=20.0 * u.ms, seed=7).batch_sample(
        40, time_first=False, return_mask=True)
    np.testing.assert_allclose(ds.inputs, np.asarray(inputs), atol=1e-6)
    np.testing.assert_array_equal(ds.targets, np.asarray(targets))
    np.testing.assert_array_equal(ds.mask, np.asarray(valid, np.float32))


def test_task_parameters_and_dt_pass_through():
    ds = datasets.load_dataset('go_no_go', n_trials=8, dt=0.04 * u.second, t_response=200 * u.ms)
    # 500 ms phases at 40 ms round down to 12 steps each; the response is 5.
    assert ds.n_steps == 12 * 3 + 5 and ds.dt == 40.0 * u.ms
    assert np.all(ds.mask.sum(1) == 5)


@pytest.mark.parametrize(
    'kwargs, error, match',
    [(dict(t_stimlus=1 * u.ms), TypeError, r"takes no parameter\(s\) \['t_stimlus'\]"),
     (dict(mask='all'), ValueError, "mask must be one of \\('response', 'valid'\\)"),
     (dict(n_trials=0), ValueError, 'n_trials must be a positive int'),
     (dict(seed=-1), ValueError, 'seed must be a non-negative int'),
     (dict(dt=-5.0), ValueError, 'dt must be a positive finite scalar'),
     (dict(output_mode='vector'), TypeError, r"takes no parameter\(s\) \['output_mode'\]")],
    ids=['typo', 'mask', 'no_trials', 'seed', 'dt', 'reserved'],
)
def test_loader_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        datasets.load_dataset('go_no_go', **kwargs)


def test_from_cogtask_rejects_bad_tasks():
    from braintools import cogtask
    with pytest.raises(TypeError, match='must be a braintools.cogtask.Task subclass'):
        datasets.from_cogtask(object, dt=20.0)
    with pytest.raises(ValueError, match='ReadySetGo has no response phase'):
        datasets.from_cogtask(cogtask.ReadySetGo, dt=20.0)
    with pytest.raises(TypeError, match="write \\('production',\\) for one name"):
        datasets.from_cogtask(cogtask.ReadySetGo, dt=20.0, response_phases='production')


def test_conditions_record_the_trial_variables(load):
    ds = load('perceptual_decision_making')
    assert sorted(ds.conditions) == ['coherence', 'ground_truth', 'stimulus_direction']
    levels = np.unique(ds.conditions['coherence'])
    assert len(levels) > 2
    assert np.isclose(levels[:, None], [0.0, 6.4, 12.8, 25.6, 51.2]).any(1).all()
    # The response label is the ground truth + 1 (label 0 is fixation).
    np.testing.assert_array_equal(_response_labels(ds), ds.conditions['ground_truth'] + 1)
    np.testing.assert_allclose(ds.conditions['stimulus_direction'], np.pi * ds.conditions['ground_truth'])
    match = load('delay_match_sample').conditions
    np.testing.assert_array_equal(match['is_match'], match['sample_idx'] == match['test_idx'])
    anti = load('anti_reach').conditions
    assert anti['is_anti'].dtype == bool and 'rule' in anti
    # A vector-valued variable (seven pulses) is not a per-trial condition.
    assert 'pulses' not in load('pulse_decision_making').conditions


@pytest.mark.parametrize('task', ['delay_match_sample', 'delay_direction_reproduction'])
def test_shapes_only_gives_the_trials_shapes_and_kind_without_values(task):
    from datasets._cogtask import shapes_only
    real = datasets.load_dataset(task, n_trials=8, seed=0)
    with shapes_only():
        probe = datasets.load_dataset(task, n_trials=8, seed=0)
    for name in ('inputs', 'targets', 'mask'):
        assert getattr(probe, name).shape == getattr(real, name).shape
        assert getattr(probe, name).dtype == getattr(real, name).dtype
    assert (probe.n_classes is None) == (real.n_classes is None) and sorted(probe.conditions) == sorted(real.conditions)
    assert not probe.inputs.any() and probe.mask.all()  # placeholders, not trials
    with shapes_only(), pytest.raises(TypeError, match='takes no parameter'):  # arguments still checked
        datasets.load_dataset(task, n_trials=8, t_dleay=1.0)
