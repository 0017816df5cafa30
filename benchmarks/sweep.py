"""A 32-trial lr x weight-decay sweep: K = 8 trials per compiled program against one trial at a time.

``trainer.sweep('perceptual_decision_making', ...)`` on a shortened recipe
(256 trials of 110 steps, 205 for training, GRU 32, batch 32, 4 epochs, clip
1, constant lr; no pruning, so both sides do the same work), TPE from one seed, each variant in its own fresh process (no program
compiled by one serves the other; no persistent compilation cache):

- ``K=1``: 32 ``Trainer`` fits, one per trial;
- ``K=1, compile cache``: the same, with JAX's persistent compilation cache
  in a fresh folder (``Trainer.fit(compile_cache=...)``), so trials 2-32 load
  the first one's programs: the fair solo baseline;
- ``K=8``: 4 ``Ensemble`` programs of 8 vmapped members;
- ``K=8, member_batch=1``: the same 4 programs, members stepped one after
  another inside each (what the Ensemble's docs advise on a CPU).

Reported: total wall time (compilation included), seconds of XLA
compilation, and the best held-out accuracy found. The sides ask TPE in
different batch shapes (K trials before any is told, or one at a time), so
their best values differ by the search, not by the training: a member
trains as its solo Trainer would (tests/test_sweep.py).

Run: ``python benchmarks/sweep.py [--quick]`` (writes ``benchmarks/sweep.json``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

TASK = 'perceptual_decision_making'
HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = {'K=1': dict(members=1), 'K=1, compile cache': dict(members=1),
            'K=8': dict(members=8), 'K=8, member_batch=1': dict(members=8, member_batch=1)}


def one(variant, n_trials, n_epochs):
    """Run one variant in this process; return its measurements."""
    from _common import CompileLog
    import trainer
    from trainer.recipes import recipe_for
    recipe = recipe_for(TASK).replace(n_trials=256, hidden=32, batch_size=32, n_epochs=n_epochs)
    space = {'lr': (1e-4, 3e-2, 'log'), 'weight_decay': (1e-6, 1e-2, 'log')}
    with tempfile.TemporaryDirectory() as folder, CompileLog() as log:
        if 'cache' in variant:  # a fresh persistent cache: the first trial's programs serve the other 31
            from trainer.core.compile_cache import enable_compile_cache
            enable_compile_cache(os.path.join(folder, 'jax-cache'))
        start = time.perf_counter()
        result = trainer.sweep(TASK, n_trials=n_trials, storage=f'sqlite:///{folder}/study.db', space=space,
                               recipe=recipe, n_epochs=n_epochs, pruner=None, seed=0, **VARIANTS[variant])
        wall = time.perf_counter() - start
    return {'variant': variant, 'wall_s': wall, 'compile_s': sum(s for _, s in log.entries),
            'n_compilations': log.count, 'n_programs': result.n_programs, 'best_value': result.best_value,
            'best_params': result.best_params, 'n_trials': n_trials, 'n_epochs': n_epochs}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='8 trials of 2 epochs')
    parser.add_argument('--variant', help=argparse.SUPPRESS)
    parser.add_argument('--out', default=os.path.join(HERE, 'sweep.json'))
    args = parser.parse_args(argv)
    n_trials, n_epochs = (8, 2) if args.quick else (32, 4)
    if args.variant is not None:
        print(json.dumps(one(args.variant, n_trials, n_epochs)))
        return
    rows = []
    for variant in VARIANTS:  # each in a fresh process
        flags = ['--variant', variant] + (['--quick'] if args.quick else [])
        done = subprocess.run([sys.executable, os.path.abspath(__file__), *flags], capture_output=True, text=True,
                              env={**os.environ, 'JAX_PLATFORMS': os.environ.get('JAX_PLATFORMS', 'cpu')})
        if done.returncode:
            raise SystemExit(done.stderr[-3000:])
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        row = rows[-1]
        print(f"{variant:>20}: {row['wall_s']:6.1f} s wall, {row['compile_s']:5.1f} s compiling "
              f"({row['n_compilations']} compilations, {row['n_programs']} programs), "
              f"best held_out_acc {row['best_value']:.4f}", flush=True)
    with open(args.out, 'w') as f:
        json.dump({'rows': rows, 'cpus': os.cpu_count()}, f, indent=1)


if __name__ == '__main__':
    main()
