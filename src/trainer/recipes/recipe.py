"""``Recipe``: how to train one task -- data, model, optimizer, budget and curriculum."""

import dataclasses
import math
import numbers
from typing import Optional

__all__ = ['Recipe']

_CELLS = ('vanilla', 'gru', 'lstm')
_SCHEDULES = ('constant', 'cosine')
_OBJECTIVES = ('cross_entropy', 'mse')
_METRICS = ('accuracy', 'angular_error')


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f'Recipe.{name} must be a positive int, got {value!r}.')


def _positive_float(name, value, *, optional=False):
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f'Recipe.{name} must be a positive finite number'
                         f'{" or None" if optional else ""}, got {value!r}.')


def _choice(name, value, choices):
    if value not in choices:
        raise ValueError(f'Recipe.{name} must be one of {choices}, got {value!r}.')


def _ms(params):
    """Task arguments with durations (``t_*`` keys, in ms) as brainunit quantities."""
    import brainunit as u
    out = {}
    for key, value in params.items():
        if key.startswith('t_') and isinstance(value, (tuple, list)):
            value = tuple(v * u.ms for v in value)
        elif key.startswith('t_') and isinstance(value, numbers.Real):
            value = value * u.ms
        out[key] = value
    return out


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train one task: measured settings that reach its goal, as one record.

    Durations in ``task_params`` and ``curriculum`` stages are task arguments
    with ``t_``-prefixed names, written as plain numbers of milliseconds (so a
    recipe prints, compares and serialises as plain data).

    Attributes
    ----------
    n_trials : int
        Trials generated (``held_out`` of them held out).
    n_epochs : int
        The epoch budget, all curriculum stages together.
    batch_size, hidden : int
        Minibatch size; hidden units of the :class:`trainer.models.RateRNN`.
    cell : {'gru', 'lstm', 'vanilla'}
        The RNN cell.
    lr : float
        Adam's learning rate (its peak, under a schedule).
    lr_schedule : {'constant', 'cosine'}
        ``'cosine'`` anneals per step from ``lr`` to ``lr * lr_final`` over the
        whole budget (``braintools.optim.CosineAnnealingLR``).
    lr_final : float
        The fraction of ``lr`` a cosine schedule ends at.
    grad_clip_norm : float or None
        Clip gradients to this global norm.
    patience : int or None
        Early stopping on the monitored held-out value (last stage only).
    held_out : float
        Fraction of the trials held out for evaluation.
    compile_epoch : bool
        Run each epoch as one compiled loop (faster for small steps).
    objective : {'cross_entropy', 'mse'}
        The loss; ``'mse'`` for value targets.
    metric : {'accuracy', 'angular_error'}
        The reported metric (``'angular_error'``: mean error in degrees of a
        ``(cos, sin)`` report, for the direction-reproduction tasks).
    task_params : dict
        Task arguments of the final task (the table's task), ``{}`` for its defaults.
    curriculum : tuple of dict
        Stages before the final task, easiest first, each the task's keyword
        arguments; the final task (``task_params``) is appended as the last stage.
    curriculum_threshold : float
        The held-out metric that moves a stage on: an accuracy reached, or an
        angular error (degrees) got below.
    curriculum_min_epochs : int
        Epochs each stage trains at least.
    max_epochs_per_stage : int or None
        Move on after this many epochs even below the threshold.
    note : str
        What was measured about this recipe (why it is what it is, or why it misses).

    Examples
    --------
    >>> from trainer.recipes import Recipe
    >>> r = Recipe(n_trials=1024, n_epochs=30, lr=3e-3)
    >>> r.replace(n_epochs=5).n_epochs, r.n_updates
    (5, 750)
    >>> r.replace(epochs=5)
    Traceback (most recent call last):
    ...
    TypeError: Recipe has no field 'epochs'; did you mean 'n_epochs'? Fields: n_trials, n_epochs, batch_size, hidden, cell, lr, lr_schedule, lr_final, grad_clip_norm, patience, held_out, compile_epoch, objective, metric, task_params, curriculum, curriculum_threshold, curriculum_min_epochs, max_epochs_per_stage, note.
    """

    n_trials: int = 1024
    n_epochs: int = 30
    batch_size: int = 32
    hidden: int = 64
    cell: str = 'gru'
    lr: float = 3e-3
    lr_schedule: str = 'constant'
    lr_final: float = 0.1
    grad_clip_norm: Optional[float] = 1.0
    patience: Optional[int] = None
    held_out: float = 0.2
    compile_epoch: bool = True
    objective: str = 'cross_entropy'
    metric: str = 'accuracy'
    task_params: dict = dataclasses.field(default_factory=dict)
    curriculum: tuple = ()
    curriculum_threshold: float = 0.9
    curriculum_min_epochs: int = 1
    max_epochs_per_stage: Optional[int] = None
    note: str = ''

    def __post_init__(self):
        for name in ('n_trials', 'n_epochs', 'batch_size', 'hidden', 'curriculum_min_epochs'):
            _positive_int(name, getattr(self, name))
        for name in ('patience', 'max_epochs_per_stage'):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))
        _positive_float('lr', self.lr)
        _positive_float('lr_final', self.lr_final)
        _positive_float('grad_clip_norm', self.grad_clip_norm, optional=True)
        if isinstance(self.held_out, bool) or not isinstance(self.held_out, numbers.Real) \
                or not 0 < self.held_out < 1:
            raise ValueError(f'Recipe.held_out must be a fraction in (0, 1), got {self.held_out!r}.')
        if not isinstance(self.compile_epoch, bool):
            raise TypeError(f'Recipe.compile_epoch must be True or False, got '
                            f'{type(self.compile_epoch).__name__}: {self.compile_epoch!r}.')
        threshold = self.curriculum_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) \
                or not math.isfinite(threshold):
            raise ValueError(f'Recipe.curriculum_threshold must be a finite number (an accuracy in '
                             f'[0, 1], or an angular error in degrees), got {threshold!r}.')
        if self.metric == 'accuracy' and not 0 <= threshold <= 1:
            raise ValueError(f'Recipe.curriculum_threshold is an accuracy for metric=\'accuracy\' '
                             f'and must be in [0, 1], got {threshold!r}; e.g. 0.9.')
        if self.metric == 'angular_error' and threshold < 0:
            raise ValueError(f'Recipe.curriculum_threshold is an angular error in degrees for '
                             f"metric='angular_error' and must be >= 0, got {threshold!r}.")
        if not isinstance(self.note, str):
            raise TypeError(f'Recipe.note must be a str, got {type(self.note).__name__}.')
        _choice('cell', self.cell, _CELLS)
        _choice('lr_schedule', self.lr_schedule, _SCHEDULES)
        _choice('objective', self.objective, _OBJECTIVES)
        _choice('metric', self.metric, _METRICS)
        if not isinstance(self.task_params, dict):
            raise TypeError(f'Recipe.task_params must be a dict, got {type(self.task_params).__name__}.')
        if isinstance(self.curriculum, dict) or not all(isinstance(s, dict) for s in self.curriculum):
            raise TypeError(
                f'Recipe.curriculum must be a tuple of dict stages, got {self.curriculum!r}.')
        object.__setattr__(self, 'curriculum', tuple(self.curriculum))
        if self.batch_size > self.n_train:
            raise ValueError(
                f'Recipe.batch_size={self.batch_size} exceeds the {self.n_train} training trials of '
                f'n_trials={self.n_trials}; lower batch_size or raise n_trials.')

    def replace(self, **overrides):
        """A copy with ``overrides`` applied (the command line's flags), validated.

        Raises
        ------
        TypeError
            On a name that is not a field (the message suggests the closest).
        ValueError
            On a value the field does not accept.
        """
        fields = [f.name for f in dataclasses.fields(self)]
        for name in overrides:
            if name not in fields:
                import difflib
                close = difflib.get_close_matches(name, fields, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ''
                raise TypeError(f"Recipe has no field {name!r}{hint} Fields: {', '.join(fields)}.")
        return dataclasses.replace(self, **overrides)

    @property
    def n_train(self):
        """Training trials (what ``split(1 - held_out)`` keeps)."""
        return int(round((1 - self.held_out) * self.n_trials))

    @property
    def n_updates(self):
        """Optimizer steps in the full budget (full batches only)."""
        return self.n_epochs * (self.n_train // self.batch_size)

    def stages(self):
        """Every stage's task arguments, the final task last, durations as quantities."""
        return [_ms({**self.task_params, **stage}) for stage in self.curriculum] \
            + [_ms(self.task_params)]

    def describe(self):
        """One line for tables and ``--help``: the recipe's settings.

        Examples
        --------
        >>> from trainer.recipes import Recipe
        >>> Recipe(curriculum=({'t_delay': 100.0},)).describe()
        'gru 64, 1024 trials x 30 ep, batch 32, Adam 0.003, clip 1, curriculum t_delay=100 -> task'
        """
        lr = f'Adam {self.lr:g}' + (f' cosine to x{self.lr_final:g}' if self.lr_schedule == 'cosine' else '')
        parts = [f'{self.cell} {self.hidden}', f'{self.n_trials} trials x {self.n_epochs} ep',
                 f'batch {self.batch_size}', lr]
        if self.grad_clip_norm is not None:
            parts.append(f'clip {self.grad_clip_norm:g}')
        if self.patience is not None:
            parts.append(f'patience {self.patience}')
        if self.task_params:
            parts.append(' '.join(f'{k}={v}' for k, v in self.task_params.items()))
        if self.curriculum:
            steps = [' '.join(f'{k}={v:g}' if isinstance(v, numbers.Real) else f'{k}={v}'
                              for k, v in stage.items()) for stage in self.curriculum]
            parts.append('curriculum ' + ' -> '.join(steps + ['task']))
        return ', '.join(parts)
