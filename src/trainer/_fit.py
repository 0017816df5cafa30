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

from ._compiles import counting
from ._errors import NonFiniteLossError
from ._scores import mean_of

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
    placement : trainer._placement.Placement
        Splits each batch's indices over the devices.
    """

    def __init__(self, plan, train_fn, evaluate, data, compiles, placement):
        self.plan, self.train_fn, self.evaluate, self.data = plan, train_fn, evaluate, data
        self.compiles, self.placement = compiles, placement

    def _train(self, state, epoch):
        plan = self.plan
        order = dict(seed=plan.seed, epoch=epoch, shuffle=plan.shuffle, drop_remainder=True)
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
        row = {'epoch': epoch, **{k: means[k] for k in self.plan.names}}
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
