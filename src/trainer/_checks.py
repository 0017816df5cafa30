"""Shared argument checks: one place, one message style (argument, rule, value, fix)."""

import inspect
import math
import numbers

import braintools
import jax.numpy as jnp

# One positive-int check for both packages: trainer depends on datasets, never the reverse.
from datasets._checks import check_positive_int as positive_int  # noqa: F401


def _fix(fix):
    return f' {fix}' if fix else ''


def positive_float(name, value, *, fix=''):
    """Return ``value`` as a float > 0 and finite, or raise naming the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}.{_fix(fix)}")
    return float(value)


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


def scalar(value, who, *, fix='reduce it (e.g. jnp.mean) inside the callable.'):
    """Raise unless ``value`` (traced or not) is a numeric scalar; ``who`` names its source."""
    if isinstance(value, (str, bytes)) or not hasattr(jnp.asarray(value) if isinstance(
            value, numbers.Number) else value, 'shape'):
        raise TypeError(f"{who} must return a numeric scalar, got {type(value).__name__} {value!r:.60}; {fix}")
    if jnp.shape(value) != ():
        raise ValueError(f"{who} must return a scalar, got an array of shape {jnp.shape(value)}; {fix}")


def objective_callable(fn, name, *, minimised=True):
    """Raise unless ``fn`` looks like ``fn(prediction, target[, mask])`` (not an unbuilt builder).

    A callable marked ``is_score`` (1.0 = perfect) is refused where it would be minimised.
    """
    if not callable(fn):
        raise TypeError(f"{name} must be callable(prediction, target[, mask]), got {fn!r}.")
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return fn
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2 and not any(p.kind == p.VAR_POSITIONAL for p in params):
        label = getattr(fn, '__qualname__', repr(fn))
        raise TypeError(
            f"{name}={label} takes {len(positional)} positional argument(s), but it is called as "
            f"{name}(prediction, target[, mask]). If it is a builder, call it: {name}={label}().")
    if minimised and getattr(fn, 'is_score', False):
        raise ValueError(
            f"{name} is a score to maximise (1.0 = perfect), not a loss; the trainer minimises. "
            "Build it with as_loss=True, e.g. objectives.fc_corr(as_loss=True).")
    return fn
