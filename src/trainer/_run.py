"""One ``Trainer.fit`` in progress: device data, per-epoch index streams, one epoch at a time."""

import time

import brainstate
import datasets
import jax
import numpy as np

from ._compiles import counting
from ._data import eval_indices, to_device
from ._fitter import NonFiniteLossError
from ._params import param_values
from ._step import optimizer_states, step_schedule, write_states


class FitRun:
    """The per-fit state of a ``Trainer.fit``: device data, index streams, one epoch."""

    def __init__(self, trainer, train, held_out, batch_size, seed, shuffle, compile_epoch):
        self.t, self.train, self.held_out = trainer, train, held_out
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
        self.compile_epoch = compile_epoch
        self.train_data = to_device(train)
        if held_out is not None:
            self.held_out_data = to_device(held_out)
            self.held_out_idx = jax.device_put(eval_indices(len(held_out), batch_size))
        with brainstate.environ.context(dt=train.dt):
            trainer._ensure_template(batch_size)
        # This fit's state template, even if a callback evaluates at another batch size.
        self.train_data['states'] = trainer._template
        if held_out is not None:
            self.held_out_data['states'] = trainer._template
        self.step = trainer._train_fn(compile_epoch)

    def snapshot(self):
        # JAX arrays are immutable, so keeping references is a copy.
        return {k: s.value for k, s in self.t.weights.items()}

    def restore(self, snapshot):
        for k, s in self.t.weights.items():
            s.value = snapshot[k]

    def undo_epoch(self, best_snapshot=None):
        """Forget a failed epoch: the optimizer as it was before it, the weights at
        ``best_snapshot`` (else as before the epoch)."""
        write_states(optimizer_states(self.t.optimizer), self.optimizer_start)
        self.restore(self.epoch_start if best_snapshot is None else best_snapshot)

    def values_at(self, snapshot):
        current = self.snapshot()
        self.restore(snapshot)
        values = jax.tree.map(lambda x: x, param_values(self.t.model))  # own containers
        self.restore(current)
        return values

    def _train_epoch(self, epoch):
        kwargs = dict(seed=self.seed, epoch=epoch, shuffle=self.shuffle, drop_remainder=True)
        with brainstate.environ.context(dt=self.train.dt), counting(self.t._compiles, 'train'):
            if self.compile_epoch:
                idx = datasets.epoch_indices(len(self.train), self.batch_size, **kwargs)
                losses, metrics = jax.device_get(self.step(self.train_data, idx))
            else:
                outs = self.step.run((self.train_data,), datasets.batch_indices(
                    len(self.train), self.batch_size, **kwargs))
                # One host transfer per epoch, not one per step.
                losses, metrics = jax.device_get(tuple(zip(*outs)))
                metrics = {k: [m[k] for m in metrics] for k in self.t.metrics}
        return np.asarray(losses), {k: np.asarray(v) for k, v in metrics.items()}

    def epoch(self, epoch, *, evaluate):
        """Train one epoch (and evaluate if asked); return its history row."""
        start = time.perf_counter()
        lr = float(np.float32(self.t.optimizer.current_lr))  # one precision, resumed or not
        self.epoch_start = self.snapshot()
        self.optimizer_start = [s.value for s in optimizer_states(self.t.optimizer)]
        try:
            losses, metrics = self._train_epoch(epoch)
        except TypeError as error:  # JAX reports shape mismatches (wrong n_features) as TypeError
            if not any(word in str(error) for word in ('shape', 'dot_general', 'incompatible')):
                raise
            raise ValueError(
                f"the model could not take a batch of inputs shaped (batch, n_steps, n_features) = "
                f"({self.batch_size}, {self.train.n_steps}, {self.train.n_features}): {error} "
                f"Build the model for {self.train.n_features} input features, or pass "
                "forward=callable(model, inputs) if it expects another layout.") from error
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size:
            raise NonFiniteLossError(
                f"the training loss became {losses[bad[0]]} at epoch {epoch}, step {bad[0]}.")
        if self.t.lr_schedule == 'epoch' and not self.compile_epoch:  # a compiled epoch steps it itself
            step_schedule(self.t.optimizer)
        row = {'epoch': epoch, 'loss': float(np.mean(losses)),
               **{k: float(np.mean(v)) for k, v in metrics.items()}}
        if self.held_out is not None:
            held = dict.fromkeys(self.t._score_names)
            if evaluate:
                with brainstate.environ.context(dt=self.held_out.dt):
                    held = self.t._eval(self.held_out_data, *self.held_out_idx)
            row.update({f'held_out_{k}': v for k, v in held.items()})
        row.update(lr=lr, time=time.perf_counter() - start)
        return row
