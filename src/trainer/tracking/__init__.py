"""Experiment tracking as callbacks of the one fit loop: TensorBoard and MLflow.

    from trainer.callbacks import MLflow, TensorBoard
    trainer.fit(train, held_out=held_out, n_epochs=20, batch_size=32,
                callbacks=[TensorBoard('runs/tb/lr1e-2'),
                           MLflow('my-task', tracking_uri='sqlite:///mlflow.db')])

Both log the same scalars (:func:`~trainer.tracking.scalars.epoch_scalars`):
every history metric and the learning rate per epoch, per member and their
mean for an ensemble; only process 0 writes; a resumed fit continues the same
log dir or run. ``tensorboardX`` and ``mlflow`` are imported when a callback
is built (the ``tracking`` extra), so ``import trainer`` needs neither.
"""

from .mlflow import MLflow, fit_params
from .scalars import curves_figure, epoch_scalars
from .tensorboard import TensorBoard

__all__ = sorted(['MLflow', 'TensorBoard', 'curves_figure', 'epoch_scalars', 'fit_params'])
