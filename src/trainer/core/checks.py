"""Shared argument checks: one place, one message style (argument, rule, value, fix)."""

import inspect
import math
import numbers

import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import optax

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
    """Return ``optimizer`` as a ``braintools.optim`` optimizer, wrapping a plain optax transform.

    Most JAX code holds ``optax`` objects (``optax.adam(1e-3)``); braintools'
    ``OptaxOptimizer(tx=...)`` already steps any of them over a model's
    ``ParamState``s, so a plain ``optax.GradientTransformation`` is wrapped
    rather than refused. Its learning rate lives inside the transform, where
    the Trainer cannot read it: the history's ``lr`` is ``None`` for it.

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


def scalar(value, who, *, fix='reduce it (e.g. jnp.mean) inside the callable.'):
    """Raise unless ``value`` (traced or not) is a numeric scalar; ``who`` names its source."""
    if isinstance(value, (str, bytes)) or not hasattr(jnp.asarray(value) if isinstance(
            value, numbers.Number) else value, 'shape'):
        raise TypeError(f"{who} must return a numeric scalar, got {type(value).__name__} {value!r:.60}; {fix}")
    if jnp.shape(value) != ():
        raise ValueError(f"{who} must return a scalar, got an array of shape {jnp.shape(value)}; {fix}")


def objective_callable(fn, name):
    """Raise unless ``fn`` looks like ``fn(prediction, target[, mask])`` (not an unbuilt builder)."""
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
    return fn


def output_width(shape, ds):
    """Labels within the model's output width; a regression target as wide as the prediction."""
    if ds.n_classes is not None and np.issubdtype(ds.targets.dtype, np.integer):
        if ds.targets.size and ds.targets.min() < 0:
            raise ValueError(f"targets hold a negative class label ({int(ds.targets.min())}); "
                             "labels must be 0, 1, ..., n_classes - 1.")
        width = shape[-1]
        if ds.n_classes > width:
            raise ValueError(
                f"targets hold class labels up to {ds.n_classes - 1} but the model outputs "
                f"{width} values per step; build the model with {ds.n_classes} outputs "
                f"(e.g. RateRNN(..., n_output={ds.n_classes})).")
    elif len(shape) == ds.targets.ndim and shape[-1] != ds.targets.shape[-1]:
        raise ValueError(
            f"the model outputs {shape[-1]} values per step but the targets have "
            f"{ds.targets.shape[-1]}; build the model with n_output={ds.targets.shape[-1]}.")


def unshared(optimizer, weights):
    """Raise unless ``optimizer`` is fresh or registered with exactly ``weights`` (one optimizer per model)."""
    registered = {id(s) for s in jax.tree.leaves(optimizer.param_states.to_pytree(),
                                                 is_leaf=lambda x: isinstance(x, brainstate.State))}
    if registered and registered != {id(s) for s in weights.values()}:
        raise ValueError(
            "optimizer is already registered with another model's weights (was it given to "
            "another Trainer?); give each Trainer its own optimizer, e.g. "
            "braintools.optim.Adam(lr=1e-2).")


def scores_something(ds, name):
    """Raise unless ``ds`` (a ``TaskDataset``) scores at least one step: a mask that is not all zero.

    A held-out set or an ``evaluate`` dataset whose mask is zero everywhere
    would report a loss and metrics of 0/0; ``name`` is the argument it came in.
    """
    if ds.mask is not None and not np.any(np.asarray(ds.mask) > 0):
        raise ValueError(
            f"{name} has a mask that is zero on every step, so nothing in it is scored; "
            f"pass a mask with positive entries on the steps to score, or mask=None to score all.")
    return ds
