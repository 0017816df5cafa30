"""``TensorBoard``: a callback writing every epoch's metrics, the learning rate and the curves to TensorBoard."""

import os
import time

from ..loop.callbacks import Callback
from .scalars import curves_figure, epoch_scalars, missing_extra

__all__ = ['TensorBoard']


class TensorBoard(Callback):
    """Write each epoch's metrics and learning rate as TensorBoard scalars, and the curves at the end.

    The tags are the history keys (``loss``, ``acc``, ``held_out_loss``,
    ``held_out_acc``...) and ``lr`` (and ``stage`` in a curriculum), at step
    ``epoch``; for an ensemble ``member_<k>/<key>`` for each member and
    ``mean/<key>`` over the members that trained. At the end of the fit the
    curves (as ``TrainResult.plot`` draws them) are added as the image
    ``curves``. Only process 0 writes. Uses ``tensorboardX`` (the ``tracking``
    extra: ``pip install -e ".[tracking]"``).

    A fit resumed from a checkpoint (``resume_from=``) continues the same
    ``log_dir``: the writer purges the steps after the checkpoint's (those a
    killed run may have logged past it) and logs them afresh, so each epoch
    appears once.

    Parameters
    ----------
    log_dir : str
        The run's folder (``tensorboard --logdir`` its parent to compare runs).
    figure : bool, default True
        Add the curves figure at the end.

    Examples
    --------
    >>> import braintools, datasets, tempfile
    >>> from trainer import Trainer, objectives
    >>> from trainer.callbacks import TensorBoard
    >>> from trainer.models import RateRNN
    >>> data = datasets.load_dataset('delayed_match_task', n_trials=32, seq_len=4, n_symbols=2)
    >>> trainer = Trainer(RateRNN(2, 8, 2), braintools.optim.Adam(lr=1e-2),
    ...                   objective=objectives.cross_entropy(), progress=False)
    >>> board = TensorBoard(tempfile.mkdtemp())
    >>> _ = trainer.fit(data, n_epochs=2, batch_size=16, callbacks=[board])
    >>> board.last_step
    2
    """

    changes_model = False

    def __init__(self, log_dir, *, figure=True):
        self.log_dir, self.figure = os.fspath(log_dir), bool(figure)
        self.last_step, self.resumed, self.writer = 0, False, None
        _writer_class()  # a missing extra fails here, before any training

    def on_fit_start(self, fit):
        """Open the writer (process 0), purging steps past a resumed checkpoint's."""
        self.fit = fit
        if fit.is_main:
            purge = self.last_step + 1 if self.resumed else None
            # A suffix of its own: two writers opened in one second would otherwise share a file name;
            # nanoseconds, so a later writer's file sorts (and is read) after an earlier one's.
            self.writer = _writer_class()(logdir=self.log_dir, purge_step=purge,
                                          filename_suffix=f'.{time.time_ns():020d}.{os.getpid()}')

    def on_epoch_end(self, epoch, logs):
        """Log every epoch not logged yet (after a resume, the checkpoint's own epochs too)."""
        if self.writer is None:
            return
        for step in sorted({row['epoch'] for row in self.fit.history if row['epoch'] > self.last_step}):
            for tag, value in epoch_scalars(self.fit.rows_of(step), self.fit.n_members).items():
                self.writer.add_scalar(tag, value, global_step=step)
            self.last_step = step
        self.writer.flush()

    def on_fit_end(self, fit):
        """Add the curves figure and close the writer."""
        if self.writer is None:
            return
        try:
            figure = curves_figure(fit) if self.figure else None
            if figure is not None:
                self.writer.add_figure('curves', figure, global_step=self.last_step, close=False)
        finally:
            self.writer.close()
            self.writer = None

    def state_dict(self):
        """The last epoch logged (a resumed fit logs from the next one)."""
        return {'last_step': self.last_step, 'log_dir': self.log_dir}

    def load_state_dict(self, state):
        """Continue after the checkpoint's last logged epoch."""
        self.last_step, self.resumed = int(state.get('last_step', 0)), True


def _writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError as error:
        raise missing_extra('trainer.callbacks.TensorBoard', error) from None
    return SummaryWriter
