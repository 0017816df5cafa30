"""Workload 6: how the Trainer's epoch grows with trials and hidden units, and its memory over 100 epochs.

Run alone: ``python benchmarks/scaling.py [--quick]``.
"""

import argparse
import json

import braintools
import datasets
import numpy as np
import trainer

import floor
from _common import now, paired_ratio, peak_rss_mb, rounds, rss_mb, summary

SIZE = 'i_compute_bound'


def _trainer_epochs(ds, hidden, n_epochs, *, compile_epoch=False):
    """Steady ms/epoch of ``Trainer.fit``: the median of epochs 2.. (epoch 1 compiles)."""
    record = floor.run_trainer(ds, hidden, n_epochs, compile_epoch=compile_epoch)
    return float(np.median(record['epoch_ms'][1:]))


def trials_workload(trial_counts, n_rounds, n_epochs):
    """ms/epoch at each trial count; the ratio to ideal is ``(ms/trial at n) / (ms/trial at the smallest n)``."""
    data = {n: floor.dataset(SIZE, n) for n in trial_counts}
    hidden = floor.SIZES[SIZE]['hidden']
    raw = rounds({n: (lambda n=n: _trainer_epochs(data[n], hidden, n_epochs)) for n in trial_counts},
                 n_rounds, label='scaling trials')
    base = trial_counts[0]
    out = {'hidden': hidden, 'n_epochs': n_epochs, 'n_rounds': n_rounds, 'points': {}}
    for n in trial_counts:
        ideal = [ms_base * n / base for ms_base in raw[base]]
        out['points'][str(n)] = {'ms_per_epoch': summary(raw[n]), 'ratio_to_ideal': paired_ratio(raw[n], ideal)}
    return out


def hidden_workload(hidden_sizes, n_trials, n_rounds, n_epochs):
    """Trainer (per step) against the floor at each hidden size, side by side."""
    ds = floor.dataset(SIZE, n_trials)
    variants = {}
    for h in hidden_sizes:
        variants[f'floor h={h}'] = lambda h=h: float(np.median(floor.run_floor(ds, h, n_epochs)['epoch_ms'][1:]))
        variants[f'trainer h={h}'] = lambda h=h: _trainer_epochs(ds, h, n_epochs)
    raw = rounds(variants, n_rounds, label='scaling hidden')
    out = {'n_trials': n_trials, 'n_epochs': n_epochs, 'n_rounds': n_rounds, 'points': {}}
    for h in hidden_sizes:
        trainer_ms, floor_ms = raw[f'trainer h={h}'], raw[f'floor h={h}']
        out['points'][str(h)] = {'trainer_ms_per_epoch': summary(trainer_ms),
                                 'floor_ms_per_epoch': summary(floor_ms),
                                 'trainer/floor': paired_ratio(trainer_ms, floor_ms)}
    return out


def memory_workload(n_epochs=100, n_trials=512):
    """Resident memory after every epoch of a 100-epoch fit with held-out evaluation each epoch."""
    ds = floor.dataset('ii_overhead_bound', n_trials + 128)
    train, held_out = ds.split(n_trials, seed=0)
    out = {'n_epochs': n_epochs, 'n_trials': n_trials, 'modes': {}}
    for mode, compile_epoch in (('per_step', False), ('compiled_epoch', True)):
        rss = []
        tr = trainer.Trainer(floor.rate_rnn(ds, 16), braintools.optim.Adam(lr=floor.LR),
                             objective=trainer.objectives.cross_entropy(),
                             metrics={'acc': trainer.metrics.accuracy()},
                             callbacks=[lambda info: rss.append(rss_mb())], progress=False)
        start = now()
        tr.fit(train, held_out=held_out, n_epochs=n_epochs, batch_size=floor.BATCH, compile_epoch=compile_epoch)
        at10, at_end = rss[9], rss[-1]
        slope = np.polyfit(np.arange(10, n_epochs + 1), rss[9:], 1)[0]
        out['modes'][mode] = {'rss_mb': rss, 'rss_epoch10_mb': at10, 'rss_last_mb': at_end,
                              'growth_10_to_last': (at_end - at10) / at10,
                              'slope_kb_per_epoch': float(slope * 1024), 'seconds': now() - start}
    out['peak_rss_mb'] = peak_rss_mb()
    worst = max(m['growth_10_to_last'] for m in out['modes'].values())
    out['growth'] = worst
    return out


def scaling_workload(quick):
    if quick:
        trials = trials_workload([512, 1024, 2048], 1, 3)
        hidden = hidden_workload([64, 256], 512, 1, 3)
    else:
        trials = trials_workload([1024, 4096, 16384], 2, 3)
        hidden = hidden_workload([64, 128, 256], 2048, 2, 3)
    memory = memory_workload()
    worst_linear = max(p['ratio_to_ideal']['median'] for p in trials['points'].values())
    return {
        'trials': trials, 'hidden': hidden, 'memory': memory,
        'targets': {
            'ms/epoch linear in trials (worst ratio to ideal)': {
                'target': '~1.0 (linear)', 'value': worst_linear,
                'status': 'met' if worst_linear <= 1.1 else 'missed'},
            'RSS growth, epoch 10 to 100': {
                'target': '<= 5%', 'value': memory['growth'],
                'status': 'met' if memory['growth'] <= 0.05 else 'missed'},
        },
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    out = scaling_workload(parser.parse_args(argv).quick)
    print(json.dumps(out['targets'], indent=1))
    return out


if __name__ == '__main__':
    main()
