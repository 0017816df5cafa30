"""Truncated BPTT: the engine that trains each batch of trials chunk by chunk, state carried.

One compiled program runs one chunk of ``k`` steps of a batch of trials:
hidden state in from ``TrainState.hidden`` (the template at a trial's first
chunk), the 3b step on that chunk's loss, hidden state out in
``TrainState.hidden``. An epoch is every batch's chunks in order, so there is
one optimizer step per chunk (PyTorch's TBPTT, Keras's ``stateful=True``
within a trial). With ``k >= T`` a trial is one chunk and the step is the
full-BPTT step.
"""

import jax
import jax.numpy as jnp
import numpy as np

from ..core.chunks import chunk_rollout, chunk_slice, default_forward, reset_hidden
from ..core.placement import Placement
from ..core.step import make_train_step
from ..objectives.scores import as_sums, make_score
from .engine import SingleEngine, advance_flag, epoch_order
from .learner import TRAINING

__all__ = ['ChunkedEngine', 'chunk_plan', 'make_chunk_step']


def chunk_plan(n_steps, chunk):
    """``(k, n_chunks)`` for trials of ``n_steps``; ``k >= n_steps`` is one chunk (full BPTT)."""
    k = min(chunk, n_steps)
    if n_steps % k:
        divisors = [d for d in range(1, n_steps + 1) if n_steps % d == 0]
        near = sorted(divisors, key=lambda d: abs(d - k))[:3]
        raise ValueError(f"chunk={chunk} does not divide the trials' {n_steps} steps; choose a divisor "
                         f"such as {sorted(near)}, or cut the trials to a multiple of {chunk} steps.")
    return k, n_steps // k


def make_chunk_step(learner, chunk, n_chunks, grad_fn=None):
    """``build() -> batch(data, template, idx, j, advance) -> (sums, finite)``: the 3b step on chunk ``j``.

    The gradient is BPTT's within the chunk, of chunk ``j`` scored with the
    learner's forward, objective and metrics (per-trial targets count on a
    trial's last chunk only); ``grad_fn(data, idx, j) -> (grads, loss, (values,
    count))`` replaces it (the online engine's).
    """
    model, program = learner.model, learner.program

    def chunk_loss(data, idx, j):
        sliced = chunk_slice(data, idx, j, chunk)
        forward = chunk_rollout(j * chunk) if default_forward(learner.forward) else learner.forward
        score = make_score(model, forward, learner.objective, learner.metrics)
        loss, (values, count) = score(sliced, jnp.arange(idx.shape[0]), None)
        if data['targets'].ndim == 1:  # one label per trial: scored where the trial ends
            on = (j == n_chunks - 1).astype(jnp.float32)
            loss, values, count = loss * on, {k: v * on for k, v in values.items()}, count * on
        return loss, (values, count)

    def build():
        step = make_train_step(model, learner.optimizer, learner.weights, chunk_loss, clip_norm=learner.grad_clip_norm,
                               schedule=learner.lr_schedule, grad_fn=grad_fn)

        def batch(data, template, idx, j, advance):
            reset_hidden(program.hidden_states(), template, j == 0)
            loss, (values, count), finite = step(data, idx, j, advance)
            return as_sums(loss, values, count), finite

        return batch

    return build


class ChunkedEngine(SingleEngine):
    """:class:`~trainer.loop.engine.SingleEngine` whose steps are chunks of trials (truncated BPTT).

    Parameters
    ----------
    learner : trainer.loop.learner.Learner
    chunk : int
        Steps per chunk.
    name : str
        The program's name (``'tbptt'``; the online engine reuses this one).
    """

    def __init__(self, learner, chunk, name='tbptt'):
        super().__init__(learner)
        self.chunk, self.name = chunk, name
        self.n_chunks = None

    def build(self, k, n_chunks):
        """The uncompiled chunk step (the online engine builds another)."""
        return make_chunk_step(self.learner, k, n_chunks)

    def prepare(self, plan, state=None):
        if getattr(plan.source, 'data', False) is False:
            raise ValueError(f"gradient={self.name!r} trains stored trials (a dataset, a curriculum or "
                             f"datasets.from_recording), got a stream; draw the trials with "
                             f"stream.held_out_set()-style datasets, or use gradient='bptt'.")
        k, self.n_chunks = chunk_plan(plan.train.n_steps, self.chunk)
        self.k = k
        state = super().prepare(plan, state)
        learner = self.learner
        self.ready(plan)
        self.eval_hidden = self.template
        self.template = self.carried(self.template)
        state = state._replace(hidden=self.template)
        self.template_on_device = self.placement.replicated(self.template)
        self.train_fn = learner.program.jit(
            self.name, (k, self.n_chunks, plan.compile_epoch, *self.key(), *learner.key()), self.build(k, self.n_chunks),
            env={'dt': plan.train.dt, **TRAINING}, scan=plan.compile_epoch, carry_hidden=True)
        return state

    def ready(self, plan):
        """Called once the model holds the batch's template, before the chunk step is built."""

    def key(self):
        """What else the chunk step's trace closes over (the online engine's compiled learner)."""
        return ()

    def carried(self, template):
        """The hidden-state template a chunk step carries (the online engine adds its traces)."""
        return template

    def evaluate(self, state, active):
        """Held-out sums of whole trials (the programs of :class:`SingleEngine`, on the model's states only)."""
        new, sums = self.evaluate_fn(state._replace(hidden=self.eval_hidden))
        return new._replace(hidden=state.hidden), [sums]

    def schedule(self, epoch):
        """``(idx, j)``: every step's trial indices ``(n_steps, B)`` and chunk number ``(n_steps,)``."""
        idx = epoch_order(self.plan, epoch, self.plan.seed)
        return np.repeat(idx, self.n_chunks, axis=0), np.tile(np.arange(self.n_chunks, dtype=np.int32), len(idx))

    def run_chunks(self, state, idx, js, advance=None):
        """Run the chunk steps ``(idx[s], js[s])`` in order: ``(state, (sums, finite))`` on the host.

        ``state.hidden`` carries each trial's state from chunk to chunk; after
        the last call it holds the state after chunk ``js[-1]`` (a checkpoint
        there resumes mid-trial).
        """
        advance = np.zeros(len(js), bool) if advance is None else advance
        fixed = (self.data, self.template_on_device)
        if self.plan.compile_epoch:
            state, outs = self.train_fn(state, fixed, self.placement.batched(idx, axis=1),
                                        self.placement.replicated(js), self.placement.replicated(advance))
            return state, Placement.to_host(outs)
        outs = []
        for s in range(len(js)):
            state, out = self.train_fn(state, *fixed, self.placement.batched(idx[s], axis=0),
                                       jax.device_put(np.int32(js[s])), advance_flag(bool(advance[s])))
            outs.append(out)
        return state, jax.tree.map(lambda *xs: np.stack(xs), *Placement.to_host(outs))

    def train_epoch(self, state, epoch, active):
        idx, js = self.schedule(epoch)
        advance = np.arange(len(js)) == len(js) - 1
        state, (sums, finite) = self.run_chunks(state, idx, js, advance)
        # An epoch ends with a trial: held-out passes and the next epoch start from the template.
        state = state._replace(hidden=self.template_on_device)
        return state, jax.tree.map(lambda x: x[:, None], sums), np.asarray(finite)[:, None]
