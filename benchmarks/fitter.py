"""Workload 3: ``Fitter`` against the seed's hand-written section-3b loop on ``GainPopulation``.

Both fit g from 0.5 towards g* = 2 with Adam(0.1) for 60 steps, each step
a 600-step simulation; both read the loss back every step (the seed's
``float(train_step())``), so the comparison is per-step overhead and
compilation.

Run alone: ``python benchmarks/fitter.py [--quick]``.
"""


import brainstate
import braintools
import brainunit as u
import jax.numpy as jnp
import numpy as np
from trainer import Fitter, Simulator, objectives
from trainer.models import GainPopulation

from _common import CompileLog, judge, now, paired_ratio, rounds, run_alone, summary

N_STEPS = 60


def predict(model):
    sim = Simulator(model, dt=0.1 * u.ms)
    return sim.run(60. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])['r']


def target_amplitude():
    return jnp.mean(u.get_magnitude(predict(GainPopulation(1, g=2.0))[-50:]))


def seed_loop(target_amp):
    """The seed's section 3b, as in ``examples/fit_gain_population.py``, timed per step."""
    stamps = []
    with CompileLog() as compiles:
        start = now()
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

        history = []
        for _ in range(N_STEPS):
            history.append(float(train_step()))
            stamps.append(now())
    return _record(start, stamps, compiles, float(model2.g.value()), min(history))


def fitter_run(target_amp):
    """The same fit through ``Fitter.fit``; a callback stamps the end of every step."""
    stamps = []
    with CompileLog() as compiles:
        start = now()
        model = GainPopulation(1, g=0.5)
        fitter = Fitter(model, braintools.optim.Adam(lr=0.1), objective=objectives.steady_state(n_tail=50),
                        predict=predict, callbacks=[lambda info: stamps.append(now())])
        result = fitter.fit(target=target_amp, n_steps=N_STEPS)
    return _record(start, stamps, compiles, float(result.best_params['g']), result.best_loss)


def _record(start, stamps, compiles, g, best_loss):
    steps = np.diff([start] + stamps)
    return {'total_s': float(stamps[-1] - start), 'steady_ms_per_step': float(np.median(steps[10:]) * 1e3),
            'compilations': compiles.count, 'g': g, 'best_loss': float(best_loss)}


def fitter_workload(n_rounds):
    target_amp = target_amplitude()
    raw = rounds({'seed_3b': lambda: seed_loop(target_amp), 'fitter': lambda: fitter_run(target_amp)},
                 n_rounds, label='fitter')
    out = {'n_rounds': n_rounds, 'n_steps': N_STEPS, 'variants': {}, 'ratios': {}}
    for name, runs in raw.items():
        out['variants'][name] = {k: summary([r[k] for r in runs]) for k in runs[0]}
    for key in ('steady_ms_per_step', 'total_s'):
        out['ratios'][f'fitter/seed_3b {key}'] = paired_ratio(
            [r[key] for r in raw['fitter']], [r[key] for r in raw['seed_3b']])
    out['extra_us_per_step'] = summary([(f['steady_ms_per_step'] - s['steady_ms_per_step']) * 1e3
                                        for f, s in zip(raw['fitter'], raw['seed_3b'])])
    out['targets'] = {
        f'Fitter vs hand-written 3b, {label}': judge(out['ratios'][f'fitter/seed_3b {key}'], 1.05)
        for key, label in (('steady_ms_per_step', 'steady ms/step'), ('total_s', '60 steps incl. compile'))}
    return out


def run(quick):
    """Workload 3 at the suite's size."""
    return fitter_workload(8 if quick else 24)


if __name__ == '__main__':
    run_alone(run, __doc__)
