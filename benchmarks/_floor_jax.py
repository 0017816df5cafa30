"""The pure-JAX floor: ``RateRNN(cell='vanilla')`` and its loss with no framework at all.

Imports numpy, jax and optax only (the start-up benchmark times exactly
that). The network is brainstate's ``ValinaRNNCell`` written out:
``h = relu([x_t, h] @ W + b)`` (relu is the cell's default activation), a
linear readout per step, softmax cross-entropy on per-step labels under a
mask, or on the last step for per-trial labels, as ``trainer.objectives``
scores them. Training is a ``jax.lax.scan`` over the epoch's batches inside
one ``jax.jit`` (or, for reference, one ``jax.jit`` call per batch).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax


def delayed_match(n_trials, *, seq_len, n_symbols, seed):
    """``datasets.delayed_match_task``'s arrays, in numpy alone (same draws, same order)."""
    rng = np.random.default_rng(seed)
    cues = rng.integers(0, n_symbols, size=n_trials)
    match = np.zeros(n_trials, dtype=np.int64)
    match[: n_trials // 2] = 1
    match = rng.permutation(match)
    offsets = rng.integers(1, n_symbols, size=n_trials)
    probes = np.where(match == 1, cues, (cues + offsets) % n_symbols)
    trials = np.arange(n_trials)
    inputs = np.zeros((n_trials, seq_len, n_symbols), dtype=np.float32)
    inputs[trials, 0, cues] = 1.0
    inputs[trials, seq_len - 1, probes] = 1.0
    return inputs, match.astype(np.int32)


def epoch_indices(n_trials, batch_size, *, seed, epoch):
    """``datasets.epoch_indices``' order: ``default_rng([seed, epoch]).permutation``, full batches."""
    order = np.random.default_rng([seed, epoch]).permutation(n_trials).astype(np.int32)
    n_batches = n_trials // batch_size
    return order[:n_batches * batch_size].reshape(n_batches, batch_size)


def init_params(n_input, n_hidden, n_output, *, seed=0):
    """Xavier-normal recurrent weights and Kaiming-normal readout, drawn with numpy (no compiles)."""
    rng = np.random.default_rng(seed)
    fan_in = n_input + n_hidden
    return {
        'W': (rng.standard_normal((fan_in, n_hidden)) * np.sqrt(2.0 / (fan_in + n_hidden))).astype(np.float32),
        'b': np.zeros(n_hidden, np.float32),
        'Wo': (rng.standard_normal((n_hidden, n_output)) * np.sqrt(2.0 / n_hidden)).astype(np.float32),
        'bo': np.zeros(n_output, np.float32),
    }


def forward(params, inputs):
    """``(B, T, F)`` inputs to ``(B, T, C)`` logits."""
    h0 = jnp.zeros((inputs.shape[0], params['b'].shape[0]), inputs.dtype)

    def step(h, x):
        h = jax.nn.relu(jnp.concatenate([x, h], axis=-1) @ params['W'] + params['b'])
        return h, h @ params['Wo'] + params['bo']

    _, logits = jax.lax.scan(step, h0, jnp.swapaxes(inputs, 0, 1))
    return jnp.swapaxes(logits, 0, 1)


def loss(params, inputs, labels, mask):
    logits = forward(params, inputs)
    if labels.ndim == 1:  # a per-trial label is scored at the last step
        logits = logits[:, -1]
    ce = -jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), labels[..., None], axis=-1)[..., 0]
    if mask is None:
        return jnp.mean(ce)
    return jnp.sum(ce * mask) / jnp.maximum(jnp.sum(mask), jnp.finfo(ce.dtype).tiny)


class Floor:
    """Adam on :func:`loss` over device-resident data, one compiled epoch (or step) at a time.

    Parameters
    ----------
    inputs, labels, mask : numpy.ndarray
        The training trials (``mask`` may be ``None``).
    params : dict
        Initial ``{'W', 'b', 'Wo', 'bo'}``.
    lr : float
        Adam's learning rate.
    """

    def __init__(self, inputs, labels, mask, params, *, lr):
        self.data = (jnp.asarray(inputs), jnp.asarray(labels), None if mask is None else jnp.asarray(mask))
        self.optimizer = optax.adam(lr)
        self.params = jax.tree.map(jnp.asarray, params)
        self.opt_state = self.optimizer.init(self.params)
        self._epoch = jax.jit(self._scan_epoch)
        self._step = jax.jit(self._one_step)

    def _one_step(self, params, opt_state, data, idx):
        inputs, labels, mask = data
        value, grads = jax.value_and_grad(loss)(
            params, inputs[idx], labels[idx], None if mask is None else mask[idx])
        updates, opt_state = self.optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    def _scan_epoch(self, params, opt_state, data, idx_stack):
        def body(carry, idx):
            p, s, value = self._one_step(*carry, data, idx)
            return (p, s), value

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), idx_stack)
        return params, opt_state, losses

    def epoch(self, idx_stack):
        """Train on the ``(n_batches, batch_size)`` index stack; return the per-batch losses."""
        self.params, self.opt_state, losses = self._epoch(self.params, self.opt_state, self.data, idx_stack)
        return np.asarray(losses)

    def epoch_per_step(self, idx_stack):
        """The same epoch as one compiled call per batch, synced once at the end."""
        losses = []
        for idx in idx_stack:
            self.params, self.opt_state, value = self._step(self.params, self.opt_state, self.data, idx)
            losses.append(value)
        return np.asarray(jax.device_get(losses))
