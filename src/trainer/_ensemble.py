"""``Ensemble``: K structurally identical networks trained as one compiled program.

Each member's explicit ``TrainState`` is stacked along a leading member axis
and member 0's pure step is ``jax.vmap``-ed over it: one trace and one
compilation whatever K. Each member keeps its own bookkeeping on the host
(history, best epoch, early stopping); a member that stops or diverges is
frozen inside the program while the others go on.
"""

import dataclasses
import numbers
import time
import warnings
from typing import Optional

import brainstate
import datasets
import jax
import numpy as np

from .core import checkpoint as _checkpoint
from .core import checks as _checks
from .core.compile_cache import enable_compile_cache
from .core.compiles import counting
from .core.data import as_dataset, to_device
from .loop.member_programs import EnsemblePrograms
from .loop.ensemble_result import EnsembleResult
from .loop.plan import Best, Stages, _advance
from .loop.members import (apply_hparams, check_hparams, check_same_structure, clone_optimizer, from_host,
                       member_of, set_member, stack, to_host)
from .core.params import param_values
from .loop.progress import ProgressBar
from .loop.result import TrainResult
from .objectives.scores import mean_of
from .core.state import batch_template
from ._trainer import Trainer

__all__ = ['Ensemble']


@dataclasses.dataclass
class _Member:
    """One member's host bookkeeping during a fit."""

    history: list
    best: Best
    stopped: bool = False  # early stopping or a callback
    error: Optional[str] = None  # why it diverged

    @property
    def active(self):
        return not self.stopped and self.error is None


@dataclasses.dataclass
class _Run:
    """What one ensemble fit holds between epochs."""

    plan: object
    seeds: Optional[tuple]
    train_fn: object
    evaluate: object
    data: dict
    hparams: dict
    best_params: dict  # {path: numpy array (K, ...)}, on the host


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
    objective, forward, metrics, grad_clip_norm, lr_schedule, progress
        As for :class:`trainer.Trainer`.
    hparams : dict, optional
        Per-member optimizer hyper-parameters, one value per member:
        ``{'lr': [...], 'weight_decay': [...]}``. They are traced values of the
        one program, not K programs. ``lr`` is each member's base learning rate
        (its schedule must be computed from the base rate alone: ``ConstantLR``,
        ``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR``...);
        ``weight_decay`` rebuilds a named optimizer's transformation with a
        per-member decay.
    callbacks : list of callable, optional
        ``callback(info)`` once per epoch with ``info = {'epoch', 'history'
        (rows with a 'member' key), 'active' (a bool per member)}``; returning
        ``True`` stops every member.
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
                 member_batch=None):
        models = _check_models(models)
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
        # One Trainer per member: its checks, its Program's read/write; member 0's also traces.
        self.trainers = [
            Trainer(model, opt, objective=objective, forward=forward, metrics=metrics,
                    grad_clip_norm=grad_clip_norm, lr_schedule=lr_schedule,
                    callbacks=callbacks if k == 0 else None, progress=False)
            for k, (model, opt) in enumerate(zip(models, optimizers))]
        self.lead, self.models = self.trainers[0], models
        self.callbacks, self.lead.callbacks = self.lead.callbacks, []
        self.progress = progress
        check_same_structure(models, [t.program.read({}) for t in self.trainers])
        self.programs = EnsemblePrograms(self.lead, member_batch)
        # Which optimizer state is the reported learning rate (a history column).
        opt_states = self.lead.program._opt
        self._lr_index = next((i for i, s in enumerate(opt_states) if s is optimizer._current_lr), None)
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
        ds = as_dataset(dataset, 'dataset')
        if batch_size is None:
            batch_size = min(self.lead._last_batch_size or 256, len(ds))
        batch_size = _checks.positive_int('batch_size', batch_size, fix='Pass None for the default.')
        state = self._read(ds.dt, batch_size)
        self.lead._check_data(ds, batch_size, padded=True)
        active = jax.device_put(np.ones(len(self), bool))
        _, means = self.programs.evaluator(ds, batch_size, state, active)(state, active)
        return [{k: m[k] for k in ['loss', *self.lead.metrics]} for m in means]

    def _read(self, dt, batch_size):
        """The members' states, each with its own hidden template, stacked."""
        states = []
        for trainer in self.trainers:
            with brainstate.environ.context(dt=dt):
                template = batch_template(trainer.model, batch_size)
            states.append(trainer.program.read(template))
        check_same_structure(self.models, states)
        return stack(states)

    # -- fit -------------------------------------------------------------------------
    def fit(self, train, *, held_out=None, n_epochs, batch_size, seed=0, seeds=None, shuffle=True,
            eval_every=1, monitor=None, mode='auto', patience=None, min_delta=0.0,
            restore_best=True, compile_epoch=False, checkpoint=None, resume_from=None,
            compile_cache=False):
        """Train every member for up to ``n_epochs``; return an :class:`EnsembleResult`.

        Takes the arguments of :meth:`trainer.Trainer.fit`; early stopping,
        restore-best and NaN handling act per member. A member that stops
        (``patience``) or diverges (a NaN or infinite loss or parameter) is
        frozen at that point while the others train on; the fit ends when
        every member has stopped or ``n_epochs`` is reached. A diverged
        member keeps its best epoch's parameters (as a Trainer would) and its
        message is in ``result.errors``. ``checkpoint`` writes one file
        holding every member; ``resume_from`` continues it exactly.

        Parameters
        ----------
        seeds : list of int, optional
            One shuffle seed per member: member ``k`` sees the batches
            ``Trainer.fit(seed=seeds[k])`` would. Default: every member sees
            the order of ``seed``.
        """
        stages = Stages(train, held_out)
        if stages.curriculum is not None:
            raise TypeError("Ensemble.fit trains on one dataset, got a datasets.Curriculum; train "
                            "each member on the curriculum with Trainer.fit, or the ensemble on its "
                            "last stage (curriculum.stage_splits(len(curriculum) - 1)).")
        plan = self.lead._plan(stages, n_epochs, batch_size, seed, shuffle, eval_every,
                               monitor, mode, patience, min_delta, compile_epoch)
        seeds = _check_seeds(seeds, len(self))
        if compile_cache:
            enable_compile_cache(None if compile_cache is True else compile_cache)
        if checkpoint is not None:
            _checkpoint.check_writable(checkpoint)
        self.programs.compiles = {'train': 0, 'eval': 0}
        run, state = self._prepare(plan, seeds)
        state, members, start = self._start(run, state, resume_from)
        bar = ProgressBar(plan.n_epochs, enabled=self.progress)
        try:
            for epoch in range(start, plan.n_epochs + 1):
                if not any(m.active for m in members):
                    break
                state = self._epoch(run, state, epoch, members)
                self._after_epoch(run, epoch, members)
                if checkpoint is not None:
                    self._save(checkpoint, run, state, epoch, members)
                bar.update(epoch, _progress(members, epoch, plan.monitor))
        finally:
            bar.close()
        return self._finish(run, state, members, restore_best)

    def _prepare(self, plan, seeds):
        """Templates, checks, the stacked state and the compiled programs (eval compiling in the background)."""
        state = self._read(plan.train.dt, plan.batch_size)
        self.lead._check_data(plan.train, plan.batch_size, padded=False)
        if plan.held_out is not None:
            self.lead._check_data(plan.held_out, plan.batch_size, padded=True)
        for trainer in self.trainers:
            trainer._last_batch_size = plan.batch_size
        active = jax.device_put(np.ones(len(self), bool))
        evaluate = None if plan.held_out is None else \
            self.programs.evaluator(plan.held_out, plan.batch_size, state, active)
        with brainstate.environ.context(dt=plan.train.dt):
            train_fn = self.programs.train_fn(plan.compile_epoch, seeds is not None)
        hparams = jax.device_put(self.hparams)
        return _Run(plan, seeds, train_fn, evaluate, to_device(plan.train), hparams,
                    to_host(state.params)), state

    def _start(self, run, state, resume_from):
        members = [_Member([], Best(None, None, 0, None)) for _ in range(len(self))]
        if resume_from is None:
            self.history = []
            return state, members, 1
        plan = run.plan
        raw = _checkpoint.read(resume_from)
        progress = _checkpoint.progress(raw)
        if progress.get('n_members') != len(self):
            written = (f"an ensemble of {progress['n_members']} members" if 'n_members' in progress
                       else 'a Trainer')
            raise ValueError(f"resume_from={resume_from!r} was written by {written}; resume it with an "
                             f"Ensemble of that many members (this one has {len(self)}).")
        if (progress['seed'], progress['seeds'], progress['batch_size']) != (
                plan.seed, None if run.seeds is None else list(run.seeds), plan.batch_size):
            raise ValueError(
                f"resume_from was written with seed={progress['seed']}, seeds={progress['seeds']}, "
                f"batch_size={progress['batch_size']}; pass the same values to resume exactly.")
        if progress['epoch'] > plan.n_epochs:
            raise ValueError(
                f"resume_from={resume_from!r} already holds {progress['epoch']} epochs, past "
                f"n_epochs={plan.n_epochs} (n_epochs counts all epochs, resumed ones included); "
                f"pass n_epochs={progress['epoch']} or more.")
        state, best, _ = _checkpoint.load(resume_from, state, raw)
        run.best_params = to_host(best)
        for member, saved in zip(members, progress['members']):
            member.history = saved['history']
            member.best.epoch, member.best.value, member.best.wait = (
                saved['best_epoch'], saved['best_value'], saved['wait'])
            member.stopped, member.error = saved['stopped'], saved['error']
        self.history = _rows(members)
        return state, members, progress['epoch'] + 1

    def _train(self, run, state, epoch, active):
        """One epoch of every member: ``(state, sums, finite)`` with sums and flags ``(n_steps, K)``."""
        plan = run.plan
        order = dict(epoch=epoch, shuffle=plan.shuffle, drop_remainder=True)
        if run.seeds is None:
            idx = datasets.epoch_indices(len(plan.train), plan.batch_size, seed=plan.seed, **order)
        else:  # (n_steps, K, batch): each member's own order
            idx = np.stack([datasets.epoch_indices(len(plan.train), plan.batch_size, seed=s, **order)
                            for s in run.seeds], axis=1)
        advance = np.arange(len(idx)) == len(idx) - 1
        with brainstate.environ.context(dt=plan.train.dt), counting(self.programs.compiles, 'train'):
            if plan.compile_epoch:
                state, outs = run.train_fn(state, run.hparams, active, run.data, idx, advance)
            else:
                outs = []
                for step in range(len(idx)):
                    state, out = run.train_fn(state, run.hparams, active, run.data, idx[step],
                                              _advance(bool(advance[step])))
                    outs.append(out)
                outs = jax.tree.map(lambda *xs: np.stack(xs), *jax.device_get(outs))  # one transfer
        sums, finite = jax.device_get(outs)
        return state, sums, np.asarray(finite)

    def _epoch(self, run, state, epoch, members):
        """One epoch of the active members; append their rows, update their best epochs."""
        plan = run.plan
        active = np.array([m.active for m in members])
        lrs = (np.asarray(jax.device_get(state.opt[self._lr_index]), np.float32)
               if self._lr_index is not None else [None] * len(self))
        start = time.perf_counter()
        new, sums, finite = self._train(run, state, epoch, jax.device_put(active))
        diverged = active & ~finite.all(axis=0)
        held = None
        if plan.held_out is not None and plan.evaluates(epoch):
            new, held = run.evaluate(new, jax.device_put(active & ~diverged))
        elapsed = time.perf_counter() - start
        improved = []
        for k in np.flatnonzero(active & ~diverged):
            means = mean_of({name: (total[:, k], count[:, k]) for name, (total, count) in sums.items()}, axis=0)
            row = {'epoch': epoch, **{name: means[name] for name in plan.names}}
            if plan.held_out is not None:
                row.update({f'held_out_{name}': held[k][name] if held else None for name in plan.names})
            row.update(lr=None if lrs[k] is None else float(lrs[k]), time=elapsed)
            member = members[k]
            member.history.append(row)
            member.best.update(row[plan.monitor], epoch, None, plan)
            if member.best.epoch == epoch:
                improved.append(k)
        if improved:
            params = to_host(new.params)
            for k in improved:
                set_member(run.best_params, k, member_of(params, k))
        if diverged.any():
            new = self._freeze_diverged(run, state, new, epoch, sums, finite, diverged, members)
        self.history = _rows(members)
        return new

    def _freeze_diverged(self, run, before, after, epoch, sums, finite, diverged, members):
        """Put each diverged member back as a Trainer leaves it: the optimizer before the epoch, the best parameters."""
        host_before, host_after = to_host(before), to_host(after)
        for k in np.flatnonzero(diverged):
            member = members[k]
            step = int(np.argmin(finite[:, k]))
            total, count = sums['loss'][0][step, k], sums['loss'][1][step, k]
            loss = total / count if count else total
            what = f"the training loss became {loss}" if not np.isfinite(loss) else \
                f"an update made the parameters NaN or infinite (loss {loss:.6g})"
            kept = f"its best epoch ({member.best.epoch})" if member.best.epoch else f"before epoch {epoch}"
            member.error = (f"models[{k}]: {what} at epoch {epoch}, step {step}. It keeps its parameters "
                            f"from {kept} and trains no further; its result holds the {len(member.history)} "
                            "completed epochs. Lower its learning rate or set grad_clip_norm.")
            warnings.warn(member.error, RuntimeWarning, stacklevel=4)
            restored = member_of(host_before, k)
            if member.best.epoch:
                restored = restored._replace(params=member_of(run.best_params, k))
            set_member(host_after, k, restored)
        return from_host(host_after)

    def _after_epoch(self, run, epoch, members):
        """Early stopping per member, then the callbacks (``True`` stops every member)."""
        plan = run.plan
        for member in members:
            if member.active and plan.patience is not None and member.best.wait >= plan.patience:
                member.stopped = True
        if self.callbacks:
            info = {'epoch': epoch, 'history': list(self.history), 'active': [m.active for m in members]}
            if any([cb(info) is True for cb in self.callbacks]):
                for member in members:
                    member.stopped = member.stopped or member.error is None

    def _save(self, path, run, state, epoch, members):
        plan = run.plan
        _checkpoint.save(path, state, run.best_params, {
            'epoch': epoch, 'seed': plan.seed, 'seeds': None if run.seeds is None else list(run.seeds),
            'batch_size': plan.batch_size, 'n_members': len(self),
            'members': [{'history': m.history, 'best_epoch': m.best.epoch, 'best_value': m.best.value,
                         'wait': m.best.wait, 'stopped': m.stopped, 'error': m.error} for m in members]})

    def _finish(self, run, state, members, restore_best):
        """Write each member's parameters into its model; its ``TrainResult`` as its Trainer returns it."""
        host = to_host(state)
        compiles = dict(self.programs.compiles)
        results = []
        for k, (trainer, member) in enumerate(zip(self.trainers, members)):
            final = member_of(host, k)
            trainer.program.write(from_host(final._replace(params=member_of(run.best_params, k))))
            best_params = jax.tree.map(lambda x: x, param_values(trainer.model))  # own containers
            if not restore_best or member.error is not None:
                trainer.program.write(from_host(final))
            trainer.history = list(member.history)
            results.append(TrainResult(list(member.history), run.plan.monitor, member.best.epoch,
                                       member.best.value, best_params,
                                       member.stopped or member.error is not None, compiles, trainer.model))
        errors = {k: m.error for k, m in enumerate(members) if m.error is not None}
        return EnsembleResult(results, run.plan.monitor, run.plan.sign, errors, compiles)


def _rows(members):
    rows = [(row['epoch'], k, row) for k, m in enumerate(members) for row in m.history]
    return [{'member': k, **row} for _, k, row in sorted(rows, key=lambda r: r[:2])]


def _progress(members, epoch, monitor):
    rows = [m.history[-1] for m in members if m.history and m.history[-1]['epoch'] == epoch]
    values = [row[monitor] for row in rows if row.get(monitor) is not None]
    shown = {'active': sum(m.active for m in members)}
    if values:
        shown[f'mean {monitor}'] = float(np.mean(values))
    return shown


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
