"""The explicit state of a fit, and the batch-shaped hidden-state template.

``TrainState`` is one pytree holding everything a step changes: the
trainable values, the optimizer (and LR-schedule) state, the RNG, and the
hidden-state *template* every minibatch starts from. Compiled steps take it
and return it (``(state, batch) -> (state, out)``); the model's ``State``
objects are only read and written at the boundary (``_program.Program``).

``init_all_states(model, batch_size=B)`` gives most models batch-shaped
states, but some ``init_state`` methods ignore ``batch_size`` (brainmass's
``HORNStep``). We initialise twice with different batch sizes: a state whose
shape does not follow the batch size is unbatched, and is broadcast to the
batch, so a carried state never changes shape and nothing recompiles.
"""

from typing import Any, NamedTuple

import brainstate
import jax
import jax.numpy as jnp


class TrainState(NamedTuple):
    """Everything a compiled step reads and writes, as plain values.

    Attributes
    ----------
    params : dict
        ``{path: value}`` of the model's ``ParamState`` leaves.
    opt : tuple
        The optimizer's and its LR schedule's state values.
    hidden : dict
        ``{path: value}``: the batch-shaped template each batch starts from.
    rng : Any
        brainstate's global random state (noise in a forward pass).

    Examples
    --------
    >>> s = TrainState(params={('w',): 1.0}, opt=(), hidden={}, rng=None)
    >>> s._replace(params={('w',): 2.0}).params
    {('w',): 2.0}
    """

    params: dict
    opt: tuple
    hidden: dict
    rng: Any


def strong(tree):
    """The same values, committed and strongly typed.

    A Python float (a weak-typed scalar) is retraced as a strong array after
    the first update, which silently costs a second compilation.
    """
    return jax.tree.map(_strong, tree)


def _strong(x):
    if isinstance(x, (bool, int, float)) or (hasattr(x, 'weak_type') and x.weak_type):
        return jnp.asarray(x, dtype=jnp.result_type(x))
    return x


def hidden_states(model):
    """Every non-parameter state of ``model``, keyed by path."""
    return model.states().filter(lambda path, st: not isinstance(st, brainstate.ParamState))


def shapes(value):
    """The shapes of ``value``'s leaves, as a list: a brainunit ``Quantity`` (``mV``) is one leaf.

    ``jax.tree.map(jnp.shape, q)`` would try to build a Quantity of shapes.

    Examples
    --------
    >>> import brainunit as u, numpy as np
    >>> shapes(np.zeros((2, 3)) * u.mV), shapes({'a': np.zeros(2), 'b': 1.0})
    ([(2, 3)], [(2,), ()])
    """
    return [jnp.shape(x) for x in jax.tree.leaves(value)]


def _shapes(model):
    return {k: shapes(s.value) for k, s in hidden_states(model).items()}


def batch_template(model, batch_size, *, with_fixed=False):
    """Initialise ``model``'s states to ``batch_size`` and return ``{path: value}``.

    Hidden states that ignore the batch size are broadcast to
    ``(batch_size, ...)`` (other states, a step counter say, are left as they
    are). The model is left holding the template values, so a trace sees the
    shapes the compiled step will be called with. With ``with_fixed``, also
    the paths of the states ``init_all_states`` left alone (a fixed mask or
    time constant kept in a plain ``State``): a cached template must read
    those afresh, since the user may change them between fits.
    """
    before = {k: s.value for k, s in hidden_states(model).items()}
    brainstate.nn.init_all_states(model, batch_size=batch_size + 1)
    probe = _shapes(model)
    brainstate.nn.init_all_states(model, batch_size=batch_size)
    states = hidden_states(model)
    # A short-term state (a HiddenState is one) is the trial's own, even where its init returns the old value.
    fixed = tuple(k for k, st in states.items() if k in before and st.value is before[k]
                  and not isinstance(st, brainstate.ShortTermState))
    for key, state in states.items():
        if isinstance(state, brainstate.HiddenState) and probe.get(key) == shapes(state.value):
            state.value = jax.tree.map(
                lambda x: jnp.broadcast_to(x, (batch_size,) + jnp.shape(x)), state.value)
        state.value = strong(state.value)
    template = {k: s.value for k, s in states.items()}
    return (template, fixed) if with_fixed else template


def load_template(model, template):
    """Write ``template`` (``{path: value}``) into ``model``'s hidden states (inside a traced step)."""
    states = hidden_states(model)
    for key, value in template.items():
        states[key].value = value
