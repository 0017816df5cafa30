"""Many tasks in one network (Yang et al. 2019): a GRU on a device :class:`datasets.Multitask` of streams.

    from trainer.recipes import multitask_recipe, train_multitask
    run = train_multitask('yang8')                       # the measured recipe, rule inputs on
    run.per_task, run.wall_s                             # held-out accuracy of every task
    train_multitask('yang8', rule_input=False)           # which tasks need the rule?

Every epoch draws fresh trials of every task inside the compiled step
(``steps_per_epoch`` mixed batches, each task in equal share); held-out
accuracy is measured per task on the mixture's fixed held-out set, and the
fit stops when the worst task reaches the threshold (Yang's rule).
"""

import dataclasses
import numbers
import time
from typing import Any, Optional

__all__ = ['COLLECTIONS', 'MultitaskRecipe', 'MultitaskRun', 'multitask_recipe', 'parse_tasks', 'train_multitask']

COLLECTIONS = {
    'yang8': ('go_no_go', 'reaching_1d', 'anti_reach', 'delay_direction_classification',
              'delay_paired_association', 'probabilistic_reasoning', 'pulse_decision_making', 'interval_discrimination'),
}
"""Named task collections ``train --task NAME`` accepts: eight registered cogtask tasks at dt 20 ms.

Examples
--------
>>> from trainer.recipes import COLLECTIONS
>>> len(COLLECTIONS['yang8'])
8
"""


@dataclasses.dataclass(frozen=True)
class MultitaskRecipe:
    """How to train one network on many tasks, as one record.

    Attributes
    ----------
    tasks : tuple of str
        Registered cogtask tasks sharing one ``dt``.
    hidden : int
    cell : {'gru', 'lstm', 'vanilla'}
    lr : float
        Adam's peak rate, annealed by cosine per step to ``lr * lr_final`` over the budget.
    lr_final : float
    batch_size, steps_per_epoch, n_epochs : int
        Mixed batches of fresh trials; the budget is ``n_epochs * steps_per_epoch`` updates.
    grad_clip_norm : float or None
    held_out : int
        Fixed held-out trials per task.
    eval_every : int
        Evaluate every this many epochs.
    threshold : float
        Stop once the worst task's held-out accuracy reaches it.

    Examples
    --------
    >>> r = MultitaskRecipe(tasks=('go_no_go', 'reaching_1d'), n_epochs=4)
    >>> r.n_updates
    200
    """

    tasks: tuple = COLLECTIONS['yang8']
    hidden: int = 128
    cell: str = 'gru'
    lr: float = 3e-3
    lr_final: float = 0.1
    batch_size: int = 64
    steps_per_epoch: int = 50
    n_epochs: int = 80
    grad_clip_norm: Optional[float] = 1.0
    held_out: int = 200
    eval_every: int = 2
    threshold: float = 0.9

    def __post_init__(self):
        if isinstance(self.tasks, str) or len(self.tasks) < 1:
            raise ValueError(f'MultitaskRecipe.tasks must be a tuple of task names, got {self.tasks!r}.')
        object.__setattr__(self, 'tasks', tuple(self.tasks))
        for name in ('hidden', 'batch_size', 'steps_per_epoch', 'n_epochs', 'held_out', 'eval_every'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f'MultitaskRecipe.{name} must be a positive int, got {value!r}.')

    @property
    def n_updates(self):
        """The optimizer steps of the whole budget (a fit that stops early takes fewer)."""
        return self.n_epochs * self.steps_per_epoch

    def replace(self, **overrides):
        """A copy with ``overrides`` applied (the command line's flags), validated."""
        return dataclasses.replace(self, **overrides)

    def describe(self):
        """The recipe in one line (the command line prints it)."""
        return (f"{self.cell} {self.hidden}, {len(self.tasks)} tasks, batch {self.batch_size} x "
                f"{self.steps_per_epoch} steps x {self.n_epochs} ep (fresh trials), Adam {self.lr:g} cosine "
                f"to x{self.lr_final:g}, clip {self.grad_clip_norm}, stop at worst task >= {self.threshold:g}")


def parse_tasks(spec):
    """``'yang8'`` or ``'multitask:a,b,c'`` as a tuple of task names; ``None`` for any other name.

    Examples
    --------
    >>> parse_tasks('multitask:go_no_go,reaching_1d')
    ('go_no_go', 'reaching_1d')
    >>> parse_tasks('go_no_go') is None
    True
    """
    if spec in COLLECTIONS:
        return COLLECTIONS[spec]
    if spec.startswith('multitask:'):
        tasks = tuple(t for t in spec[len('multitask:'):].split(',') if t)
        if not tasks:
            raise ValueError(f"{spec!r} names no task; write multitask:<task>,<task>,...")
        return tasks
    return None


def multitask_recipe(spec):
    """The recipe of a collection name or ``multitask:a,b,...`` (the measured defaults on its tasks)."""
    tasks = parse_tasks(spec)
    if tasks is None:
        raise ValueError(f"{spec!r} is neither a task collection ({', '.join(COLLECTIONS)}) nor multitask:a,b,...")
    return MultitaskRecipe(tasks=tasks)


@dataclasses.dataclass(frozen=True, repr=False)
class MultitaskRun:
    """What :func:`train_multitask` returns.

    Attributes
    ----------
    recipe : MultitaskRecipe
    rule_input : bool
    history : list of dict
    per_task : dict
        ``{task: held-out accuracy}`` at the parameters the run ended with.
    held_out : dict
        Loss, accuracy and the worst task's accuracy on the whole held-out set.
    epochs, n_updates : int
    wall_s : float
        Seconds from building the streams to the final evaluation.
    n_compilations : dict
    model : Any
    """

    recipe: Any
    rule_input: bool
    history: list
    per_task: dict
    held_out: dict
    epochs: int
    n_updates: int
    wall_s: float
    n_compilations: dict
    model: Any

    def __repr__(self):
        tasks = ', '.join(f'{k}={v:.2f}' for k, v in self.per_task.items())
        return f'MultitaskRun(epochs={self.epochs}, wall_s={self.wall_s:.0f}, {tasks})'

    def to_json(self, path):
        """Write the per-task scores, budget, recipe and history as JSON to ``path``."""
        import json
        with open(path, 'w') as f:
            json.dump({'rule_input': self.rule_input, 'per_task': self.per_task, 'held_out': self.held_out,
                       'epochs': self.epochs, 'n_updates': self.n_updates, 'wall_s': self.wall_s,
                       'recipe': dataclasses.asdict(self.recipe), 'history': self.history}, f, indent=1)

    def to_csv(self, path):
        """Write the history (one row per epoch, per-task columns included) as CSV to ``path``."""
        import csv
        with open(path, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(self.history[0]))
            writer.writeheader()
            writer.writerows(self.history)


def train_multitask(tasks='yang8', recipe=None, *, seed=0, rule_input=True, progress=False, log=None,
                    checkpoint=None, resume_from=None, devices=None):
    """Train one :class:`trainer.models.RateRNN` on many tasks at once (streams, rule inputs, worst-task stop).

    Parameters
    ----------
    tasks : str or tuple of str
        A collection name (``'yang8'``), ``'multitask:a,b'``, or task names.
    recipe : MultitaskRecipe, optional
        Default: the measured recipe on ``tasks``.
    seed : int
        Seeds the streams (trials and held-out sets) and the initial weights.
    rule_input : bool
        Give the network a one-hot input naming the task (default True).
    progress, log, checkpoint, resume_from, devices
        As for :func:`trainer.recipes.train_task`.

    Returns
    -------
    MultitaskRun

    Examples
    --------
    >>> from trainer.recipes import MultitaskRecipe, train_multitask
    >>> recipe = MultitaskRecipe(tasks=('go_no_go', 'reaching_1d'), hidden=8, batch_size=8,
    ...                          steps_per_epoch=2, n_epochs=1, held_out=8)
    >>> run = train_multitask(recipe.tasks, recipe)  # doctest: +SKIP
    >>> sorted(run.per_task), run.n_compilations     # doctest: +SKIP
    (['go_no_go', 'reaching_1d'], {'train': 1, 'eval': 1})
    >>> train_multitask('yang9')
    Traceback (most recent call last):
    ...
    ValueError: tasks='yang9' is neither a collection (yang8) nor multitask:a,b,...
    """
    import braintools
    import datasets
    from .. import metrics, objectives
    from .._trainer import Trainer
    from ..callbacks import StopAtThreshold
    from ..models import RateRNN

    names = parse_tasks(tasks) if isinstance(tasks, str) else tuple(tasks)
    if names is None:
        raise ValueError(f"tasks={tasks!r} is neither a collection ({', '.join(COLLECTIONS)}) nor multitask:a,b,...")
    recipe = MultitaskRecipe(tasks=names) if recipe is None else recipe
    start = time.perf_counter()
    mix = datasets.Multitask({n: datasets.stream(n, seed=seed, held_out=recipe.held_out) for n in recipe.tasks},
                             rule_input=rule_input, seed=seed)
    model = RateRNN(mix.n_features, recipe.hidden, mix.n_classes, cell=recipe.cell, seed=seed)
    lr = braintools.optim.CosineAnnealingLR(recipe.lr, T_max=recipe.n_updates, eta_min=recipe.lr * recipe.lr_final)
    callbacks = [] if log is None else [lambda info: log(info['history'][-1])]
    trainer = Trainer(model, braintools.optim.Adam(lr=lr), objective=objectives.cross_entropy(),
                      metrics={'acc': metrics.accuracy()}, grad_clip_norm=recipe.grad_clip_norm,
                      lr_schedule='step', callbacks=callbacks, progress=progress, devices=devices)
    result = trainer.fit(mix, n_epochs=recipe.n_epochs, batch_size=recipe.batch_size,
                         steps_per_epoch=recipe.steps_per_epoch, seed=seed, compile_epoch=True,
                         eval_every=recipe.eval_every, monitor='held_out_acc/worst',
                         callbacks=[StopAtThreshold('held_out_acc/worst', recipe.threshold)],
                         checkpoint=checkpoint, resume_from=resume_from)
    best = next(row for row in result.history if row['epoch'] == result.best_epoch) if result.best_epoch else \
        result.history[-1]
    per_task = {t: best[f'held_out_acc/{t}'] for t in recipe.tasks}
    scores = {'loss': best['held_out_loss'], 'acc': best['held_out_acc'], 'acc/worst': best['held_out_acc/worst']}
    return MultitaskRun(recipe, rule_input, result.history, per_task, scores, len(result.history),
                        len(result.history) * recipe.steps_per_epoch, time.perf_counter() - start,
                        dict(result.n_compilations), model)
