"""Workload 2: the built-in rate RNN through the Trainer against the pure-JAX floor.

Both sides start from the same weights (the floor copies the RateRNN's
initial values) and see the same batches (epoch ``k`` is the permutation
``default_rng([k, 1])`` on both sides), so their losses agree and the work
is equal; only the machinery around the maths differs.

Every variant first runs its first epoch (compilation included); then the
variants take turns, one epoch each, so that every steady-state ratio
compares epochs measured seconds apart. A Trainer epoch is one
``fit(n_epochs=1, seed=k)`` call timed by its history's ``time`` (the epoch
itself, without ``fit``'s one-off setup); the optimizer state carries over
between calls.

Run alone: ``python benchmarks/floor.py [--quick]``.
"""


import brainstate
import braintools
import datasets
import numpy as np
import trainer
from trainer.models import RateRNN

import _floor_jax
from _common import CompileLog, host_profile, judge, now, run_alone, summary

BATCH, SEED = 64, 0

SIZES = {
    # A relu RNN over 110 steps overshoots at Adam(1e-2); 1e-3 trains steadily.
    'i_compute_bound': {'hidden': 128, 'lr': 1e-3,
                        'describe': 'perceptual_decision_making, 2048 trials x 110 steps, per-step labels '
                                    'under a mask, hidden 128, batch 64, Adam(1e-3)'},
    'ii_overhead_bound': {'hidden': 16, 'lr': 1e-2,
                          'describe': 'delayed match, 2048 trials x 8 steps, per-trial label, hidden 16, '
                                      'batch 64, Adam(1e-2)'},
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


class FloorRunner:
    """The pure-JAX floor, one epoch per call (``per_step``: one ``jax.jit`` call per batch)."""

    def __init__(self, ds, hidden, lr, *, per_step=False):
        self.ds, self.lr, self.per_step = ds, lr, per_step
        self.params = floor_params(rate_rnn(ds, hidden))
        self.k, self.final_loss = 0, None

    def start(self):
        """Build and run epoch 1 (it compiles); return seconds."""
        begin = now()
        self.floor = _floor_jax.Floor(self.ds.inputs, self.ds.targets, self.ds.mask, self.params, lr=self.lr)
        self._run = self.floor.epoch_per_step if self.per_step else self.floor.epoch
        self.epoch()
        return now() - begin

    def epoch(self):
        self.k += 1
        begin = now()
        losses = self._run(_floor_jax.epoch_indices(len(self.ds), BATCH, seed=self.k, epoch=1))
        self.final_loss = float(np.mean(losses))
        return now() - begin


class TrainerRunner:
    """``Trainer.fit`` one epoch per call on the same weights and batches."""

    def __init__(self, ds, hidden, lr, *, compile_epoch):
        self.ds, self.lr, self.compile_epoch = ds, lr, compile_epoch
        self.model = rate_rnn(ds, hidden)
        self.k, self.final_loss = 0, None

    def start(self):
        """Build the Trainer and fit epoch 1 (it compiles); return seconds."""
        begin = now()
        self.trainer = trainer.Trainer(self.model, braintools.optim.Adam(lr=self.lr),
                                       objective=trainer.objectives.cross_entropy(), progress=False)
        self.epoch()
        return now() - begin

    def epoch(self):
        self.k += 1
        row = self.trainer.fit(self.ds, n_epochs=1, batch_size=BATCH, seed=self.k,
                               compile_epoch=self.compile_epoch).history[-1]
        self.final_loss = row['loss']
        return row['time']


def interleave(make_runners, n_epochs, n_rounds, *, label):
    """Fresh runners each round: first epochs in rotated order, then epochs 2..n one variant at a time.

    Returns ``({name: {'first_epoch_s': [...], 'epoch_ms': [[...] per round], 'final_loss': [...],
    'compilations': [...]}}, the last round's runners)``.
    """
    out = {}
    for r in range(n_rounds):
        runners = make_runners()
        names = list(runners)
        names = names[r % len(names):] + names[:r % len(names)]
        for name in names:
            print(f'  [{label}] round {r + 1}/{n_rounds}: first epoch of {name}', flush=True)
            with CompileLog() as compiles:
                first = runners[name].start()
            rec = out.setdefault(name, {'first_epoch_s': [], 'epoch_ms': [], 'final_loss': [], 'compilations': []})
            rec['first_epoch_s'].append(first)
            rec['compilations'].append(compiles.count)
            rec['epoch_ms'].append([first * 1e3])
        print(f'  [{label}] round {r + 1}/{n_rounds}: epochs 2-{n_epochs}, interleaved', flush=True)
        for k in range(2, n_epochs + 1):
            order = names[k % len(names):] + names[:k % len(names)]
            for name in order:
                out[name]['epoch_ms'][-1].append(runners[name].epoch() * 1e3)
        for name in names:
            out[name]['final_loss'].append(runners[name].final_loss)
    return out, runners


def steady_ratio(raw, name, reference, first=3):
    """Per-epoch ratios ``name / reference`` over epochs ``first..n`` of every round."""
    return summary([a / b for ra, rb in zip(raw[name]['epoch_ms'], raw[reference]['epoch_ms'])
                    for a, b in zip(ra[first - 1:], rb[first - 1:])])


def steady_difference(raw, name, reference, first=3):
    """Per-epoch differences ``name - reference`` in ms over epochs ``first..n`` of every round."""
    return summary([a - b for ra, rb in zip(raw[name]['epoch_ms'], raw[reference]['epoch_ms'])
                    for a, b in zip(ra[first - 1:], rb[first - 1:])])


def steady_ms(rec, first=3):
    return summary([float(np.median(epochs[first - 1:])) for epochs in rec['epoch_ms']])


def size_workload(size, n_rounds, n_epochs):
    """One size of workload 2: every variant interleaved, ratios to the floor."""
    ds, hidden, lr = dataset(size), SIZES[size]['hidden'], SIZES[size]['lr']

    def make_runners():
        # floor_step, the cheapest per-step loop JAX allows, tells dispatch cost from framework cost.
        return {'floor': FloorRunner(ds, hidden, lr),
                'floor_step': FloorRunner(ds, hidden, lr, per_step=True),
                'trainer_step': TrainerRunner(ds, hidden, lr, compile_epoch=False),
                'trainer_epoch': TrainerRunner(ds, hidden, lr, compile_epoch=True)}

    raw, runners = interleave(make_runners, n_epochs, n_rounds, label=f'floor {size}')
    out = {'describe': SIZES[size]['describe'], 'n_rounds': n_rounds, 'n_epochs': n_epochs,
           'variants': {}, 'ratios': {}}
    for name, rec in raw.items():
        out['variants'][name] = {'first_epoch_s': summary(rec['first_epoch_s']), 'steady_ms_per_epoch': steady_ms(rec),
                                 'final_loss': summary(rec['final_loss']),
                                 'compilations': summary(rec['compilations']), 'epoch_ms': rec['epoch_ms']}
        if name != 'floor':
            out['ratios'][f'{name}/floor'] = steady_ratio(raw, name, 'floor')
    out['ratios']['trainer_step/floor_step'] = steady_ratio(raw, 'trainer_step', 'floor_step')
    n_batches = len(ds) // BATCH
    for name in ('trainer_step', 'trainer_epoch'):
        # Host work the Trainer adds to the floor's epoch, per epoch and per batch.
        reference = 'floor_step' if name == 'trainer_step' else 'floor'
        extra = steady_difference(raw, name, reference)
        out['variants'][name]['extra_vs'] = reference
        out['variants'][name]['extra_ms_per_epoch'] = extra
        out['variants'][name]['extra_us_per_batch'] = {k: (v * 1e3 / n_batches if k in ('median', 'min', 'max') else v)
                                                       for k, v in extra.items() if k != 'samples'}
    if size == 'ii_overhead_bound':
        print(f'  [floor {size}] profiling', flush=True)
        out['profiles'] = {name: host_profile(runners[name].epoch, 10) for name in ('floor', 'trainer_step', 'trainer_epoch')}
    losses = [loss for rec in raw.values() for loss in rec['final_loss'][-1:]]
    out['final_loss_spread'] = float(max(losses) - min(losses))
    return out


def floor_workload(n_rounds, epochs_small, epochs_large):
    """Workload 2 at both sizes, with the targets judged."""
    out = {'i_compute_bound': size_workload('i_compute_bound', n_rounds, epochs_large),
           'ii_overhead_bound': size_workload('ii_overhead_bound', n_rounds, epochs_small)}
    i, ii = out['i_compute_bound']['ratios'], out['ii_overhead_bound']['ratios']
    step_floor = ii['floor_step/floor']['median']
    out['targets'] = {
        '(i) Trainer per-step, steady ms/epoch vs floor': judge(i['trainer_step/floor'], 1.05),
        '(i) Trainer compiled-epoch, steady ms/epoch vs floor': judge(i['trainer_epoch/floor'], 1.05),
        '(ii) Trainer compiled-epoch, steady ms/epoch vs floor': judge(ii['trainer_epoch/floor'], 1.1),
        '(ii) Trainer per-step, steady ms/epoch vs floor': judge(
            ii['trainer_step/floor'], 1.3,
            unreachable=(f'a pure-JAX loop of one jax.jit call per batch is itself {step_floor:.2f}x '
                         'the floor here' if step_floor > 1.3 else None)),
    }
    return out


def run(quick):
    """Workload 2 at the suite's size: rounds, epochs of (ii), epochs of (i)."""
    return floor_workload(*((1, 12, 4) if quick else (2, 30, 10)))


if __name__ == '__main__':
    run_alone(run, __doc__)
