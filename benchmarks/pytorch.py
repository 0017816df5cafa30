"""Against the field: the Trainer vs Keras 3 (JAX backend) and plain PyTorch, end to end on a CPU.

Two workloads, each trained by four variants on the same trials in the
same batch order (``datasets.batch_indices`` of the training split, epoch
``k`` shuffled by ``(seed=0, epoch=k)``), with the same masked mean
cross-entropy and the same GRU width, held-out loss after every epoch:

- ``ours_step``: ``Trainer.fit`` (one compiled call per batch, the default),
  with an empty compilation cache (a first run);
- ``ours_step_warm``: the same, its compilation cache filled by an earlier
  run of the same script (every rerun of a user's script);
- ``ours_epoch``: ``Trainer.fit(compile_epoch=True)`` (one call per epoch),
  empty cache;
- ``keras``: ``keras.Model.fit`` on the JAX backend over a ``PyDataset``;
- ``torch``: a plain PyTorch loop, ``torch.set_num_threads(2)``;
- ``torch_1thread``: the same with one thread (on a loaded machine two
  OpenMP threads wait for each other at every op).

Each measurement is a fresh process (imports and compilation included),
variants rotated each round. The cells differ in detail: brainstate's GRU
resets before the recurrent matmul (Cho et al.), PyTorch's ``nn.GRU`` and
Keras's default (``reset_after=True``) after; the matmul work is the same.
Weights start from each library's own initialiser.

Needs the bench extra: ``pip install -e ".[bench]"``. Run alone:
``python benchmarks/pytorch.py [--quick]``; one child:
``python benchmarks/pytorch.py --child torch W1``.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = ('ours_step', 'ours_step_warm', 'ours_epoch', 'keras', 'torch', 'torch_1thread')
WORKLOADS = {
    # The targets against 2-thread PyTorch: steady per-step epochs, and the whole process.
    'W1': {'steady_target': 0.9,
           'describe': 'perceptual_decision_making, 2048 trials (90% train) x 110 steps, per-step labels '
                       'under a mask, GRU 128, batch 64, Adam(1e-3), held-out loss every epoch',
           'hidden': 128, 'lr': 1e-3, 'n_epochs': 10},
    'W2': {'steady_target': 0.3,
           'describe': 'delayed match, 2048 trials (90% train) x 8 steps, per-trial label, GRU 16, '
                       'batch 64, Adam(1e-2), held-out loss every epoch',
           'hidden': 16, 'lr': 1e-2, 'n_epochs': 30},
}
N_TRIALS, BATCH, SEED = 2048, 64, 0


def load(workload):
    import datasets
    if workload == 'W1':
        ds = datasets.load_dataset('perceptual_decision_making', n_trials=N_TRIALS, seed=SEED)
    else:
        ds = datasets.delayed_match_task(N_TRIALS, seq_len=8, n_symbols=4, seed=SEED)
    return ds.split(0.9, seed=SEED)


def arrays(ds):
    """``(inputs, targets, weights)``: per-step weights, or ``None`` for a per-trial label."""
    import numpy as np
    mask = None if ds.mask is None else np.asarray(ds.mask, np.float32)
    return np.asarray(ds.inputs, np.float32), np.asarray(ds.targets), mask


def flops_per_epoch(workload, n_features, n_classes, n_steps, n_train, n_held):
    """Matmul FLOPs of one epoch: 3x the forward for each training batch, 1x for held-out batches."""
    h = WORKLOADS[workload]['hidden']
    per_step = 2 * ((n_features + h) * 3 * h + h * n_classes)  # gates [r, z], candidate, readout
    train = 3 * per_step * n_steps * BATCH * (n_train // BATCH)
    held = per_step * n_steps * BATCH * -(-n_held // BATCH)
    return train + held


def peak_flops():
    """FP32 peak of this machine's usable cores from its vector width, FMA units and clock."""
    flags, mhz = set(), None
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('flags') and not flags:
                flags = set(line.split(':', 1)[1].split())
            elif line.startswith('cpu MHz') and mhz is None:
                mhz = float(line.split(':', 1)[1])
    lanes = 16 if 'avx512f' in flags else 8 if 'avx2' in flags else 4
    fma = 2 if 'fma' in flags else 1
    # Two vector FMA pipes per core (Zen 4/5, Skylake-SP and later); Zen 4 splits 512-bit ops in two.
    cores = len(os.sched_getaffinity(0))
    per_cycle = lanes * fma * 2
    return {'flags': sorted(flags & {'avx2', 'fma', 'avx512f', 'avx512_bf16'}), 'mhz': mhz, 'cores': cores,
            'flop_per_cycle_per_core': per_cycle, 'gflops': per_cycle * mhz * 1e6 * cores / 1e9,
            'assumes': '2 FMA pipes per core at full vector width, at the nominal clock'}


# -- the children: one variant, one workload, one process ---------------------------------------------------
def _ours(workload, compile_epoch, stamps):
    import brainstate
    import braintools
    import trainer
    from trainer.models import RateRNN
    stamps['imported'] = time.perf_counter()
    train, held = load(workload)
    w = WORKLOADS[workload]
    stamps['data'] = time.perf_counter()
    brainstate.random.seed(SEED)
    model = RateRNN(train.n_features, w['hidden'], train.n_classes, cell='gru')
    tr = trainer.Trainer(model, braintools.optim.Adam(lr=w['lr']), objective=trainer.objectives.cross_entropy(),
                         progress=False)
    result = tr.fit(train, held_out=held, n_epochs=w['n_epochs'], batch_size=BATCH, seed=SEED,
                    compile_epoch=compile_epoch)
    end = time.perf_counter()
    epochs = [row['time'] for row in result.history]
    stamps['epoch1'] = end - sum(epochs[1:])
    return epochs, result.history[-1]['loss'], result.history[-1]['held_out_loss']


def _keras(workload, stamps):
    os.environ['KERAS_BACKEND'] = 'jax'
    import keras
    import datasets
    import numpy as np
    stamps['imported'] = time.perf_counter()
    train, held = load(workload)
    w = WORKLOADS[workload]
    x, y, m = arrays(train)
    hx, hy, hm = arrays(held)
    stamps['data'] = time.perf_counter()
    per_step = m is not None

    class Batches(keras.utils.PyDataset):
        """The library's batch order: epoch ``k`` (from 1) is ``batch_indices(seed=0, epoch=k)``."""

        def __init__(self):
            super().__init__()
            self.epoch = 1
            self._order()

        def _order(self):
            self.idx = list(datasets.batch_indices(len(x), BATCH, seed=SEED, epoch=self.epoch))

        def __len__(self):
            return len(self.idx)

        def __getitem__(self, i):
            j = self.idx[i]
            return (x[j], y[j], m[j]) if per_step else (x[j], y[j])

        def on_epoch_end(self):
            self.epoch += 1
            self._order()

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((x.shape[1], x.shape[2]))
    hidden = keras.layers.GRU(w['hidden'], return_sequences=per_step)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(train.n_classes)(hidden))
    # Divide by the mask's sum: the masked mean our objective computes.
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction='mean_with_sample_weight')
    model.compile(optimizer=keras.optimizers.Adam(w['lr']), loss=loss)
    times = []

    class Stamp(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter())

    validation = (hx, hy, hm) if per_step else (hx, hy)
    history = model.fit(Batches(), epochs=w['n_epochs'], validation_data=validation, validation_batch_size=BATCH,
                        callbacks=[Stamp()], verbose=0, shuffle=False)
    stamps['epoch1'] = times[0]
    epochs = [b - a for a, b in zip(times, times[1:])]
    return [times[0] - stamps['data']] + epochs, history.history['loss'][-1], history.history['val_loss'][-1]


def _torch(workload, stamps, threads):
    import datasets
    import numpy as np
    import torch
    stamps['imported'] = time.perf_counter()
    torch.set_num_threads(threads)
    train, held = load(workload)
    w = WORKLOADS[workload]
    x, y, m = (None if a is None else torch.from_numpy(a) for a in arrays(train))
    hx, hy, hm = (None if a is None else torch.from_numpy(a) for a in arrays(held))
    y, hy = y.long(), hy.long()
    stamps['data'] = time.perf_counter()
    torch.manual_seed(SEED)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(x.shape[2], w['hidden'], batch_first=True)
            self.readout = torch.nn.Linear(w['hidden'], train.n_classes)

        def forward(self, inputs):
            h, _ = self.gru(inputs)
            return self.readout(h if m is not None else h[:, -1])

    def loss_of(out, target, mask):
        if mask is None:
            return torch.nn.functional.cross_entropy(out, target)
        ce = torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1), reduction='none')
        return (ce * mask.reshape(-1)).sum() / mask.sum()

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=w['lr'])
    epochs, held_loss = [], None
    for epoch in range(1, w['n_epochs'] + 1):
        start = time.perf_counter()
        net.train()
        for j in datasets.batch_indices(len(x), BATCH, seed=SEED, epoch=epoch):
            j = torch.from_numpy(np.asarray(j))
            loss = loss_of(net(x[j]), y[j], None if m is None else m[j])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            total, count = 0.0, 0.0
            for i in range(0, len(hx), BATCH):
                sl = slice(i, i + BATCH)
                mass = float(hm[sl].sum()) if hm is not None else float(len(hx[sl]))
                total += float(loss_of(net(hx[sl]), hy[sl], None if hm is None else hm[sl])) * mass
                count += mass
            held_loss = total / count
        epochs.append(time.perf_counter() - start)
        if epoch == 1:
            stamps['epoch1'] = time.perf_counter()
    epochs[0] = stamps['epoch1'] - stamps['data']
    return epochs, float(loss), held_loss


def child(variant, workload):
    """Train one variant; print its stamps (seconds from process start) as one JSON line."""
    stamps = {'start': time.perf_counter()}
    if variant.startswith('ours'):
        epochs, loss, held = _ours(workload, variant == 'ours_epoch', stamps)
    elif variant == 'keras':
        epochs, loss, held = _keras(workload, stamps)
    else:
        epochs, loss, held = _torch(workload, stamps, 1 if variant == 'torch_1thread' else 2)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = {'imports_s': stamps['imported'] - stamps['start'],
           'first_epoch_s': stamps['epoch1'] - stamps['data'],
           'epoch_ms': [e * 1e3 for e in epochs], 'final_loss': float(loss), 'final_held_out_loss': float(held),
           'minor_faults': usage.ru_minflt, 'peak_rss_mb': usage.ru_maxrss / 1024}
    print('RESULT ' + json.dumps(out), flush=True)


def spawn(variant, workload, warm_cache):
    """One child process; ours gets an empty compilation cache, or ``warm_cache`` for ``ours_step_warm``."""
    env = {**os.environ, 'JAX_PLATFORMS': 'cpu', 'KERAS_BACKEND': 'jax'}
    env.pop('JAX_COMPILATION_CACHE_DIR', None)
    cold = tempfile.mkdtemp(prefix='bench-cold-cache-') if variant in ('ours_step', 'ours_epoch') else None
    if variant.startswith('ours'):
        # The Trainer keeps a configured folder and its thresholds: these are the ones it sets by default.
        env.update(JAX_COMPILATION_CACHE_DIR=cold or warm_cache, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0',
                   JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES='0')
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), '--child',
                               'ours_step' if variant == 'ours_step_warm' else variant, workload],
                              env=env, capture_output=True, text=True, timeout=900)
    finally:
        if cold:
            shutil.rmtree(cold, ignore_errors=True)
    wall = time.perf_counter() - start
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f'child {variant} {workload} failed:\n{proc.stderr[-3000:]}')
    return {**json.loads(line[len('RESULT '):]), 'process_s': wall}


def _have(*modules):
    import importlib.util
    return all(importlib.util.find_spec(m) is not None for m in modules)


def field_workload(workloads, n_rounds):
    """Every variant of each workload in a fresh process per round, order rotated; ratios to torch."""
    import numpy as np
    from _common import judge, paired_ratio, summary
    peak = peak_flops()
    out = {'n_rounds': n_rounds, 'peak': peak, 'workloads': {}, 'targets': {}}
    for workload in workloads:
        train, held = load(workload)
        flops = flops_per_epoch(workload, train.n_features, train.n_classes, train.n_steps, len(train), len(held))
        raw = {v: [] for v in VARIANTS}
        warm_cache = tempfile.mkdtemp(prefix='bench-warm-cache-')
        spawn('ours_step_warm', workload, warm_cache)  # fills the cache, as a first run of the script would
        for r in range(n_rounds):
            order = VARIANTS[r % len(VARIANTS):] + VARIANTS[:r % len(VARIANTS)]
            for variant in order:
                print(f'  [pytorch {workload}] round {r + 1}/{n_rounds}: {variant}', flush=True)
                run_ = spawn(variant, workload, warm_cache)
                raw[variant].append(run_)
                print(f'    steady {np.median(run_["epoch_ms"][2:]):.1f} ms/epoch, first epoch '
                      f'{run_["first_epoch_s"]:.2f} s, process {run_["process_s"]:.2f} s, '
                      f'held-out loss {run_["final_held_out_loss"]:.4f}', flush=True)
        res = {'describe': WORKLOADS[workload]['describe'], 'gflop_per_epoch': flops / 1e9, 'variants': {},
               'ratios': {}}
        steady = {v: [float(np.median(run['epoch_ms'][2:])) for run in runs] for v, runs in raw.items()}
        for v, runs in raw.items():
            res['variants'][v] = {
                'steady_ms_per_epoch': summary(steady[v]),
                'first_epoch_s': summary([run['first_epoch_s'] for run in runs]),
                'process_s': summary([run['process_s'] for run in runs]),
                'imports_s': summary([run['imports_s'] for run in runs]),
                'minor_faults': summary([run['minor_faults'] for run in runs]),
                'final_loss': summary([run['final_loss'] for run in runs]),
                'final_held_out_loss': summary([run['final_held_out_loss'] for run in runs]),
                'fraction_of_peak': summary([flops / (s * 1e-3) / (peak['gflops'] * 1e9) for s in steady[v]]),
                'epoch_ms': [run['epoch_ms'] for run in runs]}
            for what in ('steady_ms_per_epoch', 'first_epoch_s', 'process_s'):
                for reference in ('torch', 'torch_1thread'):
                    if v.startswith('torch') or reference not in raw:
                        continue
                    of = (lambda name: steady[name]) if what == 'steady_ms_per_epoch' else \
                        (lambda name: [run[what] for run in raw[name]])
                    res['ratios'][f'{v}/{reference} {what}'] = paired_ratio(of(v), of(reference))
        shutil.rmtree(warm_cache, ignore_errors=True)
        out['workloads'][workload] = res
        steady = WORKLOADS[workload]['steady_target']
        out['targets'][f'{workload} per step (default), steady ms/epoch vs PyTorch 2 threads'] = judge(
            res['ratios']['ours_step/torch steady_ms_per_epoch'], steady)
        out['targets'][f'{workload} compiled epoch, steady ms/epoch vs PyTorch 2 threads'] = judge(
            res['ratios']['ours_epoch/torch steady_ms_per_epoch'], steady)
        out['targets'][f'{workload} whole process, empty compile cache, vs PyTorch 2 threads'] = judge(
            res['ratios']['ours_step/torch process_s'], 1.0)
        out['targets'][f'{workload} whole process, warm compile cache, vs PyTorch 2 threads'] = judge(
            res['ratios']['ours_step_warm/torch process_s'], 0.8)
    return out


def run(quick):
    """Both workloads (``quick``: one round); skipped without the bench extra."""
    if not _have('torch', 'keras'):
        return {'skipped': 'torch and keras are not installed; install them with pip install -e ".[bench]".'}
    return field_workload(tuple(WORKLOADS), 1 if quick else 3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--rounds', type=int, default=None)
    parser.add_argument('--only', default=None, help='W1 or W2')
    parser.add_argument('--out', default=None, help='write the results to this JSON file')
    parser.add_argument('--child', nargs=2, metavar=('VARIANT', 'WORKLOAD'))
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child)
    sys.path.insert(0, HERE)
    if args.rounds or args.only:
        out = field_workload(tuple(args.only.split(',')) if args.only else tuple(WORKLOADS), args.rounds or 3)
    else:
        out = run(args.quick)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(out, f, indent=1, default=float)
    print(json.dumps(out.get('targets', out), indent=1))
    return out


if __name__ == '__main__':
    main()
