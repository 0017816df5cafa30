"""Callbacks for ``Trainer.fit``, ``Ensemble.fit`` and ``Fitter.fit``, in the Keras convention.

Subclass :class:`Callback` and override what you need::

    from trainer.callbacks import Callback

    class StopAtAccuracy(Callback):
        def on_epoch_end(self, epoch, logs):
            return logs['held_out_acc'] >= 0.95   # True stops the fit

    trainer.fit(train, held_out=held_out, n_epochs=50, batch_size=64,
                callbacks=[StopAtAccuracy()])

``logs`` holds the epoch's metrics (for an ensemble, a list per key with one
value per member); ``self.fit`` (set in ``on_fit_start``) is the running fit:
``fit.history``, ``fit.model``, ``fit.stop()``, ``fit.stop_member(k)``,
``fit.save(path)``. A callback's ``state_dict()`` is saved in the checkpoint,
so ``resume_from=`` continues it exactly. The built-ins are what the ``fit``
shortcuts add: ``patience=`` an :class:`EarlyStopping`, ``checkpoint=`` a
:class:`ModelCheckpoint`, ``progress=True`` a :class:`ProgressBar`.
:class:`TensorBoard` and :class:`MLflow` track runs (the ``tracking`` extra).
"""

from .loop.callbacks import (
    CSVLogger,
    Callback,
    EarlyStopping,
    FunctionCallback,
    History,
    ModelCheckpoint,
    ProgressBar,
    StopAtThreshold,
)
from .tracking import MLflow, TensorBoard

__all__ = sorted([
    'CSVLogger',
    'Callback',
    'EarlyStopping',
    'FunctionCallback',
    'History',
    'MLflow',
    'ModelCheckpoint',
    'ProgressBar',
    'StopAtThreshold',
    'TensorBoard',
])
