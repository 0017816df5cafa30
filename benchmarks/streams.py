"""Trial streams: trials generated on the device inside the compiled epoch, against stored trials.

Three measurements, each a ratio or a rate taken side by side in one process:

1. trials per second a cogtask stream generates on the device (its draw
   vmapped over a scanned epoch's keys, after compiling);
2. the epoch time of a hand-written jitted ``lax.scan`` of a small GRU
   train step (SGD, masked cross-entropy) over (a) batches gathered by index
   from stored device arrays, (b) batches the stream draws inside the scan
   from the step's key, (c) batches the stream generates on the device in a
   program of its own (``epoch(..., inline=False)``, compiled at XLA's lowest
   level) and the scan indexes; the goal is (b), (c) <= 1.2x (a);
3. the same for eight tasks in one network (a device ``Multitask``, mixed
   batches, rule inputs) against the same mixture stored;
4. neurogym's host generation per 16-trial batch (its PR #137 reports ~8 ms
   per 16x100 batch), through ``datasets.stream(env)``;
5. through the real ``Trainer`` (a ``RateRNN`` GRU, scanned epochs): one
   epoch on a device stream (``fit(stream, steps_per_epoch=N_STEPS)``, the
   trials drawn in the compiled step) against one epoch on the same number
   of stored trials, and the same for the eight-task device mixture against
   it stored; goal <= 1.2x.

Run alone: ``python benchmarks/streams.py [--quick]``.
"""

import jax
import jax.numpy as jnp
import numpy as np

import datasets
from _common import judge, now, paired_ratio, rounds, run_alone, summary

TASKS = ('go_no_go', 'perceptual_decision_making', 'delay_match_sample', 'context_decision_making')
TASK, BATCH, N_STEPS, HIDDEN, LR = 'perceptual_decision_making', 64, 16, 64, 0.05


def gru_params(n_in, n_out, key):
    k = jax.random.split(key, 3)
    scale = lambda n: 1.0 / np.sqrt(n)  # noqa: E731
    return {'w_x': jax.random.normal(k[0], (n_in, 3 * HIDDEN)) * scale(n_in),
            'w_h': jax.random.normal(k[1], (HIDDEN, 3 * HIDDEN)) * scale(HIDDEN),
            'b': jnp.zeros(3 * HIDDEN), 'w_out': jax.random.normal(k[2], (HIDDEN, n_out)) * scale(HIDDEN)}


def gru_logits(params, x):
    def cell(h, x_t):
        gx, gh = x_t @ params['w_x'] + params['b'], h @ params['w_h']
        r = jax.nn.sigmoid(gx[:, :HIDDEN] + gh[:, :HIDDEN])
        z = jax.nn.sigmoid(gx[:, HIDDEN:2 * HIDDEN] + gh[:, HIDDEN:2 * HIDDEN])
        n = jnp.tanh(gx[:, 2 * HIDDEN:] + r * gh[:, 2 * HIDDEN:])
        h = (1 - z) * n + z * h
        return h, h @ params['w_out']
    _, logits = jax.lax.scan(cell, jnp.zeros((x.shape[0], HIDDEN)), jnp.swapaxes(x, 0, 1))
    return jnp.swapaxes(logits, 0, 1)


def loss_fn(params, batch):
    logp = jax.nn.log_softmax(gru_logits(params, batch['inputs']))
    nll = -jnp.take_along_axis(logp, batch['targets'][..., None], -1)[..., 0]
    return jnp.sum(nll * batch['mask']) / jnp.maximum(jnp.sum(batch['mask']), 1.0)


def epoch_program(sample):
    """A jitted epoch: scan a train step over ``idx``, each step's batch ``sample(data, idx[s])``."""
    @jax.jit
    def epoch(params, data, idx):
        def step(params, i):
            loss, grads = jax.value_and_grad(loss_fn)(params, sample(data, i))
            return jax.tree.map(lambda p, g: p - LR * g, params, grads), loss
        return jax.lax.scan(step, params, idx)
    return epoch


def _seconds(fn):
    start = now()
    jax.block_until_ready(fn())
    return now() - start


def generation_workload(n_rounds):
    """Trials per second each stream draws on the device, ``N_STEPS`` batches of ``BATCH`` per call."""
    out = {}
    for name in TASKS:
        s = datasets.stream(name, held_out=8)
        draw = jax.jit(jax.vmap(lambda key: s.draw(key, BATCH)))
        keys = s.epoch_keys(0, N_STEPS)
        compile_s = _seconds(lambda: draw(keys))
        times = [_seconds(lambda: draw(s.epoch_keys(r + 1, N_STEPS))) for r in range(n_rounds)]
        out[name] = {'n_steps': s.n_steps, 'n_features': s.n_features, 'first_call_s': compile_s,
                     'trials_per_s': summary([N_STEPS * BATCH / t for t in times])}
    return out


def epoch_workload(n_rounds):
    """Epoch time, stream vs stored, of the same GRU train step over the same number of trials."""
    s = datasets.stream(TASK, held_out=8)
    stored = datasets.load_dataset(TASK, n_trials=N_STEPS * BATCH, seed=0)
    data = jax.device_put({'inputs': stored.inputs, 'targets': stored.targets, 'mask': stored.mask})
    params = gru_params(s.n_features, s.n_classes, jax.random.PRNGKey(0))
    stored_epoch = epoch_program(lambda data, idx: {k: v[idx] for k, v in data.items()})
    stream_epoch = epoch_program(s.sampler(BATCH))
    apart_epoch = epoch_program(s.sampler(BATCH, inline=False))
    index = lambda e: jnp.asarray(datasets.epoch_indices(len(stored), BATCH, seed=0, epoch=e))  # noqa: E731
    variants = {'stored': lambda e: stored_epoch(params, data, index(e)),
                'stream': lambda e: stream_epoch(params, None, s.epoch_keys(e, N_STEPS)),
                'apart': lambda e: apart_epoch(params, *s.epoch(e, N_STEPS, BATCH, inline=False))}
    return _compare(variants, n_rounds, task=TASK, batch_size=BATCH, n_steps=N_STEPS, hidden=HIDDEN)


def _compare(variants, n_rounds, **info):
    """First calls (compiling), then epochs in rotating rounds: each variant's epoch numbers count up."""
    first = {name: _seconds(lambda: run(0)) for name, run in variants.items()}
    epochs = iter(range(1, 10 ** 6))
    raw = rounds({name: (lambda run=run: _seconds(lambda: run(next(epochs)))) for name, run in variants.items()},
                 n_rounds)
    return {**info, 'first_call_s': first, 'epoch_s': {k: summary(v) for k, v in raw.items()},
            'ratio_stream/stored': paired_ratio(raw['stream'], raw['stored']),
            'ratio_apart/stored': paired_ratio(raw['apart'], raw['stored'])}


YANG_LIKE = ('go_no_go', 'perceptual_decision_making', 'delay_match_sample', 'delay_match_category',
             'delay_comparison', 'anti_reach', 'reaching_1d', 'perceptual_decision_making_delay_response')


def multitask_workload(n_rounds):
    """Eight cogtask tasks (dt 20 ms) in one network: a device mixture vs the same mixture stored."""
    streams = {name: datasets.stream(name, held_out=8) for name in YANG_LIKE}
    mix = datasets.Multitask(streams, sampling='mixed')
    stored = datasets.Multitask({n: datasets.load_dataset(n, n_trials=N_STEPS * BATCH // len(YANG_LIKE) + 8)
                                 for n in YANG_LIKE}, held_out=None)
    train = stored.train_set()
    data = jax.device_put({'inputs': train.inputs, 'targets': train.targets, 'mask': train.mask})
    params = gru_params(mix.n_features, mix.n_classes, jax.random.PRNGKey(0))
    keep = lambda batch: {k: batch[k] for k in ('inputs', 'targets', 'mask')}  # noqa: E731
    stored_epoch = epoch_program(lambda data, idx: {k: v[idx] for k, v in data.items()})
    stream_epoch = epoch_program(lambda data, key: keep(mix.sampler(BATCH)(data, key)))
    apart_epoch = epoch_program(lambda data, step: keep(mix.sampler(BATCH, inline=False)(data, step)))
    index = lambda e: jnp.asarray(stored.epoch_indices(e, BATCH, n_steps=N_STEPS))  # noqa: E731
    variants = {'stored': lambda e: stored_epoch(params, data, index(e)),
                'stream': lambda e: stream_epoch(params, None, mix.epoch(e, N_STEPS, BATCH)[1]),
                'apart': lambda e: apart_epoch(params, *mix.epoch(e, N_STEPS, BATCH, inline=False))}
    return _compare(variants, n_rounds, tasks=list(YANG_LIKE), n_features=mix.n_features, n_steps=mix.n_steps,
                    n_classes=mix.n_classes)


def neurogym_workload(n_rounds):
    """ms per 16-trial host batch of neurogym's PerceptualDecisionMaking (dt=20: 110 steps)."""
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            import neurogym
            env = neurogym.make('PerceptualDecisionMaking-v0', dt=20)
    except ImportError:
        return None
    s = datasets.stream(env, held_out=8)
    times = []
    for r in range(n_rounds):
        start = now()
        s.batch(r, 0, 16)
        times.append((now() - start) * 1e3)
    return {'n_steps': s.n_steps, 'ms_per_16_batch': summary(times)}


def _trainer(ds):
    import braintools
    from trainer import Trainer, objectives
    from trainer.models import RateRNN
    return Trainer(RateRNN(ds.n_features, HIDDEN, ds.n_classes, cell='gru', seed=0), braintools.optim.Adam(lr=1e-3),
                   objective=objectives.cross_entropy(), progress=False)


def trainer_workload(n_rounds, stream, stored, held_out, **info):
    """Seconds of one ``Trainer.fit`` epoch (train + a small held-out pass), stream vs stored, in rotating rounds."""
    fits = {'stream': (_trainer(stream), stream, {'steps_per_epoch': N_STEPS}), 'stored': (_trainer(stored), stored, {})}

    def epoch(name):
        trainer, data, extra = fits[name]
        result = trainer.fit(data, held_out=held_out, n_epochs=1, batch_size=BATCH, compile_epoch=True, **extra)
        return result.history[0]['time']

    first = {name: epoch(name) for name in fits}  # compiles
    raw = rounds({name: (lambda name=name: epoch(name)) for name in fits}, n_rounds)
    return {**info, 'batch_size': BATCH, 'n_steps': N_STEPS, 'hidden': HIDDEN, 'first_epoch_s': first,
            'epoch_s': {k: summary(v) for k, v in raw.items()},
            'ratio_stream/stored': paired_ratio(raw['stream'], raw['stored'])}


def trainer_single_workload(n_rounds):
    s = datasets.stream(TASK, held_out=16)
    stored = datasets.load_dataset(TASK, n_trials=N_STEPS * BATCH, seed=0)
    return trainer_workload(n_rounds, s, stored, s.held_out_set(), task=TASK)


def trainer_multitask_workload(n_rounds):
    mix = datasets.Multitask({n: datasets.stream(n, held_out=2) for n in YANG_LIKE}, sampling='mixed')
    stored = datasets.Multitask({n: datasets.load_dataset(n, n_trials=N_STEPS * BATCH // len(YANG_LIKE))
                                 for n in YANG_LIKE}, held_out=None)
    return trainer_workload(n_rounds, mix, stored, mix.held_out_set(), tasks=list(YANG_LIKE))


def run(quick):
    n = 5 if quick else 15
    out = {'generation': generation_workload(n), 'epoch': epoch_workload(n),
           'multitask': multitask_workload(n), 'neurogym': neurogym_workload(4 * n),
           'trainer': trainer_single_workload(n), 'trainer_multitask': trainer_multitask_workload(n),
           'device': str(jax.devices()[0])}
    out['targets'] = {'stream epoch / stored epoch': judge(out['epoch']['ratio_stream/stored'], 1.2),
                      'stream generated apart / stored': judge(out['epoch']['ratio_apart/stored'], 1.2),
                      'eight-task stream epoch / stored epoch': judge(out['multitask']['ratio_stream/stored'], 1.2),
                      'eight-task generated apart / stored': judge(out['multitask']['ratio_apart/stored'], 1.2),
                      'Trainer epoch, stream / stored': judge(out['trainer']['ratio_stream/stored'], 1.2),
                      'Trainer epoch, eight-task stream / stored':
                          judge(out['trainer_multitask']['ratio_stream/stored'], 1.2)}
    return out


if __name__ == '__main__':
    import json
    result = run_alone(run, __doc__)
    trim = lambda d: {k: trim(v) for k, v in d.items() if k != 'samples'} if isinstance(d, dict) else d  # noqa: E731
    print(json.dumps(trim({k: v for k, v in result.items() if k != 'targets'}), indent=1, default=str))
