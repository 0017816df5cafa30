"""``Ensemble``: K structurally identical networks trained as one compiled program.

Each member's explicit ``TrainState`` is stacked along a leading member axis
and member 0's pure step is ``jax.vmap``-ed over it: one trace and one
compilation whatever K. The loop is the Trainer's own
(:func:`trainer.loop.run.run_fit`) over a
:class:`~trainer.loop.member_engine.MemberEngine`: each member keeps its own
history, best epoch and early stopping; one that stops or diverges is frozen
inside the program while the others go on.
"""

import numbers

import brainstate
import jax
import numpy as np

from .core import checks as _checks
from .core.compile_cache import enable_compile_cache
from .core.data import as_dataset
from .core.placement import Placement
from .loop.callbacks import EarlyStopping, ModelCheckpoint, ProgressBar, as_callbacks
from .loop.ensemble_result import EnsembleResult
from .loop.learner import Learner
from .loop.member_engine import MemberEngine
from .loop.members import apply_hparams, check_hparams, clone_optimizer
from .loop.plan import FitOptions, Stages
from .loop.result import TrainResult
from .loop.run import run_fit
from .objectives.scores import mean_of

__all__ = ['Ensemble']


class Ensemble:
    """Train K structurally identical models as one compiled program.

    Member ``k`` is trained exactly as ``Trainer(models[k], <its optimizer>,
    ...)`` would train it, with the same minibatches: its history, best epoch
    and parameters agree with that Trainer's to float rounding. The members'
    states are stacked along a leading axis and one step, traced once on
    member 0, is ``jax.vmap``-ed over them, so the ensemble compiles one
    train and one held-out program whatever K.

    Parameters
    ----------
    models : list of brainstate.nn.Module
        K models of one class and size; only their values differ (e.g.
        ``[RateRNN(3, 64, 3, seed=s) for s in range(16)]``).
    optimizer : braintools.optim.OptaxOptimizer
        An unregistered optimizer: registered with ``models[0]`` (as a
        ``Trainer`` would) and cloned for the other members.
    objective, forward, metrics, grad_clip_norm, lr_schedule, progress, regularizers
        As for :class:`trainer.Trainer` (but ``weight_l2_init``: each member's
        initial weights differ, so it is refused).
    hparams : dict, optional
        Per-member optimizer hyper-parameters, one value per member:
        ``{'lr': [...], 'weight_decay': [...]}``. They are traced values of the
        one program, not K programs. ``lr`` is each member's base learning rate
        (its schedule must be computed from the base rate alone: ``ConstantLR``,
        ``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR``...);
        ``weight_decay`` rebuilds a named optimizer's transformation with a
        per-member decay. A plain optax transformation keeps its rate inside
        optax, so it is refused for either (use a braintools optimizer).
    callbacks : list, optional
        :class:`trainer.callbacks.Callback` objects (their ``logs`` hold a list
        per key, one value per member), or functions ``callback(info)`` once per
        epoch with ``info = {'epoch', 'history' (rows with a 'member' key),
        'active' (a bool per member)}``; returning ``True`` stops every member.
    devices : None, 'all', int, list of jax.Device or jax.sharding.Mesh, optional
        As for :class:`trainer.Trainer`: every member's batch is split over them.
    member_batch : int, optional
        Default ``None``: ``jax.vmap`` over all members (an accelerator steps
        K small networks about as fast as one). An int ``b`` runs a
        ``jax.lax.map`` over chunks of ``b`` vmapped members, still one
        program; on a CPU, where K small batched matrix products cost no less
        than K separate ones, ``member_batch=1`` is the faster choice.

    Examples
    --------
    >>> import braintools, datasets
    >>> from trainer import Ensemble, objectives
    >>> from trainer.models import RateRNN
    >>> data = datasets.load_dataset('delayed_match_task', n_trials=64, seq_len=6, n_symbols=2)
    >>> train, held_out = data.split(48, seed=0)
    >>> ensemble = Ensemble([RateRNN(2, 8, 2, seed=s) for s in range(3)], braintools.optim.Adam(lr=1e-2),
    ...                     objective=objectives.cross_entropy(), metrics=['accuracy'], progress=False)
    >>> result = ensemble.fit(train, held_out=held_out, n_epochs=2, batch_size=16)
    >>> len(result.members), result.n_compilations
    (3, {'train': 1, 'eval': 1})
    """

    def __init__(self, models, optimizer, *, objective, forward=None, metrics=None, hparams=None,
                 grad_clip_norm=None, lr_schedule='epoch', callbacks=None, progress=True,
                 member_batch=None, devices=None, regularizers=None):
        models = _check_models(models)
        pulled = [r for r in regularizers or [] if getattr(r, 'kind', None) == 'weight_init']
        if pulled:
            raise ValueError(f"regularizers: {pulled[0].name!r} pulls toward the initial weights, which "
                             "differ per member and are constants of member 0's trace; train such members "
                             "with separate Trainers (the other regularizers work here).")
        if member_batch is not None:
            member_batch = _checks.positive_int(
                'member_batch', member_batch, fix='Pass None to vmap every member at once.')
        optimizer = _checks.optax_optimizer(optimizer)
        if optimizer.opt_state is not None:
            raise ValueError(
                "optimizer is already registered with a model's weights (was it given to a Trainer?); "
                "give the Ensemble a fresh one, e.g. braintools.optim.Adam(lr=1e-2): it is registered "
                "with models[0] and cloned for the other members.")
        self.hparams = check_hparams(hparams, len(models), optimizer)
        optimizers = [optimizer] + [clone_optimizer(optimizer) for _ in models[1:]]
        for k, opt in enumerate(optimizers):
            apply_hparams(opt, {name: values[k] for name, values in self.hparams.items()})
        as_callbacks(callbacks)  # checked now; wrapped at each fit
        self.callbacks, self.progress, self.models = list(callbacks or []), progress, models
        self.learner = Learner(models[0], optimizer, objective=objective, forward=forward, metrics=metrics,
                               grad_clip_norm=grad_clip_norm, lr_schedule=lr_schedule,
                               placement=Placement(devices), who='Ensemble', regularizers=regularizers)
        self.engine = MemberEngine(self.learner, models, optimizers, self.hparams, member_batch)
        self.history = []

    def __len__(self):
        return len(self.models)

    # -- evaluation ----------------------------------------------------------------
    def evaluate(self, dataset, *, batch_size=None):
        """Each member's loss and metrics on ``dataset``, in one compiled call.

        Returns a list of K dicts, member ``k``'s equal to what its own
        :meth:`trainer.Trainer.evaluate` returns.

        Examples
        --------
        >>> import braintools, datasets
        >>> from trainer import Ensemble, objectives
        >>> from trainer.models import RateRNN
        >>> data = datasets.load_dataset('delayed_match_task', n_trials=32, seq_len=6, n_symbols=2)
        >>> ensemble = Ensemble([RateRNN(2, 8, 2, seed=s) for s in range(2)], braintools.optim.Adam(lr=1e-2),
        ...                     objective=objectives.cross_entropy(), progress=False)
        >>> [sorted(row) for row in ensemble.evaluate(data)]
        [['loss'], ['loss']]
        """
        ds = _checks.scores_something(as_dataset(dataset, 'dataset'), 'dataset')
        learner = self.learner
        if batch_size is None:
            batch_size = min(learner.last_batch_size or 256, len(ds))
        batch_size = _checks.positive_int('batch_size', batch_size, fix='Pass None for the default.')
        learner.placement.check_batch(batch_size)
        state = self.engine.read_stacked(ds, batch_size)
        learner.check_data(ds, batch_size, padded=True, name='dataset')
        members = self.engine.eval_members()
        _, sums = learner.evaluator(ds, batch_size, state, members=members)(
            state, learner.placement.replicated(np.ones(len(self), bool)))
        means = [mean_of(jax.tree.map(lambda x: x[k], sums), axis=0) for k in range(len(self))]
        return [{k: m[k] for k in learner.names} for m in means]

    # -- fit -------------------------------------------------------------------------
    def fit(self, train, *, held_out=None, n_epochs, batch_size, seed=0, seeds=None, shuffle=True,
            eval_every=1, monitor=None, mode='auto', patience=None, min_delta=0.0,
            restore_best=True, compile_epoch=False, checkpoint=None, resume_from=None,
            compile_cache=True, callbacks=None, steps_per_epoch=None):
        """Train every member for up to ``n_epochs``; return an :class:`EnsembleResult`.

        Takes the arguments of :meth:`trainer.Trainer.fit`; early stopping,
        restore-best and NaN handling act per member. A member that stops
        (``patience``) or diverges (a NaN or infinite loss or parameter) is
        frozen at that point while the others train on; the fit ends when
        every member has stopped or ``n_epochs`` is reached. A diverged
        member keeps its best epoch's parameters (as a Trainer would) and its
        message is in ``result.errors``. ``checkpoint`` writes one file
        holding every member; ``resume_from`` continues it exactly (with the same
        ``hparams``, seeds and batch size). A :class:`datasets.Curriculum` moves
        on when its rule holds for every member still training.

        Parameters
        ----------
        seeds : list of int, optional
            One shuffle seed per member: member ``k`` sees the batches
            ``Trainer.fit(seed=seeds[k])`` would. Default: every member sees
            the order of ``seed``. On a device stream, member ``k``'s keys
            are the stream's folded with ``seeds[k]`` (default: the same
            fresh trials for every member).
        steps_per_epoch : int, optional
            Batches per epoch of a stream (required there).
        """
        options = FitOptions(n_epochs, batch_size, seed, shuffle, eval_every, monitor, mode, min_delta,
                             compile_epoch, steps_per_epoch)
        self.engine.reset(_check_seeds(seeds, len(self)))
        if compile_cache:
            enable_compile_cache(None if compile_cache is True else compile_cache)
        early = [] if patience is None else [EarlyStopping(patience, mode=mode, min_delta=min_delta)]
        saving = [] if checkpoint is None else [ModelCheckpoint(checkpoint)]
        shown = [ProgressBar()] if self.progress else []
        fit = run_fit(self.engine, Stages(train, held_out), options,
                      early + saving + as_callbacks(self.callbacks) + as_callbacks(callbacks) + shown,
                      resume_from=resume_from, restore_best=restore_best, hparams=self.hparams)
        self.history = fit.history
        results = [TrainResult(list(r.history), fit.plan.monitor, r.best.epoch, r.best.value, best,
                               r.stopped or r.error is not None, fit.compiles, model)
                   for r, best, model in zip(fit.records, fit.best_params, self.models)]
        errors = {k: r.error for k, r in enumerate(fit.records) if r.error is not None}
        return EnsembleResult(results, fit.plan.monitor, fit.plan.sign, errors, fit.compiles)


def _check_models(models):
    if isinstance(models, brainstate.nn.Module) or not isinstance(models, (list, tuple)):
        raise TypeError(f"models must be a list of models (one per member), got {type(models).__name__}; "
                        "e.g. [RateRNN(3, 64, 3, seed=s) for s in range(8)].")
    if not models:
        raise ValueError("models is empty; pass at least one model, e.g. "
                         "[RateRNN(3, 64, 3, seed=s) for s in range(8)].")
    seen = {}
    for k, model in enumerate(models):
        if id(model) in seen:
            raise ValueError(f"models[{k}] is the same object as models[{seen[id(model)]}]; members "
                             "must not share states: build one model per member.")
        seen[id(model)] = k
    return list(models)


def _check_seeds(seeds, n_members):
    if seeds is None:
        return None
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, '__len__') or len(seeds) != n_members:
        raise ValueError(f"seeds must be a list of {n_members} ints (one shuffle seed per member), "
                         f"got {seeds!r:.60}; or None for one batch order for all.")
    for k, s in enumerate(seeds):
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"seeds[{k}] must be a non-negative int, got {s!r}.")
    return tuple(int(s) for s in seeds)
