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
import jax
import jax.numpy as jnp
import numpy as np

from ..core import checks as _checks
from ..core.data import batch_of
from ..core.forward import recording_rollout
from ..core.placement import Placement
from .reduce import call_with_mask
from .metrics import get as get_metric
from .compose import accepts_mask

__all__ = ['as_sums', 'grouped_names', 'make_score', 'mean_of', 'resolve_metrics', 'worst_of']


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


def make_score(model, forward, objective, metrics, *, groups=None, batch=None, penalty=None, fit=None):
    """``score(data, idx, weight) -> (loss, (values, count))`` for one batch (no regularisation).

    ``weight`` (``(B,)``, or ``None`` for a full batch) zeroes padded trials;
    ``count`` is the mass the batch's means averaged over. The metrics score
    the steps of the batch's ``mask``; the objective its ``loss_weights``
    when the batch has them (``mask`` otherwise), and ``count`` is then a
    dict ``{'loss': ..., name: ...}`` of each mean's own mass.

    Parameters
    ----------
    groups : tuple of str, optional
        Names of the trial groups (a :class:`datasets.Multitask`'s tasks):
        the batch's ``groups`` ids (``(B,)`` ints in ``[0, len(groups))``)
        then add ``'<name>/<group>'`` entries to ``values`` and ``count``
        for the loss and every metric, each a mean over that group's trials
        only, so per-group ``(total, count)`` sums are exact.
    batch : callable, optional
        ``batch(data, idx) -> {'inputs', 'targets', 'mask', ...}``, traced in
        the step: the default indexes device arrays (``idx`` trial indices);
        a stream's ``sampler(batch_size)`` draws the batch from ``idx``, a key.
    penalty : optional
        Regularisation terms (:func:`trainer.objectives.penalties.bind`): the
        loss is the objective plus every term, and ``values`` holds each term
        under its name, reduced with the loss's mass; activity terms record
        only the states they read (:func:`trainer.core.forward.recording_rollout`).
    fit : bool, optional
        ``brainstate.environ`` ``fit`` around the forward, inside the trace
        (``True`` in training steps, ``False`` in held-out passes): noise and
        dropout follow the program, whatever the caller's context.
    """
    mode = contextlib.nullcontext if fit is None else functools.partial(brainstate.environ.context, fit=fit)
    paths = penalty.paths if penalty else {}
    groups = None if groups is None else tuple(groups)
    take = batch_of if batch is None else batch

    def score(data, idx, weight):
        arrays = take(data, idx)
        x, y, mask = arrays['inputs'], arrays['targets'], arrays.get('mask')
        loss_weights = arrays.get('loss_weights')
        scored = _weighted(mask, weight)
        trained = scored if loss_weights is None else _weighted(loss_weights, weight)
        with mode():
            if paths:
                prediction, activity = recording_rollout(model, x, paths)
            else:
                prediction, activity = forward(model, x), {}

        def call(fn, who, mask_now, data_mask):
            # Padding weights reach mask-aware callables only; the Trainer made sure
            # the others see no padded batch and no dataset mask.
            value = call_with_mask(fn, prediction, y, mask_now if accepts_mask(fn) else data_mask, who)
            _checks.scalar(value, who)
            return value

        loss = call(objective, 'objective', trained, mask if loss_weights is None else loss_weights)
        values = {name: call(m, f'metric {name!r}', scored, mask) for name, m in metrics.items()}
        terms = {}
        if penalty:
            terms = penalty(model, activity, *_step_weights(x.shape[:2], weight, trained))
            loss = loss + sum(terms.values())
        count = _mass(scored, x)
        if loss_weights is None and groups is None:
            return loss, ({**values, **terms}, count)
        counts = {'loss': _mass(trained, x), **dict.fromkeys(values, count), **dict.fromkeys(terms, _mass(trained, x))}
        values.update(terms)
        if groups is not None:
            callables = {'loss': (objective, trained), **{name: (m, scored) for name, m in metrics.items()}}
            for name, (fn, mask_now) in callables.items():
                per_group, mass = _by_group(lambda m, fn=fn, name=name: call(fn, f'{name} per group', m, m),
                                            mask_now, arrays.get('groups'), groups, x)
                for g, group in enumerate(groups):
                    values[f'{name}/{group}'], counts[f'{name}/{group}'] = per_group[g], mass[g]
        return loss, (values, counts)

    return score


def _weighted(mask, weight):
    return mask if weight is None else (weight if mask is None else mask * weight[:, None])


def _mass(mask, x):
    return jnp.asarray(x.shape[0], jnp.float32) if mask is None else jnp.sum(mask, dtype=jnp.float32)


def _by_group(mean_under, mask, ids, groups, x):
    """Each group's mean and mass: ``mean_under(mask * one_hot[:, g])`` for every group ``g`` (vmapped)."""
    if ids is None:
        raise ValueError(
            f"make_score(groups={groups!r}) needs the batch's 'groups' ids (one int per trial), but the "
            "data has none; build the data with datasets.Multitask, whose trials carry the 'task' condition.")
    one_hot = (ids[:, None] == jnp.arange(len(groups))).astype(jnp.float32)  # (B, G)
    base = jnp.ones(x.shape[:1], jnp.float32) if mask is None else mask
    masks = jnp.moveaxis(one_hot, 1, 0).reshape((len(groups), base.shape[0]) + (1,) * (base.ndim - 1)) * base
    means = jax.vmap(mean_under)(masks)
    return means, jnp.sum(masks.reshape(len(groups), -1), axis=1)
def _step_weights(shape, weight, scored):
    """``(all steps, scored steps)`` weights ``(B, T)`` (``None``: every step of every trial counts)."""
    every = None if weight is None else jnp.broadcast_to(weight[:, None], shape)
    if scored is None or scored.ndim == 1:
        return every, every
    return every, scored


def as_sums(loss, values, count):
    """``{'loss': (total, count), name: (total, count)}`` of one batch (``count`` a number or a per-name dict)."""
    values = {'loss': loss, **values}
    counts = count if isinstance(count, dict) else dict.fromkeys(values, count)
    return {name: (value * counts[name], counts[name]) for name, value in values.items()}


def worst_of(means, groups, *, sign=None):
    """Add ``'<name>/worst'`` to host ``means`` holding ``'<name>/<group>'`` entries: the worst group's value.

    ``sign`` is +1 when higher is better (default: names with ``'acc'``), -1 otherwise.

    Examples
    --------
    >>> worst_of({'accuracy/a': 0.9, 'accuracy/b': 0.7, 'loss/a': 0.1, 'loss/b': 0.3}, ('a', 'b'))['accuracy/worst']
    0.7
    """
    out = dict(means)
    bases = {key.rsplit('/', 1)[0] for key in means if '/' in key and key.rsplit('/', 1)[1] in groups}
    for base in sorted(bases):
        row = [means[f'{base}/{g}'] for g in groups if f'{base}/{g}' in means]
        row = [v for v in row if v == v]  # a group absent from the data (NaN) is not the worst
        higher = ('acc' in base) if sign is None else sign > 0
        out[f'{base}/worst'] = (min(row) if higher else max(row)) if row else float('nan')
    return out


def grouped_names(names, groups):
    """The per-group names of ``names``: ``'<name>/<group>'`` for every group, then ``'<name>/worst'``.

    Examples
    --------
    >>> grouped_names(('loss', 'acc'), ('a', 'b'))
    ('loss/a', 'loss/b', 'loss/worst', 'acc/a', 'acc/b', 'acc/worst')
    """
    return tuple(f'{name}/{g}' for name in names for g in (*groups, 'worst'))


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
