"""``Trainer``: epochs of minibatches over task datasets, on the section-3b step."""

import math

import brainstate
import jax
import numpy as np

from .core import checks as _checks
from .core import checkpoint as _checkpoint
from .core.compile_cache import enable_compile_cache
from .core.data import as_dataset, eval_indices, to_device
from .core.errors import NonFiniteLossError
from .loop.plan import Best, Epochs, FitPlan, Stages, mode_sign
from .core.forward import rollout
from .core.params import param_values
from .core.placement import Placement
from .analysis.prediction import predict
from .core.program import Program, environ_key
from .loop.progress import ProgressBar
from .objectives.reduce import refuse_score
from .loop.result import TrainResult
from .objectives.scores import as_sums, make_score, mean_of, resolve_metrics
from .core.state import batch_template, load_template
from .core.step import make_loss, make_train_step, register
from .objectives.losses import accepts_mask
from .objectives.penalties import bind as bind_regularizers

__all__ = ['Trainer']


class Trainer:
    """Train a model on a task dataset: minibatches, epochs, held-out metrics.

    Every minibatch runs the seed's section-3b step: hidden states set to the
    batch shape, ``forward(model, inputs)``, ``objective(prediction, targets,
    mask)`` plus ``model.reg_loss()`` inside ``model.param_precompute()``,
    ``brainstate.transform.grad``, ``optimizer.step`` -- one pure function of
    an explicit state, compiled once per fit.

    Parameters
    ----------
    model : brainstate.nn.Module
        Holds the trainable ``ParamState`` leaves.
    optimizer : braintools.optim.OptaxOptimizer
        Registered with the model's weights here (one optimizer per Trainer);
        its state persists across ``fit`` calls (as in Keras). An
        ``LRScheduler`` as its ``lr`` is advanced once per epoch, or once per
        step with ``lr_schedule='step'``.
    objective : callable
        ``objective(prediction, targets[, mask]) -> scalar``, e.g.
        :func:`trainer.objectives.cross_entropy`. Two-argument objectives work
        on unmasked data.
    forward : callable, optional
        ``forward(model, inputs) -> prediction`` for models that consume a whole
        ``(B, T, F)`` sequence or need a readout; default :func:`rollout`.
    metrics : dict or list, optional
        ``{name: metric or metric name}`` or a list such as ``['accuracy']``
        (see :func:`trainer.metrics.get`); each ``metric(prediction,
        targets[, mask]) -> scalar``. Names are unique; ``loss`` is reserved.
    grad_clip_norm : float, optional
        Clip gradients to this global norm (a positive number).
    lr_schedule : {'epoch', 'step'}, default 'epoch'
        When the optimizer's learning-rate scheduler advances.
    callbacks : list of callable, optional
        ``callback(info)`` once per epoch with ``info = {'epoch', 'history',
        'model'}``; returning ``True`` stops training.
    progress : bool, default True
        Show a progress bar over epochs (process 0 only).
    devices : None, 'all', int, list of jax.Device or jax.sharding.Mesh, optional
        Split each batch over these devices (data parallel): ``None`` is the
        default device; ``'all'`` is ``jax.devices()`` (every device of every
        process, see :func:`trainer.distributed.initialize`); ``n`` the first
        ``n``; a ``Mesh`` must have a ``'batch'`` axis. ``batch_size`` is the
        global batch and must divide by the device count.
    regularizers : list, optional
        Terms from :mod:`trainer.regularizers` (``rate_l2(1e-3, state='r')``,
        ``weight_l2(1e-4, 'w_rec')``...): each is added to the objective in
        training and held-out steps and reported under its name
        (``'reg_rate_l2'``, ``'held_out_reg_rate_l2'``) in every history row.

    Notes
    -----
    Training steps trace under ``brainstate.environ`` ``fit=True`` (noise and
    dropout on), held-out passes under ``fit=False``.

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
                 grad_clip_norm=None, lr_schedule='epoch', callbacks=None, progress=True, devices=None,
                 regularizers=None):
        self.objective = refuse_score(_checks.objective_callable(objective, 'objective'), 'Trainer')
        if forward is not None and not callable(forward):
            raise TypeError(f"forward must be callable(model, inputs) -> prediction, got {forward!r}.")
        if lr_schedule not in ('epoch', 'step'):
            raise ValueError(f"lr_schedule must be 'epoch' or 'step', got {lr_schedule!r}.")
        if grad_clip_norm is not None:
            grad_clip_norm = _checks.positive_float(
                'grad_clip_norm', grad_clip_norm, fix='Pass e.g. 1.0, or None for no clipping.')
        if callbacks is not None and (callable(callbacks) or not isinstance(callbacks, (list, tuple))):
            raise TypeError(f"callbacks must be a list of callables, got {callbacks!r:.60}; "
                            "wrap a single one in a list: callbacks=[fn].")
        if any(not callable(cb) for cb in callbacks or []):
            raise TypeError("callbacks must all be callable(info); got "
                            f"{[cb for cb in callbacks if not callable(cb)][0]!r:.60}.")
        self.model, self.optimizer = model, _checks.optax_optimizer(optimizer)
        self.forward, self.metrics = forward or rollout, resolve_metrics(metrics)
        self.grad_clip_norm, self.lr_schedule = grad_clip_norm, lr_schedule
        self.callbacks, self.progress = list(callbacks or []), progress
        self.penalty = bind_regularizers(model, regularizers, self.forward)
        if set(self.penalty.names) & set(self.metrics):
            raise ValueError(f"regularizers and metrics share the name "
                             f"{sorted(set(self.penalty.names) & set(self.metrics))[0]!r}; rename one.")
        self.weights = model.states(brainstate.ParamState)
        _checks.has_trainable(self.weights, 'Trainer')
        _checks.unshared(self.optimizer, self.weights)
        register(self.optimizer, self.weights)
        self.placement = Placement(devices)
        self.program = Program(model, self.optimizer, self.placement)
        self.history, self._last_batch_size = [], None
        self._shapes, self._templates = {}, {}

    # -- the compiled programs -------------------------------------------------
    def _key(self):
        # Everything the traces close over besides their arguments and brainstate.environ.
        return (self.objective, self.forward, tuple(self.metrics.items()), self.grad_clip_norm,
                self.lr_schedule, self.placement.key, self.penalty.key)

    def _score(self, fit):
        return make_score(self.model, self.forward, self.objective, self.metrics, penalty=self.penalty,
                          fit=fit)

    @property
    def _names(self):
        # The history's measures: the loss, the metrics, the regularisation terms.
        return ['loss', *self.metrics, *self.penalty.names]

    def _train_build(self):
        """The uncompiled train step ``batch(data, idx, advance) -> (sums, finite)`` (an Ensemble vmaps it)."""
        score = self._score(fit=True)
        step = make_train_step(self.model, self.optimizer, self.weights,
                               lambda data, idx: score(data, idx, None),
                               clip_norm=self.grad_clip_norm, schedule=self.lr_schedule)

        def batch(data, idx, advance):
            loss, (values, count), finite = step(data, idx, advance)
            return as_sums(loss, values, count), finite

        return batch

    def _eval_build(self):
        """The uncompiled held-out step ``batch(data, idx, weight) -> sums``."""
        loss_of = make_loss(self.model, self._score(fit=False))

        def batch(data, idx, weight):
            loss, (values, count) = loss_of(data, idx, weight)
            return as_sums(loss, values, count)

        return batch

    def _train_fn(self, compile_epoch):
        return self.program.jit('train', (compile_epoch, *self._key()), self._train_build, scan=compile_epoch)

    def _evaluator(self, ds, batch_size, state):
        """``evaluate(state) -> (state, means)`` over ``ds``, compiled ahead of time now."""
        data = to_device(ds, self.placement)
        idx, weights = self.placement.batched(jax.device_put(eval_indices(len(ds), batch_size)), axis=1)
        with brainstate.environ.context(dt=ds.dt):
            future = self.program.ahead('eval', self._key(), self._eval_build, state, (data,), (idx, weights))

        def evaluate(state):
            state, sums = future.result()(state, (data,), (idx, weights))
            return state, mean_of(sums, axis=0)

        return evaluate

    # -- checks before anything compiles ----------------------------------------
    def _check_data(self, ds, batch_size, *, padded):
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
        expected = getattr(self.model, 'n_input', None)
        if expected is not None and expected != ds.n_features:
            raise ValueError(
                f"inputs have {ds.n_features} features per step but the model expects "
                f"{expected} (model.n_input); build the model with n_input={ds.n_features}.")
        _checks.output_width(self._output_shape(ds, batch_size), ds)

    def _output_shape(self, ds, batch_size):
        """The forward's output shape on one abstract batch (the model holds the template).

        Cached per forward, input shape and ``dt``: an evaluation loop traces it once.
        """
        inputs = jax.ShapeDtypeStruct((batch_size, ds.n_steps, ds.n_features), ds.inputs.dtype)
        with brainstate.environ.context(dt=ds.dt):
            key = (self.forward, inputs.shape, inputs.dtype, environ_key())
        if key not in self._shapes:
            self._shapes[key] = self._trace_output_shape(ds, inputs)
        return self._shapes[key]

    def _trace_output_shape(self, ds, inputs):
        try:
            with brainstate.environ.context(dt=ds.dt):
                out = brainstate.transform.eval_shape(lambda x: self.forward(self.model, x), inputs)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"the model could not take a batch of inputs shaped (batch, n_steps, n_features) = "
                f"{inputs.shape}: {type(error).__name__}: {error} Build the model for "
                f"{ds.n_features} input features, or pass forward=callable(model, inputs) if it "
                "expects another layout.") from error
        if not hasattr(out, 'shape'):
            raise TypeError(f"forward must return one array (batch, n_steps, n_outputs) or "
                            f"(batch, n_outputs), got {type(out).__name__}: {out!r:.80}; return "
                            "only the prediction (record other values with trainer.predict).")
        return out.shape

    def _template(self, ds, batch_size):
        """The hidden-state template for ``batch_size`` under ``ds.dt``, loaded into the model.

        Built once per (batch size, dt) with ``init_all_states`` (eager work), then reused.
        """
        with brainstate.environ.context(dt=ds.dt):
            key = (batch_size, environ_key())
            if key not in self._templates:
                self._templates[key] = batch_template(self.model, batch_size)
            load_template(self.model, self._templates[key])  # a first trace sees these shapes
        return self._templates[key]

    # -- public API --------------------------------------------------------------
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
            mask, the valid steps) each batch scored -- as the training epochs are.
        """
        ds = as_dataset(dataset, 'dataset')
        if batch_size is None:
            batch_size = min(self._last_batch_size or 256, len(ds))
        batch_size = _checks.positive_int('batch_size', batch_size, fix='Pass None for the default.')
        self.placement.check_batch(batch_size)
        template = self._template(ds, batch_size)
        self._check_data(ds, batch_size, padded=True)
        state = self.program.read(template)
        state, means = self._evaluator(ds, batch_size, state)(state)
        brainstate.random.DEFAULT.value = state.rng  # noise drawn while evaluating moves the stream on
        return {k: means[k] for k in self._names}

    def fit(self, train, *, held_out=None, n_epochs, batch_size, seed=0, shuffle=True,
            eval_every=1, monitor=None, mode='auto', patience=None, min_delta=0.0,
            restore_best=True, compile_epoch=False, checkpoint=None, resume_from=None,
            compile_cache=False):
        """Train for ``n_epochs`` and return a :class:`TrainResult`.

        Parameters
        ----------
        train, held_out : datasets.TaskDataset or tuple
            Training trials and (optionally) held-out trials. ``train`` may
            be a :class:`datasets.Curriculum` (``held_out`` then ``None``):
            each stage trains on its own trials and held-out split until the
            curriculum's rule moves it on; every history row records its
            ``'stage'``; best epoch, ``patience`` and ``restore_best`` apply
            within the stage the fit ends in (a new stage's scores are not
            comparable with an easier one's); stage ``s`` shuffles with
            ``seed + s``, its epochs counted from 1; a checkpoint resumes in
            the stage, and at the epoch, it was written.
        n_epochs, batch_size : int
            ``n_epochs`` counts all epochs, resumed ones included. Full batches
            only: the last partial training batch of an epoch is dropped (it
            changes with the shuffle, and never forces a recompile).
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
            Stop after this many evaluations without a ``min_delta`` improvement
            (in a curriculum's last stage only).
        restore_best : bool, default True
            End at the best epoch's parameters (else at the last).
        compile_epoch : bool, default False
            Run each epoch as one compiled scan over its batches.
        checkpoint : str, optional
            Write a msgpack checkpoint to this path after every epoch.
        resume_from : str, optional
            Continue from a checkpoint written by ``checkpoint=``.
        compile_cache : bool or str, default False
            Use JAX's persistent compilation cache (``True``: in
            ``~/.cache/brain-trainer/jax``; a string: in that folder), so a
            rerun loads its programs from disk.
        """
        stages = Stages(train, held_out)
        options = dict(n_epochs=n_epochs, batch_size=batch_size, seed=seed, shuffle=shuffle,
                       eval_every=eval_every, monitor=monitor, mode=mode, patience=patience,
                       min_delta=min_delta, compile_epoch=compile_epoch)
        saved = None if resume_from is None else _checkpoint.read(resume_from)
        if saved is not None:  # a curriculum resumes in the stage it stopped in
            stages.resume(_checkpoint.progress(saved)['history'], resume_from)
        plan = self._plan(stages, **options)
        if compile_cache:
            enable_compile_cache(None if compile_cache is True else compile_cache)
        main = jax.process_index() == 0  # only process 0 writes files and shows progress
        if checkpoint is not None and main:
            _checkpoint.check_writable(checkpoint)
        self.program.compiles = {'train': 0, 'eval': 0}
        epochs, template = self._prepare(plan)
        state, best, start = self._start(plan, template, resume_from, saved, stages)
        bar = ProgressBar(plan.n_epochs, enabled=self.progress and main)
        stopped = False
        try:
            for epoch in range(start, plan.n_epochs + 1):
                state = self._epoch(epochs, state, epoch, best)
                best.update(self.history[-1][plan.monitor], epoch, state.params, plan)
                if checkpoint is not None and main:
                    _checkpoint.save(checkpoint, Placement.to_host(state), Placement.to_host(best.params), {
                        'epoch': epoch, 'seed': seed, 'batch_size': plan.batch_size,
                        'history': self.history, **best.progress()})
                bar.update(epoch, {k: v for k, v in self.history[-1].items() if k not in ('epoch', 'lr', 'time')})
                state, stopped = self._after_epoch(plan, state, template, best, epoch)
                if stopped:
                    break
                if stages.advance(self.history[-1]):
                    best = Best(None, None, 0, state.params)  # a new stage's scores start afresh
                    if epoch < plan.n_epochs:
                        plan, epochs, template, state = self._next_stage(stages, options, state)
        finally:
            bar.close()
        return self._finish(plan, state, best, stopped, restore_best)

    # -- the steps of fit ----------------------------------------------------------
    def _plan(self, stages, n_epochs, batch_size, seed, shuffle, eval_every, monitor,
              mode, patience, min_delta, compile_epoch):
        """The validated arguments of the current stage (of the one dataset, without a curriculum)."""
        train, held_out = stages.data()
        batch_size = _checks.positive_int(
            'batch_size', batch_size, at_most=len(train),
            fix=f'The training set has {len(train)} trials; use a batch_size between 1 and {len(train)}.')
        self.placement.check_batch(batch_size)
        if patience is not None:
            _checks.positive_int('patience', patience, fix='Pass None to train all n_epochs.')
        names = self._names
        keys = names + ([f'held_out_{k}' for k in names] if held_out is not None else [])
        if stages.monitor is not None and stages.monitor not in keys:
            raise ValueError(f"the curriculum advances on {stages.monitor!r}, which is not a history "
                             f"key of this fit; pass Curriculum(monitor=...) one of {keys}.")
        monitor = monitor or stages.monitor or ('held_out_loss' if held_out is not None else 'loss')
        if monitor not in keys:
            raise ValueError(f"monitor={monitor!r} is not a history key; choose one of {keys}.")
        return FitPlan(
            train, held_out, _checks.positive_int('n_epochs', n_epochs), batch_size,
            seed + (stages.stage or 0), shuffle, _checks.positive_int('eval_every', eval_every), monitor,
            mode_sign(mode, monitor), patience if stages.last else None, min_delta, bool(compile_epoch),
            tuple(names), stages.stage, stages.offset)

    def _prepare(self, plan):
        """Template, shape checks, compiled programs (held-out compiling in the background)."""
        template = self._template(plan.train, plan.batch_size)
        self._check_data(plan.train, plan.batch_size, padded=False)
        if plan.held_out is not None:
            self._check_data(plan.held_out, plan.batch_size, padded=True)
        self._last_batch_size = plan.batch_size
        state = self.program.read(template)
        evaluate = None if plan.held_out is None else self._evaluator(plan.held_out, plan.batch_size, state)
        with brainstate.environ.context(dt=plan.train.dt):
            train_fn = self._train_fn(plan.compile_epoch)
        return Epochs(plan, train_fn, evaluate, to_device(plan.train, self.placement), self.program.compiles,
                      self.placement), template

    def _next_stage(self, stages, options, state):
        """Plan, programs and hidden template of the stage ``stages`` moved to; ``state`` carried over."""
        plan = self._plan(stages, **options)
        epochs, template = self._prepare(plan)
        return plan, epochs, template, state._replace(hidden=self.program.read(template).hidden)

    def _start(self, plan, template, resume_from, saved, stages):
        state = self.program.read(template)
        best = Best(None, None, 0, state.params)
        if resume_from is None:
            self.history = []
            return state, best, 1
        state, best.params, progress = _checkpoint.load(resume_from, state, saved)
        state = self.placement.state(state)
        if (progress['seed'], progress['batch_size']) != (plan.seed - (plan.stage or 0), plan.batch_size):
            raise ValueError(
                f"resume_from={resume_from!r} was written with seed={progress['seed']}, batch_size="
                f"{progress['batch_size']}; pass the same values to resume exactly.")
        if progress['epoch'] > plan.n_epochs:
            raise ValueError(
                f"resume_from={resume_from!r} already holds {progress['epoch']} epochs, past "
                f"n_epochs={plan.n_epochs} (n_epochs counts all epochs, resumed ones included); "
                f"pass n_epochs={progress['epoch']} or more.")
        self.history = progress['history']
        if stages.starting:  # the checkpoint's best belongs to the stage before
            best = Best(None, None, 0, state.params)
        else:
            best.epoch, best.value, best.wait = progress['best_epoch'], progress['best_value'], progress['wait']
        self.program.write(state)
        return state, best, progress['epoch'] + 1

    def _epoch(self, epochs, state, epoch, best):
        """One epoch from ``state``; on a non-finite step, put the model back and raise."""
        lr = float(np.float32(self.optimizer.current_lr))  # one precision, resumed or not
        lr = lr if math.isfinite(lr) else None  # an optax transform keeps its rate to itself
        try:
            new, row = epochs.run(state, epoch, lr)
        except NonFiniteLossError as error:
            kept = f"its best epoch ({best.epoch})" if best.epoch else f"before epoch {epoch}"
            # The optimizer as before the epoch, the weights at the best epoch (else as before it).
            self.program.write(state._replace(params=best.params if best.epoch else state.params))
            failure = NonFiniteLossError(
                f"{error} The model keeps its parameters from {kept}; trainer.history holds the "
                f"{len(self.history)} completed epochs. Lower the learning rate or set grad_clip_norm.")
            failure.history = list(self.history)
            raise failure from None
        self.history.append(row)
        self.program.write(new)  # callbacks and checkpoints see the model after this epoch
        return new

    def _after_epoch(self, plan, state, template, best, epoch):
        """Callbacks and early stopping: ``(state, stop)``; a callback may change the model."""
        if not self.callbacks:
            return state, plan.patience is not None and best.wait >= plan.patience
        info = {'epoch': epoch, 'history': list(self.history), 'model': self.model}
        asked = any([cb(info) is True for cb in self.callbacks])
        state = self.program.read(template)
        return state, asked or (plan.patience is not None and best.wait >= plan.patience)

    def _finish(self, plan, state, best, stopped, restore_best):
        self.program.write(state._replace(params=best.params))
        best_params = jax.tree.map(lambda x: x, param_values(self.model))  # own containers
        if not restore_best:
            self.program.write(state)
        return TrainResult(list(self.history), plan.monitor, best.epoch, best.value, best_params,
                           stopped, dict(self.program.compiles), self.model)

    def predict(self, dataset, *, batch_size=None, record=False, max_bytes=2 ** 31, noise=False, seed=None):
        """Outputs, choices and (``record=``) hidden trajectories of the model on ``dataset``.

        Runs :func:`trainer.analysis.predict` with this trainer's model,
        forward and compiled-program owner; see there for the arguments.
        Returns a :class:`trainer.analysis.Prediction`.

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
                       record=record, max_bytes=max_bytes, program=self.program, noise=noise, seed=seed)
