"""``Trainer``: epochs of minibatches over task datasets, on the section-3b step.

The front door of one model: it holds a :class:`~trainer.loop.learner.Learner`
(the model's compiled steps and checks) and runs the one fit loop,
:func:`trainer.loop.run.run_fit`, over a :class:`~trainer.loop.engine.SingleEngine`.
"""

import brainstate

from .core import checks as _checks
from .core.chunks import check_gradient, remat_rollout
from .core.compile_cache import enable_compile_cache
from .core.data import as_dataset
from .core.errors import NonFiniteLossError
from .core.placement import Placement
from .loop.callbacks import EarlyStopping, ModelCheckpoint, ProgressBar, as_callbacks
from .loop.chunked import ChunkedEngine
from .loop.engine import SingleEngine
from .loop.learner import Learner
from .loop.online import OnlineEngine, check_online
from .loop.plan import FitOptions, Stages
from .loop.result import TrainResult
from .loop.run import run_fit

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
    callbacks : list, optional
        :class:`trainer.callbacks.Callback` objects (Keras's convention:
        ``on_fit_start``, ``on_epoch_end(epoch, logs) -> stop``, ``on_fit_end``,
        state saved in checkpoints), or plain functions ``callback(info)``
        called once per epoch with ``info = {'epoch', 'history', 'model'}``;
        returning ``True`` stops training.
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
    dropout on), held-out passes and predictions under ``fit=False``.

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
                 regularizers=None, gradient='bptt', chunk=None, online=None):
        as_callbacks(callbacks)  # checked now; wrapped at each fit (a user may append to the list)
        self.callbacks, self.progress = list(callbacks or []), progress
        self.gradient, self.chunk = gradient, check_gradient(gradient, chunk, forward)
        if gradient == 'online':
            online = check_online(model, online)
        elif online is not None:
            raise ValueError(f"online={online!r} configures gradient='online'; this Trainer has gradient={gradient!r}.")
        self.online = online
        if gradient == 'remat':
            forward = remat_rollout(chunk)
        self.learner = Learner(model, optimizer, objective=objective, forward=forward, metrics=metrics,
                               grad_clip_norm=grad_clip_norm, lr_schedule=lr_schedule,
                               placement=Placement(devices), who='Trainer', regularizers=regularizers)
        self.history = []

    # The learner's parts, under the names users (and the Ensemble) know.
    model = property(lambda self: self.learner.model)
    optimizer = property(lambda self: self.learner.optimizer)
    weights = property(lambda self: self.learner.weights)
    forward = property(lambda self: self.learner.forward)
    metrics = property(lambda self: self.learner.metrics)
    program = property(lambda self: self.learner.program)
    placement = property(lambda self: self.learner.placement)

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
        ds = _checks.scores_something(as_dataset(dataset, 'dataset'), 'dataset')
        learner = self.learner
        if batch_size is None:
            batch_size = min(learner.last_batch_size or 256, len(ds))
        batch_size = _checks.positive_int('batch_size', batch_size, fix='Pass None for the default.')
        self.placement.check_batch(batch_size)
        template = learner.template(ds, batch_size)
        learner.check_data(ds, batch_size, padded=True, name='dataset')
        state, means = learner.evaluate(self.program.read(template), ds, batch_size)
        brainstate.random.DEFAULT.value = state.rng  # noise drawn while evaluating moves the stream on
        return {k: means[k] for k in learner.names}

    def fit(self, train, *, held_out=None, n_epochs, batch_size, seed=0, shuffle=True,
            eval_every=1, monitor=None, mode='auto', patience=None, min_delta=0.0,
            restore_best=True, compile_epoch=False, checkpoint=None, resume_from=None,
            compile_cache=True, callbacks=None, steps_per_epoch=None):
        """Train for ``n_epochs`` and return a :class:`TrainResult`.

        Parameters
        ----------
        train, held_out : datasets.TaskDataset or tuple
            Training trials and (optionally) held-out trials. ``train`` may
            be a :class:`datasets.Stream` (``datasets.stream(name)``) or a
            :class:`datasets.Multitask`: a stream draws fresh trials every
            epoch, batch ``s`` of epoch ``e`` being ``stream.batch(e, s,
            batch_size)`` (a device stream inside the compiled step, a host
            stream's put on the device once per epoch), and needs
            ``steps_per_epoch``; its trials are its own seed's
            (``datasets.stream(name, seed=...)``), which ``seed`` here does
            not change. A stored mixture trains on its ``train_set()``,
            shuffled as any dataset. ``held_out`` then defaults to the stream's or
            mixture's fixed ``held_out_set()``, and a mixture adds each
            task's loss and metrics (``'acc/<task>'``, ``'held_out_acc/<task>'``)
            and the worst task's (``'held_out_acc/worst'``, a ``monitor``
            or :class:`~trainer.callbacks.StopAtThreshold` key). ``train`` may
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
        compile_cache : bool or str, default True
            Use JAX's persistent compilation cache, so a rerun of a script
            loads its programs from disk instead of compiling them (``True``:
            the folder already configured, else ``~/.cache/brain-trainer/jax``;
            a string: that folder; ``False``: leave JAX's setting alone).
        steps_per_epoch : int, optional
            Batches per epoch of a stream (required there, refused for stored trials).
        callbacks : list, optional
            More callbacks for this fit only, after the constructor's. The
            shortcuts add built-ins around them: ``patience`` an
            :class:`~trainer.callbacks.EarlyStopping`, ``checkpoint`` a
            :class:`~trainer.callbacks.ModelCheckpoint` (both first),
            ``progress=True`` a :class:`~trainer.callbacks.ProgressBar` (last).
        """
        options = FitOptions(n_epochs, batch_size, seed, shuffle, eval_every, monitor, mode, min_delta,
                             compile_epoch, steps_per_epoch)
        if compile_cache:
            enable_compile_cache(None if compile_cache is True else compile_cache)
        try:
            fit = run_fit(self._engine(), Stages(train, held_out), options,
                          self._callbacks(patience, min_delta, mode, checkpoint, callbacks),
                          resume_from=resume_from, restore_best=restore_best)
        except NonFiniteLossError as error:
            self.history = error.history  # the completed epochs; the model keeps its best
            raise
        self.history = fit.records[0].history
        record = fit.records[0]
        return TrainResult(list(record.history), fit.plan.monitor, record.best.epoch, record.best.value,
                           fit.best_params[0], record.stopped, fit.compiles, self.model)

    def _engine(self):
        """The engine of this Trainer's ``gradient``: whole trials, chunks, or braintrace's online steps."""
        if self.gradient == 'tbptt':
            return ChunkedEngine(self.learner, self.chunk)
        if self.gradient == 'online':
            return OnlineEngine(self.learner, self.chunk, self.online)
        return SingleEngine(self.learner)

    def _callbacks(self, patience, min_delta, mode, checkpoint, callbacks):
        """The built-ins ``fit``'s shortcuts ask for around the user's callbacks, in the order they run."""
        early = [] if patience is None else [EarlyStopping(patience, mode=mode, min_delta=min_delta)]
        saving = [] if checkpoint is None else [ModelCheckpoint(checkpoint)]
        shown = [ProgressBar()] if self.progress else []
        return early + saving + as_callbacks(self.callbacks) + as_callbacks(callbacks) + shown

    @property
    def objective(self):
        """The objective; set a new one between fits (checked as the constructor checks it)."""
        return self.learner.objective

    @objective.setter
    def objective(self, objective):
        self.learner.set_objective(objective)  # checked as the constructor checks it; the next fit retraces

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
        from .analysis.prediction import predict  # trainer.analysis loads on first use
        return predict(self.model, dataset, forward=self.forward, batch_size=batch_size,
                       record=record, max_bytes=max_bytes, program=self.program, noise=noise, seed=seed)
