"""What a fit trains on and how: its options, each stage's validated plan, best-epoch tracking.

Nothing here reads a front door: :class:`FitOptions` holds ``fit``'s
arguments once, :func:`make_plan` validates them against the current stage's
data (one dataset, or a curriculum's stage from :class:`Stages`), and
:class:`Best` keeps a best epoch.
"""

import dataclasses
import hashlib
import math
import zlib
from typing import Any, Optional

import datasets
import numpy as np

from ..core import checks
from ..core.data import as_dataset
from .sources import StoredSource, default_held_out, source_of

@dataclasses.dataclass(frozen=True)
class FitPlan:
    """The validated arguments of one ``fit``."""

    train: Any
    held_out: Any
    n_epochs: int
    batch_size: int
    seed: int
    shuffle: bool
    eval_every: int
    monitor: str
    sign: float
    min_delta: float
    compile_epoch: bool
    names: tuple  # 'loss' and the metric names, in the order rows show them
    stage: Optional[int] = None  # the curriculum stage this plan trains, if any
    offset: int = 0  # epochs before this stage: its shuffles count from 1 again
    source: Any = None  # where the batches come from (trainer.loop.sources)
    steps: int = 0  # optimizer steps per epoch

    def evaluates(self, epoch):
        return self.held_out is not None and (epoch % self.eval_every == 0 or epoch == self.n_epochs)

    @property
    def keys(self):
        """The history keys a row of this plan has besides its bookkeeping."""
        return self.names + (tuple(f'held_out_{k}' for k in self.names) if self.held_out is not None else ())

    @property
    def n_steps(self):
        return self.steps

    @property
    def groups(self):
        """The task names of a multitask fit (per-task sums), else ``None``."""
        return self.source.groups


@dataclasses.dataclass
class Best:
    """The best epoch so far: its number, monitored value and parameters."""

    epoch: Optional[int]
    value: Optional[float]
    wait: int
    params: dict

    def update(self, value, epoch, params, sign, min_delta):
        """Keep ``params`` if ``value`` beats the best by ``min_delta`` (``sign`` +1 to maximise; a NaN never does)."""
        if value is None or not math.isfinite(value):
            self.wait += 1
        elif self.value is None or sign * (value - self.value) > min_delta:
            self.epoch, self.value, self.wait, self.params = epoch, value, 0, params
        else:
            self.wait += 1

    def progress(self):
        return {'best_epoch': self.epoch, 'best_value': self.value, 'wait': self.wait}


class Stages:
    """What a fit trains on: one dataset, or a ``datasets.Curriculum``'s stages in turn.

    Parameters
    ----------
    train : TaskDataset, tuple, datasets.Stream, datasets.Multitask or datasets.Curriculum
    held_out : TaskDataset, tuple or None
        Must be ``None`` with a curriculum (each stage holds its own out).
        ``None`` with a stream or a mixture: its fixed ``held_out_set()``.

    Attributes
    ----------
    stage : int or None
        The current stage (``None`` without a curriculum).
    rows : dict
        ``{member: the current stage's history rows}`` (member 0 for one model).
    offset : int
        Epochs trained before the current stage.
    """

    def __init__(self, train, held_out):
        self.curriculum = train if isinstance(train, datasets.Curriculum) else None
        self.stage, self.rows, self.offset = (None if self.curriculum is None else 0), {}, 0
        if self.curriculum is None:
            drawn = isinstance(train, (datasets.Stream, datasets.Multitask))
            self._source = source_of(train) if drawn else StoredSource(as_dataset(train, 'train'))
            held_out = default_held_out(train) if held_out is None else held_out
            self._data = (self._source.like, None if held_out is None else as_dataset(held_out, 'held_out'))
        elif held_out is not None:
            raise ValueError(
                "held_out must be None when training on a Curriculum: every stage holds out its own "
                f"trials (Curriculum(held_out={self.curriculum.held_out:g})); got {type(held_out).__name__}. "
                "Set the fraction on the curriculum, and evaluate other trials with trainer.evaluate.")

    @property
    def monitor(self):
        return None if self.curriculum is None else self.curriculum.monitor

    @property
    def last(self):
        """Whether the current stage is the last (early stopping applies there only)."""
        return self.curriculum is None or self.stage == len(self.curriculum) - 1

    @property
    def starting(self):
        """Whether a later curriculum stage is at its first epoch (its best epoch is still to find)."""
        return self.curriculum is not None and self.stage > 0 and not any(self.rows.values())

    def data(self):
        """``(train, held_out)`` of the current stage (``train``: a stream's shape, as a fixed set)."""
        return self._data if self.curriculum is None else self.curriculum.stage_splits(self.stage)

    def source(self):
        """Where the current stage's batches come from (:mod:`trainer.loop.sources`)."""
        return self._source if self.curriculum is None else StoredSource(self.data()[0])

    def resume(self, histories, path):
        """Move to where a checkpoint's histories (one per member) left off."""
        history = max(histories, key=len)
        has_stages = bool(history) and 'stage' in history[0]
        if self.curriculum is None and has_stages:
            raise ValueError(f"resume_from={path!r} was written by a fit on a Curriculum; resume it "
                             "with the same curriculum as train.")
        if self.curriculum is not None:
            if history and not has_stages:
                raise ValueError(f"resume_from={path!r} was written by a fit on one dataset, not on a "
                                 "Curriculum; resume it with that dataset as train.")
            try:
                self.stage, rows = self.curriculum.position(history)
            except ValueError as error:
                raise ValueError(f"resume_from={path!r}: {error}") from None
            self.offset = len(history) - len(rows)
            self.rows = {k: [r for r in h[self.offset:] if r.get('stage') == self.stage]
                         for k, h in enumerate(histories)}

    def advance(self, rows):
        """Record an epoch's rows (``{member: row}``); ``True`` when the curriculum moves on.

        With several members the rule must hold for each member still training.
        """
        if self.curriculum is None or not rows:
            return False
        for k, row in rows.items():
            self.rows.setdefault(k, []).append(row)
        if not all(self.curriculum.should_advance(self.stage, self.rows[k]) for k in rows):
            return False
        self.stage, self.offset = self.stage + 1, self.offset + max(len(r) for r in self.rows.values())
        self.rows = {}
        return True

    def fingerprint(self):
        """A digest of the curriculum (``None`` for one dataset): a checkpoint resumes on the same one."""
        if self.curriculum is None:
            return None
        c = self.curriculum
        stages = [sorted((k, repr(v)) for k, v in stage.items()) if isinstance(stage, dict) else
                  (len(stage), stage.n_steps, stage.n_features, zlib.crc32(np.ascontiguousarray(stage.inputs)))
                  for stage in c.stages]
        parts = (c.task, c.monitor, c.threshold, c.min_epochs, c.max_epochs_per_stage, c.maximize, c.n_trials,
                 c.held_out, c.seed, c.pad, stages)
        return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def mode_sign(mode, monitor):
    """+1 to maximise ``monitor``, -1 to minimise it (``'auto'``: maximise accuracies)."""
    if mode == 'auto':
        return 1.0 if 'acc' in monitor else -1.0
    if mode not in ('min', 'max'):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}.")
    return 1.0 if mode == 'max' else -1.0


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """``fit``'s arguments that every stage's plan shares, as given."""

    n_epochs: int
    batch_size: int
    seed: int = 0
    shuffle: bool = True
    eval_every: int = 1
    monitor: Optional[str] = None
    mode: str = 'auto'
    min_delta: float = 0.0
    compile_epoch: bool = False
    steps_per_epoch: Optional[int] = None


def make_plan(stages, options, names, placement):
    """The validated :class:`FitPlan` of ``stages``' current stage (of the one dataset, without a curriculum).

    ``names(groups)`` gives the history names for the stage's trial groups (``Learner.names_for``).
    """
    train, held_out = stages.data()
    source = stages.source()
    if held_out is not None:
        checks.scores_something(held_out, 'held_out' if stages.curriculum is None else
                                f'the held-out split of curriculum stage {stages.stage}')
    if isinstance(options.seed, bool) or not isinstance(options.seed, int) or options.seed < 0:
        raise TypeError(f"seed must be a non-negative int (it seeds the shuffles), got {options.seed!r}.")
    batch_size = checks.positive_int(
        'batch_size', options.batch_size, at_most=len(train) if source.kind == 'stored' else None,
        fix=f'The training set has {len(train)} trials; use a batch_size between 1 and {len(train)}.')
    steps = source.n_steps(batch_size, options.steps_per_epoch)
    placement.check_batch(batch_size)
    if not isinstance(options.compile_epoch, (bool, np.bool_, int)) or options.compile_epoch not in (0, 1):
        raise TypeError(f"compile_epoch must be True or False, got {options.compile_epoch!r}.")
    names = names(source.groups)
    keys = list(names) + ([f'held_out_{k}' for k in names] if held_out is not None else [])
    if stages.monitor is not None and stages.monitor not in keys:
        raise ValueError(f"the curriculum advances on {stages.monitor!r}, which is not a history "
                         f"key of this fit; pass Curriculum(monitor=...) one of {keys}.")
    monitor = options.monitor or stages.monitor or ('held_out_loss' if held_out is not None else 'loss')
    if monitor not in keys:
        raise ValueError(f"monitor={monitor!r} is not a history key; choose one of {keys}.")
    return FitPlan(
        train, held_out, checks.positive_int('n_epochs', options.n_epochs), batch_size,
        options.seed + (stages.stage or 0), options.shuffle, checks.positive_int('eval_every', options.eval_every),
        monitor, mode_sign(options.mode, monitor), options.min_delta, bool(options.compile_epoch),
        tuple(names), stages.stage, stages.offset, source, steps)
