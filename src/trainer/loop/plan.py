"""The pieces of one ``Trainer.fit``: its validated plan, best-epoch tracking, one epoch's batches.

Nothing here reads the ``Trainer``: a plan holds the validated arguments, an
:class:`Epochs` holds the compiled programs, the device data and the index
streams, and every function takes and returns the explicit ``TrainState``.
"""

import dataclasses
import math
import time
from typing import Any, Optional

import brainstate
import datasets
import jax
import numpy as np

from ..core.compiles import counting
from ..core.data import as_dataset
from ..core.errors import NonFiniteLossError
from ..objectives.scores import mean_of

# The two values of a step's `advance` flag, put on the device once.
_ADVANCE = {False: None, True: None}


def _advance(flag):
    if _ADVANCE[flag] is None:
        _ADVANCE[flag] = jax.device_put(np.bool_(flag))
    return _ADVANCE[flag]


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
    patience: Optional[int]
    min_delta: float
    compile_epoch: bool
    names: tuple  # 'loss' and the metric names, in the order rows show them
    stage: Optional[int] = None  # the curriculum stage this plan trains, if any
    offset: int = 0  # epochs before this stage: its shuffles count from 1 again

    def evaluates(self, epoch):
        return self.held_out is not None and (epoch % self.eval_every == 0 or epoch == self.n_epochs)

    @property
    def n_steps(self):
        return len(self.train) // self.batch_size


@dataclasses.dataclass
class Best:
    """The best epoch so far: its number, monitored value and parameters."""

    epoch: Optional[int]
    value: Optional[float]
    wait: int
    params: dict

    def update(self, value, epoch, params, plan):
        """Keep ``params`` if ``value`` beats the best by ``min_delta`` (a NaN never does)."""
        if value is None or not math.isfinite(value):
            self.wait += 1
        elif self.value is None or plan.sign * (value - self.value) > plan.min_delta:
            self.epoch, self.value, self.wait, self.params = epoch, value, 0, params
        else:
            self.wait += 1

    def progress(self):
        return {'best_epoch': self.epoch, 'best_value': self.value, 'wait': self.wait}


class Stages:
    """What a fit trains on: one dataset, or a ``datasets.Curriculum``'s stages in turn.

    Parameters
    ----------
    train : TaskDataset, tuple or datasets.Curriculum
    held_out : TaskDataset, tuple or None
        Must be ``None`` with a curriculum (each stage holds its own out).

    Attributes
    ----------
    stage : int or None
        The current stage (``None`` without a curriculum).
    rows : list of dict
        The current stage's history rows.
    offset : int
        Epochs trained before the current stage.
    """

    def __init__(self, train, held_out):
        self.curriculum = train if isinstance(train, datasets.Curriculum) else None
        self.stage, self.rows, self.offset = (None if self.curriculum is None else 0), [], 0
        if self.curriculum is None:
            self._data = (as_dataset(train, 'train'),
                          None if held_out is None else as_dataset(held_out, 'held_out'))
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
        return self.curriculum is not None and self.stage > 0 and not self.rows

    def data(self):
        """``(train, held_out)`` of the current stage."""
        return self._data if self.curriculum is None else self.curriculum.stage_splits(self.stage)

    def resume(self, history, path):
        """Move to where a checkpoint's ``history`` left off."""
        has_stages = bool(history) and 'stage' in history[0]
        if self.curriculum is None and has_stages:
            raise ValueError(f"resume_from={path!r} was written by a fit on a Curriculum; resume it "
                             "with the same curriculum as train.")
        if self.curriculum is not None:
            if history and not has_stages:
                raise ValueError(f"resume_from={path!r} was written by a fit on one dataset, not on a "
                                 "Curriculum; resume it with that dataset as train.")
            self.stage, rows = self.curriculum.position(history)
            self.rows, self.offset = list(rows), len(history) - len(rows)

    def advance(self, row):
        """Record an epoch's ``row``; ``True`` when the curriculum moves on to its next stage."""
        if self.curriculum is None:
            return False
        self.rows.append(row)
        if not self.curriculum.should_advance(self.stage, self.rows):
            return False
        self.stage, self.offset, self.rows = self.stage + 1, self.offset + len(self.rows), []
        return True


class Epochs:
    """Run a fit's epochs: its compiled train step (or epoch) and held-out pass, on device data.

    Parameters
    ----------
    plan : FitPlan
    train_fn : callable
        Compiled ``(state, data, idx, advance) -> (state, (sums, finite))``, or
        with ``plan.compile_epoch`` the same scanned over stacked ``idx, advance``.
    evaluate : callable or None
        ``evaluate(state) -> (state, {name: mean})`` on the held-out data.
    data : dict
        The training set on the device.
    compiles : dict
        Where train compilations are counted.
    placement : trainer.core.placement.Placement
        Splits each batch's indices over the devices.
    """

    def __init__(self, plan, train_fn, evaluate, data, compiles, placement):
        self.plan, self.train_fn, self.evaluate, self.data = plan, train_fn, evaluate, data
        self.compiles, self.placement = compiles, placement

    def _train(self, state, epoch):
        plan = self.plan
        order = dict(seed=plan.seed, epoch=epoch - plan.offset, shuffle=plan.shuffle, drop_remainder=True)
        # Under the dataset's dt: the program was keyed on it, and its first call traces.
        with brainstate.environ.context(dt=plan.train.dt), counting(self.compiles, 'train'):
            if plan.compile_epoch:
                idx = datasets.epoch_indices(len(plan.train), plan.batch_size, **order)
                advance = np.arange(len(idx)) == len(idx) - 1
                idx, advance = self.placement.batched(idx, axis=1), self.placement.replicated(advance)
                state, outs = self.train_fn(state, self.data, idx, advance)
            else:
                outs = []
                stream = datasets.batch_indices(len(plan.train), plan.batch_size, **order)
                for step, idx in enumerate(stream):
                    state, out = self.train_fn(state, self.data, self.placement.batched(idx),
                                               _advance(step == plan.n_steps - 1))
                    outs.append(out)
                outs = jax.tree.map(lambda *xs: np.stack(xs), *self.placement.to_host(outs))  # one transfer
        sums, finite = self.placement.to_host(outs)
        return state, sums, np.asarray(finite)

    def run(self, state, epoch, lr):
        """Train one epoch (and evaluate if due); return ``(state, history row)``.

        Raises ``NonFiniteLossError`` naming the epoch and step when a loss or
        an updated parameter is not finite; ``state`` is then unusable.
        """
        start = time.perf_counter()
        state, sums, finite = self._train(state, epoch)
        if not finite.all():
            step = int(np.argmin(finite))
            total, count = sums['loss'][0][step], sums['loss'][1][step]
            loss = total / count if count else total
            what = f"the training loss became {loss}" if not np.isfinite(loss) else \
                f"an update made the parameters NaN or infinite (loss {loss:.6g})"
            raise NonFiniteLossError(f"{what} at epoch {epoch}, step {step}.")
        means = mean_of(sums, axis=0)
        row = {'epoch': epoch, **({} if self.plan.stage is None else {'stage': self.plan.stage}),
               **{k: means[k] for k in self.plan.names}}
        if self.plan.held_out is not None:
            held = dict.fromkeys(self.plan.names)
            if self.plan.evaluates(epoch):
                state, held = self.evaluate(state)
            row.update({f'held_out_{k}': held[k] for k in self.plan.names})
        row.update(lr=lr, time=time.perf_counter() - start)
        return state, row


def mode_sign(mode, monitor):
    """+1 to maximise ``monitor``, -1 to minimise it (``'auto'``: maximise accuracies)."""
    if mode == 'auto':
        return 1.0 if 'acc' in monitor else -1.0
    if mode not in ('min', 'max'):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}.")
    return 1.0 if mode == 'max' else -1.0
