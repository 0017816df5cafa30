"""The metric builders (public as :mod:`trainer.metrics`)."""

import brainunit as u
import jax.numpy as jnp

from . import reduce as _reduce
from .. import objectives  # the builders, under their public name (the package is loaded first)
from .losses import cross_entropy, mae, mse, rmse

__all__ = sorted([
    'accuracy',
    'cross_entropy',
    'get',
    'mae',
    'mse',
    'rmse',
])


def accuracy():
    """Build a classification accuracy: argmax over the last axis vs integer labels.

    Shapes and masks follow :func:`trainer.objectives.cross_entropy`: per
    trial ``(B, C)`` vs ``(B,)``, per step ``(B, T, C)`` vs ``(B, T)``, and a
    per-trial label ``(B,)`` on ``(B, T, C)`` scored on the steps a ``(B, T)``
    mask selects, else at the last step. A mask gives the masked fraction.

    Returns
    -------
    callable
        ``metric(prediction, target, mask=None) -> scalar`` in ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import metrics
    >>> logits = np.array([[[1.0, 0.0], [0.0, 1.0]]])      # (B=1, T=2, C=2)
    >>> float(metrics.accuracy()(logits, np.array([1])))   # last step only
    1.0
    >>> float(metrics.accuracy()(logits, np.array([1]), np.ones((1, 2))))
    0.5
    """

    def metric(prediction, target, mask=None):
        # argmax ignores the scale, so units may simply drop out.
        return _reduce.label_loss(_hits, u.get_magnitude(prediction), target, mask, 'accuracy')

    return metric


def _hits(logits, labels):
    return (jnp.argmax(logits, axis=-1) == labels).astype(logits.dtype)


_BUILDERS = {
    'accuracy': accuracy,
    'cosine_sim': objectives.cosine_sim,
    'cross_entropy': cross_entropy,
    'fc_corr': objectives.fc_corr,
    'fc_rmse': objectives.fc_rmse,
    'fcd': objectives.fcd,
    'fcd_ks': objectives.fcd_ks,
    'fcd_wasserstein': objectives.fcd_wasserstein,
    'mae': mae,
    'mse': mse,
    'rmse': rmse,
    'steady_state': objectives.steady_state,
    'timeseries_rmse': objectives.timeseries_rmse,
}


def get(name_or_callable):
    """Resolve a metric or objective name (or a callable) to a built instance.

    Parameters
    ----------
    name_or_callable : str or callable
        A name such as ``'accuracy'``, ``'mse'`` or ``'cross_entropy'``
        (built with default configuration), a builder such as
        ``metrics.accuracy`` (called), or a ready ``metric(prediction,
        target[, mask])`` (returned as is).

    Returns
    -------
    callable
        ``metric(prediction, target, mask=None) -> scalar``.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import metrics
    >>> float(metrics.get('mse')(np.ones(3), np.zeros(3)))
    1.0
    >>> metrics.get('acc')
    Traceback (most recent call last):
    ...
    ValueError: Unknown metric 'acc'; available: accuracy, cosine_sim, cross_entropy, fc_corr, fc_rmse, fcd, fcd_ks, fcd_wasserstein, mae, mse, rmse, steady_state, timeseries_rmse.
    """
    if isinstance(name_or_callable, str):
        key = name_or_callable.strip().lower()
        if key not in _BUILDERS:
            raise ValueError(f"Unknown metric {name_or_callable!r}; available: {', '.join(sorted(_BUILDERS))}.")
        return _BUILDERS[key]()
    if any(name_or_callable is builder for builder in _BUILDERS.values()):
        return name_or_callable()
    if callable(name_or_callable):
        return name_or_callable
    raise ValueError(
        f"get expects a metric name or a callable, got {type(name_or_callable).__name__}; "
        f"available names: {', '.join(sorted(_BUILDERS))}."
    )
