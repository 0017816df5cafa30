"""The default forward: roll a one-step model over batch-major sequences."""

import brainstate
import jax
import jax.numpy as jnp

__all__ = ['rollout']


def rollout(model, inputs):
    """Default forward: step ``model`` over batch-major ``(B, T, F)`` inputs.

    Time-major inside (``brainstate.transform.for_loop`` over ``T``), batch-major
    out: ``(B, T, ...)``. Each step runs under ``environ.context(i=, t=)``.

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
    dt = brainstate.environ.get_dt()

    def step(i, x):
        with brainstate.environ.context(i=i, t=i * dt):
            return model(x)

    steps = jnp.arange(inputs.shape[1])
    out = brainstate.transform.for_loop(step, steps, jnp.swapaxes(inputs, 0, 1))
    return jax.tree.map(lambda y: jnp.swapaxes(y, 0, 1), out)
