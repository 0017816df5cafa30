"""Workload 6: how the Trainer's epoch grows with trials and hidden units, and its memory over 100 epochs.

Run alone: ``python benchmarks/scaling.py [--quick]``.
"""


import braintools
import numpy as np
import trainer

import floor
from _common import judge, now, peak_rss_mb, rss_mb, run_alone

SIZE = 'i_compute_bound'


def trials_workload(trial_counts, n_rounds, n_epochs):
    """ms/epoch at each trial count, interleaved; ratio to linear is ``(ms/trial at n) / (ms/trial at the smallest n)``."""
    data = {n: floor.dataset(SIZE, n) for n in trial_counts}
    hidden, lr = floor.SIZES[SIZE]['hidden'], floor.SIZES[SIZE]['lr']
    raw, _ = floor.interleave(lambda: {str(n): floor.TrainerRunner(data[n], hidden, lr, compile_epoch=False)
                                    for n in trial_counts}, n_epochs, n_rounds, label='scaling trials')
    base = str(trial_counts[0])
    out = {'hidden': hidden, 'n_epochs': n_epochs, 'n_rounds': n_rounds, 'points': {}}
    for n in trial_counts:
        ratio = floor.steady_ratio(raw, str(n), base, first=2)
        scale = trial_counts[0] / n
        out['points'][str(n)] = {
            'ms_per_epoch': floor.steady_ms(raw[str(n)], first=2),
            'ratio_to_ideal': {k: (v * scale if k in ('median', 'min', 'max') else
                                   [x * scale for x in v] if k == 'samples' else v) for k, v in ratio.items()}}
    return out


def hidden_workload(hidden_sizes, n_trials, n_rounds, n_epochs):
    """Trainer (per step) against the floor at each hidden size, all interleaved."""
    ds, lr = floor.dataset(SIZE, n_trials), floor.SIZES[SIZE]['lr']

    def make_runners():
        runners = {}
        for h in hidden_sizes:
            runners[f'floor h={h}'] = floor.FloorRunner(ds, h, lr)
            runners[f'trainer h={h}'] = floor.TrainerRunner(ds, h, lr, compile_epoch=False)
        return runners

    raw, _ = floor.interleave(make_runners, n_epochs, n_rounds, label='scaling hidden')
    out = {'n_trials': n_trials, 'n_epochs': n_epochs, 'n_rounds': n_rounds, 'points': {}}
    for h in hidden_sizes:
        out['points'][str(h)] = {'trainer_ms_per_epoch': floor.steady_ms(raw[f'trainer h={h}'], first=2),
                                 'floor_ms_per_epoch': floor.steady_ms(raw[f'floor h={h}'], first=2),
                                 'trainer/floor': floor.steady_ratio(raw, f'trainer h={h}', f'floor h={h}', first=2)}
    return out


def memory_workload(n_epochs=100, n_trials=512):
    """Resident memory after every epoch of a 100-epoch fit with held-out evaluation each epoch."""
    ds = floor.dataset('ii_overhead_bound', n_trials + 128)
    train, held_out = ds.split(n_trials, seed=0)
    out = {'n_epochs': n_epochs, 'n_trials': n_trials, 'modes': {}}
    for mode, compile_epoch in (('per_step', False), ('compiled_epoch', True)):
        rss = []
        tr = trainer.Trainer(floor.rate_rnn(ds, 16), braintools.optim.Adam(lr=floor.SIZES['ii_overhead_bound']['lr']),
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


def run(quick):
    """Workload 6: a smaller grid with ``quick``."""
    if quick:
        trials = trials_workload([512, 1024, 2048], 1, 4)
        hidden = hidden_workload([64, 256], 512, 1, 4)
    else:
        trials = trials_workload([1024, 4096, 16384], 1, 5)
        hidden = hidden_workload([64, 128, 256], 2048, 1, 5)
    memory = memory_workload()
    largest = trials['points'][str(max(int(n) for n in trials['points']))]['ratio_to_ideal']
    return {
        'trials': trials, 'hidden': hidden, 'memory': memory,
        'targets': {
            # Linear growth: ms/trial at the largest size over ms/trial at the smallest, within 10%.
            'ms/epoch vs trials, largest size, ratio to linear': judge(largest, 1.1),
            'resident memory growth, epoch 10 to 100 (%)': judge(memory['growth'] * 100, 5.0, unit='%'),
        },
    }


if __name__ == '__main__':
    run_alone(run, __doc__)
