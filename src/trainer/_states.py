"""Batched hidden-state initialisation, done once per batch size and replayed in the step.

``init_all_states(model, batch_size=B)`` gives most models batch-shaped
states, but some ``init_state`` methods ignore ``batch_size`` (brainmass's
``HORNStep``). We initialise twice with different batch sizes: a state whose
shape does not follow the batch size is unbatched, and is broadcast to the
batch. The resulting values are the *template* that the compiled step writes
back before every minibatch, so a carried state never changes shape and the
step never recompiles.
"""

import brainstate
import jax
import jax.numpy as jnp

from ._step import canonicalize_states


def hidden_states(model):
    """Every non-parameter state of ``model``, keyed by path."""
    return model.states().filter(lambda path, st: not isinstance(st, brainstate.ParamState))


def _shapes(model):
    return {k: jax.tree.map(jnp.shape, s.value) for k, s in hidden_states(model).items()}


def batch_template(model, batch_size):
    """Initialise ``model``'s states to ``batch_size`` and return ``{path: value}``.

    Hidden states that ignore the batch size are broadcast to
    ``(batch_size, ...)`` (other states, a step counter say, are left as they
    are). The model is left holding the template values.
    """
    brainstate.nn.init_all_states(model, batch_size=batch_size + 1)
    probe = _shapes(model)
    brainstate.nn.init_all_states(model, batch_size=batch_size)
    states = hidden_states(model)
    for key, state in states.items():
        if isinstance(state, brainstate.HiddenState) and probe.get(key) == jax.tree.map(jnp.shape, state.value):
            state.value = jax.tree.map(
                lambda x: jnp.broadcast_to(x, (batch_size,) + jnp.shape(x)), state.value)
    canonicalize_states(states.values())
    return {k: s.value for k, s in states.items()}


def load_template(model, template):
    """Write ``template`` into ``model``'s states (inside the traced step)."""
    states = hidden_states(model)
    for key, value in template.items():
        states[key].value = value
