"""The delayed-match-to-sample task of ``brainmass.datasets``, as a TaskDataset."""

import numpy as np

from ._checks import check_index_int, check_positive_int
from ._io import from_arrays
from ._registry import register_dataset

__all__ = ['delayed_match_task']

_DESCRIPTION = 'Delayed match-to-sample: one-hot cue, empty delay, probe; label 1 iff probe == cue.'


def delayed_match_task(n_trials=None, *, seq_len=10, n_symbols=4, seed=0, dt=1.0,
                       n_samples=None):
    """A synthetic delayed-match-to-sample task, array-for-array brainmass's.

    Each trial shows a one-hot *cue* symbol at step 0, an empty delay, and a
    one-hot *probe* at the last step; the per-trial label is 1 iff the probe
    equals the cue. Exactly ``n_trials // 2`` trials match. The arrays equal
    ``brainmass.datasets.delayed_match_task(n_samples, seq_len=..., n_symbols=...,
    seed=...)`` of brainmass 0.1.1, with inputs stored as float32 and labels
    as int32.

    Parameters
    ----------
    n_trials : int, optional
        Number of trials (default 128). ``n_samples`` is brainmass's name for
        it and is accepted too.
    seq_len : int, optional
        Steps per trial, at least 2 (cue at step 0, probe at ``seq_len - 1``).
    n_symbols : int, optional
        Size of the one-hot alphabet, at least 2.
    seed : int, optional
        Seed of ``numpy.random.default_rng``.
    dt : float or brainunit.Quantity, optional
        The time step (a discrete-time task; default 1 ms).
    n_samples : int, optional
        Alias of ``n_trials``.

    Returns
    -------
    TaskDataset
        ``inputs (n_trials, seq_len, n_symbols)``, per-trial ``targets
        (n_trials,)`` and ``conditions`` ``'sample'`` (the cue's symbol) and
        ``'test'`` (the probe's); no mask (``trainer.objectives`` score a per-trial label
        at the last step, the probe, where the answer is due).

    Examples
    --------
    >>> import datasets
    >>> ds = datasets.delayed_match_task(8, seq_len=6, seed=0)
    >>> ds.inputs.shape, int(ds.targets.sum()), ds.n_classes
    ((8, 6, 4), 4, 2)
    >>> bool((ds.targets == (ds.conditions['sample'] == ds.conditions['test'])).all())
    True
    """
    if n_trials is not None and n_samples is not None and n_trials != n_samples:
        raise ValueError(
            f'n_samples is an alias of n_trials; got n_trials={n_trials} and '
            f'n_samples={n_samples}. Pass only one.'
        )
    n = check_positive_int('n_trials', n_trials if n_trials is not None else
                           n_samples if n_samples is not None else 128)
    if check_positive_int('seq_len', seq_len) < 2:
        raise ValueError(f'seq_len must be >= 2 (cue and probe), got {seq_len}.')
    if check_positive_int('n_symbols', n_symbols) < 2:
        raise ValueError(f'n_symbols must be >= 2, got {n_symbols}.')
    seed = check_index_int('seed', seed)

    # The draws below keep brainmass's order, so the same seed gives the same trials.
    rng = np.random.default_rng(seed)
    cues = rng.integers(0, n_symbols, size=n)
    match = np.zeros(n, dtype=np.int64)
    match[: n // 2] = 1
    match = rng.permutation(match)
    offsets = rng.integers(1, n_symbols, size=n)
    probes = np.where(match == 1, cues, (cues + offsets) % n_symbols)

    trials = np.arange(n)
    inputs = np.zeros((n, seq_len, n_symbols), dtype=np.float32)
    inputs[trials, 0, cues] = 1.0
    inputs[trials, seq_len - 1, probes] = 1.0
    # No mask: a per-trial label is scored at the last (probe) step by per-step
    # models, and taken as is by whole-sequence classifiers such as HORN.
    return from_arrays(inputs, match, dt=dt, seed=seed, description=_DESCRIPTION,
                       name='delayed_match_task', conditions={'sample': cues.astype(np.int32),
                                                                'test': probes.astype(np.int32)})


register_dataset('delayed_match_task', delayed_match_task, description=_DESCRIPTION)
