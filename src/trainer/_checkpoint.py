"""Checkpoints: everything an exact resume needs, in one ``braintools.file`` msgpack file.

``msgpack_save`` writes to a temporary file and renames it, so an interrupted
save never leaves a half-written checkpoint behind.
"""

import json
import os

import brainstate
import jax
import jax.numpy as jnp
from braintools.file import msgpack_load, msgpack_save

from ._step import canonicalize_states, optimizer_states


def _is_typed_key(x):
    return jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _rng_data(x):
    # msgpack stores plain integers; a typed PRNG key is unwrapped to its data.
    return jax.random.key_data(x) if _is_typed_key(x) else x


def _key(path):
    return '/'.join(map(str, path))


def _contents(weights, optimizer, progress):
    return {
        'params': {_key(k): s.value for k, s in weights.items()},
        'optimizer': optimizer.state_dict(),
        'scheduler': optimizer.lr.state_dict(),
        # A model that draws noise or dropout in its forward pass resumes the same stream.
        'rng': _rng_data(brainstate.random.DEFAULT.value),
        'progress': json.dumps(progress),
    }


def save(path, weights, optimizer, progress, best_snapshot):
    """Write parameters, optimizer and schedule state, and ``progress`` (a JSON-able dict).

    ``best_snapshot`` (``{path: value}`` of the best epoch) is saved too, so
    a resumed run restores the same best parameters.
    """
    state = _contents(weights, optimizer, progress)
    state['best'] = {_key(k): v for k, v in best_snapshot.items()}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    msgpack_save(path, state, verbose=False)


def load(path, weights, optimizer):
    """Restore parameters and optimizer state from ``path``; return ``(progress, best_snapshot)``."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"resume_from={path!r} does not exist; pass a checkpoint written by fit(checkpoint=...).")
    target = _contents(weights, optimizer, {})
    target['best'] = dict(target['params'])
    state = msgpack_load(path, target=target)
    as_jax = lambda tree: jax.tree.map(jnp.asarray, tree)
    for key, s in weights.items():
        s.value = as_jax(state['params'][_key(key)])
    optimizer.load_state_dict(as_jax(state['optimizer']))
    optimizer.lr.load_state_dict(as_jax(state['scheduler']))
    rng = brainstate.random.DEFAULT
    rng.value = (jax.random.wrap_key_data(as_jax(state['rng'])) if _is_typed_key(rng.value)
                 else as_jax(state['rng']))
    canonicalize_states([*weights.values(), *optimizer_states(optimizer)])  # as before the save
    best = {k: as_jax(state['best'][_key(k)]) for k in weights}
    return json.loads(state['progress']), best
