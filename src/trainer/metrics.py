"""Metric builders: ``metric(prediction, target, mask=None) -> scalar``.

Metrics have the shape of :mod:`trainer.objectives` (and share its label
alignment and masked reduction), but are for reporting, not for gradients:
``fc_corr``, ``cosine_sim`` and ``fcd`` report brainmass's score (1.0 for a
perfect match).
The regression and cross-entropy objectives double as metrics and are
re-exported here; :func:`get` resolves the names the command line uses.

    >>> import numpy as np
    >>> from trainer import metrics
    >>> logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    >>> round(float(metrics.get('accuracy')(logits, np.array([0, 1, 1]))), 4)
    0.6667
"""

from .objectives.metrics import (
    accuracy,
    cross_entropy,
    get,
    mae,
    mse,
    rmse,
)

__all__ = sorted([
    'accuracy',
    'cross_entropy',
    'get',
    'mae',
    'mse',
    'rmse',
])
