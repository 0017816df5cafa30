"""A rate RNN learns perceptual decision making, scored only in the response period.

The task comes from ``braintools.cogtask`` through the ``datasets`` registry,
with a response-period loss mask: the network is free during fixation and
stimulus, and must report the stronger evidence when the response is due.

Run: ``python examples/train_cognitive_task.py [--out DIR] [--epochs N]``;
the figures go to the current folder unless ``--out`` names another.
"""

import argparse
import os

import brainstate
import braintools
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np

import datasets
from trainer import Trainer, metrics, objectives, rollout
from trainer.models import RateRNN


def main(out='.', n_epochs=15, n_trials=1024):
    os.makedirs(out, exist_ok=True)
    data = datasets.load_dataset('perceptual_decision_making', n_trials=n_trials, seed=0)
    train, held_out = data.split(0.8, seed=0)
    print(f'{len(train)} train / {len(held_out)} held-out trials, {data.n_steps} steps of {data.dt}')
    datasets.plot_trial(held_out, 0).savefig(os.path.join(out, 'decision_trial.png'), dpi=110)

    model = RateRNN(data.n_features, 64, data.n_classes, cell='gru', seed=0)
    trainer = Trainer(model, braintools.optim.Adam(lr=1e-2),
                      objective=objectives.cross_entropy(),   # honours the response mask
                      metrics={'acc': metrics.accuracy()}, grad_clip_norm=1.0)
    result = trainer.fit(train, held_out=held_out, n_epochs=n_epochs, batch_size=64,
                         compile_epoch=True, patience=5)
    print(result)
    result.plot(os.path.join(out, 'decision_curves.png'))

    # The trained network's choice over one held-out trial.
    with brainstate.environ.context(dt=data.dt):
        brainstate.nn.init_all_states(model, batch_size=1)
        logits = np.asarray(rollout(model, held_out.inputs[:1]))[0]
    fig, ax = plt.subplots(figsize=(6, 3))
    for k, name in enumerate(['fixation', 'choice 1', 'choice 2'][:logits.shape[-1]]):
        ax.plot(logits[:, k], lw=1, label=name)
    ax.fill_between(np.arange(data.n_steps), logits.min(), logits.max(), where=held_out.mask[0] > 0,
                    color='0.9', label='response period')
    ax.set(xlabel=f'step ({data.dt} each)', ylabel='logit', title=f'label {held_out.targets[0, -1]}')
    ax.legend(loc='upper left')
    fig.tight_layout()
    fig.savefig(os.path.join(out, 'decision_output.png'), dpi=110)
    return result


def cli(argv=None):
    """Parse the command line and run; figures go to ``--out`` (default: the current folder)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='.', help='folder for the figures (default: here)')
    parser.add_argument('--epochs', type=int, default=15, help='training epochs')
    args = parser.parse_args(argv)
    return main(args.out, args.epochs)


if __name__ == '__main__':
    cli()
