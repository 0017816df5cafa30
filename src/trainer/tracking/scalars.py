"""What a tracker logs per epoch: every metric of the history (and the learning rate) as named scalars.

One model's row gives ``{'loss': ..., 'held_out_acc': ..., 'lr': ...}`` (the
history keys as they are); an ensemble's rows give each member's under
``member_<k>/`` and the mean over the members that trained under ``mean/``.
TensorBoard and MLflow log the same names, so a run reads alike in both.
"""

import math

import numpy as np

from ..loop.callbacks import metrics_of
from ..loop.result import TrainResult

__all__ = ['curves_figure', 'epoch_scalars', 'missing_extra']

_LOGGED_BOOKKEEPING = ('lr', 'stage')


def _number(value):
    return value is not None and isinstance(value, (int, float, np.floating, np.integer)) \
        and math.isfinite(float(value))


def _row_scalars(row):
    out = {k: float(v) for k, v in metrics_of(row).items() if _number(v)}
    out.update({k: float(row[k]) for k in _LOGGED_BOOKKEEPING if _number(row.get(k))})
    return out


def epoch_scalars(rows, n_members):
    """``{tag: value}`` of one epoch's history rows (``fit.rows_of(epoch)``).

    Parameters
    ----------
    rows : list of dict
        The epoch's rows: one (a single model), or one per member that trained
        (each with its ``'member'`` key).
    n_members : int or None
        ``fit.n_members``: ``None`` for one model.

    Examples
    --------
    >>> epoch_scalars([{'epoch': 1, 'loss': 0.5, 'held_out_loss': None, 'lr': 0.01, 'time': 0.2}], None)
    {'loss': 0.5, 'lr': 0.01}
    >>> rows = [{'member': 0, 'epoch': 1, 'loss': 0.4, 'lr': 0.1, 'time': 0.2},
    ...         {'member': 1, 'epoch': 1, 'loss': 0.6, 'lr': 0.01, 'time': 0.2}]
    >>> epoch_scalars(rows, 2)['mean/loss'], epoch_scalars(rows, 2)['member_1/lr']
    (0.5, 0.01)
    """
    if n_members is None:
        return _row_scalars(rows[0]) if rows else {}
    out, pooled = {}, {}
    for row in rows:
        for key, value in _row_scalars(row).items():
            out[f"member_{row['member']}/{key}"] = value
            if key not in _LOGGED_BOOKKEEPING:
                pooled.setdefault(key, []).append(value)
    out.update({f'mean/{key}': float(np.mean(values)) for key, values in pooled.items()})
    return out


def curves_figure(fit):
    """The fit's curves as a matplotlib ``Figure`` (what ``TrainResult.plot`` draws; per member for an ensemble)."""
    records = [r for r in fit.records if r.history]
    if not records:
        return None
    if fit.n_members is None:
        record = records[0]
        return TrainResult(list(record.history), fit.monitor, record.best.epoch, record.best.value, {}, False,
                           {}, None).plot()
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    keys = [k for k in metrics_of(records[0].history[0]) if not k.startswith('held_out_')]
    fig = Figure(figsize=(4.2 * len(keys), 3.2), layout='constrained')
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        for name in (key, f'held_out_{key}'):
            for k, record in enumerate(fit.records):
                pts = [(r['epoch'], r[name]) for r in record.history if _number(r.get(name))]
                if pts:
                    ax.plot(*zip(*pts), lw=0.8, alpha=0.6, ls='-' if name == key else '--',
                            color=f'C{k % 10}')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel='epoch', ylabel=key, title=f'{key} (solid: train, dashed: held out)')
    return fig


def missing_extra(what, error):
    """The ImportError raised when the ``tracking`` extra is not installed."""
    return ImportError(f"{what} needs the `tracking` extra, which is not installed ({error}); "
                       'install it with pip install -e ".[tracking]" (or pip install brain-trainer[tracking]).')
