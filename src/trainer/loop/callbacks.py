"""Callbacks in the Keras convention, for every front door's one loop.

A :class:`Callback` is told when a fit starts (``on_fit_start(fit)``, with
``fit`` the running :class:`~trainer.loop.run.Fit`), after every epoch
(``on_epoch_end(epoch, logs)``; returning ``True`` stops the fit) and when it
ends (``on_fit_end(fit)``). ``logs`` holds the epoch's metrics only (``loss``,
``acc``, ``held_out_loss``...; the bookkeeping ``epoch``, ``stage``, ``lr``,
``time`` is in ``fit.history[-1]``); for an ensemble each value is a list, one
per member, ``None`` where a member did not train that epoch. A callback's
``state_dict()`` is saved in the checkpoint and given back to
``load_state_dict`` on resume, so a resumed fit continues exactly.

``Trainer.fit(patience=..., checkpoint=...)`` and ``progress=True`` add the
built-ins :class:`EarlyStopping`, :class:`ModelCheckpoint` and
:class:`ProgressBar`; a plain function ``callback(info)`` still works
(:class:`FunctionCallback`).
"""

import csv
import os

import jax

from ..core import checkpoint as _checkpoint
from ..core import checks
from .plan import Best, mode_sign
from .progress import ProgressBar as _Bar
from .result import BOOKKEEPING, headline

__all__ = ['CSVLogger', 'Callback', 'EarlyStopping', 'FunctionCallback', 'History', 'ModelCheckpoint',
           'ProgressBar', 'StopAtThreshold', 'as_callbacks']


class Callback:
    """The base class: override the hooks you need (each does nothing here).

    Examples
    --------
    >>> class StopAtLoss(Callback):
    ...     def on_epoch_end(self, epoch, logs):
    ...         return logs['loss'] < 0.1          # True stops the fit
    >>> StopAtLoss().on_epoch_end(3, {'loss': 0.05})
    True
    """

    # Whether on_epoch_end may change the model's values (the loop then reads them back).
    changes_model = True

    def on_fit_start(self, fit):
        """Called once before the first epoch, with the running fit (``fit.model``, ``fit.history``...)."""

    def on_epoch_end(self, epoch, logs):
        """Called after every epoch with its metrics; return ``True`` to stop the fit."""

    def on_fit_end(self, fit):
        """Called once when the fit ends (also after an error)."""

    def state_dict(self):
        """What this callback needs to resume exactly (JSON-serialisable); saved in the checkpoint."""
        return {}

    def load_state_dict(self, state):
        """Take back what :meth:`state_dict` returned (on resume)."""


class FunctionCallback(Callback):
    """A plain ``callback(info) -> stop`` function, called once per epoch.

    ``info`` is ``{'epoch', 'history', 'model'}`` for a Trainer, ``{'epoch',
    'history', 'active'}`` for an Ensemble (rows with a ``'member'`` key) and
    ``{'step', 'loss', 'best_loss', 'model'}`` for a Fitter.
    """

    def __init__(self, fn):
        self.fn = fn

    def on_fit_start(self, fit):
        """Keep the fit, to build each epoch's ``info``."""
        self.fit, self.changes_model = fit, fit.n_members is None  # an ensemble's info holds no model

    def on_epoch_end(self, epoch, logs):
        """Call the function with this epoch's ``info``."""
        return self.fn(self.fit.callback_info(epoch)) is True


class EarlyStopping(Callback):
    """Stop (each member, for an ensemble) after ``patience`` epochs without improving ``monitor``.

    An epoch without a held-out evaluation counts as one without improvement.
    In a curriculum fit it waits for the last stage, and counts from that
    stage's first epoch.

    Parameters
    ----------
    patience : int
        Epochs without a ``min_delta`` improvement before stopping.
    monitor : str, optional
        History key; default the fit's monitor.
    mode : {'auto', 'min', 'max'}
        ``'auto'`` maximises keys containing ``acc``.
    min_delta : float, default 0.0
    """

    changes_model = False

    def __init__(self, patience, *, monitor=None, mode='auto', min_delta=0.0):
        self.patience = checks.positive_int('patience', patience, fix='Pass None to train all n_epochs.')
        self.monitor, self.mode, self.min_delta = monitor, mode, float(min_delta)
        self.bests, self.stage = None, None

    def on_fit_start(self, fit):
        """Resolve the monitor against the fit's history keys."""
        self.fit = fit
        self.monitor = self.monitor or fit.monitor
        if self.monitor not in fit.keys:
            raise ValueError(f"EarlyStopping(monitor={self.monitor!r}) is not a history key of this fit; "
                             f"choose one of {list(fit.keys)}.")
        self.sign = mode_sign(self.mode, self.monitor)
        if self.bests is None:
            self.bests = [Best(None, None, 0, None) for _ in range(fit.n_models)]

    def on_epoch_end(self, epoch, logs):
        """Count each member's epochs without improvement; stop those past ``patience``."""
        fit = self.fit
        if fit.stage != self.stage:  # a new stage's scores start afresh
            self.stage, self.bests = fit.stage, [Best(None, None, 0, None) for _ in range(fit.n_models)]
        values = logs[self.monitor] if fit.n_members is not None else [logs[self.monitor]]
        for k, (best, value) in enumerate(zip(self.bests, values)):
            if fit.trained[k]:
                best.update(value, epoch, None, self.sign, self.min_delta)
                if fit.last_stage and best.wait >= self.patience:
                    fit.stop_member(k)
        return None

    def state_dict(self):
        """The stage and each member's best epoch, value and wait."""
        return {'stage': self.stage, 'bests': None if self.bests is None else
                [{'epoch': b.epoch, 'value': b.value, 'wait': b.wait} for b in self.bests]}

    def load_state_dict(self, state):
        """Take back a checkpoint's best epochs and waits."""
        self.stage = state.get('stage')
        if state.get('bests') is not None:
            self.bests = [Best(b['epoch'], b['value'], b['wait'], None) for b in state['bests']]


class StopAtThreshold(Callback):
    """Stop (each member, for an ensemble) once ``monitor`` passes ``threshold``.

    Yang et al.'s rule for many tasks in one network: stop when the worst
    task is good enough, ``StopAtThreshold('held_out_acc/worst', 0.9)``.
    An epoch without the value (no evaluation) never stops.

    Parameters
    ----------
    monitor : str
        A history key.
    threshold : float
    mode : {'auto', 'min', 'max'}
        ``'max'``: stop at ``value >= threshold``; ``'min'``: at ``value <= threshold``;
        ``'auto'`` maximises keys containing ``acc``.

    Examples
    --------
    >>> StopAtThreshold('held_out_acc/worst', 0.9).passed(0.93)
    True
    """

    changes_model = False

    def __init__(self, monitor, threshold, *, mode='auto'):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a history key (a str), got {monitor!r}.")
        self.monitor, self.threshold = monitor, float(threshold)
        self.sign = mode_sign(mode, monitor)

    def passed(self, value):
        """Whether ``value`` is at or past the threshold."""
        return value is not None and value == value and self.sign * (value - self.threshold) >= 0

    def on_fit_start(self, fit):
        """Check the monitor against the fit's history keys."""
        self.fit = fit
        if self.monitor not in fit.keys:
            raise ValueError(f"StopAtThreshold(monitor={self.monitor!r}) is not a history key of this fit; "
                             f"choose one of {list(fit.keys)}.")

    def on_epoch_end(self, epoch, logs):
        """Stop each member whose value passed the threshold."""
        values = logs[self.monitor] if self.fit.n_members is not None else [logs[self.monitor]]
        for k, value in enumerate(values):
            if self.fit.trained[k] and self.passed(value):
                self.fit.stop_member(k)


class ModelCheckpoint(Callback):
    """Write a msgpack checkpoint after every epoch (process 0 only); ``resume_from=`` continues it.

    The file holds the whole state (parameters, optimizer, RNG, hidden template),
    the best parameters, the history and every callback's state; it is written
    atomically, so a fit killed mid-save leaves the previous one. The callbacks
    after it in the list see this epoch's file (``fit(checkpoint=...)`` puts it
    after early stopping, before your callbacks).
    """

    changes_model = False

    def __init__(self, path):
        self.path = os.fspath(path)

    def on_fit_start(self, fit):
        """Check, before training, that the file can be written."""
        self.fit = fit
        if not callable(getattr(fit, 'save', None)):
            raise TypeError(f"ModelCheckpoint({self.path!r}) needs a Trainer or Ensemble fit; a Fitter's "
                            "result holds its best parameters (save them with braintools.file).")
        if fit.is_main:
            _checkpoint.check_writable(self.path)

    def on_epoch_end(self, epoch, logs):
        """Write the checkpoint (process 0 only)."""
        if self.fit.is_main:
            self.fit.save(self.path)


class ProgressBar(Callback):
    """A progress bar over epochs with the latest metrics (process 0 only).

    A ``tqdm`` bar in a terminal, a widget in Jupyter, one plain line per epoch
    when the output goes to a file. The stage shows once a curriculum moved on.
    """

    changes_model = False

    def on_fit_start(self, fit):
        """Open the bar over the fit's epochs."""
        self.fit, self.bar = fit, _Bar(fit.n_epochs, enabled=fit.is_main)

    def on_epoch_end(self, epoch, logs):
        """Show the epoch and its metrics."""
        if self.fit.n_members is not None:
            self.bar.update(epoch, self.fit.summary())
            return
        shown = headline(logs)
        if self.fit.stages_moved:
            shown = {'stage': self.fit.stage, **shown}
        self.bar.update(epoch, shown)

    def on_fit_end(self, fit):
        """Close the bar."""
        self.bar.close()


class History(Callback):
    """Collect every epoch's row (bookkeeping and metrics), as Keras's ``History`` does.

    ``rows`` holds them; for an ensemble each row has a ``'member'`` key.
    The fit's own record is ``fit.history``; this callback is a copy for users
    who want one object to pass around.
    """

    changes_model = False

    def __init__(self):
        self.rows = []

    def on_fit_start(self, fit):
        """Keep the fit, to copy its rows."""
        self.fit = fit

    def on_epoch_end(self, epoch, logs):
        """Copy the fit's rows so far."""
        self.rows = list(self.fit.history)

    def state_dict(self):
        """The rows collected so far."""
        return {'rows': self.rows}

    def load_state_dict(self, state):
        """Take back a checkpoint's rows."""
        self.rows = list(state.get('rows', []))


class CSVLogger(Callback):
    """Write each epoch's row to a CSV file (process 0 only); a resumed fit appends.

    Parameters
    ----------
    path : str
        The file; its header is the first row's keys.
    """

    changes_model = False

    def __init__(self, path):
        self.path, self.resumed = os.fspath(path), False

    def on_fit_start(self, fit):
        """Start a new file (a resumed fit appends to its own)."""
        self.fit = fit
        if fit.is_main and not self.resumed:
            open(self.path, 'w').close()

    def on_epoch_end(self, epoch, logs):
        """Append this epoch's rows (process 0 only)."""
        if not self.fit.is_main:
            return
        rows = self.fit.rows_of(epoch)
        new = os.path.getsize(self.path) == 0 if os.path.exists(self.path) else True
        with open(self.path, 'a', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]), extrasaction='ignore')
            if new:
                writer.writeheader()
            writer.writerows(rows)

    def state_dict(self):
        """Whether the file has been started (a resumed fit appends)."""
        return {'written': True}

    def load_state_dict(self, state):
        """Remember that the file was started before the checkpoint."""
        self.resumed = bool(state.get('written'))


def as_callbacks(callbacks):
    """``callbacks`` as a list of :class:`Callback`: plain functions are wrapped.

    Raises a ``TypeError`` naming the fix for anything else.
    """
    if callbacks is None:
        return []
    if callable(callbacks) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of Callback objects or callables, got {callbacks!r:.60}; "
                        "wrap a single one in a list: callbacks=[fn].")
    out = []
    for cb in callbacks:
        if isinstance(cb, Callback):
            out.append(cb)
        elif callable(cb):
            out.append(FunctionCallback(cb))
        else:
            raise TypeError("callbacks must all be trainer.callbacks.Callback objects or callable(info); "
                            f"got {cb!r:.60}.")
    return out


def metrics_of(row):
    """A history row without its bookkeeping (``epoch``, ``stage``, ``lr``, ``time``, ``member``)."""
    return {k: v for k, v in row.items() if k not in BOOKKEEPING}


def is_main():
    """Whether this process writes files and shows progress (process 0 of a multi-process run)."""
    return jax.process_index() == 0
