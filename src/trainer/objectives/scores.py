"""What a batch scores: forward, objective and metrics, reduced as ``(total, count)`` sums.

Every score of a batch is its masked mean times the mass it averaged over
(its valid trials, or with a per-step mask its valid steps); an epoch, a
held-out pass (padded or not), several devices or several ensemble members
merge by adding totals and counts (clu's ``Average``), so the training and
held-out numbers agree on identical data for any batch size and any mask.
"""

import contextlib
import functools

import brainstate
import jax.numpy as jnp
import numpy as np

from ..core import checks as _checks
from ..core.data import gather
from ..core.forward import recording_rollout
from ..core.placement import Placement
from .reduce import call_with_mask
from .metrics import get as get_metric
from .losses import accepts_mask

__all__ = ['make_score', 'mean_of', 'resolve_metrics']


def _name_of(metric, i):
    if isinstance(metric, str):
        return metric
    qualname = getattr(metric, '__qualname__', '')
    # A built metric is an inner function ('accuracy.<locals>.metric'): name it after its builder.
    if '.<locals>.' in qualname:
        return qualname.split('.<locals>.')[0].split('.')[-1]
    return getattr(metric, '__name__', f'metric_{i}')


def resolve_metrics(metrics):
    """``{name: metric}`` from a dict (values may be names) or a list; names unique, ``loss`` reserved.

    Examples
    --------
    >>> from trainer import metrics, objectives
    >>> sorted(resolve_metrics([metrics.accuracy(), objectives.cross_entropy()]))
    ['accuracy', 'cross_entropy']
    >>> resolve_metrics({'loss': 'accuracy'})
    Traceback (most recent call last):
    ...
    ValueError: metrics: the name 'loss' is reserved for the objective; call this metric something else, e.g. {'accuracy': ...}.
    """
    if metrics is None:
        return {}
    if isinstance(metrics, str) or callable(metrics):
        raise TypeError(
            f"metrics must be a dict {{name: metric}} or a list of metrics, got {metrics!r:.60}; "
            f"wrap it in a list: metrics=[{metrics!r:.40}].")
    if isinstance(metrics, dict):
        items = list(metrics.items())
    elif isinstance(metrics, (list, tuple)):
        items = [(_name_of(m, i), m) for i, m in enumerate(metrics)]
    else:
        raise TypeError(f"metrics must be a dict or a list, got {type(metrics).__name__}.")
    resolved = {}
    for name, metric in items:
        if not isinstance(name, str) or not name:
            raise TypeError(f"metrics: names must be non-empty strings, got {name!r}.")
        if name == 'loss':
            raise ValueError("metrics: the name 'loss' is reserved for the objective; call this "
                             "metric something else, e.g. {'accuracy': ...}.")
        if name in resolved:
            raise ValueError(f"metrics: two metrics are named {name!r}; give them distinct names "
                             f"with a dict, e.g. {{'{name}': ..., '{name}_2': ...}}.")
        resolved[name] = _checks.objective_callable(get_metric(metric), f'metric {name!r}')
    return resolved


def make_score(model, forward, objective, metrics, *, penalty=None, fit=None):
    """``score(data, idx, weight) -> (loss, (values, count))`` for one batch (no ``model.reg_loss``).

    ``weight`` (``(B,)``, or ``None`` for a full batch) zeroes padded trials;
    ``count`` is the mass the batch's means averaged over. With a ``penalty``
    (:func:`trainer.objectives.penalties.bind`) the loss is the objective plus
    every term, and ``values`` holds each term under its name, reduced with the
    same ``count`` as the loss; activity terms record only the states they read
    (:func:`trainer.core.forward.recording_rollout`). ``fit`` (``True`` in
    training steps, ``False`` in held-out passes) is set as
    ``brainstate.environ`` ``fit`` around the forward, inside the trace: noise
    and dropout follow the program, whatever the caller's context.
    """
    mode = contextlib.nullcontext if fit is None else functools.partial(brainstate.environ.context, fit=fit)
    paths = penalty.paths if penalty else {}

    def score(data, idx, weight):
        x, y, mask = gather(data, idx)
        scored = mask if weight is None else (weight if mask is None else mask * weight[:, None])
        with mode():
            if paths:
                prediction, activity = recording_rollout(model, x, paths)
            else:
                prediction, activity = forward(model, x), {}

        def call(fn, who):
            # Padding weights reach mask-aware callables only; the Trainer made sure
            # the others see no padded batch and no dataset mask.
            value = call_with_mask(fn, prediction, y, scored if accepts_mask(fn) else mask, who)
            _checks.scalar(value, who)
            return value

        loss = call(objective, 'objective')
        values = {name: call(m, f'metric {name!r}') for name, m in metrics.items()}
        if penalty:
            terms = penalty(model, activity, *_step_weights(x.shape[:2], weight, scored))
            loss = loss + sum(terms.values())
            values.update(terms)
        count = jnp.asarray(x.shape[0], jnp.float32) if scored is None else jnp.sum(scored, dtype=jnp.float32)
        return loss, (values, count)

    return score


def _step_weights(shape, weight, scored):
    """``(all steps, scored steps)`` weights ``(B, T)`` (``None``: every step of every trial counts)."""
    every = None if weight is None else jnp.broadcast_to(weight[:, None], shape)
    if scored is None or scored.ndim == 1:
        return every, every
    return every, scored


def as_sums(loss, values, count):
    """``{'loss': (total, count), name: (total, count)}`` of one batch."""
    return {name: (value * count, count) for name, value in {'loss': loss, **values}.items()}


def mean_of(sums, axis=None):
    """Merge ``(total, count)`` pairs (on the host) into means: ``{name: float}``.

    Examples
    --------
    >>> import numpy as np
    >>> mean_of({'loss': (np.array([2.0, 6.0]), np.array([1.0, 3.0]))}, axis=0)
    {'loss': 2.0}
    """
    sums = Placement.to_host(sums)
    out = {}
    for name, (total, count) in sums.items():
        total, count = np.sum(np.asarray(total, np.float64), axis), np.sum(np.asarray(count, np.float64), axis)
        out[name] = float(total / count) if count > 0 else float('nan')
    return out
