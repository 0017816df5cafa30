"""Time to first result: process start to the end of epoch 1, imports included.

Each measurement is a fresh ``python`` process training workload 2 (ii) for
one epoch, either through the Trainer or through the pure-JAX floor. Cold
runs have no persistent compilation cache (JAX's default) or an empty one;
warm runs reuse a cache directory that an earlier run of the same side
filled, as ``python -m trainer train`` does by default.

Run alone: ``python benchmarks/startup.py [--quick]``; one child:
``python benchmarks/startup.py --child trainer|floor``.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
N_TRIALS, HIDDEN, BATCH, LR = 2048, 16, 64, 1e-2


def _child_trainer(stamps):
    import brainstate
    import braintools
    import datasets
    import trainer
    from trainer.models import RateRNN
    stamps['imported'] = time.time()
    ds = datasets.delayed_match_task(N_TRIALS, seq_len=8, n_symbols=4, seed=0)
    brainstate.random.seed(0)
    model = RateRNN(ds.n_features, HIDDEN, ds.n_classes, cell='vanilla')
    tr = trainer.Trainer(model, braintools.optim.Adam(lr=LR), objective=trainer.objectives.cross_entropy(),
                         callbacks=[lambda info: stamps.setdefault('epoch1', time.time())], progress=False)
    stamps['ready'] = time.time()
    result = tr.fit(ds, n_epochs=1, batch_size=BATCH)
    return result.history[-1]['loss']


def _child_floor(stamps):
    import _floor_jax
    stamps['imported'] = time.time()
    inputs, labels = _floor_jax.delayed_match(N_TRIALS, seq_len=8, n_symbols=4, seed=0)
    floor = _floor_jax.Floor(inputs, labels, None, _floor_jax.init_params(4, HIDDEN, 2), lr=LR)
    stamps['ready'] = time.time()
    losses = floor.epoch(_floor_jax.epoch_indices(N_TRIALS, BATCH, seed=0, epoch=1))
    stamps['epoch1'] = time.time()
    return float(losses.mean())


def child(which):
    """Train one epoch and print the wall-clock stamps as one JSON line."""
    stamps = {}
    loss = (_child_trainer if which == 'trainer' else _child_floor)(stamps)
    print('STAMPS ' + json.dumps({**stamps, 'loss': loss}), flush=True)


def spawn(which, cache_dir, *, script='startup.py'):
    """Run ``script --child which``; return seconds from spawn to its import, ready and epoch-1 stamps."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('JAX_COMPILATION_CACHE')}
    env.setdefault('JAX_PLATFORMS', 'cpu')
    if cache_dir is not None:
        env.update(JAX_COMPILATION_CACHE_DIR=cache_dir, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0',
                   JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES='0')
    start = time.time()
    proc = subprocess.run([sys.executable, os.path.join(HERE, script), '--child', which],
                          env=env, capture_output=True, text=True, timeout=600)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith('STAMPS ')), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f'startup child {which!r} failed:\n{proc.stderr[-2000:]}')
    stamps = json.loads(line[len('STAMPS '):])
    return {'imports_s': stamps['imported'] - start, 'setup_s': stamps['ready'] - stamps['imported'],
            'first_epoch_s': stamps['epoch1'] - stamps['ready'], 'total_s': stamps['epoch1'] - start,
            'loss': stamps['loss']}


IMPORT_MODULES = ('jax', 'optax', 'brainunit', 'saiunit._matplotlib_compat', 'matplotlib', 'brainstate',
                  'braintools', 'braintools.visualize', 'scipy.stats', 'braintools.cogtask', 'grain',
                  'datasets', 'trainer')


def import_profile():
    """Cumulative import seconds of the modules that dominate the Trainer side's start-up."""
    code = 'import brainstate, braintools, datasets, trainer'
    proc = subprocess.run([sys.executable, '-X', 'importtime', '-c', code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
    cumulative = {}
    for line in proc.stderr.splitlines():
        if line.startswith('import time:') and '|' in line:
            _, total, name = (part.strip() for part in line[len('import time:'):].split('|'))
            if total.isdigit():
                cumulative[name] = int(total) / 1e6
    return {name: cumulative[name] for name in IMPORT_MODULES if name in cumulative}


def startup_workload(n_rounds, *, no_cache_runs):
    """Cold and warm time to first result, Trainer and floor alternating within each phase."""
    from _common import judge, paired_ratio, summary
    kinds = (['cold_no_cache'] if no_cache_runs else []) + ['cold_empty_cache', 'warm_cache']
    raw = {(side, kind): [] for side in ('trainer', 'floor') for kind in kinds}
    for r in range(n_rounds):
        dirs = {side: tempfile.mkdtemp(prefix=f'jax-cache-{side}-') for side in ('trainer', 'floor')}
        try:
            for kind in kinds:
                sides = ('trainer', 'floor') if r % 2 == 0 else ('floor', 'trainer')
                for side in sides:
                    print(f'  [startup] round {r + 1}/{n_rounds}: {side} {kind}', flush=True)
                    raw[side, kind].append(spawn(side, None if kind == 'cold_no_cache' else dirs[side]))
        finally:
            for d in dirs.values():
                shutil.rmtree(d, ignore_errors=True)
    out = {'n_rounds': n_rounds, 'workload': f'2 (ii): {N_TRIALS} trials x 8 steps, hidden {HIDDEN}, one epoch',
           'runs': {}, 'ratios': {}}
    for (side, kind), runs in raw.items():
        out['runs'][f'{side} {kind}'] = {k: summary([run[k] for run in runs]) for k in runs[0]}
    for kind in kinds:
        out['ratios'][f'trainer/floor {kind}'] = paired_ratio(
            [r['total_s'] for r in raw['trainer', kind]], [r['total_s'] for r in raw['floor', kind]])
    warm = out['ratios']['trainer/floor warm_cache']
    imports = out['runs']['trainer warm_cache']['imports_s']['median']
    floor_warm = out['runs']['floor warm_cache']['total_s']['median']
    reason = None
    if imports > 1.5 * floor_warm:
        reason = (f"the Trainer's imports alone take {imports:.1f} s, more than 1.5x the floor's whole "
                  f"warm start ({floor_warm:.1f} s)")
    out['targets'] = {'warm time to first result vs the floor': judge(warm, 1.5, unreachable=reason)}
    if no_cache_runs:
        out['imports'] = import_profile()
    return out


def run(quick):
    """Time to first result at the suite's size (``quick``: one round, no cache-free runs)."""
    return startup_workload(1 if quick else 3, no_cache_runs=not quick)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--child', choices=['trainer', 'floor'])
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)
    out = run(args.quick)
    print(json.dumps(out['targets'], indent=1))
    return out


if __name__ == '__main__':
    main()
