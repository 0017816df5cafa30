"""Shared argument checks: one place, one message style (argument, rule, value, fix)."""

import braintools
import jax.numpy as jnp
# One positive-int check for both packages: trainer depends on datasets, never the reverse.
from datasets._checks import check_positive_int as positive_int  # noqa: F401


def optax_optimizer(optimizer):
    """Raise ``TypeError`` unless ``optimizer`` is a ``braintools.optim`` optimizer."""
    if not isinstance(optimizer, braintools.optim.OptaxOptimizer):
        raise TypeError(
            "optimizer must be a braintools.optim optimizer such as "
            f"braintools.optim.Adam(lr=1e-2); got {type(optimizer).__name__}."
        )
    return optimizer


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
