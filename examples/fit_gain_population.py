"""The seed's data-driven workflow, end to end, on our API.

Sections follow ``building_a_data_driven_workflow``: (1) a model with a
trainable gain, (2) a steady-state objective, (3a) the one-call ``Fitter``,
(3b) the same fit hand-written, (4) a vmapped loss landscape. Saves the
convergence and landscape figures as PNG files.

Run: ``python examples/fit_gain_population.py [--out DIR]``; the figures
go to the current folder unless ``--out`` names another.
"""

import argparse
import os

import brainstate
import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt

from trainer import Fitter, Simulator, objectives, rename_params
from trainer.models import GainPopulation


def predict(m):
    """Run the model for 60 ms at dt = 0.1 ms and return its rate trajectory."""
    sim = Simulator(m, dt=0.1 * u.ms)
    return sim.run(60. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])['r']


def main(out='.'):
    os.makedirs(out, exist_ok=True)
    # 1-2. Ground truth at g* = 2.0, summarised by its settled rate.
    truth = GainPopulation(1, g=2.0)
    target_amp = jnp.mean(u.get_magnitude(predict(truth)[-50:]))
    print('target amplitude =', float(target_amp))

    # 3a. The one-call Fitter.
    model = GainPopulation(1, g=0.5)
    fitter = Fitter(model, braintools.optim.Adam(lr=0.1),
                    objective=objectives.steady_state(n_tail=50), predict=predict)
    result = fitter.fit(target=target_amp, n_steps=60)
    print(result)
    print('recovered g =', {k: round(float(v), 4) for k, v in result.best_params.items()})
    print('best loss =', float(result.best_loss))

    # 3b. The same fit, hand-written: the five lines that matter.
    model2 = GainPopulation(1, g=0.5)
    weights = model2.states(brainstate.ParamState)
    optimizer = braintools.optim.Adam(lr=0.1)
    optimizer.register_trainable_weights(weights)

    def loss_closure():
        with model2.param_precompute():
            loss = objectives.steady_state(n_tail=50)(predict(model2), target_amp)
        return loss + model2.reg_loss()

    @brainstate.transform.jit
    def train_step():
        grads, loss = brainstate.transform.grad(loss_closure, weights, return_value=True)()
        optimizer.step(grads)
        return loss

    history = [float(train_step()) for _ in range(60)]
    print('hand-rolled g =', round(float(model2.g.value()), 4))
    print('final loss =', history[-1])
    grads, _ = brainstate.transform.grad(loss_closure, weights, return_value=True)()
    print('raw grad keys =', list(grads.keys()), '-> dotted:', list(rename_params(grads, model2)))

    # 4. The loss landscape, all 25 grid points in one vmapped call.
    def loss_at(g_value):
        return objectives.steady_state(n_tail=50)(predict(GainPopulation(1, g=g_value)), target_amp)

    grid = jnp.linspace(0.5, 3.5, 25)
    losses = jax.vmap(loss_at)(grid)
    print('vmap grid minimum at g =', round(float(grid[jnp.argmin(losses)]), 3))

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(result.history, label='Fitter')
    ax[0].plot(history, '--', label='hand-written 3b')
    ax[0].set(xlabel='step', ylabel='loss', title='convergence', yscale='log')
    ax[0].legend()
    ax[1].axhline(float(target_amp), ls='--', c='k', label='target')
    ax[1].plot(u.get_magnitude(predict(model)), label='fitted model')
    ax[1].set(xlabel='step', ylabel='rate', title='settled rate matches target')
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, 'gain_convergence.png'), dpi=110)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(grid, losses)
    ax.axvline(2.0, ls='--', c='k', label='true g')
    ax.set(xlabel='g', ylabel='loss', title='vmapped loss landscape')
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, 'gain_landscape.png'), dpi=110)
    print('figures written to', out)
    return result, history, grid, losses


def cli(argv=None):
    """Parse the command line and run; figures go to ``--out`` (default: the current folder)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='.', help='folder for the figures (default: here)')
    return main(parser.parse_args(argv).out)


if __name__ == '__main__':
    cli()
