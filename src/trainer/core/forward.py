"""The default forward: roll a one-step model over batch-major sequences."""

import brainstate
import jax
import jax.numpy as jnp

__all__ = ['recording_rollout', 'rollout', 'timed_step']


def timed_step(model):
    """``step(i, x) -> model(x)`` run under ``environ.context(i=i, t=i * dt)`` (``dt`` read now).

    Examples
    --------
    >>> import brainstate, jax.numpy as jnp
    >>> from trainer.models import RateRNN
    >>> net = RateRNN(3, 8, 2)
    >>> _ = brainstate.nn.init_all_states(net, batch_size=4)
    >>> with brainstate.environ.context(dt=0.5):
    ...     step = timed_step(net)
    >>> step(3, jnp.ones((4, 3))).shape
    (4, 2)
    """
    dt = brainstate.environ.get_dt()

    def step(i, x):
        with brainstate.environ.context(i=i, t=i * dt):
            return model(x)

    return step

def rollout(model, inputs, start=0):
    """Default forward: step ``model`` over batch-major ``(B, T, F)`` inputs.

    Time-major inside (``brainstate.transform.for_loop`` over ``T``), batch-major
    out: ``(B, T, ...)``. Each step runs under ``environ.context(i=, t=)``,
    counted from ``start`` (a chunk inside a longer trial).

    Examples
    --------
    >>> import brainstate, jax.numpy as jnp
    >>> from trainer.models import RateRNN
    >>> net = RateRNN(3, 8, 2)
    >>> _ = brainstate.nn.init_all_states(net, batch_size=4)
    >>> with brainstate.environ.context(dt=1.0):
    ...     rollout(net, jnp.ones((4, 10, 3))).shape
    (4, 10, 2)
    """
    steps = start + jnp.arange(inputs.shape[1])
    out = brainstate.transform.for_loop(timed_step(model), steps, jnp.swapaxes(inputs, 0, 1))
    return jax.tree.map(lambda y: jnp.swapaxes(y, 0, 1), out)


def recording_rollout(model, inputs, paths):
    """:func:`rollout` that also returns ``{name: (B, T, ...)}``: each state in ``paths`` after each step.

    ``paths`` maps a name to a hidden state's path in ``model`` (``{'r': ('r',)}``);
    only those states are stacked over time, so a regulariser on rates records rates only.

    Examples
    --------
    >>> import brainstate, jax.numpy as jnp
    >>> from trainer.models import RateRNN
    >>> net = RateRNN(3, 8, 2)
    >>> _ = brainstate.nn.init_all_states(net, batch_size=4)
    >>> with brainstate.environ.context(dt=1.0):
    ...     y, states = recording_rollout(net, jnp.ones((4, 10, 3)), {'h': ('cell', 'h')})
    >>> y.shape, states['h'].shape
    ((4, 10, 2), (4, 10, 8))
    """
    states = model.states()
    run = timed_step(model)

    def step(i, x):
        return run(i, x), {name: states[path].value for name, path in paths.items()}

    steps = jnp.arange(inputs.shape[1])
    out = brainstate.transform.for_loop(step, steps, jnp.swapaxes(inputs, 0, 1))
    return jax.tree.map(lambda y: jnp.swapaxes(y, 0, 1), out)
