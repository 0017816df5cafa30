"""Shared argument checks: one place, one message style (argument, rule, value, fix)."""

import braintools
import jax.numpy as jnp
import numpy as np
import optax


def positive_int(name, value, *, at_most=None, fix=''):
    """Return ``value`` as an int, or raise naming the argument and the rule."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.{' ' + fix if fix else ''}")
    if at_most is not None and value > at_most:
        raise ValueError(f"{name} must be at most {at_most}, got {value}.{' ' + fix if fix else ''}")
    return int(value)


def optax_optimizer(optimizer):
    """Return ``optimizer`` as a ``braintools.optim`` optimizer, wrapping a plain optax transform.

    Most JAX code holds ``optax`` objects (``optax.adam(1e-3)``); braintools'
    ``OptaxOptimizer(tx=...)`` already steps any of them over a model's
    ``ParamState``s, so a plain ``optax.GradientTransformation`` is wrapped
    rather than refused. Its learning rate lives inside the transform, where
    the Trainer cannot read it: the history's ``lr`` column is NaN for it.

    Examples
    --------
    >>> import optax
    >>> type(optax_optimizer(optax.sgd(0.1))).__name__
    'OptaxOptimizer'
    """
    if isinstance(optimizer, braintools.optim.OptaxOptimizer):
        return optimizer
    if isinstance(optimizer, optax.GradientTransformation):
        return braintools.optim.OptaxOptimizer(tx=optimizer, lr=float('nan'))
    raise TypeError(
        "optimizer must be a braintools.optim optimizer such as braintools.optim.Adam(lr=1e-2) "
        f"or an optax.GradientTransformation such as optax.adam(1e-2); got {type(optimizer).__name__}."
    )


def has_trainable(weights, who):
    """Raise ``ValueError`` when a model exposes no trainable ``ParamState``."""
    if len(weights) == 0:
        raise ValueError(
            f"{who}: the model has no trainable parameters (brainstate.ParamState); "
            "wrap at least one value as brainstate.nn.Param(value, fit=True)."
        )


def scalar_loss(value, who):
    """Raise ``ValueError`` when an objective returned something other than a scalar."""
    shape = jnp.shape(value)
    if shape != ():
        raise ValueError(
            f"{who} must return a scalar, got an array of shape {shape}; "
            "reduce it (e.g. jnp.mean) inside the objective."
        )
