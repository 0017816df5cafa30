"""brainmass's HORN tutorial, on the Trainer: delayed match-to-sample, no hand-written loop.

brainmass's "Training on Tasks" tutorial writes the epoch loop, the minibatch
shuffle, the held-out evaluation and a ``reset_hidden(batch_size)`` that
broadcasts HORN's hidden states by hand. Here the Trainer does all of it.

Run: ``python examples/train_delayed_match.py [--out DIR] [--epochs N]``;
the figures go to the current folder unless ``--out`` names another.
(needs the test extra for brainmass: ``pip install -e ".[test]"``).
"""

import argparse
import math
import os

import brainmass
import brainstate
import braintools
import jax.numpy as jnp
import numpy as np

import datasets
from trainer import Trainer, metrics, objectives


def main(out='.', n_epochs=20):
    os.makedirs(out, exist_ok=True)
    data = datasets.delayed_match_task(n_samples=320, seq_len=8, n_symbols=2, seed=0)
    train, held_out = data.subset(np.arange(256)), data.subset(np.arange(256, 320))
    datasets.plot_trial(train, 0).savefig(os.path.join(out, 'delayed_match_trial.png'), dpi=110)

    brainstate.random.seed(0)
    net = brainmass.HORNSeqNetwork(n_input=2, n_hidden=64, n_output=2, alpha=0.2, omega=2 * math.pi / 28)
    trainer = Trainer(
        net, braintools.optim.Adam(lr=3e-2),
        objective=objectives.cross_entropy(),
        metrics={'acc': metrics.accuracy()},
        # HORNSeqNetwork consumes a whole time-major sequence and returns per-trial logits.
        forward=lambda model, inputs: model(jnp.swapaxes(inputs, 0, 1)),
    )
    result = trainer.fit(train, held_out=held_out, n_epochs=n_epochs, batch_size=32,
                         monitor='held_out_acc')
    print(result)
    print(f"held-out accuracy {result.best_value:.3f} at epoch {result.best_epoch}; "
          f"compilations {result.n_compilations}")
    result.plot(os.path.join(out, 'delayed_match_curves.png'))
    result.to_csv(os.path.join(out, 'delayed_match_history.csv'))
    return result


def cli(argv=None):
    """Parse the command line and run; figures go to ``--out`` (default: the current folder)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='.', help='folder for the figures (default: here)')
    parser.add_argument('--epochs', type=int, default=20, help='training epochs')
    args = parser.parse_args(argv)
    return main(args.out, args.epochs)


if __name__ == '__main__':
    cli()
