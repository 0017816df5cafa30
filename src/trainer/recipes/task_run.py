"""``train_task``: train a registered task at its recipe, its curriculum in one ``Trainer.fit``."""

import dataclasses
import time
from typing import Any, Optional

import jax.numpy as jnp

__all__ = ['TaskRun', 'angular_error', 'train_task']


def angular_error(*, channels=(1, 2)):
    """Build a metric: mean angle, in degrees, between predicted and target directions.

    The direction-reproduction tasks report a direction as ``(cos, sin)`` in
    two output channels (cogtask puts a fixation output first, hence the
    default ``channels=(1, 2)``); the angle of each vector is compared, so
    the report's length does not matter.

    Parameters
    ----------
    channels : tuple of int, default (1, 2)
        The output channels holding ``cos`` and ``sin``.

    Returns
    -------
    callable
        ``metric(prediction, target, mask=None) -> scalar`` in ``[0, 180]``
        degrees, averaged over the steps (and trials) the mask selects.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer.recipes import angular_error
    >>> target = np.array([[[0.0, 1.0, 0.0]]])                 # 0 degrees
    >>> prediction = np.array([[[0.0, 0.0, 2.0]]])             # 90 degrees, any length
    >>> round(float(angular_error()(prediction, target)), 3)
    90.0
    """
    cos, sin = channels

    def metric(prediction, target, mask=None):
        import brainunit as u
        from ..objectives.reduce import weighted_mean
        p, t = jnp.asarray(u.get_magnitude(prediction)), jnp.asarray(u.get_magnitude(target))
        difference = jnp.arctan2(p[..., sin], p[..., cos]) - jnp.arctan2(t[..., sin], t[..., cos])
        wrapped = jnp.abs((difference + jnp.pi) % (2 * jnp.pi) - jnp.pi)  # into [0, pi]
        return weighted_mean(jnp.degrees(wrapped), mask)

    return metric


@dataclasses.dataclass(frozen=True, repr=False)
class TaskRun:
    """What :func:`train_task` returns.

    Attributes
    ----------
    task : str
        The registered task.
    recipe : Recipe
        The recipe it trained at.
    history : list of dict
        Every epoch's row, numbered across stages, each with its ``'stage'``.
    held_out : dict
        Loss and metric on the final task's held-out trials, at the parameters
        the run ended with (the best epoch of the last stage).
    best_epoch : int or None
        The epoch (numbered across stages) of the last stage's best held-out
        value, where the model was left; ``None`` if the budget ran out first.
    best_value : float or None
        That best held-out monitor value.
    monitor : str
        The history key that chose it.
    stage_epochs : tuple of int
        Epochs trained in each stage reached.
    n_updates : int
        Optimizer steps taken.
    wall_s : float
        Seconds from data generation to the final evaluation.
    held_out_data : datasets.TaskDataset
        The final task's held-out trials.
    model : Any
        The trained model.
    n_compilations : dict
        Train and held-out compilations of the fit (one per distinct stage
        length, or one in all with ``pad_stages=True``).
    """

    task: str
    recipe: Any
    history: list
    held_out: dict
    best_epoch: Optional[int]
    best_value: Optional[float]
    monitor: str
    stage_epochs: tuple
    n_updates: int
    wall_s: float
    held_out_data: Any
    model: Any
    n_compilations: dict = dataclasses.field(default_factory=dict)

    def to_json(self, path):
        """Write the history, best point, held-out scores and recipe as JSON to ``path``."""
        import json
        with open(path, 'w') as f:
            json.dump({'task': self.task, 'monitor': self.monitor, 'best_epoch': self.best_epoch,
                       'best_value': self.best_value, 'held_out': self.held_out,
                       'stage_epochs': list(self.stage_epochs), 'n_updates': self.n_updates,
                       'wall_s': self.wall_s, 'recipe': dataclasses.asdict(self.recipe),
                       'history': self.history}, f, indent=1)

    def to_csv(self, path):
        """Write the history as CSV (one row per epoch, with its stage) to ``path``."""
        import csv
        with open(path, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(self.history[0]))
            writer.writeheader()
            writer.writerows(self.history)

    def __repr__(self):
        scores = ', '.join(f'{k}={v:.4g}' for k, v in self.held_out.items())
        return (f'TaskRun(task={self.task!r}, epochs={len(self.history)}, '
                f'stage_epochs={self.stage_epochs}, {scores}, wall_s={self.wall_s:.1f})')


def optimizer_for(recipe):
    import braintools
    if recipe.lr_schedule == 'cosine':
        lr = braintools.optim.CosineAnnealingLR(recipe.lr, T_max=recipe.n_updates,
                                               eta_min=recipe.lr * recipe.lr_final)
        return braintools.optim.Adam(lr=lr), 'step'
    return braintools.optim.Adam(lr=recipe.lr), 'epoch'


def scoring_for(recipe):
    from .. import metrics, objectives
    objective = objectives.cross_entropy() if recipe.objective == 'cross_entropy' else objectives.mse()
    if recipe.metric == 'accuracy':
        return objective, {'acc': metrics.accuracy()}, 'held_out_acc'
    return objective, {'angle_err': angular_error()}, 'held_out_angle_err'


def train_task(task, recipe=None, *, seed=0, progress=False, pad_stages=False, log=None,
               checkpoint=None, resume_from=None, devices=None, callbacks=None):
    """Train :class:`trainer.models.RateRNN` on a registered task at its recipe.

    The recipe's stages (its curriculum, then the task itself) become a
    :class:`datasets.Curriculum` and one ``Trainer.fit`` trains through
    them; the last stage takes the rest of the epoch budget, keeps its best
    held-out epoch, and is evaluated on its held-out trials.

    Parameters
    ----------
    task : str
        A registered task name.
    recipe : Recipe, optional
        Default: :func:`recipe_for(task) <trainer.recipes.recipe_for>`.
    seed : int, default 0
        Seeds the trials, the split, the initial weights and the shuffles.
    progress : bool, default False
        Show the Trainer's progress bar.
    pad_stages : bool, default False
        Pad every stage to the longest one's length (one compilation for all
        stages, each step as long as the longest stage's).
    log : callable, optional
        Called with each history row as it completes (e.g. ``print``).
    checkpoint : str, optional
        A checkpoint after every epoch (``Trainer.fit(checkpoint=...)``).
    resume_from : str, optional
        Continue from such a checkpoint, in the stage and at the epoch it
        was written (the same task, recipe and seed).
    devices : optional
        Passed to the ``Trainer``: split each batch over these devices.
    callbacks : list, optional
        More :class:`trainer.callbacks.Callback` objects for the fit (e.g.
        :class:`~trainer.callbacks.TensorBoard`, :class:`~trainer.callbacks.MLflow`).

    Returns
    -------
    TaskRun

    Examples
    --------
    >>> from trainer.recipes import Recipe, train_task
    >>> recipe = Recipe(n_trials=64, n_epochs=2, batch_size=16, hidden=8,
    ...                 task_params={'seq_len': 6, 'n_symbols': 2})
    >>> run = train_task('delayed_match_task', recipe)
    >>> [row['stage'] for row in run.history], sorted(run.held_out)
    ([0, 0], ['acc', 'loss'])
    """
    import datasets
    from .._trainer import Trainer
    from ..models import RateRNN
    from .table import recipe_for

    recipe = recipe_for(task) if recipe is None else recipe
    start = time.perf_counter()
    objective, metrics, monitor = scoring_for(recipe)
    curriculum = datasets.Curriculum(
        recipe.stages(), task=task, monitor=monitor, threshold=recipe.curriculum_threshold,
        min_epochs=recipe.curriculum_min_epochs, max_epochs_per_stage=recipe.max_epochs_per_stage,
        n_trials=recipe.n_trials, held_out=recipe.held_out, seed=seed, pad=pad_stages)
    train, held_out = curriculum.stage_splits(len(curriculum) - 1)
    n_output = train.n_classes if train.n_classes is not None else train.targets.shape[-1]
    model = RateRNN(train.n_features, recipe.hidden, n_output, cell=recipe.cell, seed=seed)
    optimizer, lr_schedule = optimizer_for(recipe)
    logging = [] if log is None else [lambda info: log(info['history'][-1])]
    trainer = Trainer(model, optimizer, objective=objective, metrics=metrics,
                      grad_clip_norm=recipe.grad_clip_norm, lr_schedule=lr_schedule,
                      callbacks=logging, progress=progress, devices=devices)
    result = trainer.fit(curriculum, n_epochs=recipe.n_epochs, batch_size=recipe.batch_size,
                         seed=seed, patience=recipe.patience, compile_epoch=recipe.compile_epoch,
                         checkpoint=checkpoint, resume_from=resume_from, callbacks=callbacks)
    history = result.history
    stage_epochs = tuple(sum(row['stage'] == s for row in history)
                         for s in range(history[-1]['stage'] + 1))
    n_updates = len(history) * (len(train) // recipe.batch_size)  # every dict stage draws n_trials
    finished = len(stage_epochs) == len(curriculum)
    best_epoch, best_value = (result.best_epoch, result.best_value) if finished else (None, None)
    scores = trainer.evaluate(held_out)
    return TaskRun(task, recipe, history, scores, best_epoch, best_value, monitor, stage_epochs,
                   n_updates, time.perf_counter() - start, held_out, model, dict(result.n_compilations))
