"""Workload 2: the built-in rate RNN through the Trainer against the pure-JAX floor.

Both sides start from the same weights (the floor copies the RateRNN's
initial values) and see the same batches (the same ``default_rng([seed,
epoch])`` order), so their losses agree and the work is equal; only the
machinery around the maths differs.

Run alone: ``python benchmarks/floor.py [--quick]``.
"""

import argparse
import json

import brainstate
import braintools
import datasets
import numpy as np
import trainer
from trainer.models import RateRNN

import _floor_jax
from _common import CompileLog, now, paired_ratio, rounds, summary, verdict

BATCH, LR, SEED = 64, 1e-2, 0

SIZES = {
    'i_compute_bound': {'hidden': 128, 'describe': 'perceptual_decision_making, 2048 trials x 110 steps, '
                                                   'per-step labels under a mask, hidden 128, batch 64'},
    'ii_overhead_bound': {'hidden': 16, 'describe': 'delayed match, 2048 trials x 8 steps, '
                                                    'per-trial label, hidden 16, batch 64'},
}


def dataset(size, n_trials=2048):
    if size == 'i_compute_bound':
        return datasets.load_dataset('perceptual_decision_making', n_trials=n_trials, seed=SEED)
    return datasets.delayed_match_task(n_trials, seq_len=8, n_symbols=4, seed=SEED)


def rate_rnn(ds, hidden):
    brainstate.random.seed(SEED)
    return RateRNN(ds.n_features, hidden, ds.n_classes, cell='vanilla')


def floor_params(model):
    """The RateRNN's current weights in the floor's layout."""
    cell = model.cell.W.weight.value
    readout = model.readout.weight.value
    return {'W': np.asarray(cell['weight']), 'b': np.asarray(cell['bias']),
            'Wo': np.asarray(readout['weight']), 'bo': np.asarray(readout['bias'])}


def run_floor(ds, hidden, n_epochs, *, per_step=False):
    """The floor's epochs; timing starts before its construction (the first epoch compiles)."""
    params = floor_params(rate_rnn(ds, hidden))
    ends = []
    with CompileLog() as compiles:
        start = now()
        floor = _floor_jax.Floor(ds.inputs, ds.targets, ds.mask, params, lr=LR)
        train = floor.epoch_per_step if per_step else floor.epoch
        for epoch in range(1, n_epochs + 1):
            losses = train(_floor_jax.epoch_indices(len(ds), BATCH, seed=SEED, epoch=epoch))
            ends.append(now())
    return _record(start, ends, compiles, float(np.mean(losses)))


def run_trainer(ds, hidden, n_epochs, *, compile_epoch):
    """``Trainer.fit`` on the same weights and batches; timing starts before ``Trainer(...)``."""
    model = rate_rnn(ds, hidden)
    ends = []
    with CompileLog() as compiles:
        start = now()
        tr = trainer.Trainer(model, braintools.optim.Adam(lr=LR), objective=trainer.objectives.cross_entropy(),
                             callbacks=[lambda info: ends.append(now())], progress=False)
        result = tr.fit(ds, n_epochs=n_epochs, batch_size=BATCH, seed=SEED, compile_epoch=compile_epoch)
    return _record(start, ends, compiles, result.history[-1]['loss'])


def _record(start, ends, compiles, final_loss):
    epochs = np.diff([start] + ends)
    return {'first_epoch_s': float(epochs[0]), 'steady_ms_per_epoch': float(np.median(epochs[2:]) * 1e3),
            'epoch_ms': [float(e * 1e3) for e in epochs], 'final_loss': final_loss,
            'compilations': compiles.count}


def variants_for(size, ds, hidden, n_epochs):
    out = {
        'floor': lambda: run_floor(ds, hidden, n_epochs),
        'trainer_step': lambda: run_trainer(ds, hidden, n_epochs, compile_epoch=False),
        'trainer_epoch': lambda: run_trainer(ds, hidden, n_epochs, compile_epoch=True),
    }
    if size == 'ii_overhead_bound':
        # Reference: the cheapest per-step loop JAX allows, to tell dispatch cost from framework cost.
        out['floor_step'] = lambda: run_floor(ds, hidden, n_epochs, per_step=True)
    return out


def size_workload(size, n_rounds, n_epochs):
    """One size of workload 2: every variant side by side, ratios to the floor per round."""
    ds, hidden = dataset(size), SIZES[size]['hidden']
    raw = rounds(variants_for(size, ds, hidden, n_epochs), n_rounds, label=f'floor {size}')
    floor = [r['steady_ms_per_epoch'] for r in raw['floor']]
    out = {'describe': SIZES[size]['describe'], 'n_rounds': n_rounds, 'n_epochs': n_epochs,
           'variants': {}, 'ratios': {}}
    for name, runs in raw.items():
        out['variants'][name] = {key: summary([r[key] for r in runs]) for key in
                                 ('first_epoch_s', 'steady_ms_per_epoch', 'final_loss', 'compilations')}
        out['variants'][name]['epoch_ms'] = [r['epoch_ms'] for r in runs]
        if name != 'floor':
            out['ratios'][f'{name}/floor'] = paired_ratio([r['steady_ms_per_epoch'] for r in runs], floor)
    losses = [out['variants'][n]['final_loss']['median'] for n in raw]
    out['final_loss_spread'] = float(max(losses) - min(losses))
    return out


def floor_workload(n_rounds, epochs_small, epochs_large):
    """Workload 2 at both sizes, with the targets judged."""
    out = {'i_compute_bound': size_workload('i_compute_bound', n_rounds, epochs_large),
           'ii_overhead_bound': size_workload('ii_overhead_bound', n_rounds, epochs_small)}
    i, ii = out['i_compute_bound']['ratios'], out['ii_overhead_bound']['ratios']
    step_floor = ii['floor_step/floor']['median']
    out['targets'] = {
        '(i) Trainer per-step vs floor': _judge(i['trainer_step/floor'], 1.05),
        '(i) Trainer compiled-epoch vs floor': _judge(i['trainer_epoch/floor'], 1.05),
        '(ii) Trainer compiled-epoch vs floor': _judge(ii['trainer_epoch/floor'], 1.1),
        '(ii) Trainer per-step vs floor': _judge(
            ii['trainer_step/floor'], 1.3,
            unreachable=(f'a pure-JAX loop of one jax.jit call per batch is itself {step_floor:.2f}x '
                         'the floor here' if step_floor > 1.3 else None)),
    }
    return out


def _judge(ratio, bound, unreachable=None):
    return {'target': f'<= {bound}x', 'value': ratio['median'], 'min': ratio['min'], 'max': ratio['max'],
            'status': verdict(ratio['median'], bound, unreachable=unreachable), 'reason': unreachable}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    args = parser.parse_args(argv)
    out = floor_workload(*((1, 10, 4) if args.quick else (3, 20, 8)))
    print(json.dumps(out['targets'], indent=1))
    return out


if __name__ == '__main__':
    main()
