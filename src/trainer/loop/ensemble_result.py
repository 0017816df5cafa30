"""``EnsembleResult``: K members' ``TrainResult``s, their spread and their curves."""

import csv
import dataclasses
import json
import math
from typing import Optional

import numpy as np

from .result import BOOKKEEPING

__all__ = ['EnsembleResult']


def _finite(values):
    return [v for v in values if v is not None and math.isfinite(v)]


def _spread(values):
    values = _finite(values)
    if not values:
        return {'mean': None, 'sd': None, 'min': None, 'max': None, 'n': 0}
    x = np.asarray(values, np.float64)
    return {'mean': float(x.mean()), 'sd': float(x.std(ddof=1)) if len(x) > 1 else 0.0,
            'min': float(x.min()), 'max': float(x.max()), 'n': len(x)}


@dataclasses.dataclass(frozen=True, repr=False)
class EnsembleResult:
    """What :meth:`trainer.Ensemble.fit` returns.

    Attributes
    ----------
    members : list of TrainResult
        Member ``k``'s result, as its own ``Trainer.fit`` would return it
        (same history, best epoch and parameters); a member that diverged
        holds the epochs it completed.
    monitor : str
        The history key that chose each member's best epoch.
    sign : float
        ``1.0`` when the monitor is maximised, ``-1.0`` when minimised.
    errors : dict
        ``{k: message}`` for each member whose loss or parameters became NaN
        or infinite (it froze at its best parameters; the others trained on).
    n_compilations : dict
        Compilations of the ensemble's train and eval programs in this fit.

    Examples
    --------
    >>> from trainer import EnsembleResult, TrainResult
    >>> rows = [[{'epoch': 1, 'loss': 0.5}], [{'epoch': 1, 'loss': 0.7}]]
    >>> r = EnsembleResult([TrainResult(h, 'loss', 1, h[0]['loss'], {}, False, {}, None) for h in rows],
    ...                    'loss', -1.0, {}, {})
    >>> r.best_member, r.summary()['best_loss']['mean']
    (0, 0.6)
    >>> [(row['member'], row['loss']) for row in r.history]
    [(0, 0.5), (1, 0.7)]
    """

    members: list
    monitor: str
    sign: float
    errors: dict
    n_compilations: dict

    def __repr__(self):
        best = self.best_member
        value = 'None' if best is None else f'{self.members[best].best_value:.6g}'
        return (f'EnsembleResult(members={len(self.members)}, monitor={self.monitor!r}, '
                f'best_member={best}, best_value={value}, diverged={sorted(self.errors)})')

    @property
    def history(self):
        """One row per epoch and member: ``{'member': k, 'epoch': ..., ...}``, epoch-major."""
        rows = [(row['epoch'], k, row) for k, m in enumerate(self.members) for row in m.history]
        return [{'member': k, **row} for _, k, row in sorted(rows, key=lambda r: r[:2])]

    @property
    def best_member(self) -> Optional[int]:
        """The member with the best monitored value (``None`` if none has one)."""
        scored = [(self.sign * m.best_value, -k) for k, m in enumerate(self.members)
                  if m.best_value is not None and math.isfinite(m.best_value)]
        return -max(scored)[1] if scored else None

    def _keys(self):
        first = next((m.history[0] for m in self.members if m.history), {})
        held = [k for k in first if k.startswith('held_out_')]
        return held or [k for k in first if k not in BOOKKEEPING]

    def summary(self):
        """Mean, sd (ddof 1), min and max across members of each final and best metric.

        Held-out metrics where the fit had held-out data, else the training
        ones: ``{'final_<key>': {...}, 'best_<key>': {...}}``; *final* is a
        member's last evaluated epoch, *best* its best epoch. ``n`` counts
        the members with a finite value.
        """
        out = {}
        for key in self._keys():
            finals, bests = [], []
            for m in self.members:
                measured = [row[key] for row in m.history if row.get(key) is not None]
                finals.append(measured[-1] if measured else None)
                bests.append(next((row[key] for row in m.history if row['epoch'] == m.best_epoch), None))
            out[f'final_{key}'] = _spread(finals)
            out[f'best_{key}'] = _spread(bests)
        return out

    def to_json(self, path):
        """Write the summary, the best member, the errors and every member's history as JSON."""
        with open(path, 'w') as f:
            json.dump({'monitor': self.monitor, 'best_member': self.best_member, 'summary': self.summary(),
                       'errors': {str(k): v for k, v in self.errors.items()},
                       'members': [{'best_epoch': m.best_epoch, 'best_value': m.best_value,
                                    'stopped_early': m.stopped_early, 'history': m.history}
                                   for m in self.members]}, f, indent=1)

    def to_csv(self, path):
        """Write ``history`` (one row per epoch and member) as CSV to ``path``."""
        rows = self.history
        with open(path, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ['member', 'epoch'])
            writer.writeheader()
            writer.writerows(rows)

    def plot(self, path=None):
        """Each metric's curve per member (thin) and their mean (thick); save to ``path`` if given.

        Returns the matplotlib figure. The mean at an epoch averages the
        members still training then.
        """
        import matplotlib
        if path is not None:
            matplotlib.use('Agg', force=False)
        import matplotlib.pyplot as plt
        keys = self._keys()
        fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.2), squeeze=False)
        n_epochs = max((len(m.history) for m in self.members), default=0)
        for ax, key in zip(axes[0], keys):
            by_epoch = [[] for _ in range(n_epochs)]
            for k, m in enumerate(self.members):
                pts = [(row['epoch'], row[key]) for row in m.history if row.get(key) is not None]
                if pts:
                    ax.plot(*zip(*pts), lw=0.7, alpha=0.45, color='C0', label='members' if k == 0 else None)
                for epoch, value in pts:
                    by_epoch[epoch - 1].append(value)
            mean = [(e + 1, float(np.mean(_finite(v)))) for e, v in enumerate(by_epoch) if _finite(v)]
            if mean:
                ax.plot(*zip(*mean), lw=2.5, color='C3', label='mean')
            ax.set(xlabel='epoch', ylabel=key, title=key)
            ax.legend()
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=110)
        return fig
