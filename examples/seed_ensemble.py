"""Sixteen seeds of one rate RNN on perceptual decision making, trained as one Ensemble.

A claim about "the" trained network should hold across initial seeds. Here
16 RNNs that differ only in their initial weights train together as one
compiled program (``trainer.Ensemble``), each exactly as its own
``Trainer.fit`` would train it, and the figure shows how far their held-out
accuracy spreads. Saved in the folder it is run from (or ``--out``):
``seed_ensemble_spread.png`` (each seed's held-out accuracy at its best
epoch, with the mean and sd), ``seed_ensemble_curves.png`` (every seed's
curves thin, their mean thick) and ``seed_ensemble_history.csv``.

Run: ``python examples/seed_ensemble.py [--out DIR] [--members 16] [--epochs N]``
"""

import argparse
import os

import braintools
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np

import datasets
from trainer import Ensemble, metrics, objectives
from trainer.models import RateRNN


def main(out='.', n_members=16, n_epochs=15, n_trials=512, hidden=32):
    os.makedirs(out, exist_ok=True)
    data = datasets.load_dataset('perceptual_decision_making', n_trials=n_trials, seed=0)
    train, held_out = data.split(0.8, seed=0)
    models = [RateRNN(data.n_features, hidden, data.n_classes, seed=s) for s in range(n_members)]
    ensemble = Ensemble(models, braintools.optim.Adam(lr=1e-2),
                        objective=objectives.cross_entropy(),   # scored in the response period only
                        metrics={'acc': metrics.accuracy()}, grad_clip_norm=1.0)
    # Seed s sets both the initial weights and the batch order of member s.
    result = ensemble.fit(train, held_out=held_out, n_epochs=n_epochs, batch_size=64,
                          seeds=list(range(n_members)), monitor='held_out_acc', patience=5,
                          compile_epoch=True)
    print(result)
    spread = result.summary()['best_held_out_acc']
    print(f"held-out accuracy at each seed's best epoch: {spread['mean']:.3f} +- {spread['sd']:.3f} "
          f"(min {spread['min']:.3f}, max {spread['max']:.3f}, {spread['n']} seeds)")

    best = [next(row['held_out_acc'] for row in m.history if row['epoch'] == m.best_epoch)
            for m in result.members if m.best_epoch]
    fig, ax = plt.subplots(figsize=(3.6, 3.4))
    jitter = np.random.default_rng(0).uniform(-0.08, 0.08, len(best))
    ax.scatter(jitter, best, s=18, color='C0', alpha=0.7, label='one seed')
    ax.errorbar([0.3], [spread['mean']], yerr=[spread['sd']], fmt='o', color='C3', capsize=4,
                label='mean +- sd')
    ax.axhline(1 / data.n_classes, ls=':', c='0.5', lw=0.8, label='chance')
    ax.set(xlim=(-0.4, 0.7), xticks=[], ylabel='held-out accuracy (best epoch)',
           title=f'{len(best)} seeds, hidden {hidden}')
    ax.legend(loc='lower right', fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, 'seed_ensemble_spread.png'), dpi=110)
    result.plot(os.path.join(out, 'seed_ensemble_curves.png'))
    result.to_csv(os.path.join(out, 'seed_ensemble_history.csv'))
    return result


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='.')
    parser.add_argument('--members', type=int, default=16)
    parser.add_argument('--epochs', type=int, default=15)
    args = parser.parse_args()
    main(args.out, args.members, args.epochs)
