"""Workload 7: K networks as one ``Ensemble`` fit against K sequential ``Trainer.fit`` calls.

K = 8 rate RNNs (``RateRNN``, GRU, hidden 64, seeds 0..7) on
perceptual_decision_making (512 training and 128 held-out trials of 110
steps, batch 64, Adam(1e-2), held-out evaluation every epoch), 20 epochs.
Both sides train the same networks on the same batches -- member k of an
ensemble is the Trainer of models[k] (tests/test_ensemble.py) -- so the
work is equal; the final held-out losses are compared as a check.

Three measurements, each side by side in one process, order rotated:

- total wall time, compilation included, of the whole job, for the default
  vmapped ensemble and for ``member_batch=1`` (members one after another
  inside the one program, what suits a CPU);
- steady ms per epoch (median of epochs 3-20): the ensemble's against the
  sum of the eight networks' own;
- the K at which an ensemble epoch costs twice one network's epoch, from
  ensembles of growing K, each paired with a one-network fit;

and the compute floor that bounds them: the same GRU's loss-and-gradient
written in pure JAX, ``jax.vmap``-ed over 8 weight sets against 8 calls on
one, so a miss can be told from the Ensemble's own overhead.

Run alone: ``python benchmarks/ensemble.py [--quick]``.
"""

import braintools
import datasets
import jax
import jax.numpy as jnp
import numpy as np
from trainer import Ensemble, Trainer, metrics, objectives
from trainer.models import RateRNN

from _common import CompileLog, judge, now, paired_ratio, rounds, run_alone, summary

N_TRIALS, N_TRAIN, HIDDEN, BATCH, LR, K = 640, 512, 64, 64, 1e-2, 8


def data():
    ds = datasets.load_dataset('perceptual_decision_making', n_trials=N_TRIALS, seed=0)
    return ds.split(N_TRAIN, seed=0)


def _model(ds, seed):
    return RateRNN(ds.n_features, HIDDEN, ds.n_classes, seed=seed)


KW = dict(objective=objectives.cross_entropy(), metrics={'acc': metrics.accuracy()}, progress=False)


def _steady_ms(history, first):
    return float(np.median([row['time'] for row in history[first - 1:]]) * 1e3)


def sequential(n_members, n_epochs, train, held_out, first=3):
    """``n_members`` Trainer fits one after the other, as a user's loop would run them."""
    with CompileLog() as log:
        start = now()
        fits = [Trainer(_model(train, s), braintools.optim.Adam(lr=LR), **KW).fit(
            train, held_out=held_out, n_epochs=n_epochs, batch_size=BATCH) for s in range(n_members)]
        total = now() - start
    return {'total_s': total, 'steady_ms_per_epoch': sum(_steady_ms(f.history, first) for f in fits),
            'compilations': log.count, 'final_held_out_loss': [f.history[-1]['held_out_loss'] for f in fits]}


def ensemble(n_members, n_epochs, train, held_out, first=3, member_batch=None):
    """One Ensemble fit of the same networks (vmapped, or ``member_batch`` at a time)."""
    with CompileLog() as log:
        start = now()
        result = Ensemble([_model(train, s) for s in range(n_members)], braintools.optim.Adam(lr=LR),
                          member_batch=member_batch, **KW).fit(
            train, held_out=held_out, n_epochs=n_epochs, batch_size=BATCH)
        total = now() - start
    return {'total_s': total, 'steady_ms_per_epoch': _steady_ms(result.members[0].history, first),
            'compilations': log.count, 'program_compilations': result.n_compilations,
            'final_held_out_loss': [m.history[-1]['held_out_loss'] for m in result.members]}


def wall_workload(n_rounds, n_epochs):
    """Workload 7a: the whole job, and its steady epochs."""
    train, held_out = data()
    raw = rounds({'sequential': lambda: sequential(K, n_epochs, train, held_out),
                  'ensemble': lambda: ensemble(K, n_epochs, train, held_out),
                  'ensemble_map': lambda: ensemble(K, n_epochs, train, held_out, member_batch=1)},
                 n_rounds, label='ensemble')
    out = {'n_members': K, 'n_epochs': n_epochs, 'n_rounds': n_rounds, 'variants': {}, 'ratios': {}}
    for name, runs in raw.items():
        out['variants'][name] = {key: summary([r[key] for r in runs])
                                 for key in ('total_s', 'steady_ms_per_epoch', 'compilations')}
    for name in ('ensemble', 'ensemble_map'):
        out['variants'][name]['program_compilations'] = raw[name][0]['program_compilations']
        for key in ('total_s', 'steady_ms_per_epoch'):
            out['ratios'][f'{name}/sequential {key}'] = paired_ratio(
                [r[key] for r in raw[name]], [r[key] for r in raw['sequential']])
    # Equal work: the same networks on the same batches end at the same held-out losses.
    out['final_held_out_loss_spread'] = float(max(
        np.max(np.abs(np.subtract(e['final_held_out_loss'], s['final_held_out_loss'])))
        for name in ('ensemble', 'ensemble_map') for e, s in zip(raw[name], raw['sequential'])))
    return out


def k_workload(ks, n_rounds, n_epochs):
    """Workload 7b: ensemble epochs of growing K against one network's, until one costs more than 2x."""
    train, _ = data()

    def one(k):
        def run():
            fit = (Trainer(_model(train, 0), braintools.optim.Adam(lr=LR), **KW).fit if k == 0 else
                   Ensemble([_model(train, s) for s in range(k)], braintools.optim.Adam(lr=LR), **KW).fit)
            result = fit(train, n_epochs=n_epochs, batch_size=BATCH)
            history = result.history if k == 0 else result.members[0].history
            return _steady_ms(history, 2)
        return run

    points = {}
    for k in ks:
        raw = rounds({'one network': one(0), f'K={k}': one(k)}, n_rounds, label=f'ensemble K={k}')
        points[str(k)] = {'ensemble_ms_per_epoch': summary(raw[f'K={k}']),
                          'one_network_ms_per_epoch': summary(raw['one network']),
                          'ratio': paired_ratio(raw[f'K={k}'], raw['one network'])}
        if points[str(k)]['ratio']['median'] > 2.0:
            break
    return {'n_epochs': n_epochs, 'n_rounds': n_rounds, 'points': points, 'k_at_2x': k_at_2x(points)}


def k_at_2x(points):
    """The K where the epoch ratio crosses 2, interpolated in log K (``None`` if never measured)."""
    ks = [int(k) for k in points]
    ratios = [points[str(k)]['ratio']['median'] for k in ks]
    for i, (k, r) in enumerate(zip(ks, ratios)):
        if r >= 2.0:
            if i == 0:
                return float(k)
            k0, r0 = ks[i - 1], ratios[i - 1]
            frac = (2.0 - r0) / (r - r0)
            return float(2 ** (np.log2(k0) + frac * (np.log2(k) - np.log2(k0))))
    return None


def _gru_loss(params, x, y):
    """The RateRNN's GRU and readout in pure JAX, a softmax cross-entropy over every step."""
    h0 = jnp.zeros((x.shape[0], HIDDEN))

    def step(h, xt):
        gx, gh = xt @ params['wx'] + params['b'], h @ params['wh']
        r = jax.nn.sigmoid(gx[:, :HIDDEN] + gh[:, :HIDDEN])
        z = jax.nn.sigmoid(gx[:, HIDDEN:2 * HIDDEN] + gh[:, HIDDEN:2 * HIDDEN])
        n = jnp.tanh(gx[:, 2 * HIDDEN:] + r * gh[:, 2 * HIDDEN:])
        h = (1 - z) * n + z * h
        return h, h @ params['wo']

    _, logits = jax.lax.scan(step, h0, jnp.swapaxes(x, 0, 1))
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y.T[..., None], -1))


def floor_workload(n_rounds, n_members=K):
    """Workload 7c: pure-JAX loss and gradient of one batch, vmapped over members against one call each."""
    train, _ = data()
    x, y = jnp.asarray(train.inputs[:BATCH]), jnp.asarray(train.targets[:BATCH])
    rng = np.random.default_rng(0)

    def params():
        return {'wx': rng.standard_normal((train.n_features, 3 * HIDDEN), np.float32) * 0.1,
                'wh': rng.standard_normal((HIDDEN, 3 * HIDDEN), np.float32) * 0.1,
                'b': np.zeros(3 * HIDDEN, np.float32),
                'wo': rng.standard_normal((HIDDEN, train.n_classes), np.float32) * 0.1}

    members = [params() for _ in range(n_members)]
    stacked = jax.tree.map(lambda *xs: np.stack(xs), *members)
    grad = jax.jit(jax.value_and_grad(_gru_loss))
    vgrad = jax.jit(jax.vmap(jax.value_and_grad(_gru_loss), in_axes=(0, None, None)))
    jax.block_until_ready((grad(members[0], x, y), vgrad(stacked, x, y)))

    def one_by_one():
        start = now()
        for p in members:
            jax.block_until_ready(grad(p, x, y))
        return now() - start

    def vmapped():
        start = now()
        jax.block_until_ready(vgrad(stacked, x, y))
        return now() - start

    raw = rounds({'one by one': one_by_one, 'vmapped': vmapped}, n_rounds)
    return {'n_members': n_members, 'n_rounds': n_rounds,
            'one_by_one_ms': summary([t * 1e3 for t in raw['one by one']]),
            'vmapped_ms': summary([t * 1e3 for t in raw['vmapped']]),
            'ratio': paired_ratio(raw['vmapped'], raw['one by one'])}


def run(quick):
    """Workload 7; ``quick`` runs 6 epochs, one round and fewer K."""
    floor = floor_workload(5 if quick else 11)
    wall = wall_workload(1 if quick else 2, 6 if quick else 20)
    scan = k_workload([1, 2, 4] if quick else [1, 2, 4, 8, 16, 32, 64], 1 if quick else 2, 4 if quick else 5)
    r = floor['ratio']['median']
    steady_reason = (f'the GRU\'s loss and gradient in pure JAX, vmapped over {K} weight sets, costs '
                     f'{r:.2f}x {K} calls on one on this machine (workload 7c), so no vmapped program '
                     'can reach 0.7x') if r > 0.7 else None
    seq = wall['variants']['sequential']
    # The best an ensemble can do: compile nothing and run its epochs at the compute floor.
    epochs_share = (wall['n_epochs'] * seq['steady_ms_per_epoch']['median'] / 1e3) / seq['total_s']['median']
    bound = r * epochs_share
    total_reason = (f'its epochs alone, at the pure-JAX vmapped floor ({r:.2f}x), would cost {bound:.2f}x '
                    'the sequential job') if bound > 0.35 else None
    k2 = scan['k_at_2x']
    targets = {}
    for name, label in (('ensemble', 'vmapped'), ('ensemble_map', 'member_batch=1')):
        targets[f'{K} members ({label}), total incl. compilation vs {K} sequential fits'] = judge(
            wall['ratios'][f'{name}/sequential total_s'], 0.35, unreachable=total_reason)
        targets[f'{K} members ({label}), steady ms/epoch vs the sum of {K}'] = judge(
            wall['ratios'][f'{name}/sequential steady_ms_per_epoch'], 0.7, unreachable=steady_reason)
    targets['K at which a vmapped ensemble epoch costs 2x one network\'s (accelerator goal)'] = judge(
        k2 if k2 is not None else float(max(int(k) for k in scan['points'])), 64, unit=' members', lower=True,
        unreachable=None if jax.default_backend() != 'cpu' else
        f'a goal for an accelerator; this run is on the CPU, where vmapped work grows with K '
        f'(pure-JAX floor {r:.2f}x for {K})')
    return {'wall': wall, 'k_scan': scan, 'floor': floor, 'targets': targets}


if __name__ == '__main__':
    run_alone(run, __doc__)
