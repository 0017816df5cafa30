"""Long trials: peak memory and time per epoch of each gradient vs trial length.

For trials of T = 100, 1000, 10000 steps (one model for every gradient:
braintrace's LSTM of 128 units with a leaky rate readout, which braintrace
can learn online entirely; batch 32, 3 inputs, 2 outputs, an MSE on every
step) and each ``Trainer(gradient=...)``:

- ``memory``: XLA's ``temp_size_in_bytes`` of the compiled train step
  (``jax.jit(step).lower(...).compile().memory_analysis()``): the scratch
  the step needs besides its arguments (the state and the data) and outputs.
  Deterministic; needs no run.
- ``epoch``: seconds of one epoch (one batch of 32 trials) after compiling;
  a TBPTT or online epoch is T/k chunk steps.

Then the trial length at which full BPTT's step no longer fits ``--budget``
(GiB) while the others still do (their memory does not grow with T).

Targets (``run``, for ``benchmarks/run.py``): TBPTT's and online's step
memory flat in T (at most 1.1x from T=1000 to T=10000; 100 to 1000 in
``--quick``), and remat's at T=1000 at most 0.35x full BPTT's.

    python benchmarks/long_trials.py [--lengths 100 1000 10000] [--no-time] [--budget 1]
"""

import argparse
import time
import warnings

import braintools
import brainstate
import datasets
import jax
import jax.numpy as jnp
import numpy as np

from trainer import Trainer, objectives
from trainer.loop.chunked import ChunkedEngine
from trainer.loop.engine import SingleEngine
from trainer.loop.online import OnlineEngine
from trainer.loop.plan import FitOptions, Stages, make_plan

GRADIENTS = ('bptt', 'remat', 'tbptt', 'online')


def _data(n_steps, batch, n_in=3, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, n_steps, n_in)).astype(np.float32)
    return datasets.from_arrays(x, np.tanh(np.cumsum(x[..., :n_out], axis=1) * 0.1).astype(np.float32))


class OnlineLSTM(brainstate.nn.Module):
    """braintrace's LSTM with a leaky rate readout: every weight has an online gradient."""

    def __init__(self, n_in, n_hidden, n_out, tau=10.0):
        import braintrace
        import brainunit as u
        super().__init__()
        self.n_input = n_in
        self.cell = braintrace.nn.LSTMCell(n_in, n_hidden)
        with brainstate.environ.context(dt=1.0 * u.ms):
            self.out = braintrace.nn.LeakyRateReadout(n_hidden, n_out, tau=tau * u.ms)

    def update(self, x):
        return self.out(self.cell(x))


def _trainer(gradient, hidden, chunk):
    model = OnlineLSTM(3, hidden, 2)
    chunk = None if gradient == 'bptt' else chunk
    return Trainer(model, braintools.optim.Adam(lr=1e-3), objective=objectives.mse(), progress=False,
                   gradient=gradient, chunk=chunk)


def _prepared(gradient, n_steps, hidden, batch, chunk):
    trainer = _trainer(gradient, hidden, chunk)
    data = _data(n_steps, batch)
    engine = {'tbptt': lambda: ChunkedEngine(trainer.learner, chunk),
              'online': lambda: OnlineEngine(trainer.learner, chunk, trainer.online)}.get(
        gradient, lambda: SingleEngine(trainer.learner))()
    plan = make_plan(Stages(data, None), FitOptions(1, batch, shuffle=False), engine.learner.names_for, engine.placement)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        state = engine.prepare(plan)
    return trainer, engine, plan, state


def step_memory(gradient, n_steps, *, hidden=128, batch=32, chunk=100):
    """Bytes of scratch (``temp_size_in_bytes``) of ``gradient``'s compiled train step on T-step trials."""
    trainer, engine, plan, state = _prepared(gradient, n_steps, hidden, batch, chunk)
    program = trainer.program
    idx = jnp.arange(batch)
    advance = jnp.asarray(False)
    if isinstance(engine, ChunkedEngine):
        fn = program.pure(engine.build(engine.k, engine.n_chunks)(), carry_hidden=True)
        args = (state, engine.data, engine.template_on_device, idx, jnp.int32(0), advance)
    else:
        fn = program.pure(trainer.learner.train_step())
        args = (state, engine.data, idx, advance)
    with brainstate.environ.context(dt=plan.train.dt, fit=True), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        compiled = jax.jit(fn).lower(*args).compile()
    return int(compiled.memory_analysis().temp_size_in_bytes)


def epoch_seconds(gradient, n_steps, *, hidden=128, batch=32, chunk=100, repeats=2):
    """Seconds of one training epoch (one batch of ``batch`` trials), after the first (compiling) epoch."""
    trainer, engine, plan, state = _prepared(gradient, n_steps, hidden, batch, chunk)
    engine.train_epoch(state, 1, None)  # compiles
    times = []
    for epoch in range(repeats):
        start = time.perf_counter()
        state, sums, _ = engine.train_epoch(state, epoch + 2, None)
        jax.block_until_ready(state.params)
        times.append(time.perf_counter() - start)
    return min(times)


def long_delay_accuracy(gradient, *, delay=1000.0, dt=2.0, n_trials=512, n_epochs=8, hidden=64, chunk=120, seed=0):
    """Best held-out accuracy of ``gradient`` on delay_match_sample with a ``delay``-ms delay at ``dt`` ms.

    The same braintrace LSTM for every gradient (plain layers cannot learn online).
    """
    import brainunit as u
    data = datasets.load_dataset('delay_match_sample', n_trials=n_trials, dt=dt, seed=seed, t_delay=delay * u.ms)
    train, held_out = data.split(0.75, seed=seed)
    # TBPTT's chunks divide the trial, and cut it into 4 or more.
    chunk = max(d for d in range(1, min(chunk, data.n_steps // 4) + 1) if data.n_steps % d == 0)
    trainer = Trainer(OnlineLSTM(data.n_features, hidden, data.n_classes), braintools.optim.Adam(lr=1e-2),
                      objective=objectives.cross_entropy(), metrics=['accuracy'], progress=False,
                      gradient=gradient, chunk=None if gradient in ('bptt', 'online') else chunk, grad_clip_norm=1.0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        result = trainer.fit(train, held_out=held_out, n_epochs=n_epochs, batch_size=32)
    return data.n_steps, max(r['held_out_accuracy'] for r in result.history), time.perf_counter() - start


def budget_length(memory, a, b, budget_gib):
    """``(T, MiB per 1000 steps)``: where full BPTT's scratch, linear through T=a and T=b, passes the budget."""
    slope = (memory['bptt'][b] - memory['bptt'][a]) / (b - a)
    return int((budget_gib * 2 ** 30 - memory['bptt'][b]) / slope + b), slope * 1000 / 2 ** 20


def run(quick=False, *, hidden=128, batch=32, chunk=100, budget_gib=1.0):
    """Step memory of every gradient at each trial length, epoch times, and the memory targets.

    Parameters
    ----------
    quick : bool
        Trials of 100 and 1000 steps and an epoch timed at T=100 only (about
        half a minute); else 100, 1000 and 10000 steps, epochs timed up to
        T=1000 (a 10000-step epoch of full BPTT alone takes seconds per
        round and makes no claim).

    Returns
    -------
    dict
        ``memory_mib[g][T]`` and ``epoch_s[g][T]`` (T as a string, as JSON
        keeps it), the BPTT budget length and ``targets``.
    """
    from _common import judge
    lengths = (100, 1000) if quick else (100, 1000, 10000)
    timed = (100,) if quick else (100, 1000)
    memory = {g: {} for g in GRADIENTS}
    seconds = {g: {} for g in GRADIENTS}
    for n_steps in lengths:
        for g in GRADIENTS:
            # The compiled step's scratch is a property of the program, not of the run: no rounds needed.
            memory[g][n_steps] = step_memory(g, n_steps, hidden=hidden, batch=batch, chunk=chunk)
            if n_steps in timed:
                seconds[g][str(n_steps)] = epoch_seconds(g, n_steps, hidden=hidden, batch=batch, chunk=chunk,
                                                         repeats=2 if quick else 3)
    a, b = lengths[-2], lengths[-1]
    fits, slope = budget_length(memory, a, b, budget_gib)
    ratio = lambda g, x, y: memory[g][x] / memory[g][y]  # noqa: E731
    targets = {f'TBPTT step memory, T={b} vs T={a}': judge(ratio('tbptt', b, a), 1.1),
               f'online step memory, T={b} vs T={a}': judge(ratio('online', b, a), 1.1),
               'remat step memory vs full BPTT, T=1000': judge(memory['remat'][1000] / memory['bptt'][1000], 0.35)}
    return {'model': f'braintrace LSTM {hidden} + leaky rate readout', 'hidden': hidden, 'batch': batch,
            'chunk': chunk, 'lengths': list(lengths), 'timed_lengths': list(timed),
            'memory_mib': {g: {str(n): m / 2 ** 20 for n, m in per.items()} for g, per in memory.items()},
            'epoch_s': seconds, 'growth': {g: ratio(g, b, a) for g in GRADIENTS},
            'budget_gib': budget_gib, 'bptt_budget_length': fits, 'bptt_mib_per_1000_steps': slope,
            'targets': targets}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lengths', type=int, nargs='+', default=[100, 1000, 10000])
    parser.add_argument('--hidden', type=int, default=128)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--chunk', type=int, default=100)
    parser.add_argument('--budget', type=float, default=1.0, help='GiB of scratch memory')
    parser.add_argument('--no-time', action='store_true')
    parser.add_argument('--time-up-to', type=int, default=10000, help='time epochs of trials up to this length')
    parser.add_argument('--accuracy', action='store_true', help='only: each gradient on a long-delay task')
    parser.add_argument('--delay', type=float, default=1000.0, help='ms of delay')
    parser.add_argument('--dt', type=float, default=2.0, help='ms per step of the accuracy task')
    parser.add_argument('--epochs', type=int, default=8)
    args = parser.parse_args()
    if args.accuracy:
        for g in GRADIENTS:
            n_steps, acc, seconds = long_delay_accuracy(g, delay=args.delay, dt=args.dt, n_epochs=args.epochs)
            print(f"delay_match_sample, {args.delay:g} ms delay at dt {args.dt:g} ms (T={n_steps}, {args.epochs} epochs of "
                  f"12 batches): {g:>6} best held-out "
                  f"accuracy {acc:.3f} in {seconds:.0f} s", flush=True)
        return
    memory = {g: {} for g in GRADIENTS}
    print(f"braintrace LSTM {args.hidden} + leaky readout, batch {args.batch}, chunk {args.chunk} (remat: {args.chunk}-step checkpointed chunks)")
    print(f"{'T':>7} " + ' '.join(f'{g + " MiB":>12}' for g in GRADIENTS) + '   ' +
          ' '.join(f'{g + " s/ep":>12}' for g in GRADIENTS))
    for n_steps in args.lengths:
        row, times = [], []
        for g in GRADIENTS:
            memory[g][n_steps] = step_memory(g, n_steps, hidden=args.hidden, batch=args.batch, chunk=args.chunk)
            row.append(f'{memory[g][n_steps] / 2 ** 20:12.2f}')
            if args.no_time or n_steps > args.time_up_to:
                times.append(f'{"-":>12}')
            else:
                times.append(f'{epoch_seconds(g, n_steps, hidden=args.hidden, batch=args.batch, chunk=args.chunk):12.3f}')
        print(f'{n_steps:>7} ' + ' '.join(row) + '   ' + ' '.join(times), flush=True)
    lengths = sorted(args.lengths)
    if len(lengths) >= 2:
        a, b = lengths[-2], lengths[-1]
        for g in GRADIENTS:
            print(f"{g}: memory x{memory[g][b] / memory[g][a]:.3f} from T={a} to T={b}")
        if 1000 in memory['bptt']:
            print(f"remat / bptt at T=1000: {memory['remat'][1000] / memory['bptt'][1000]:.3f}")
        fits, slope = budget_length(memory, a, b, args.budget)
        print(f"full BPTT's step passes {args.budget:g} GiB of scratch at T ~ {fits} steps "
              f"({slope:.2f} MiB per 1000 steps); TBPTT and online stay at "
              f"{memory['tbptt'][b] / 2 ** 20:.2f} and {memory['online'][b] / 2 ** 20:.2f} MiB at any T.")


if __name__ == '__main__':
    main()
