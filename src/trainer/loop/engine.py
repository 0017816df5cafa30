"""Engines: how to train, evaluate and write one model, or K stacked members, for the one loop.

:func:`trainer.loop.run.run_fit` never knows which it drives. Both engines
speak in members: sums and finiteness flags come back ``(n_steps, K)``
(``K = 1`` for one model), held-out means as a list of K dicts, and every
bookkeeping call names members by index. They differ in data only:

- :class:`SingleEngine` (``Trainer``): one ``TrainState``; a non-finite
  step raises (``divergence = 'raise'``); the best parameters are a
  reference into the state, no copy.
- :class:`~trainer.loop.members.MemberEngine` (``Ensemble``): K states
  stacked on a leading axis, one program ``jax.vmap``-ed over them; a
  diverged member freezes while the others train (``divergence = 'freeze'``).
"""

import math

import jax
import numpy as np

from ..core.params import param_values
from ..core.placement import Placement
from .sources import epoch_order

__all__ = ['SingleEngine', 'epoch_order', 'run_steps']

# The two values of a step's `advance` flag, put on the device once.
_ADVANCE = {}


def advance_flag(flag):
    """``flag`` as a device bool, made once (a numpy bool would be copied at every step)."""
    if flag not in _ADVANCE:
        _ADVANCE[flag] = jax.device_put(np.bool_(flag))
    return _ADVANCE[flag]


def run_steps(train_fn, state, fixed, idx, compile_epoch, placement, batch_axis=0, shard_idx=True):
    """One epoch of ``train_fn`` over ``idx`` (``(n_steps, ...)``): ``(state, outs)``, outs on the host.

    With ``compile_epoch`` one compiled scan; else one call per step, the outputs
    read back in one transfer after the last. ``shard_idx=False``: ``idx`` holds
    keys or step numbers, replicated on every device rather than split.
    """
    advance = np.arange(len(idx)) == len(idx) - 1
    place = (lambda x, axis: placement.batched(x, axis=axis)) if shard_idx else \
        (lambda x, axis: placement.replicated(x))
    if compile_epoch:
        state, outs = train_fn(state, fixed, place(idx, batch_axis + 1), placement.replicated(advance))
        return state, Placement.to_host(outs)
    outs = []
    for step in range(len(idx)):
        state, out = train_fn(state, *fixed, place(idx[step], batch_axis), advance_flag(bool(advance[step])))
        outs.append(out)
    return state, jax.tree.map(lambda *xs: np.stack(xs), *Placement.to_host(outs))


class SingleEngine:
    """The engine of one model (a :class:`trainer.Trainer`'s).

    Parameters
    ----------
    learner : trainer.loop.learner.Learner
    """

    n_members = None  # not an ensemble: checkpoints say so
    divergence = 'raise'

    def __init__(self, learner):
        self.learner, self.program = learner, learner.program
        self.placement = learner.placement
        self.plan = self.train_fn = self.evaluate_fn = None
        self.best_params = None

    @property
    def models(self):
        return [self.learner.model]

    @property
    def names(self):
        return self.learner.names

    @property
    def data(self):
        """The stored training trials on the device (``None`` for a stream: its batches are drawn)."""
        return getattr(self.plan.source, 'data', None)

    # -- a plan's programs ----------------------------------------------------------
    def prepare(self, plan, state=None):
        """Template, checks, device data and programs for ``plan``; ``state`` carries over (a new stage)."""
        learner, batch = self.learner, plan.batch_size
        template = learner.template(plan.train, batch)
        learner.check_plan(plan)
        fresh = self.program.read(template)
        state = fresh if state is None else state._replace(hidden=fresh.hidden)
        self.plan, self.template = plan, template
        self.evaluate_fn = None if plan.held_out is None else \
            learner.evaluator(plan.held_out, batch, state, groups=plan.groups)
        self.train_fn = learner.train_program(plan.train, plan.compile_epoch, source=plan.source, batch_size=batch)
        plan.source.prepare(plan, self.placement)
        if self.best_params is None:
            self.best_params = state.params
        return state

    def train_epoch(self, state, epoch, active):
        """``(state, sums, finite)``: each ``(n_steps, 1)``."""
        data, idx = self.plan.source.epoch(self.plan, epoch)
        state, (sums, finite) = run_steps(self.train_fn, state, (data,), idx, self.plan.compile_epoch,
                                          self.placement, shard_idx=self.plan.source.shards_idx)
        return state, jax.tree.map(lambda x: x[:, None], sums), np.asarray(finite)[:, None]

    def evaluate(self, state, active):
        """``(state, [sums])``: the held-out sums, ``(n_batches,)`` per name."""
        state, sums = self.evaluate_fn(state)
        return state, [sums]

    def lrs(self, state):
        """The learning rate each member trains this epoch at (``None`` inside optax)."""
        lr = float(np.float32(self.learner.optimizer.current_lr))  # one precision, resumed or not
        return [lr if math.isfinite(lr) else None]

    # -- best parameters and divergence -----------------------------------------------
    def reset(self):
        """Forget the last fit's best parameters (a new fit starts)."""
        self.best_params = None

    def reset_best(self, state):
        """A new stage: its best starts at the current parameters."""
        self.best_params = state.params

    def set_best(self, best):
        """The best parameters a checkpoint held (host arrays)."""
        self.best_params = best

    def keep_best(self, state, members):
        """``members`` (here ``[0]``) improved: their parameters in ``state`` become the best."""
        if members:
            self.best_params = state.params

    def restore(self, before, after, members, has_best):
        """The state with ``members`` put back: the optimizer as before the epoch, the best parameters."""
        return before._replace(params=self.best_params if has_best[0] else before.params)

    # -- the model's side --------------------------------------------------------------
    def read(self, state):
        """The model's current values as a state (a callback may have changed them)."""
        return self.program.read(self.template)

    def write(self, state):
        self.program.write(state)

    def sync(self, state):
        """After an epoch: the model holds ``state`` (callbacks and checkpoints read it)."""
        self.program.write(state)

    def warn(self, message):
        raise AssertionError(message)  # never: one model raises instead of freezing

    def to_host(self, tree):
        return Placement.to_host(tree)

    def placed(self, state):
        return self.placement.state(state)

    def finish(self, state, restore_best, errors):
        """Write the final parameters into the model; return each member's best ``{name: value}``."""
        self.program.write(state._replace(params=self.best_params))
        best = jax.tree.map(lambda x: x, param_values(self.learner.model))  # own containers
        if not restore_best:
            self.program.write(state)
        return [best]
