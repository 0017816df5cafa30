"""Long delay: held-out decision accuracy of each gradient on a 1000 ms delayed match-to-sample.

One task, one model family, one budget for every ``Trainer(gradient=...)``:

- task: ``delay_match_sample`` (braintools.cogtask) at dt = 2 ms, 2 one-hot
  stimuli, fixation 20 ms, sample 100 ms, **delay 1000 ms (500 steps)**,
  response 80 ms: 600 steps a trial. The label (match / non-match) is the
  XOR of the sample, shown 500 steps before, and the test shown in the
  response phase, so the sample must be held across the whole delay.
  The loss and the accuracy score the 40 response steps only
  (``mask='response'``, the registry's default): a net that only fixates
  gets no credit. 512 trials, 3/4 train, 1/4 held out (seed 0).
- model: braintrace's ``LSTMCell`` (32 units) read out by a
  ``LeakyRateReadout`` (the ``OnlineLSTM`` of ``long_trials.py``: every
  weight has an online gradient, so ``'online'`` trains the same net).
  The cell already adds 1 to its forget gate; we also initialise the
  forget-gate bias to ``+FORGET_BIAS`` and the input-gate bias to
  ``-FORGET_BIAS`` (a chrono-style init). With ``FORGET_BIAS = 3`` the
  untrained cell forgets (f = sigmoid(4) = 0.982 a step, 0.982**500 ~ 1e-4
  left after the delay): the memory must be *learned*, which needs a
  gradient across the 500-step delay. With the default init (0) full BPTT
  stays at chance even with a 100 ms delay (see the commit message).
- optimiser: Adam lr 1e-2, gradient clipping at norm 1, batch 32 (12 batches
  an epoch), ``EPOCHS`` epochs, the same seed for data, split, shuffling and
  weights (``brainstate.random.seed`` before each net is built).
- gradients: ``'bptt'``; ``'remat'`` (chunk 100, the same gradient);
  ``'tbptt'`` with k = 100 and k = 300 (both shorter than the delay: the
  only k >= 500 dividing 600 is the whole trial, i.e. BPTT); ``'online'``
  (braintrace ES-D-RTRL, decay 0.9, one update per batch like BPTT).

Reported per method: best held-out accuracy on the response steps, the
held-out *decision* accuracy (argmax at each held-out trial's last step, at
the restored best parameters), the first epoch reaching 0.9, and the fit's
wall time (compilation included). Chance is the majority class of the
held-out response steps (~0.5). A second, ``control`` block reruns every
method with ``FORGET_BIAS = 5`` (f = sigmoid(6), 0.9975**500 ~ 0.3 left):
there the untrained cell keeps the sample by itself, and truncated and
online gradients learn the task too, because the dependency no longer has
to be learned across the delay.

    python benchmarks/long_delay.py            # ~6 min on 2 busy cores; writes benchmarks/long_delay.json
    python benchmarks/long_delay.py --quick    # 10 epochs, main block only; prints, writes nothing
"""

import argparse
import json
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, 'long_delay.json')

DT_MS = 2.0
TIMING_MS = {'t_fixation': 20.0, 't_sample': 100.0, 't_delay': 1000.0, 't_response': 80.0}
TASK = dict(num_stimuli=2, stimulus_encoding='one_hot')
N_TRIALS, HIDDEN, BATCH, LR, CLIP, SEED = 512, 32, 32, 1e-2, 1.0, 0
EPOCHS, QUICK_EPOCHS = 80, 10
FORGET_BIAS, CONTROL_FORGET_BIAS = 3.0, 5.0
# (label, gradient, chunk)
METHODS = (('bptt', 'bptt', None), ('remat k=100', 'remat', 100), ('tbptt k=100', 'tbptt', 100),
           ('tbptt k=300', 'tbptt', 300), ('online es_d_rtrl', 'online', None))
LEARNED = 0.9  # an accuracy that counts as learned


def make_data(seed=SEED):
    import brainunit as u
    import datasets
    data = datasets.load_dataset('delay_match_sample', n_trials=N_TRIALS, dt=DT_MS, seed=seed,
                                 **{k: v * u.ms for k, v in TIMING_MS.items()}, **TASK)
    train, held_out = data.split(0.75, seed=seed)
    return data, train, held_out


def make_model(n_in, n_out, forget_bias, seed=SEED):
    import braintrace
    import brainstate
    import brainunit as u
    import jax.numpy as jnp

    class OnlineLSTM(brainstate.nn.Module):
        """braintrace's LSTM with a leaky rate readout (as in long_trials.py), chrono-style gate biases."""

        def __init__(self):
            super().__init__()
            self.cell = braintrace.nn.LSTMCell(n_in, HIDDEN)
            if forget_bias:
                for gate, b in ((self.cell.Wf, forget_bias), (self.cell.Wi, -forget_bias)):
                    gate.weight.value = dict(gate.weight.value, bias=jnp.full((HIDDEN,), b, jnp.float32))
            with brainstate.environ.context(dt=1.0 * u.ms):
                self.out = braintrace.nn.LeakyRateReadout(HIDDEN, n_out, tau=10.0 * u.ms)

        def update(self, x):
            return self.out(self.cell(x))

    brainstate.random.seed(seed)
    return OnlineLSTM()


def train_one(gradient, chunk, forget_bias, n_epochs, data=None, seed=SEED):
    """Train one method; return its row (accuracies, epochs, wall time)."""
    import braintools
    import numpy as np
    from trainer import Trainer, objectives
    data, train, held_out = data or make_data(seed)
    model = make_model(data.n_features, data.n_classes, forget_bias, seed)
    trainer = Trainer(model, braintools.optim.Adam(lr=LR), objective=objectives.cross_entropy(),
                      metrics=['accuracy'], progress=False, gradient=gradient, chunk=chunk,
                      grad_clip_norm=CLIP)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        result = trainer.fit(train, held_out=held_out, n_epochs=n_epochs, batch_size=BATCH, seed=seed)
    wall = time.perf_counter() - start
    accs = [float(r['held_out_accuracy']) for r in result.history]
    reached = next((i + 1 for i, a in enumerate(accs) if a >= LEARNED), None)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        outputs = np.asarray(trainer.predict(held_out).outputs)
    decision = float(np.mean(outputs[:, -1].argmax(-1) == np.asarray(held_out.targets)[:, -1]))
    return {'gradient': gradient, 'chunk': chunk, 'epochs': n_epochs,
            'updates': n_epochs * (len(train.inputs) // BATCH) * (data.n_steps // chunk if gradient == 'tbptt' else 1),
            'best_held_out_acc': round(max(accs), 4), 'final_held_out_acc': round(accs[-1], 4),
            'decision_acc': round(decision, 4), 'first_epoch_acc_ge_0.9': reached,
            'fit_wall_s': round(wall, 1), 'held_out_acc_per_epoch': [round(a, 3) for a in accs]}


def chance(held_out):
    import numpy as np
    labels = np.asarray(held_out.targets)[np.asarray(held_out.mask) > 0]
    last = np.asarray(held_out.targets)[:, -1]
    return {'response_steps_majority': round(float(np.bincount(labels).max() / labels.size), 4),
            'decision_majority': round(float(np.bincount(last).max() / last.size), 4), 'nominal': 0.5}


def run(quick=False):
    """Every method on the one setup; ``quick``: 10 epochs and no control block."""
    full, train, held_out = make_data()
    n_epochs = QUICK_EPOCHS if quick else EPOCHS
    blocks = {'main': FORGET_BIAS} if quick else {'main': FORGET_BIAS, 'control': CONTROL_FORGET_BIAS}
    out = {'setup': {'task': 'delay_match_sample', 'dt_ms': DT_MS, **TIMING_MS, **TASK,
                     'n_steps': int(full.n_steps), 'delay_steps': int(TIMING_MS['t_delay'] / DT_MS),
                     'n_trials': N_TRIALS, 'train_trials': len(train.inputs),
                     'held_out_trials': len(held_out.inputs),
                     'model': f'braintrace LSTMCell {HIDDEN} + LeakyRateReadout tau 10 ms',
                     'optimizer': f'Adam lr {LR}, grad clip {CLIP}', 'batch': BATCH, 'seed': SEED,
                     'loss': 'cross entropy on the response steps only (mask="response")',
                     'forget_bias': blocks},
           'chance': chance(held_out), 'blocks': {}}
    for block, fb in blocks.items():
        rows = {}
        for label, gradient, chunk in METHODS:
            rows[label] = train_one(gradient, chunk, fb, n_epochs, (full, train, held_out))
            r = rows[label]
            print(f"[{block} fb={fb:g}] {label:>17}: best held-out acc {r['best_held_out_acc']:.3f}, decision "
                  f"{r['decision_acc']:.3f}, >=0.9 at epoch {r['first_epoch_acc_ge_0.9']}, "
                  f"{r['fit_wall_s']:.0f} s", flush=True)
        out['blocks'][block] = rows
    main = out['blocks']['main']
    out['targets'] = {
        'bptt_learns': {'measured': main['bptt']['best_held_out_acc'], 'bound': LEARNED,
                        'met': main['bptt']['best_held_out_acc'] >= LEARNED},
        'per_method_budget_s': {'bound': 120, 'worst': max(r['fit_wall_s'] for r in main.values()),
                                'met': all(r['fit_wall_s'] <= 120 for r in main.values())},
    }
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='10 epochs, main block only, writes nothing')
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.join(ROOT, 'src'))
    start = time.perf_counter()
    out = run(args.quick)
    print(json.dumps(out['targets']))
    if args.quick:
        return 0
    sys.path.insert(0, HERE)
    from _common import machine_info
    out.update(wall_s=round(time.perf_counter() - start, 1), machine=machine_info())
    with open(RESULTS, 'w') as f:
        json.dump(out, f, indent=1)
    print(f'wrote {RESULTS}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
