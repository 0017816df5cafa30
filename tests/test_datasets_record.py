"""TaskDataset, from_arrays, from_npz / save_npz: layout, conversion, splitting, errors."""

import brainunit as u
import numpy as np
import pytest

import datasets


def _labelled(n_trials=10, n_steps=4, n_features=2, seed=0):
    rng = np.random.default_rng(seed)
    return datasets.from_arrays(
        rng.standard_normal((n_trials, n_steps, n_features)),
        np.arange(n_trials) % 3,
        np.ones((n_trials, n_steps), bool),
        dt=0.5, seed=seed, name='toy', description='a toy',
    )


@pytest.mark.parametrize(
    'targets, dtype, n_classes',
    [(np.array([0, 2, 1]), np.int32, 3),
     (np.array([[0., 1.], [1., 1.], [0., 0.]]), np.int32, 2),
     (np.array([True, False, True]), np.int32, 2),
     (np.ones((3, 2, 4)), np.float32, None)],
    ids=['per_trial_labels', 'per_step_float_labels', 'bool_labels', 'per_step_values'],
)
def test_from_arrays_converts_and_derives_n_classes(targets, dtype, n_classes):
    ds = datasets.from_arrays(np.zeros((3, 2, 1), np.float64), targets)
    assert ds.inputs.dtype == np.float32 and ds.targets.dtype == dtype
    assert ds.n_classes == n_classes
    assert (ds.n_trials, ds.n_steps, ds.n_features, len(ds)) == (3, 2, 1, 3)
    assert ds.dt == 1.0 * u.ms and ds.mask is None


@pytest.mark.parametrize('dt, ms', [(0.1, 0.1), (2, 2.0), (0.02 * u.second, 20.0), (5 * u.ms, 5.0)],
                         ids=['float', 'int', 'seconds', 'ms'])
def test_dt_is_a_quantity_in_ms(dt, ms):
    ds = datasets.from_arrays(np.zeros((1, 2, 1)), np.zeros(1), dt=dt)
    assert u.math.allclose(ds.dt, ms * u.ms) and float(ds.dt.to_decimal(u.ms)) == pytest.approx(ms)


def test_record_is_frozen_and_read_only_without_locking_the_callers_array():
    inputs = np.zeros((2, 3, 1), np.float32)
    ds = datasets.from_arrays(inputs, np.array([0, 1]))
    with pytest.raises(Exception):
        ds.n_classes = 5
    with pytest.raises(ValueError, match='read-only'):
        ds.inputs[0, 0, 0] = 1.0
    inputs[0, 0, 0] = 1.0  # the caller's array stays writable
    assert inputs[0, 0, 0] == 1.0


def test_repr_is_short_and_names_the_shape():
    text = repr(_labelled())
    assert text.startswith("TaskDataset(name='toy', n_trials=10, n_steps=4, n_features=2")
    assert 'dt=0.5 ms' in text and 'n_classes=3' in text and len(text) < 250


def test_indexing_keeps_the_trial_axis_and_all_fields():
    ds = _labelled()
    one = ds[3]
    assert one.inputs.shape == (1, 4, 2) and one.targets.tolist() == [0] and one.mask.shape == (1, 4)
    np.testing.assert_array_equal(one.inputs[0], ds.inputs[3])
    assert ds[-1].targets.tolist() == [ds.targets[-1]]
    assert ds[2:5].targets.tolist() == [2, 0, 1]
    assert ds[np.array([9, 0])].targets.tolist() == [0, 0]
    assert len(ds[ds.targets == 1]) == 3
    assert (one.n_classes, one.dt, one.seed, one.name) == (3, ds.dt, ds.seed, 'toy')


def test_subset_carries_n_classes_over():
    ds = _labelled()
    part = ds.subset([0, 3])  # labels 0 and 0 only
    assert part.targets.tolist() == [0, 0] and part.n_classes == 3


@pytest.mark.parametrize(
    'parts, sizes',
    [((0.8,), [8, 2]), ((0.7, 0.15, 0.15), [7, 2, 1]), ((0.5, 0.5), [5, 5]),
     ((6, 2), [6, 2, 2]), ((6, 4), [6, 4]), ((0.3,), [3, 7])],
    ids=['one_fraction', 'three_fractions', 'two_halves', 'sizes_with_rest', 'sizes_exact',
         'small_fraction'],
)
def test_split_is_disjoint_and_covers_every_trial(parts, sizes):
    ds = _labelled()
    split = ds.split(*parts, seed=0)
    assert [len(part) for part in split] == sizes
    rows = np.concatenate([part.inputs[:, 0, 0] for part in split])
    assert sorted(rows.tolist()) == sorted(ds.inputs[:, 0, 0].tolist())  # each trial once
    assert all(part.n_classes == 3 for part in split)


def test_split_is_seeded():
    ds = _labelled(n_trials=50)
    a, _ = ds.split(0.5, seed=0)
    b, _ = ds.split(0.5, seed=0)
    c, _ = ds.split(0.5, seed=1)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert not np.array_equal(a.inputs, c.inputs)


@pytest.mark.parametrize(
    'parts, match',
    [((), 'at least one'), ((0.6, 0.6), 'sum to at most 1'), ((8, 8), 'at most n_trials=10'),
     ((0.5, 3), 'not a mix'), ((0.01,), 'leaves a part empty'), ((0.99,), 'leaves a part empty'),
     ((0,), 'positive ints'), ((1.5,), r'fraction 1.5, which is not in \(0, 1\)')],
    ids=['nothing', 'fractions_over_one', 'sizes_over_n', 'mixed', 'empty_first_part',
         'empty_rest', 'zero_size', 'fraction_over_one'],
)
def test_split_rejects_bad_parts(parts, match):
    with pytest.raises(ValueError, match=match):
        _labelled().split(*parts, seed=0)


@pytest.mark.parametrize(
    'kwargs, error, match',
    [(dict(inputs=np.zeros((3, 2))), ValueError, r'inputs must have shape \(n_trials, n_steps'),
     (dict(targets=np.zeros(4)), ValueError, 'inputs has 3 trials but targets has 4'),
     (dict(targets=np.zeros((3, 5))), ValueError, 'inputs has 2 steps but targets has 5'),
     (dict(targets=np.zeros((3, 2, 1, 1))), ValueError, 'targets must have shape'),
     (dict(targets=np.array([0.5, 1, 0])), ValueError, 'must be integer-valued'),
     (dict(targets=np.array([-1, 1, 0])), ValueError, r'lie in \[0, 2\*\*31\)'),
     (dict(mask=np.ones((3, 3))), ValueError, r'mask must have shape \(n_trials, n_steps\)'),
     (dict(mask=-np.ones((3, 2))), ValueError, 'mask must be >= 0'),
     (dict(inputs=np.full((3, 2, 1), np.nan)), ValueError, 'inputs must be finite, got 6 NaN'),
     (dict(targets=np.full((3, 2, 1), np.inf)), ValueError, 'targets must be finite'),
     (dict(inputs=np.full((3, 2, 1), 'a')), TypeError, 'inputs must hold real numbers'),
     (dict(inputs=np.zeros((0, 2, 1)), targets=np.zeros(0)), ValueError, 'at least one trial'),
     (dict(dt=0.0), ValueError, 'dt must be a positive finite scalar'),
     (dict(dt=3 * u.mV), ValueError, 'dt must be a time'),
     (dict(dt='1ms'), TypeError, 'dt must be a float'),
     (dict(n_classes=1), ValueError, r'n_classes must be an int greater than the largest label \(1\)'),
     (dict(targets=np.zeros((3, 2, 1)), n_classes=2), ValueError, 'n_classes must be None'),
     (dict(seed=-1), ValueError, 'seed must be a non-negative int')],
    ids=['inputs_rank', 'n_trials', 'n_steps', 'targets_rank', 'float_labels', 'negative_label',
         'mask_shape', 'negative_mask', 'nan_inputs', 'inf_targets', 'string_inputs', 'empty',
         'zero_dt', 'dt_not_time', 'dt_type', 'n_classes_too_small', 'n_classes_on_values',
         'negative_seed'],
)
def test_from_arrays_rejects_bad_input(kwargs, error, match):
    args = dict(inputs=np.zeros((3, 2, 1)), targets=np.array([0, 1, 0]))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        datasets.from_arrays(args.pop('inputs'), args.pop('targets'), **args)


def test_constructor_validates_without_converting():
    with pytest.raises(ValueError, match='inputs must be a float32 array of rank 3, got float64'):
        datasets.TaskDataset(np.zeros((2, 3, 1)), np.zeros(2, np.int32), n_classes=1)
    with pytest.raises(TypeError, match='inputs must be a numpy array, got list'):
        datasets.TaskDataset([[[0.0]]], np.zeros(1, np.int32), n_classes=1)


@pytest.mark.parametrize('index, error', [(10, IndexError), (-11, IndexError), (slice(5, 5), IndexError),
                                          (np.array([0.5]), IndexError), (np.ones(3, bool), IndexError)],
                         ids=['past_end', 'before_start', 'empty_slice', 'float_array', 'short_bool'])
def test_bad_indices_raise(index, error):
    with pytest.raises(error):
        _labelled()[index]


def test_npz_round_trip_keeps_every_field(tmp_path):
    ds = _labelled().subset([0, 1])  # n_classes 3 though only labels 0, 1 remain
    path = tmp_path / 'trials.npz'
    datasets.save_npz(ds, path)
    back = datasets.from_npz(path)
    for field in ('inputs', 'targets', 'mask'):
        np.testing.assert_array_equal(getattr(back, field), getattr(ds, field))
    assert (back.n_classes, back.seed, back.name, back.description) == (3, 0, 'toy', 'a toy')
    assert back.dt == ds.dt


def test_from_npz_reads_a_plain_file_and_checks_it(tmp_path):
    path = tmp_path / 'recorded.npz'
    np.savez(path, inputs=np.ones((4, 5, 2)), targets=np.ones((4, 5, 1)))
    ds = datasets.from_npz(path, dt=0.1)
    assert (ds.name, ds.n_classes, ds.targets.dtype, ds.dt) == ('recorded', None, np.float32, 0.1 * u.ms)
    np.savez(tmp_path / 'bad.npz', inputs=np.ones((4, 5, 2)))
    with pytest.raises(ValueError, match=r"lacks \['targets'\]"):
        datasets.from_npz(tmp_path / 'bad.npz')
    datasets.save_npz(ds, tmp_path / 'saved.npz')
    with pytest.raises(ValueError, match='disagrees with the file'):
        datasets.from_npz(tmp_path / 'saved.npz', dt=1.0)


def _with_conditions(n_trials=6):
    return datasets.from_arrays(
        np.zeros((n_trials, 3, 1)), np.arange(n_trials) % 2, dt=0.5,
        conditions={'coherence': np.linspace(0, 50, n_trials), 'rule': np.arange(n_trials) % 3,
                    'is_go': np.arange(n_trials) % 2 == 0, 'name': np.array(list('abcdef'))[:n_trials]})


def test_conditions_follow_indexing_subset_and_split():
    ds = _with_conditions()
    coherence = ds.conditions['coherence']
    np.testing.assert_array_equal(ds[[4, 1]].conditions['coherence'], coherence[[4, 1]])
    np.testing.assert_array_equal(ds[2].conditions['rule'], [2])
    np.testing.assert_array_equal(ds[ds.targets == 1].conditions['name'], ['b', 'd', 'f'])
    parts = ds.split(0.5, seed=1)
    for part in parts:  # each part's conditions describe its own trials
        rows = [int(np.flatnonzero(coherence == c)[0]) for c in part.conditions['coherence']]
        np.testing.assert_array_equal(part.targets, ds.targets[rows])
        np.testing.assert_array_equal(part.conditions['rule'], ds.conditions['rule'][rows])
    assert sorted(np.concatenate([p.conditions['coherence'] for p in parts])) == sorted(coherence)
    assert "conditions=['coherence', 'is_go', 'name', 'rule']" in repr(ds)


def test_conditions_are_read_only_and_do_not_lock_the_callers_arrays():
    coherence = np.array([0.0, 1.0])
    ds = datasets.from_arrays(np.zeros((2, 1, 1)), [0, 1], conditions={'coherence': coherence})
    with pytest.raises(ValueError, match='read-only'):
        ds.conditions['coherence'][0] = 5.0
    with pytest.raises(TypeError):
        ds.conditions['new'] = coherence
    coherence[0] = 7.0  # the caller's array stays writeable
    assert datasets.from_arrays(np.zeros((2, 1, 1)), [0, 1]).conditions == {}


def test_npz_round_trip_keeps_the_conditions(tmp_path):
    ds = _with_conditions()
    datasets.save_npz(ds, tmp_path / 'trials.npz')
    back = datasets.from_npz(tmp_path / 'trials.npz')
    assert sorted(back.conditions) == sorted(ds.conditions)
    for key, value in ds.conditions.items():
        assert back.conditions[key].dtype == value.dtype
        np.testing.assert_array_equal(back.conditions[key], value)


@pytest.mark.parametrize(
    'conditions, error, match',
    [({'coherence': np.zeros(5)}, ValueError, r"conditions\['coherence'\] must have shape \(n_trials,\) = \(6,\), got \(5,\)"),
     ({'coherence': np.zeros((6, 2))}, ValueError, r'got \(6, 2\)'),
     ({'x': np.array([{}] * 6)}, TypeError, 'not objects'),
     ({3: np.zeros(6)}, TypeError, 'non-empty strings'),
     ([np.zeros(6)], TypeError, 'must be a dict')],
    ids=['too_few', 'not_1d', 'objects', 'not_a_name', 'not_a_dict'])
def test_bad_conditions_raise(conditions, error, match):
    with pytest.raises(error, match=match):
        datasets.from_arrays(np.zeros((6, 3, 1)), np.zeros(6), conditions=conditions)


def test_constructor_checks_condition_types():
    with pytest.raises(TypeError, match=r"conditions\['c'\] must be a numpy array, got list"):
        datasets.TaskDataset(np.zeros((2, 1, 1), np.float32), np.zeros(2, np.int32), n_classes=1,
                             conditions={'c': [0, 1]})
    with pytest.raises(ValueError, match='numbers, bools or text, got dtype complex128'):
        datasets.TaskDataset(np.zeros((2, 1, 1), np.float32), np.zeros(2, np.int32), n_classes=1,
                             conditions={'c': np.zeros(2, complex)})


def _weighted(n=6, steps=4):
    weights = np.tile(np.array([0.2, 0.2, 1.0, 1.0], np.float32)[:steps], (n, 1))
    return datasets.from_arrays(np.zeros((n, steps, 1)), np.arange(n * steps).reshape(n, steps) % 2,
                                np.ones((n, steps)), loss_weights=weights * np.arange(1, n + 1)[:, None])


def test_loss_weights_are_kept_apart_from_the_mask_by_indexing_split_and_npz(tmp_path):
    ds = _weighted()
    assert ds.loss_weights.dtype == np.float32 and not ds.loss_weights.flags.writeable
    assert 'loss_weights=yes' in repr(ds)
    np.testing.assert_array_equal(ds[2].loss_weights, ds.loss_weights[2:3])
    train, held = ds.split(0.5, seed=0)
    np.testing.assert_array_equal(np.sort(np.concatenate([train.loss_weights, held.loss_weights])[:, 2]),
                                  np.arange(1, 7))
    datasets.save_npz(ds, tmp_path / 'w.npz')
    back = datasets.from_npz(tmp_path / 'w.npz')
    np.testing.assert_array_equal(back.loss_weights, ds.loss_weights)
    np.testing.assert_array_equal(back.mask, ds.mask)
    assert datasets.from_arrays(np.zeros((2, 3, 1)), np.zeros(2)).loss_weights is None


@pytest.mark.parametrize('weights, error', [
    (np.ones((6, 3)), 'loss_weights must have shape'),
    (-np.ones((6, 4)), 'loss_weights must be >= 0'),
    (np.zeros((6, 4)), 'loss_weights are zero on every step'),
    (np.full((6, 4), np.nan), 'loss_weights must be finite'),
], ids=['shape', 'negative', 'all-zero', 'nan'])
def test_bad_loss_weights_raise(weights, error):
    with pytest.raises(ValueError, match=error):
        datasets.from_arrays(np.zeros((6, 4, 1)), np.zeros(6), loss_weights=weights)
