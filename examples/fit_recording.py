"""Fit an RNN to a long "recording" of a known network, window by window, state carried.

A teacher (a leaky rate network of 20 units driven by 3 slow random inputs)
is simulated for T steps; its rates are the recording. A student
``RateRNN`` is trained on the first 80 % with truncated BPTT
(``datasets.from_recording`` + ``Trainer(gradient='tbptt', chunk=window)``):
8 contiguous segments in parallel, one optimizer step per window, the hidden
state carried across windows. The student then runs over the whole
recording in one pass, and the R^2 of its rates on the held-out final 20 %
says how much of the teacher's activity it recovered.

    python examples/fit_recording.py [--steps 40000] [--epochs 30]
"""

import argparse

import braintools
import datasets
import numpy as np

from trainer import Trainer, objectives
from trainer.models import RateRNN


def teacher_recording(n_steps, *, n_units=20, n_inputs=3, alpha=0.1, seed=0):
    """``(inputs (T, n_inputs), rates (T, n_units))`` of a random leaky rate network."""
    rng = np.random.default_rng(seed)
    w = rng.normal(scale=1.2 / np.sqrt(n_units), size=(n_units, n_units))
    u = rng.normal(scale=1.0, size=(n_inputs, n_units))
    # Slow inputs: low-pass-filtered noise, so the rates carry a memory of them.
    noise = rng.normal(size=(n_steps, n_inputs))
    inputs = np.zeros_like(noise)
    for t in range(1, n_steps):
        inputs[t] = 0.95 * inputs[t - 1] + 0.3 * noise[t]
    x, rates = np.zeros(n_units), np.zeros((n_steps, n_units))
    for t in range(n_steps):
        x = (1 - alpha) * x + alpha * (np.tanh(x) @ w + inputs[t] @ u)
        rates[t] = np.tanh(x)
    return inputs.astype(np.float32), rates.astype(np.float32)


def r_squared(prediction, target):
    """Fraction of the target's variance (per unit, pooled) the prediction explains."""
    residual = np.sum((prediction - target) ** 2)
    return 1.0 - residual / np.sum((target - target.mean(axis=0)) ** 2)


def main(n_steps=40000, n_epochs=30, window=100, n_streams=8, n_hidden=64, seed=0):
    inputs, rates = teacher_recording(n_steps, seed=seed)
    split = int(0.8 * n_steps) // (window * n_streams) * (window * n_streams)
    train = datasets.from_recording(inputs[:split], rates[:split], window=window, dt=1.0, n_streams=n_streams)
    student = RateRNN(inputs.shape[1], n_hidden, rates.shape[1], seed=seed)
    trainer = Trainer(student, braintools.optim.Adam(lr=3e-3), objective=objectives.mse(), progress=False,
                      gradient='tbptt', chunk=window, grad_clip_norm=1.0)
    result = trainer.fit(train, n_epochs=n_epochs, batch_size=n_streams, shuffle=False)
    whole = datasets.from_recording(inputs, rates, window=window, dt=1.0)
    predicted = trainer.predict(whole).outputs[0]
    held = slice(split, len(predicted))
    scores = {'train_r2': float(r_squared(predicted[:split], rates[:split])),
              'held_out_r2': float(r_squared(predicted[held], rates[held]))}
    return result, scores


def cli(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=40000)
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--window', type=int, default=100)
    args = parser.parse_args(argv)
    result, scores = main(args.steps, args.epochs, args.window)
    print(f"{len(result.history)} epochs, final loss {result.history[-1]['loss']:.4g}; "
          f"R^2 train {scores['train_r2']:.3f}, held-out final 20 %: {scores['held_out_r2']:.3f}")
    return result, scores


if __name__ == '__main__':
    cli()
