"""``Trainer``: epochs of minibatches over task datasets, on the section-3b step."""

import math

import brainstate
import jax
import jax.numpy as jnp

from . import _checks, _checkpoint
from ._compiles import counting
from ._data import as_dataset, eval_indices, gather, to_device
from ._fitter import NonFiniteLossError
from ._forward import rollout
from ._params import trainable_states
from ._prediction import predict
from ._progress import ProgressBar
from ._reduce import call_with_mask
from ._run import FitRun
from ._result import TrainResult
from ._states import batch_template, load_template
from ._step import ValueLoop, make_loss, make_train_step, register, step_schedule
from .metrics import get as get_metric
from .objectives import accepts_mask

__all__ = ['Trainer']


class Trainer:
    """Train a model on a task dataset: minibatches, epochs, held-out metrics.

    Every minibatch runs the seed's section-3b step: hidden states set to the
    batch shape, ``forward(model, inputs)``, ``objective(prediction, targets,
    mask)`` plus ``model.reg_loss()`` inside ``model.param_precompute()``,
    ``brainstate.transform.grad``, ``optimizer.step`` -- compiled once per fit.

    Parameters
    ----------
    model : brainstate.nn.Module
        Holds the trainable ``ParamState`` leaves.
    optimizer : braintools.optim.OptaxOptimizer
        Registered with the model's weights here; its state persists across
        ``fit`` calls (as in Keras). An ``LRScheduler`` as its ``lr`` is advanced
        once per epoch, or once per step with ``lr_schedule='step'``.
    objective : callable
        ``objective(prediction, targets[, mask]) -> scalar``, e.g.
        :func:`trainer.objectives.cross_entropy`. Two-argument objectives work
        on unmasked data.
    forward : callable, optional
        ``forward(model, inputs) -> prediction`` for models that consume a whole
        ``(B, T, F)`` sequence or need a readout; default :func:`rollout`.
    metrics : dict or list, optional
        ``{name: metric}`` or names such as ``['accuracy']`` (see
        :func:`trainer.metrics.get`); each ``metric(prediction, targets[, mask])``.
    grad_clip_norm : float, optional
        Clip gradients to this global norm.
    lr_schedule : {'epoch', 'step'}, default 'epoch'
        When the optimizer's learning-rate scheduler advances.
    callbacks : list of callable, optional
        ``callback(info)`` once per epoch with ``info = {'epoch', 'history',
        'model'}``; returning ``True`` stops training.
    progress : bool, default True
        Show a progress bar over epochs.

    Examples
    --------
    >>> import braintools, datasets
    >>> from trainer import Trainer, objectives
    >>> from trainer.models import RateRNN
    >>> data = datasets.load_dataset('delayed_match_task', n_trials=64, seq_len=6, n_symbols=2)
    >>> train, held_out = data.split(48, seed=0)
    >>> trainer = Trainer(RateRNN(2, 16, 2), braintools.optim.Adam(lr=1e-2),
    ...                   objective=objectives.cross_entropy(), metrics=['accuracy'],
    ...                   progress=False)
    >>> result = trainer.fit(train, held_out=held_out, n_epochs=2, batch_size=16)
    >>> [row['epoch'] for row in result.history]
    [1, 2]
    """

    def __init__(self, model, optimizer, *, objective, forward=None, metrics=None,
                 grad_clip_norm=None, lr_schedule='epoch', callbacks=None, progress=True):
        if not callable(objective):
            raise TypeError(f"objective must be callable(prediction, targets[, mask]), got {objective!r}.")
        if lr_schedule not in ('epoch', 'step'):
            raise ValueError(f"lr_schedule must be 'epoch' or 'step', got {lr_schedule!r}.")
        self.model, self.optimizer = model, _checks.optax_optimizer(optimizer)
        self.objective, self.forward = objective, forward or rollout
        self.metrics = _resolve_metrics(metrics)
        self.grad_clip_norm, self.lr_schedule = grad_clip_norm, lr_schedule
        self.callbacks, self.progress = list(callbacks or []), progress
        self.weights = trainable_states(model)
        _checks.has_trainable(self.weights, 'Trainer')
        register(self.optimizer, self.weights)
        self.history = []
        self._template, self._template_size = None, None
        self._compiles = {'train': 0, 'eval': 0}
        self._train_fns, self._eval_fn = {}, None

    @property
    def _score_names(self):
        """``['loss', <metric names>]``: the keys of every score dict."""
        return ['loss', *self.metrics]

    # -- the compiled pieces ------------------------------------------------
    def _predict_and_score(self, data, idx, weight=None):
        """Set states to the batch shape, run forward, score; returns ``(loss, metrics)``."""
        x, y, mask = gather(data, idx)
        weighted = mask
        if weight is not None:
            weighted = weight if mask is None else mask * weight[:, None]
        load_template(self.model, data['states'])
        prediction = self.forward(self.model, x)

        def score(fn, who):
            # Padding weights reach mask-aware callables only; _check_masks made sure
            # the others see no padded batch and no dataset mask.
            return call_with_mask(fn, prediction, y, weighted if accepts_mask(fn) else mask, who)

        loss = score(self.objective, 'objective')
        _checks.scalar_loss(loss, 'objective')
        return loss, {name: score(m, f'metric {name!r}') for name, m in self.metrics.items()}

    def _train_fn(self, compile_epoch):
        # Keyed on everything the compiled step closes over, so changing one retraces.
        key = (compile_epoch, self.objective, self.forward, tuple(self.metrics.items()),
               self.grad_clip_norm, self.lr_schedule)
        if key not in self._train_fns:
            def compute_loss(data, idx):
                return self._predict_and_score(data, idx)

            step = make_train_step(self.model, self.optimizer, self.weights, compute_loss,
                                   clip_norm=self.grad_clip_norm,
                                   lr_per_step=self.lr_schedule == 'step')
            if compile_epoch:
                def epoch(data, idx_stack):
                    out = brainstate.transform.for_loop(lambda idx: step(data, idx), idx_stack)
                    if self.lr_schedule == 'epoch':  # inside: no eager op-by-op dispatch after
                        step_schedule(self.optimizer)
                    return out

                self._train_fns[key] = brainstate.transform.jit(epoch)
            else:
                self._train_fns[key] = ValueLoop(step)
        return self._train_fns[key]

    def _eval(self, data, idx_stack, weights):
        key = (self.objective, self.forward, tuple(self.metrics.items()))
        if self._eval_fn is None or self._eval_fn[0] != key:
            score = make_loss(self.model, self._predict_and_score)

            def all_batches(data, idx_stack, weights):
                def batch(idx, weight):
                    loss, values = score(data, idx, weight)
                    # What the batch's masked means averaged over: its valid trials, or
                    # with a per-step mask its valid steps.
                    mass = weight.sum() if data['mask'] is None else (data['mask'][idx] * weight[:, None]).sum()
                    return {'loss': loss, **values}, mass

                per_batch, mass = brainstate.transform.for_loop(batch, idx_stack, weights)
                # Weighted by what each batch really scored, not a mean of batch means.
                return {k: jnp.sum(v * mass) / jnp.sum(mass) for k, v in per_batch.items()}

            self._eval_fn = key, brainstate.transform.jit(all_batches)
        with counting(self._compiles, 'eval'):
            # data['states'], the state template, travels as an argument, not a baked-in constant.
            out = self._eval_fn[1](data, idx_stack, weights)
        out = jax.device_get(out)
        return {k: float(out[k]) for k in self._score_names}

    # -- public API ---------------------------------------------------------
    def evaluate(self, dataset, *, batch_size=None):
        """Loss and metrics on ``dataset``, in one compiled call.

        Parameters
        ----------
        dataset : datasets.TaskDataset or tuple
            The trials to score.
        batch_size : int, optional
            Default: the batch size of the last ``fit`` (no reshaping of the
            states), else ``min(len(dataset), 256)``.

        Returns
        -------
        dict
            ``{'loss': ..., <metric>: ...}``, weighted by the trials (or, under a loss
            mask, the valid steps) each batch scored.
        """
        ds = as_dataset(dataset, 'dataset')
        batch_size = batch_size or self._template_size or min(len(ds), 256)
        batch_size = _checks.positive_int('batch_size', batch_size)
        self._check_masks(ds, batch_size)
        with brainstate.environ.context(dt=ds.dt):
            self._ensure_template(batch_size)
            data = {**to_device(ds), 'states': self._template}
            return self._eval(data, *jax.device_put(eval_indices(len(ds), batch_size)))

    def _ensure_template(self, batch_size):
        if self._template_size != batch_size:
            self._template, self._template_size = batch_template(self.model, batch_size), batch_size

    def _check_masks(self, ds, batch_size, *, padded=True):
        callables = {'objective': self.objective, **{f'metric {k!r}': m for k, m in self.metrics.items()}}
        for name, fn in callables.items():
            if accepts_mask(fn):
                continue
            if ds.mask is not None:
                raise ValueError(
                    f"the dataset has a loss mask but the {name} takes no mask argument; "
                    "give it a third parameter `mask=None` (trainer.objectives all take one).")
            if padded and len(ds) % batch_size:
                raise ValueError(
                    f"{len(ds)} trials do not fill batches of {batch_size}: the padded last "
                    f"batch needs a mask, and the {name} takes none. Give it a `mask=None` "
                    "parameter, or choose a batch_size that divides the dataset.")

    def _check_features(self, ds):
        expected = getattr(self.model, 'n_input', None)
        if expected is not None and expected != ds.n_features:
            raise ValueError(
                f"inputs have {ds.n_features} features per step but the model expects "
                f"{expected} (model.n_input); build the model with n_input={ds.n_features}.")

    def fit(self, train, *, held_out=None, n_epochs, batch_size, seed=0, shuffle=True,
            eval_every=1, monitor=None, mode='auto', patience=None, min_delta=0.0,
            restore_best=True, compile_epoch=False, checkpoint=None, resume_from=None):
        """Train for ``n_epochs`` and return a :class:`TrainResult`.

        Parameters
        ----------
        train, held_out : datasets.TaskDataset or tuple
            Training trials and (optionally) held-out trials.
        n_epochs, batch_size : int
            Full batches only: the last partial training batch of an epoch is
            dropped (it changes with the shuffle, and never forces a recompile).
        seed : int, default 0
            Seeds the per-epoch shuffles (``datasets.batch_indices``).
        eval_every : int, default 1
            Evaluate ``held_out`` every this many epochs (and at the last one).
        monitor : str, optional
            History key that picks the best epoch: default ``'held_out_loss'``
            (``'loss'`` without held-out data).
        mode : {'auto', 'min', 'max'}
            ``'auto'`` maximises keys containing ``acc``, minimises the rest.
        patience : int, optional
            Stop after this many evaluations without a ``min_delta`` improvement.
        restore_best : bool, default True
            End at the best epoch's parameters (else at the last).
        compile_epoch : bool, default False
            Run each epoch as one compiled ``for_loop`` over its batches.
        checkpoint : str, optional
            Write a msgpack checkpoint to this path after every epoch.
        resume_from : str, optional
            Continue from a checkpoint written by ``checkpoint=``.
        """
        train = as_dataset(train, 'train')
        held_out = None if held_out is None else as_dataset(held_out, 'held_out')
        n_epochs = _checks.positive_int('n_epochs', n_epochs)
        batch_size = _checks.positive_int(
            'batch_size', batch_size, at_most=len(train),
            fix=f'The training set has {len(train)} trials; use a batch_size between 1 and {len(train)}.')
        eval_every = _checks.positive_int('eval_every', eval_every)
        if patience is not None:
            _checks.positive_int('patience', patience, fix='Pass None to train all n_epochs.')
        self._check_features(train)
        self._check_masks(train, batch_size, padded=False)
        if held_out is not None:
            self._check_features(held_out)
            self._check_masks(held_out, batch_size)
        monitor = monitor or ('held_out_loss' if held_out is not None else 'loss')
        keys = self._score_names + ([f'held_out_{k}' for k in self._score_names] if held_out is not None else [])
        if monitor not in keys:
            raise ValueError(f"monitor={monitor!r} is not a history key; choose one of {keys}.")
        sign = _mode_sign(mode, monitor)
        self._compiles = {'train': 0, 'eval': 0}
        run = FitRun(self, train, held_out, batch_size, seed, shuffle, compile_epoch)
        best = {'epoch': None, 'value': None, 'wait': 0, 'snapshot': run.snapshot()}
        start = 1
        if resume_from is not None:
            progress, best['snapshot'] = _checkpoint.load(resume_from, self.weights, self.optimizer)
            if (progress['seed'], progress['batch_size']) != (seed, batch_size):
                raise ValueError(
                    f"resume_from was written with seed={progress['seed']}, batch_size="
                    f"{progress['batch_size']}; pass the same values to resume exactly.")
            self.history = progress['history']
            best.update(epoch=progress['best_epoch'], value=progress['best_value'], wait=progress['wait'])
            start = progress['epoch'] + 1
        else:
            self.history = []
        bar = ProgressBar(n_epochs, enabled=self.progress)
        stopped = False
        for epoch in range(start, n_epochs + 1):
            try:
                row = run.epoch(epoch, evaluate=held_out is not None and (
                    epoch % eval_every == 0 or epoch == n_epochs))
            except NonFiniteLossError as error:
                kept = f"its best epoch ({best['epoch']})" if best['epoch'] else f"before epoch {epoch}"
                run.undo_epoch(best['snapshot'] if best['epoch'] else None)
                bar.close()
                failure = NonFiniteLossError(
                    f"{error} The model keeps its parameters from {kept}; trainer.history "
                    f"holds the {len(self.history)} completed epochs. Lower the learning "
                    "rate or set grad_clip_norm.")
                failure.history = list(self.history)
                raise failure from None
            self.history.append(row)
            value = row[monitor]
            if value is not None and math.isfinite(value):  # a NaN would never be beaten
                if best['value'] is None or sign * (value - best['value']) > min_delta:
                    best.update(epoch=epoch, value=value, wait=0, snapshot=run.snapshot())
                else:
                    best['wait'] += 1
            if checkpoint is not None:
                _checkpoint.save(checkpoint, self.weights, self.optimizer, {
                    'epoch': epoch, 'step_in_epoch': 0, 'seed': seed, 'batch_size': batch_size,
                    'history': self.history, 'best_epoch': best['epoch'],
                    'best_value': best['value'], 'wait': best['wait']}, best['snapshot'])
            bar.update(epoch, {k: v for k, v in row.items() if k not in ('epoch', 'lr', 'time')})
            info = {'epoch': epoch, 'history': list(self.history), 'model': self.model}
            if any([cb(info) is True for cb in self.callbacks]) or (
                    patience is not None and best['wait'] >= patience):
                stopped = True
                break
        bar.close()
        if restore_best and best['epoch'] is not None:
            run.restore(best['snapshot'])
        best_params = run.values_at(best['snapshot'])
        return TrainResult(list(self.history), monitor, best['epoch'], best['value'], best_params,
                           stopped, dict(self._compiles), self.model)

    # -- analysis (issue 15): a thin front door to trainer._prediction.predict --------
    def predict(self, dataset, *, batch_size=None, record=False, max_bytes=2 ** 31):
        """Outputs, choices and (``record=``) hidden trajectories of the model on ``dataset``.

        Runs :func:`trainer.analysis.predict` with this trainer's model and
        forward; see there for the arguments. Returns a
        :class:`trainer.analysis.Prediction`.

        Examples
        --------
        >>> import braintools, datasets
        >>> from trainer import Trainer, objectives
        >>> from trainer.models import RateRNN
        >>> data = datasets.load_dataset('delayed_match_task', n_trials=12, seq_len=4, n_symbols=2)
        >>> trainer = Trainer(RateRNN(2, 8, 2), braintools.optim.Adam(lr=1e-2),
        ...                   objective=objectives.cross_entropy(), progress=False)
        >>> trainer.predict(data, record=True)
        Prediction(outputs=(12, 4, 2), choices=(12,), states={'cell.h': (12, 4, 8)})
        """
        return predict(self.model, dataset, forward=self.forward, batch_size=batch_size,
                       record=record, max_bytes=max_bytes)


def _resolve_metrics(metrics):
    if metrics is None:
        return {}
    if isinstance(metrics, dict):
        return dict(metrics)
    return {m if isinstance(m, str) else getattr(m, '__name__', f'metric_{i}'): get_metric(m)
            for i, m in enumerate(metrics)}


def _mode_sign(mode, monitor):
    if mode == 'auto':
        return 1.0 if 'acc' in monitor else -1.0
    if mode not in ('min', 'max'):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}.")
    return 1.0 if mode == 'max' else -1.0
