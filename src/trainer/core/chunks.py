"""Long trials in chunks of time: how a gradient is taken (full BPTT, truncated, rematerialised, online).

``Trainer(..., gradient=, chunk=k)`` picks one of :data:`GRADIENTS`:

- ``'bptt'``: the default; the backward pass keeps every step's activations
  (memory ~ T x B x H).
- ``'tbptt'``: each trial runs in consecutive chunks of ``k`` steps, one
  optimizer step per chunk (PyTorch's ``h.detach()`` every ``k`` steps). The
  hidden state is carried from chunk to chunk in ``TrainState.hidden``
  (``jax.lax.stop_gradient`` at the chunk edge) and reset to the template at
  a trial's first chunk; the trials of a batch run in parallel. Memory ~ k.
- ``'remat'``: the same gradient as ``'bptt'``, one optimizer step per batch,
  but the forward is a scan over ``T/k`` chunks with ``jax.checkpoint`` on
  each chunk's inner scan: the backward pass keeps the ``T/k`` chunk-edge
  states and recomputes one chunk at a time (memory ~ T/k + k).
- ``'online'``: braintrace's online gradient (see :mod:`trainer.loop.online`).
"""

import brainstate
import jax
import jax.numpy as jnp

from .forward import rollout, timed_step

__all__ = ['GRADIENTS', 'check_gradient', 'chunk_slice', 'remat_rollout', 'reset_hidden']

GRADIENTS = ('bptt', 'tbptt', 'remat', 'online')


def check_gradient(gradient, chunk, forward):
    """Validate ``Trainer(gradient=, chunk=, forward=)``; return ``chunk`` (``None`` or an int >= 1)."""
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}.")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise ValueError(f"chunk must be a positive int (time steps per chunk) or None, got {chunk!r}.")
    if gradient == 'bptt' and chunk is not None:
        raise ValueError(f"chunk={chunk} needs gradient='tbptt', 'remat' or 'online'; full BPTT "
                         "(gradient='bptt') runs whole trials.")
    if gradient == 'tbptt' and chunk is None:
        raise ValueError("gradient='tbptt' needs chunk=k, the steps between optimizer steps "
                         "(e.g. chunk=100).")
    if gradient == 'remat' and forward is not None:
        raise ValueError("gradient='remat' rematerialises the default rollout; with forward= wrap "
                         "your forward's time loop in brainstate.transform.checkpoint instead.")
    return chunk


def remat_rollout(chunk=None):
    """A forward like :func:`~trainer.core.forward.rollout` whose backward pass recomputes activations.

    An outer ``for_loop`` over ``T // chunk`` chunks, each chunk's inner
    ``for_loop`` under ``brainstate.transform.checkpoint`` (``jax.checkpoint``
    for stateful code); the ``T % chunk`` remaining steps run plainly. The
    default ``chunk`` is ``round(sqrt(T))``: memory ~ 2 sqrt(T) states.

    Examples
    --------
    >>> import brainstate, jax.numpy as jnp
    >>> from trainer.models import RateRNN
    >>> net = RateRNN(3, 8, 2)
    >>> _ = brainstate.nn.init_all_states(net, batch_size=4)
    >>> with brainstate.environ.context(dt=1.0):
    ...     remat_rollout(5)(net, jnp.ones((4, 12, 3))).shape
    (4, 12, 2)
    """

    def forward(model, inputs):
        n_steps = inputs.shape[1]
        k = max(1, round(n_steps ** 0.5)) if chunk is None else min(chunk, n_steps)
        n_chunks = n_steps // k
        xs = jnp.swapaxes(inputs, 0, 1)
        step = timed_step(model)

        @brainstate.transform.checkpoint
        def run_chunk(c, x_chunk):
            return brainstate.transform.for_loop(step, c * k + jnp.arange(k), x_chunk)

        head = xs[:n_chunks * k].reshape((n_chunks, k) + xs.shape[1:])
        out = brainstate.transform.for_loop(run_chunk, jnp.arange(n_chunks), head)
        out = jax.tree.map(lambda y: y.reshape((n_chunks * k,) + y.shape[2:]), out)
        if n_chunks * k < n_steps:
            rest = jnp.arange(n_chunks * k, n_steps)
            tail = brainstate.transform.for_loop(step, rest, xs[n_chunks * k:])
            out = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), out, tail)
        return jax.tree.map(lambda y: jnp.swapaxes(y, 0, 1), out)

    forward.__name__ = f'remat_rollout_{chunk}'
    return forward


def chunk_rollout(start):
    """:func:`rollout` whose step index and time go on from ``start`` (a chunk inside a trial)."""

    def forward(model, inputs):
        return rollout(model, inputs, start)

    return forward


def chunk_slice(data, idx, j, chunk):
    """The batch at ``idx``, chunk ``j`` (steps ``j*chunk`` to ``(j+1)*chunk``), as a data dict of ``B`` trials.

    Per-trial targets (no time axis) are kept whole: the caller scores them on
    a trial's last chunk only.
    """

    def part(x):
        # Slice time before gathering trials: no (B, T, ...) copy of the whole trials.
        return jax.lax.dynamic_slice_in_dim(x, j * chunk, chunk, axis=1)[idx]

    targets = data['targets']
    return {'inputs': part(data['inputs']),
            'targets': part(targets) if targets.ndim >= 2 else targets[idx],
            'mask': None if data['mask'] is None else part(data['mask'])}


def reset_hidden(states, template, first):
    """Inside a traced step: each state to ``template`` where ``first`` (a trial starts), else its carried value.

    The carried value enters the chunk behind ``jax.lax.stop_gradient``: no
    gradient crosses a chunk edge (truncation).
    """
    for key, state in states.items():
        if key in template:
            state.value = jax.tree.map(lambda t, v: jnp.where(first, t, jax.lax.stop_gradient(v)),
                                       template[key], state.value)


def default_forward(forward):
    """Whether ``forward`` is the package's default rollout (chunks then continue its step index)."""
    return forward is rollout
