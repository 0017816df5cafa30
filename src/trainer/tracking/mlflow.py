"""``MLflow``: a callback logging a fit's settings, per-epoch metrics, checkpoint and curves to an MLflow run."""

import dataclasses
import os
import tempfile

from ..loop.callbacks import Callback, ModelCheckpoint
from .scalars import curves_figure, epoch_scalars, missing_extra

__all__ = ['MLflow', 'fit_params']


class MLflow(Callback):
    """Log a fit to an MLflow run: its settings as params, each epoch's metrics, the checkpoint and curves.

    Params: ``n_epochs``, ``batch_size``, ``seed``, ``monitor``, ``eval_every``,
    ``compile_epoch``, the optimizer's class and learning rate, ``grad_clip_norm``,
    the model's class, ``n_members`` and each member's ``hparams`` for an
    ensemble, and every field of ``recipe`` (as ``recipe.<field>``) if given.
    Metrics: the names :class:`~trainer.callbacks.TensorBoard` uses (history
    keys and ``lr``; ``member_<k>/`` and ``mean/`` for an ensemble), at step
    ``epoch``. Artifacts at the end: the checkpoint (``checkpoint=``, else the
    path of a :class:`~trainer.callbacks.ModelCheckpoint` among the fit's
    callbacks) and ``curves.png``. Only process 0 logs. A fit resumed from a
    checkpoint continues the same run (its ``run_id`` is in the checkpoint)
    and logs only the epochs the run does not hold yet. Uses ``mlflow`` (or
    ``mlflow-skinny``; the ``tracking`` extra: ``pip install -e ".[tracking]"``).

    Parameters
    ----------
    experiment : str
        The experiment's name (created if new).
    tracking_uri : str, optional
        E.g. ``'sqlite:///mlflow.db'`` or a server's URL; default MLflow's own
        (``MLFLOW_TRACKING_URI``, else ``./mlruns``).
    run_name : str, optional
        The run's name (MLflow picks one if ``None``).
    artifact_location : str, optional
        Where a *new* experiment stores its artifacts (e.g. ``'file:///.../artifacts'``).
    recipe : trainer.recipes.Recipe, optional
        Logged as params.
    checkpoint : str, optional
        The checkpoint file to log as an artifact.
    tags : dict, optional
        Tags for the run.

    Attributes
    ----------
    run_id : str or None
        The run's id once the fit started (on process 0).
    """

    changes_model = False

    def __init__(self, experiment, *, tracking_uri=None, run_name=None, artifact_location=None, recipe=None,
                 checkpoint=None, tags=None):
        if not isinstance(experiment, str) or not experiment:
            raise ValueError(f"experiment must be a non-empty str (the MLflow experiment's name), got {experiment!r}.")
        self.experiment, self.tracking_uri, self.run_name = experiment, tracking_uri, run_name
        self.artifact_location, self.recipe, self.tags = artifact_location, recipe, dict(tags or {})
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        self.run_id, self.last_step, self.client = None, 0, None
        _client_class()  # a missing extra fails here, before any training

    def on_fit_start(self, fit):
        """Open the run (process 0): a new one, or the resumed checkpoint's, and log the params."""
        self.fit = fit
        if not fit.is_main:
            return
        self.client = client = _client_class()(tracking_uri=self.tracking_uri)
        if self.run_id is not None:
            client.update_run(self.run_id, status='RUNNING')
            steps = [m.step for m in client.get_metric_history(self.run_id, _first_key(fit))]
            self.last_step = max(steps, default=0)  # what the run holds, whatever the checkpoint says
            return
        found = client.get_experiment_by_name(self.experiment)
        experiment_id = found.experiment_id if found is not None else client.create_experiment(
            self.experiment, artifact_location=self.artifact_location)
        run = client.create_run(experiment_id, run_name=self.run_name, tags=self.tags)
        self.run_id = run.info.run_id
        from mlflow.entities import Param
        client.log_batch(self.run_id, params=[Param(k, str(v)[:6000]) for k, v in fit_params(fit, self.recipe).items()])

    def on_epoch_end(self, epoch, logs):
        """Log every epoch the run does not hold yet."""
        if self.client is None:
            return
        from mlflow.entities import Metric
        metrics = []
        for step in sorted({row['epoch'] for row in self.fit.history if row['epoch'] > self.last_step}):
            rows = self.fit.rows_of(step)
            stamp = _timestamp()
            metrics += [Metric(tag, value, stamp, step)
                        for tag, value in epoch_scalars(rows, self.fit.n_members).items()]
            self.last_step = step
        for start in range(0, len(metrics), 900):  # MLflow takes at most 1000 metrics a batch
            self.client.log_batch(self.run_id, metrics=metrics[start:start + 900])

    def on_fit_end(self, fit):
        """Log the checkpoint and ``curves.png``, and end the run (``FAILED`` if the fit ended early on an error)."""
        if self.client is None:
            return
        finished = fit.epoch >= fit.n_epochs or not any(fit.active)
        try:
            path = self.checkpoint or next((cb.path for cb in fit.callbacks if isinstance(cb, ModelCheckpoint)),
                                           None)
            if path is not None and os.path.isfile(path):
                self.client.log_artifact(self.run_id, path)
            figure = curves_figure(fit)
            if figure is not None:
                with tempfile.TemporaryDirectory() as folder:
                    figure.savefig(os.path.join(folder, 'curves.png'), dpi=110)
                    self.client.log_artifact(self.run_id, os.path.join(folder, 'curves.png'))
        finally:
            self.client.set_terminated(self.run_id, status='FINISHED' if finished else 'FAILED')
            self.client = None

    def state_dict(self):
        """The run's id and the last epoch logged: a resumed fit continues the same run."""
        return {'run_id': self.run_id, 'last_step': self.last_step}

    def load_state_dict(self, state):
        """Continue the checkpoint's run."""
        self.run_id, self.last_step = state.get('run_id'), int(state.get('last_step', 0))


def fit_params(fit, recipe=None):
    """The settings of ``fit`` (a running :class:`~trainer.loop.run.Fit`) as flat ``{name: value}`` params."""
    options, learner = fit.options, fit.engine.learner
    optimizer = learner.optimizer
    lr = getattr(optimizer, 'lr', None)
    params = {'n_epochs': fit.plan.n_epochs, 'batch_size': fit.plan.batch_size, 'seed': options.seed,
              'monitor': fit.plan.monitor, 'eval_every': options.eval_every, 'compile_epoch': options.compile_epoch,
              'optimizer': type(optimizer).__name__,
              'lr': getattr(optimizer, 'current_lr', lr if isinstance(lr, (int, float)) else None),
              'lr_schedule': type(lr).__name__ if lr is not None and not isinstance(lr, (int, float)) else None,
              'grad_clip_norm': learner.grad_clip_norm, 'model': type(fit.model).__name__}
    if fit.n_members is not None:
        params['n_members'] = fit.n_members
        params.update({f'hparams.{k}': [float(v) for v in vs] for k, vs in fit.hparams.items()})
        seeds = getattr(fit.engine, 'seeds', None)
        if seeds is not None:
            params['seeds'] = list(seeds)
    if recipe is not None:
        params.update({f'recipe.{k}': v for k, v in dataclasses.asdict(recipe).items()})
    return {k: float(v) if hasattr(v, 'dtype') else v for k, v in params.items()}


def _first_key(fit):
    """The tag every logged epoch has: how far a resumed run got."""
    key = fit.plan.names[0]
    return key if fit.n_members is None else f'mean/{key}'


def _timestamp():
    import time
    return int(time.time() * 1000)


def _client_class():
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as error:
        raise missing_extra('trainer.callbacks.MLflow', error) from None
    return MlflowClient
