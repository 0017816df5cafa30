"""Workload 5: the ``datasets`` grain pipeline against bare numpy fancy indexing.

10k trials of shape (50, 3) with per-step labels and a mask, batch 64 (156
batches an epoch). The numpy baseline draws the same permutation and gathers
the same rows; the difference per batch is what grain's bookkeeping costs.

Run alone: ``python benchmarks/batching.py [--quick]``.
"""


import datasets
import numpy as np

from _common import judge, now, paired_ratio, rounds, run_alone, summary

N_TRIALS, N_STEPS, N_FEATURES, BATCH = 10_000, 50, 3, 64


def make_dataset():
    rng = np.random.default_rng(0)
    return datasets.from_arrays(rng.standard_normal((N_TRIALS, N_STEPS, N_FEATURES)).astype(np.float32),
                                rng.integers(0, 3, (N_TRIALS, N_STEPS)).astype(np.int32),
                                mask=np.ones((N_TRIALS, N_STEPS), np.float32))


def numpy_epoch(ds, epoch):
    order = np.random.default_rng([0, epoch]).permutation(N_TRIALS)
    for k in range(N_TRIALS // BATCH):
        rows = order[k * BATCH:(k + 1) * BATCH]
        _ = ds.inputs[rows], ds.targets[rows], ds.mask[rows]


def grain_epoch(ds, epoch):
    for _ in datasets.batches(ds, BATCH, seed=0, epoch=epoch):
        pass


def numpy_indices(epoch):
    order = np.random.default_rng([0, epoch]).permutation(N_TRIALS).astype(np.int32)
    for k in range(N_TRIALS // BATCH):
        _ = order[k * BATCH:(k + 1) * BATCH]


def grain_indices(epoch):
    # The Trainer's per-step index stream.
    for _ in datasets.batch_indices(N_TRIALS, BATCH, seed=0, epoch=epoch):
        pass


def _timed(fn, repeats):
    def timed():
        times = []
        for epoch in range(repeats):
            start = now()
            fn(epoch)
            times.append(now() - start)
        return float(np.median(times))
    return timed


def batching_workload(n_rounds, repeats):
    """Per-batch overhead of grain over numpy, for whole batches and for the index stream alone."""
    ds = make_dataset()
    n_batches = N_TRIALS // BATCH
    raw = rounds({'numpy_batches': _timed(lambda e: numpy_epoch(ds, e), repeats),
                  'grain_batches': _timed(lambda e: grain_epoch(ds, e), repeats),
                  'numpy_indices': _timed(numpy_indices, repeats),
                  'grain_indices': _timed(grain_indices, repeats)}, n_rounds)
    out = {'n_rounds': n_rounds, 'n_batches': n_batches, 'variants': {}, 'overhead_us_per_batch': {}}
    for name, values in raw.items():
        out['variants'][name] = summary([v / n_batches * 1e6 for v in values])  # us per batch
    for kind in ('batches', 'indices'):
        overhead = [(g - n) / n_batches * 1e6 for g, n in zip(raw[f'grain_{kind}'], raw[f'numpy_{kind}'])]
        out['overhead_us_per_batch'][kind] = summary(overhead)
    out['ratio_grain/numpy_batches'] = paired_ratio(raw['grain_batches'], raw['numpy_batches'])
    out['targets'] = {'datasets.batches overhead per batch over numpy': judge(
        out['overhead_us_per_batch']['batches'], 10.0, unit=' us')}
    return out


def run(quick):
    """Workload 5 at the suite's size: rounds, epochs per round and variant."""
    return batching_workload(*((40, 1) if quick else (120, 1)))


if __name__ == '__main__':
    run_alone(run, __doc__)
