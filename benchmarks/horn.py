"""Workloads 1 and 4: HORN delayed match-to-sample, the tutorial loop against the Trainer.

(a) brainmass's "Training on Tasks" tutorial loop as written, (b) the Trainer
per step, (c) the Trainer with a compiled epoch, (d) a lean hand-written loop; then the Trainer's held-out
evaluation against one of its training epochs.

Run alone: ``python benchmarks/horn.py [--quick]``.
"""

import argparse
import json

import brainmass
import brainstate
import braintools
import brainunit as u
import datasets
import jax
import jax.numpy as jnp
import numpy as np
import trainer

from _common import CompileLog, counts, judge, now, paired_ratio, rounds, summary

TUTORIAL_URL = 'https://brainx.chaobrain.com/brainmass/tutorials/08_training_on_tasks.html'
N_TRAIN, N_HELD_OUT, BATCH, LR = 256, 64, 32, 3e-2


def tutorial_loop(n_epochs):
    """Variant (a): the tutorial's cells, verbatim but for the timestamps and the dropped prints.

    Source: brainmass docs/tutorials/08_training_on_tasks.ipynb (``TUTORIAL_URL``),
    the same loop as the gallery's "Training a HORN Network on a Cognitive Task".
    """
    brainstate.environ.set(dt=1.0 * u.ms)
    brainstate.random.seed(0)
    inputs_np, targets_np = brainmass.datasets.delayed_match_task(
        n_samples=320, seq_len=8, n_symbols=2, seed=0,
    )
    inputs = jnp.asarray(inputs_np, dtype=jnp.float32)
    targets = jnp.asarray(targets_np, dtype=jnp.int32)
    n_train = 256
    X_train, y_train = inputs[:n_train], targets[:n_train]
    X_test, y_test = inputs[n_train:], targets[n_train:]
    n_symbols = inputs.shape[2]

    with CompileLog() as compiles:
        start = now()
        net = brainmass.HORNSeqNetwork(
            n_input=n_symbols, n_hidden=64, n_output=2, alpha=0.2, omega=2 * np.pi / 28,
        )
        brainstate.nn.init_all_states(net)

        def reset_hidden(batch_size):
            # HORN allocates hidden states unbatched; broadcast them to the batch shape.
            for layer in net.layers:
                shape = (batch_size,) + tuple(layer.horn.in_size)
                layer.horn.x.value = jnp.zeros(shape)
                layer.horn.y.value = jnp.zeros(shape)

        def logits(batch_inputs):
            reset_hidden(batch_inputs.shape[0])
            seq = jnp.transpose(batch_inputs, (1, 0, 2))
            return net(seq)

        weights = net.states(brainstate.ParamState)
        optimizer = braintools.optim.Adam(lr=3e-2)
        optimizer.register_trainable_weights(weights)

        def loss_and_acc(batch_inputs, batch_targets):
            lg = logits(batch_inputs)
            logp = jax.nn.log_softmax(lg, axis=-1)
            ce = -jnp.mean(logp[jnp.arange(batch_targets.shape[0]), batch_targets])
            acc = jnp.mean(jnp.argmax(lg, axis=-1) == batch_targets)
            return ce, acc

        @brainstate.transform.jit
        def train_step(batch_inputs, batch_targets):
            grad_fn = brainstate.transform.grad(
                lambda: loss_and_acc(batch_inputs, batch_targets),
                weights, has_aux=True, return_value=True,
            )
            grads, loss, acc = grad_fn()
            optimizer.step(grads)
            return loss, acc

        @brainstate.transform.jit
        def evaluate(batch_inputs, batch_targets):
            return loss_and_acc(batch_inputs, batch_targets)

        batch_size = 32
        history = {'epoch': [], 'train_loss': [], 'train_acc': [], 'test_acc': []}
        marks = []
        for epoch in range(n_epochs):
            perm = np.random.RandomState(epoch).permutation(n_train)
            losses, accs = [], []
            for begin in range(0, n_train, batch_size):
                idx = perm[begin:begin + batch_size]
                if len(idx) < batch_size:
                    continue
                loss, acc = train_step(X_train[idx], y_train[idx])
                losses.append(float(loss)); accs.append(float(acc))
            _, test_acc = evaluate(X_test, y_test)
            history['epoch'].append(epoch)
            history['train_loss'].append(float(np.mean(losses)))
            history['train_acc'].append(float(np.mean(accs)))
            history['test_acc'].append(float(test_acc))
            marks.append(_mark())
    return _record(start, marks, compiles, history['test_acc'][-1],
                   {'train_step+evaluate': compiles.by_name().get('jit(jaxpr_call)', 0)})


def lean_loop(n_epochs):
    """Variant (d): a lean hand-written loop, the fastest a careful user would write by hand.

    One ``brainstate.transform.jit`` train step that resets HORN's states to the
    batch shape inside the step, one jitted evaluation of the held-out trials,
    a ``float()`` per step; the same data, seed, optimizer and batches as (a).
    """
    brainstate.environ.set(dt=1.0 * u.ms)
    train, held_out = horn_data()
    x_train, y_train = jnp.asarray(train.inputs), jnp.asarray(train.targets)
    x_test, y_test = jnp.asarray(held_out.inputs), jnp.asarray(held_out.targets)
    marks = []
    with CompileLog() as compiles:
        start = now()
        brainstate.random.seed(0)
        net = brainmass.HORNSeqNetwork(2, 64, 2, alpha=0.2, omega=2 * np.pi / 28)
        brainstate.nn.init_all_states(net)
        weights = net.states(brainstate.ParamState)
        optimizer = braintools.optim.Adam(lr=LR)
        optimizer.register_trainable_weights(weights)

        def loss_and_acc(x, y):
            for layer in net.layers:  # HORN's states, reset to this batch's shape
                shape = (x.shape[0],) + tuple(layer.horn.in_size)
                layer.horn.x.value = jnp.zeros(shape)
                layer.horn.y.value = jnp.zeros(shape)
            logits = net(jnp.swapaxes(x, 0, 1))
            ce = trainer.objectives.cross_entropy()(logits, y)
            return ce, jnp.mean(jnp.argmax(logits, -1) == y)

        @brainstate.transform.jit
        def train_step(x, y):
            grads, loss, _ = brainstate.transform.grad(
                loss_and_acc, weights, has_aux=True, return_value=True)(x, y)
            optimizer.step(grads)
            return loss

        evaluate = brainstate.transform.jit(loss_and_acc)
        for epoch in range(n_epochs):
            perm = np.random.default_rng(epoch).permutation(N_TRAIN)
            losses = [float(train_step(x_train[idx], y_train[idx]))
                      for idx in perm[:N_TRAIN // BATCH * BATCH].reshape(-1, BATCH)]
            _, acc = evaluate(x_test, y_test)
            marks.append(_mark())
    return _record(start, marks, compiles, float(acc), {'train_step+evaluate': compiles.count})


def horn_data():
    """The tutorial's trials as a ``TaskDataset``: the first 256 train, the last 64 held out."""
    ds = datasets.delayed_match_task(N_TRAIN + N_HELD_OUT, seq_len=8, n_symbols=2, seed=0)
    return ds.subset(np.arange(N_TRAIN)), ds.subset(np.arange(N_TRAIN, N_TRAIN + N_HELD_OUT))


def horn_forward(model, inputs):
    # HORNSeqNetwork consumes a time-major sequence and returns per-trial logits.
    return model(jnp.swapaxes(inputs, 0, 1))


def horn_trainer():
    """The tutorial's network (same seed, same initial weights) behind a Trainer."""
    brainstate.random.seed(0)
    net = brainmass.HORNSeqNetwork(2, 64, 2, alpha=0.2, omega=2 * np.pi / 28)
    return trainer.Trainer(net, braintools.optim.Adam(lr=LR), objective=trainer.objectives.cross_entropy(),
                           forward=horn_forward, metrics={'acc': trainer.metrics.accuracy()},
                           progress=False)


def trainer_loop(n_epochs, *, compile_epoch):
    """Variants (b) and (c): the same problem through ``Trainer.fit``."""
    train, held_out = horn_data()
    marks = []
    with CompileLog() as compiles:
        start = now()
        tr = horn_trainer()
        tr.callbacks.append(lambda info: marks.append(_mark()))
        result = tr.fit(train, held_out=held_out, n_epochs=n_epochs, batch_size=BATCH,
                        compile_epoch=compile_epoch)
    return _record(start, marks, compiles, result.history[-1]['held_out_acc'], result.n_compilations)


def _mark():
    """The end of an epoch: ``(time, compilations so far, traces so far)``."""
    return (now(), *counts())


def _record(start, marks, compiles, accuracy, step_compiles):
    ends, n_compiled, n_traced = (np.asarray(column) for column in zip(*marks))
    epochs = np.diff(np.concatenate([[start], ends]))
    return {
        'time_to_first_epoch_s': float(ends[0] - start),
        'steady_ms_per_epoch': float(np.median(epochs[2:19]) * 1e3),  # epochs 3-19
        'total_s': float(ends[-1] - start),
        'epoch_ms': [float(e * 1e3) for e in epochs],
        'compilations': compiles.count,
        'compile_s': compiles.seconds,
        'step_compilations': step_compiles,
        # After epoch 2 every shape has been seen: what still compiles or re-traces is waste.
        'compilations_after_epoch_2': int(n_compiled[-1] - n_compiled[1]),
        'traces_per_epoch_after_epoch_2': float((n_traced[-1] - n_traced[1]) / (len(ends) - 2)),
        'trace_s': float(sum(s for _, s in compiles.traces)),
        'final_held_out_acc': float(accuracy),
    }


def horn_workload(n_rounds, n_epochs=20):
    """Workload 1: (a), (b), (c) side by side; ratios of (b) and (c) to (a) per round."""
    variants = {
        'a_tutorial': lambda: tutorial_loop(n_epochs),
        'd_lean_loop': lambda: lean_loop(n_epochs),
        'b_trainer_step': lambda: trainer_loop(n_epochs, compile_epoch=False),
        'c_trainer_epoch': lambda: trainer_loop(n_epochs, compile_epoch=True),
    }
    raw = rounds(variants, n_rounds, label='horn')
    a, d = raw['a_tutorial'], raw['d_lean_loop']
    out = {'n_rounds': n_rounds, 'n_epochs': n_epochs, 'source': TUTORIAL_URL, 'variants': {}, 'ratios': {},
           'targets': {}}
    for name, runs in raw.items():
        out['variants'][name] = {
            key: summary([r[key] for r in runs]) for key in
            ('time_to_first_epoch_s', 'steady_ms_per_epoch', 'total_s', 'compilations',
             'compile_s', 'compilations_after_epoch_2', 'traces_per_epoch_after_epoch_2', 'trace_s',
             'final_held_out_acc')}
        out['variants'][name]['step_compilations'] = [r['step_compilations'] for r in runs]
        out['variants'][name]['epoch_ms'] = [r['epoch_ms'] for r in runs]
        if name in ('a_tutorial', 'd_lean_loop'):
            continue
        tag = name[0]
        for key in ('steady_ms_per_epoch', 'total_s', 'time_to_first_epoch_s'):
            out['ratios'][f'{tag}/a {key}'] = paired_ratio([r[key] for r in runs], [r[key] for r in a])
            out['ratios'][f'{tag}/d {key}'] = paired_ratio([r[key] for r in runs], [r[key] for r in d])
    for tag, bound in (('b', 1.05), ('c', 0.6)):
        out['targets'][f'({tag}) steady-state ms/epoch vs (a)'] = judge(
            out['ratios'][f'{tag}/a steady_ms_per_epoch'], bound)
    for tag in ('b', 'c'):
        out['targets'][f'({tag}) total wall time, {n_epochs} epochs, vs (a)'] = judge(
            out['ratios'][f'{tag}/a total_s'], 0.35)
        out['targets'][f'({tag}) total wall time, {n_epochs} epochs, vs (d) the lean loop'] = judge(
            out['ratios'][f'{tag}/d total_s'], 0.35)
    worst = min(r['final_held_out_acc'] for runs in raw.values() for r in runs)
    out['targets']['final held-out accuracy (worst variant and round)'] = judge(worst, 0.95, unit='', lower=True)
    return out


def eval_workload(n_rounds, epochs_per_round=6, evals_per_round=10):
    """Workload 4: ``Trainer.evaluate`` on the 64 held-out trials vs one training epoch.

    Both are timed on one warmed Trainer (compiled step and eval), alternating
    a short train-only fit with a burst of evaluations, so each round's ratio
    compares neighbours in time.
    """
    train, held_out = horn_data()
    tr = horn_trainer()
    tr.fit(train, held_out=held_out, n_epochs=2, batch_size=BATCH)  # compile both programs
    epoch_ms, eval_ms = [], []
    with CompileLog() as compiles:
        for r in range(n_rounds):
            result = tr.fit(train, n_epochs=epochs_per_round, batch_size=BATCH, seed=r + 1)
            epoch_ms.append(float(np.median([row['time'] for row in result.history]) * 1e3))
            times = []
            for _ in range(evals_per_round):
                t = now()
                tr.evaluate(held_out)
                times.append(now() - t)
            eval_ms.append(float(np.median(times) * 1e3))
    ratio = paired_ratio(eval_ms, epoch_ms)
    return {
        'n_rounds': n_rounds,
        'train_epoch_ms': summary(epoch_ms),
        'evaluate_ms': summary(eval_ms),
        'ratio': ratio,
        'compilations_while_timed': compiles.count,
        'targets': {'Trainer.evaluate (64 held-out trials) vs one training epoch': judge(ratio, 1.0)},
    }


def run(quick):
    """Workload 1 at the suite's size (``quick``: one round)."""
    return horn_workload(1 if quick else 3)


def run_eval(quick):
    """Workload 4 at the suite's size."""
    return eval_workload(3 if quick else 7)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    args = parser.parse_args(argv)
    out = {'horn': run(args.quick), 'eval': run_eval(args.quick)}
    print(json.dumps({k: v['targets'] for k, v in out.items()}, indent=1))
    return out


if __name__ == '__main__':
    main()
