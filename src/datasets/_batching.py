"""Minibatches through grain: one grain record is one batch of trial indices.

grain's idiomatic per-sample ``.map`` + ``.batch`` costs milliseconds per
batch, and each stacked grain transformation ~3-6 us of bookkeeping; here a
single source ``MapDataset`` whose record is a whole batch (a slice of a
per-epoch permutation) is gathered with numpy fancy indexing. grain's random
access makes resuming at any step exact.
"""

import numpy as np

from ._checks import check_bool, check_index_int, check_positive_int
from ._record import TaskDataset

__all__ = ['batch_indices', 'batches', 'epoch_indices']


def _epoch_order(n_trials, seed, epoch, shuffle):
    """The epoch's trial order: a pure function of ``(seed, epoch)``.

    Uses ``numpy.random.default_rng([seed, epoch])`` (a SeedSequence of both),
    not grain's ``shuffle``, which seeds epoch ``e`` with ``seed + e`` and so
    replays run ``seed=1``'s first epoch as run ``seed=0``'s second.
    """
    if shuffle:
        order = np.random.default_rng([seed, epoch]).permutation(n_trials).astype(np.int32)
    else:
        order = np.arange(n_trials, dtype=np.int32)
    order.flags.writeable = False
    return order


def _check(n_trials, batch_size, seed, epoch, shuffle, drop_remainder):
    if isinstance(n_trials, TaskDataset):
        raise TypeError(
            'n_trials must be an int, got a TaskDataset; pass len(dataset), or serve its '
            'arrays with datasets.batches(dataset, batch_size).'
        )
    n_trials = check_positive_int('n_trials', n_trials)
    check_bool('shuffle', shuffle)
    drop_remainder = check_bool('drop_remainder', drop_remainder)
    batch_size = check_positive_int('batch_size', batch_size)
    if drop_remainder and batch_size > n_trials:
        raise ValueError(
            f'batch_size={batch_size} is larger than the {n_trials} trials, so '
            f'drop_remainder=True leaves no batch; use batch_size <= {n_trials} '
            f'or drop_remainder=False.'
        )
    return n_trials, batch_size, check_index_int('seed', seed), check_index_int('epoch', epoch)


def batch_indices(n_trials, batch_size, *, seed=0, epoch=0, shuffle=True, drop_remainder=True):
    """One epoch of minibatch indices as a ``grain.MapDataset``.

    Record ``k`` is the int32 array of the trial indices in batch ``k``;
    ``len(...)`` is the number of batches. The order is
    ``numpy.random.default_rng([seed, epoch]).permutation(n_trials)`` (or
    ``arange`` when ``shuffle=False``), a pure function of ``(seed, epoch)``.

    Parameters
    ----------
    n_trials : int
        Number of trials in the dataset.
    batch_size : int
        Trials per batch.
    seed, epoch : int, optional
        Which permutation: each ``(seed, epoch)`` pair gives its own.
    shuffle : bool, optional
        Permute the trials (default) or keep their order.
    drop_remainder : bool, optional
        Drop the last, short batch (default) or keep it.

    Returns
    -------
    grain.MapDataset

    Examples
    --------
    >>> import datasets
    >>> ds = datasets.batch_indices(10, 4, seed=0, epoch=0)
    >>> len(ds), ds[0].shape, ds[0].dtype
    (2, (4,), dtype('int32'))
    """
    n_trials, batch_size, seed, epoch = _check(n_trials, batch_size, seed, epoch, shuffle, drop_remainder)
    n_batches = n_trials // batch_size if drop_remainder else -(-n_trials // batch_size)
    from ._grain_batches import EpochBatches  # grain (and orbax) load on the first call, not on import
    return EpochBatches(_epoch_order(n_trials, seed, epoch, shuffle), batch_size, n_batches)


def epoch_indices(n_trials, batch_size, *, seed=0, epoch=0, shuffle=True, drop_remainder=True):
    """All of an epoch's batches as one ``(n_batches, batch_size)`` int32 array.

    Row ``k`` equals record ``k`` of :func:`batch_indices` with the same
    arguments; this is the form to gather an epoch's batches on a device.

    Raises
    ------
    ValueError
        If ``drop_remainder=False`` leaves a short last batch (it cannot stack).

    Examples
    --------
    >>> import datasets
    >>> datasets.epoch_indices(10, 4, seed=0).shape
    (2, 4)
    """
    n_trials, batch_size, seed, epoch = _check(n_trials, batch_size, seed, epoch, shuffle, drop_remainder)
    if not drop_remainder and n_trials % batch_size:
        raise ValueError(
            f'drop_remainder=False leaves a last batch of {n_trials % batch_size} trials, '
            f'which cannot be stacked with batches of {batch_size}; pass drop_remainder=True '
            f'or a batch_size that divides {n_trials}.'
        )
    n_batches = n_trials // batch_size
    order = _epoch_order(n_trials, seed, epoch, shuffle)
    return order[:n_batches * batch_size].reshape(n_batches, batch_size).copy()


def batches(dataset, batch_size, *, seed=0, epoch=0, shuffle=True, drop_remainder=True,
            start_step=0):
    """Yield one epoch of ``(inputs, targets, mask)`` numpy minibatches.

    Batches come from :func:`batch_indices` (one grain record per batch),
    so each trial is served exactly once per epoch, the order is a pure
    function of ``(seed, epoch)``, and ``start_step=k`` resumes at batch
    ``k`` exactly as an uninterrupted epoch would have continued.

    Parameters
    ----------
    dataset : TaskDataset
        The trials.
    batch_size : int
        Trials per batch.
    seed, epoch : int, optional
        Select the epoch's permutation.
    shuffle, drop_remainder : bool, optional
        As in :func:`batch_indices`.
    start_step : int, optional
        First batch to yield, for resuming (``0 <= start_step <= n_batches``).

    Yields
    ------
    tuple
        ``(inputs, targets, mask)``; ``mask`` is None when the dataset has none.

    Examples
    --------
    >>> import datasets
    >>> ds = datasets.load_dataset('delayed_match_task', n_trials=100)
    >>> [x.shape for x, y, m in datasets.batches(ds, 32, seed=0, epoch=0)]
    [(32, 10, 4), (32, 10, 4), (32, 10, 4)]
    """
    if not isinstance(dataset, TaskDataset):
        raise TypeError(f'dataset must be a TaskDataset, got {type(dataset).__name__}.')
    records = batch_indices(dataset.n_trials, batch_size, seed=seed, epoch=epoch,
                            shuffle=shuffle, drop_remainder=drop_remainder)
    start_step = check_index_int('start_step', start_step)
    if start_step > len(records):
        raise ValueError(
            f'start_step={start_step} is past the {len(records)} batches of this epoch; '
            f'use 0 <= start_step <= {len(records)}.'
        )
    # Random access, not an iterator: the step index is the whole resume state.
    return _serve(dataset.inputs, dataset.targets, dataset.mask, records, start_step)


def _serve(inputs, targets, mask, records, start_step):
    for step in range(start_step, len(records)):
        rows = records[step]
        yield inputs[rows], targets[rows], None if mask is None else mask[rows]
