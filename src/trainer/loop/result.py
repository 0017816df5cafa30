"""``TrainResult``: the per-epoch history and best point of a ``Trainer.fit``."""

import csv
import dataclasses
import json
import math
from typing import Any, Optional


# A history row's bookkeeping: what the fit did, not how the model scores. Plots, progress
# lines and tables show the rest (the metrics).
BOOKKEEPING = ('member', 'epoch', 'stage', 'lr', 'time')


def headline(logs):
    """The metrics worth a progress line or a plot: per-group values (``'acc/<task>'``) only as their worst.

    Examples
    --------
    >>> headline({'loss': 0.3, 'acc/a': 0.9, 'acc/b': 0.7, 'acc/worst': 0.7})
    {'loss': 0.3, 'acc/worst': 0.7}
    """
    return {k: v for k, v in logs.items() if '/' not in k or k.endswith('/worst')}


@dataclasses.dataclass(frozen=True, repr=False)
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Attributes
    ----------
    history : list of dict
        One row per epoch: ``epoch``, ``loss`` and the train metrics,
        ``held_out_loss`` and ``held_out_<metric>`` (``None`` on epochs
        without evaluation), ``lr`` and ``time`` (seconds).
    monitor : str
        The history key that chose the best epoch.
    best_epoch : int or None
        The best epoch (1-based).
    best_value : float or None
        ``history[best_epoch - 1][monitor]``.
    best_params : dict
        ``{dotted_name: value}`` at the best epoch.
    stopped_early : bool
        Whether early stopping or a callback ended the run.
    n_compilations : dict
        Compilations of the train and eval steps during this fit.
    model : Any
        The trained model (at the best or last parameters, as asked).

    Examples
    --------
    >>> r = TrainResult([{'epoch': 1, 'loss': 0.5}], 'loss', 1, 0.5, {'w': 1.0}, False, {}, None)
    >>> r
    TrainResult(epochs=1, best_epoch=1, loss=0.5, params=[w])
    >>> r.curve('loss')
    [0.5]
    """

    history: list
    monitor: str
    best_epoch: Optional[int]
    best_value: Optional[float]
    best_params: dict
    stopped_early: bool
    n_compilations: dict
    model: Any

    def __repr__(self):
        best = 'None' if self.best_value is None else f'{self.best_value:.6g}'
        return (f'TrainResult(epochs={len(self.history)}, best_epoch={self.best_epoch}, '
                f'{self.monitor}={best}, params=[{", ".join(self.best_params)}])')

    def curve(self, key):
        """The per-epoch values of ``key`` (``None`` where it was not measured)."""
        if self.history and key not in self.history[0]:
            raise KeyError(f"{key!r} is not in the history; keys are {list(self.history[0])}.")
        return [row[key] for row in self.history]

    def to_json(self, path):
        """Write the history (and best epoch) as JSON to ``path``."""
        with open(path, 'w') as f:
            json.dump({'monitor': self.monitor, 'best_epoch': self.best_epoch,
                       'best_value': self.best_value, 'history': self.history}, f, indent=1)

    def to_csv(self, path):
        """Write the history as CSV (one row per epoch) to ``path``."""
        with open(path, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(self.history[0]))
            writer.writeheader()
            writer.writerows(self.history)

    def plot(self, path=None):
        """Plot loss and metric curves (train and held-out); save to ``path`` if given.

        The figure is built without ``pyplot`` (no global figure is left
        open, no backend is switched); in a notebook it shows as the cell's
        value. Epochs are marked with integer ticks.

        Parameters
        ----------
        path : str, optional
            Where to save the figure (a PNG at 110 dpi, or any format
            matplotlib infers from the suffix).

        Returns
        -------
        matplotlib.figure.Figure
            One panel per training curve (``loss`` and each metric).

        Examples
        --------
        >>> r = TrainResult([{'epoch': e, 'loss': 1.0 / e, 'held_out_loss': 1.2 / e}
        ...                  for e in (1, 2, 3)], 'held_out_loss', 3, 0.4, {}, False, {}, None)
        >>> fig = r.plot()
        >>> fig.axes[0].get_xticks().tolist()
        [0.0, 1.0, 2.0, 3.0, 4.0]
        """
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
        keys = [k for k in headline(self.history[0]) if k not in BOOKKEEPING and not k.startswith('held_out_')]
        fig = Figure(figsize=(4.2 * len(keys), 3.2), layout='constrained')
        axes = fig.subplots(1, len(keys), squeeze=False)
        epochs = self.curve('epoch')
        for ax, key in zip(axes[0], keys):
            ax.plot(epochs, self.curve(key), label='train')
            if f'held_out_{key}' in self.history[0]:
                pts = [(e, v) for e, v in zip(epochs, self.curve(f'held_out_{key}')) if v is not None]
                if pts:
                    ax.plot(*zip(*pts), 'o-', label='held out')
            if self.best_epoch is not None and key in self.monitor:
                ax.axvline(self.best_epoch, ls='--', c='k', lw=0.8, label='best')
            if key == 'loss' and all(v is not None and v > 0 and math.isfinite(v) for v in self.curve(key)):
                ax.set_yscale('log')
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # epochs are whole numbers
            ax.set(xlabel='epoch', ylabel=key, title=key)
            ax.legend()
        if path is not None:
            fig.savefig(path, dpi=110)
        return fig
