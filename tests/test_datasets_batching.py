"""batch_indices / epoch_indices / batches: every trial once per epoch, seeded, resumable."""

import grain
import numpy as np
import pytest

import datasets


def _numbered(n_trials, with_mask=True):
    # Trial i carries i everywhere, so a batch shows which trials it holds.
    ids = np.arange(n_trials)
    return datasets.from_arrays(
        np.broadcast_to(ids[:, None, None], (n_trials, 3, 2)), ids,
        np.broadcast_to(ids[:, None] % 2, (n_trials, 3)) if with_mask else None,
    )


def test_batch_indices_is_a_grain_map_dataset_of_index_batches():
    records = datasets.batch_indices(100, 32, seed=0, epoch=0)
    assert isinstance(records, grain.MapDataset)
    assert len(records) == 3
    assert all(records[k].dtype == np.int32 and records[k].shape == (32,) for k in range(3))
    with pytest.raises(IndexError, match='batch 3 is out of range for 3 batches'):
        records[3]


@pytest.mark.parametrize('make_iterator', [iter, lambda r: iter(r.to_iter_dataset())],
                         ids=['iter', 'to_iter_dataset'])
def test_batch_indices_iterate_checkpointably_in_order(make_iterator):
    records = datasets.batch_indices(100, 16, seed=1, epoch=0)
    iterator = make_iterator(records)
    assert isinstance(iterator, grain.DatasetIterator)
    first = next(iterator)
    state = iterator.get_state()
    rest = list(iterator)
    iterator.set_state(state)
    np.testing.assert_array_equal(next(iterator), rest[0])
    np.testing.assert_array_equal(np.stack([first] + rest),
                                  datasets.epoch_indices(100, 16, seed=1, epoch=0))
    np.testing.assert_array_equal(records[2:4][1], records[3])


@pytest.mark.parametrize('n_trials, batch_size, drop, n_batches, last',
                         [(100, 32, True, 3, 32), (100, 32, False, 4, 4), (96, 32, False, 3, 32),
                          (5, 5, True, 1, 5), (3, 8, False, 1, 3)],
                         ids=['drop', 'keep_short', 'exact', 'one_batch', 'batch_above_n'])
def test_each_trial_served_at_most_once_and_all_when_kept(n_trials, batch_size, drop, n_batches, last):
    records = datasets.batch_indices(n_trials, batch_size, seed=3, epoch=1, drop_remainder=drop)
    rows = [records[k] for k in range(len(records))]
    assert len(rows) == n_batches and len(rows[-1]) == last
    served = np.concatenate(rows)
    assert len(np.unique(served)) == len(served)  # no trial twice
    assert len(served) == (n_trials // batch_size * batch_size if drop else n_trials)


def test_epoch_permutation_is_a_pure_function_of_seed_and_epoch():
    def order(seed, epoch):
        return datasets.epoch_indices(64, 8, seed=seed, epoch=epoch).ravel()
    np.testing.assert_array_equal(order(0, 0), order(0, 0))
    np.testing.assert_array_equal(order(0, 0), np.random.default_rng([0, 0]).permutation(64))
    assert not np.array_equal(order(0, 0), order(0, 1))
    # grain's own shuffle seeds epoch e with seed + e; ours must not alias that way.
    assert not np.array_equal(order(0, 1), order(1, 0))
    np.testing.assert_array_equal(
        datasets.epoch_indices(64, 8, shuffle=False).ravel(), np.arange(64))


def test_epoch_indices_matches_batch_indices():
    stacked = datasets.epoch_indices(100, 16, seed=7, epoch=2)
    records = datasets.batch_indices(100, 16, seed=7, epoch=2)
    assert stacked.shape == (6, 16) and stacked.dtype == np.int32
    np.testing.assert_array_equal(stacked, np.stack([records[k] for k in range(len(records))]))
    assert datasets.epoch_indices(96, 16, drop_remainder=False).shape == (6, 16)


def test_batches_serve_each_trial_exactly_once_per_epoch():
    ds = _numbered(100)
    for epoch in range(3):
        seen = []
        for inputs, targets, mask in datasets.batches(ds, 10, seed=0, epoch=epoch):
            assert inputs.shape == (10, 3, 2) and inputs.dtype == np.float32
            np.testing.assert_array_equal(inputs[:, 0, 0], targets)  # rows stay together
            np.testing.assert_array_equal(mask[:, 0], targets % 2)
            seen.extend(targets.tolist())
        assert sorted(seen) == list(range(100))


def test_batches_are_deterministic_and_reshuffled_per_epoch():
    ds = _numbered(50)

    def labels(**kwargs):
        return [t.tolist() for _, t, _ in datasets.batches(ds, 8, **kwargs)]
    assert labels(seed=1, epoch=0) == labels(seed=1, epoch=0)
    assert labels(seed=1, epoch=0) != labels(seed=1, epoch=1)
    assert labels(seed=1, epoch=0) != labels(seed=2, epoch=0)
    assert sum(labels(seed=0, shuffle=False), []) == list(range(48))


def test_batches_resume_from_a_step_exactly():
    ds = _numbered(100)
    full = [t for _, t, _ in datasets.batches(ds, 16, seed=4, epoch=5)]
    resumed = [t for _, t, _ in datasets.batches(ds, 16, seed=4, epoch=5, start_step=4)]
    assert len(resumed) == len(full) - 4
    for a, b in zip(full[4:], resumed):
        np.testing.assert_array_equal(a, b)
    assert list(datasets.batches(ds, 16, start_step=len(full))) == []


def test_batches_keep_the_short_last_batch_and_pass_a_missing_mask():
    ds = _numbered(10, with_mask=False)
    out = list(datasets.batches(ds, 4, drop_remainder=False))
    assert [len(t) for _, t, _ in out] == [4, 4, 2]
    assert all(mask is None for _, _, mask in out)


@pytest.mark.parametrize(
    'kwargs, match',
    [(dict(batch_size=0), 'batch_size must be a positive int, got 0'),
     (dict(batch_size=2.0), 'batch_size must be a positive int, got 2.0'),
     (dict(batch_size=11), 'batch_size=11 is larger than the 10 trials'),
     (dict(seed=-1), 'seed must be a non-negative int'),
     (dict(epoch=-2), 'epoch must be a non-negative int'),
     (dict(start_step=3), 'start_step=3 is past the 2 batches')],
    ids=['zero', 'float', 'too_big', 'seed', 'epoch', 'start_step'],
)
def test_batches_reject_bad_arguments_before_iterating(kwargs, match):
    args = dict(batch_size=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        datasets.batches(_numbered(10), args.pop('batch_size'), **args)


def test_batches_need_a_dataset_and_epoch_indices_cannot_stack_a_short_batch():
    with pytest.raises(TypeError, match='dataset must be a TaskDataset'):
        datasets.batches(np.zeros((4, 2, 1)), 2)
    with pytest.raises(ValueError, match='leaves a last batch of 2 trials'):
        datasets.epoch_indices(10, 4, drop_remainder=False)
