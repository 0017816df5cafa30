"""THE fit loop: resume, epochs, divergence, history rows, best epochs and callbacks, for any engine.

``run_fit(engine, stages, options, callbacks)`` trains one model
(:class:`~trainer.loop.engine.SingleEngine`) or K members
(:class:`~trainer.loop.member_engine.MemberEngine`) the same way; the loop
never asks which. Per epoch::

    rows <- engine.train_epoch (and engine.evaluate when due)  # one row per member that trained
    best <- each member's monitored value                       # restore-best
    a diverged member: raise (one model) or freeze (members)
    callbacks.on_epoch_end(epoch, logs)                        # early stopping, checkpoints, progress...
    the curriculum moves on when its rule holds (for every member still training)
"""

import dataclasses
import time
from typing import Optional

import numpy as np

from ..core import checkpoint as _checkpoint
from ..core.compiles import counting
from ..core.errors import NonFiniteLossError
from ..objectives.scores import mean_of, worst_of
from .callbacks import is_main, metrics_of
from .plan import Best, make_plan

__all__ = ['Fit', 'Record', 'run_fit']


@dataclasses.dataclass
class Record:
    """One member's bookkeeping during a fit (a single model is member 0)."""

    history: list
    best: Best
    stopped: bool = False  # early stopping or a callback
    error: Optional[str] = None  # why it diverged

    @property
    def active(self):
        return not self.stopped and self.error is None


class Fit:
    """A fit in progress, as its callbacks see it.

    Attributes
    ----------
    engine, stages, options, plan
        What trains, on what, and the current stage's validated plan.
    records : list of Record
        Each member's history, best epoch and state (one for a single model).
    epoch : int
        The last epoch that ran (0 before the first).
    """

    def __init__(self, engine, stages, options, callbacks, hparams=None):
        self.engine, self.stages, self.options, self.callbacks = engine, stages, options, callbacks
        self.hparams = hparams or {}
        self.records = [Record([], Best(None, None, 0, None)) for _ in range(self.n_models)]
        self.plan = self.state = None
        self.epoch = self.start_epoch = 0
        self.trained = [True] * self.n_models
        self.stop_requested, self.saved_paths = False, []

    # -- what a callback reads --------------------------------------------------------
    @property
    def n_members(self):
        """K for an ensemble, ``None`` for one model."""
        return self.engine.n_members

    @property
    def n_models(self):
        return 1 if self.engine.n_members is None else self.engine.n_members

    @property
    def model(self):
        """The model (one model), or member 0's (an ensemble: see :attr:`models`)."""
        return self.engine.models[0]

    @property
    def models(self):
        return self.engine.models

    @property
    def history(self):
        """Every row so far: one model's, or every member's with a ``'member'`` key, by epoch."""
        if self.n_members is None:
            return self.records[0].history
        rows = [(row['epoch'], k, row) for k, r in enumerate(self.records) for row in r.history]
        return [{'member': k, **row} for _, k, row in sorted(rows, key=lambda r: r[:2])]

    @property
    def active(self):
        return [r.active for r in self.records]

    @property
    def monitor(self):
        return self.plan.monitor

    @property
    def keys(self):
        return self.plan.keys

    @property
    def n_epochs(self):
        return self.plan.n_epochs

    @property
    def stage(self):
        return self.plan.stage

    @property
    def last_stage(self):
        return self.stages.last

    @property
    def stages_moved(self):
        """Whether a curriculum has moved past its first stage (the stage is then worth showing)."""
        return bool(self.plan.stage)

    @property
    def is_main(self):
        return is_main()

    def stop(self):
        """Stop the fit after this epoch (every member)."""
        self.stop_requested = True

    def stop_member(self, k):
        """Stop member ``k`` (the fit, for one model)."""
        self.records[k].stopped = True

    def save(self, path):
        """Write a checkpoint of the fit as it stands to ``path`` (atomically).

        It holds the state after this epoch and each callback's ``state_dict()``.
        The callbacks after the saving one see the file; if one of them keeps a
        state, the loop writes the file again once they have all run, so a
        resumed fit continues exactly.
        """
        _checkpoint.save(path, self.engine.to_host(self.state), self.engine.to_host(self.engine.best_params),
                         self.progress())
        self.saved_paths.append(path)

    def rows_of(self, epoch):
        """The history rows of ``epoch`` (one per member that trained)."""
        return [row for row in self.history if row['epoch'] == epoch]

    def callback_info(self, epoch):
        """What a plain ``callback(info)`` function is given."""
        info = {'epoch': epoch, 'history': list(self.history)}
        info.update({'model': self.model} if self.n_members is None else {'active': self.active})
        return info

    def summary(self):
        """``{'active': n, 'mean <monitor>': ...}`` of the members, for a progress line."""
        values = [r.history[-1][self.monitor] for r in self.records
                  if r.history and r.history[-1]['epoch'] == self.epoch and r.history[-1][self.monitor] is not None]
        shown = {'active': sum(self.active)}
        if values:
            shown[f'mean {self.monitor}'] = float(np.mean(values))
        return shown

    def logs(self):
        """This epoch's metrics: a dict (one model), or a list per key, one value per member."""
        rows = [r.history[-1] if r.history and r.history[-1]['epoch'] == self.epoch else None
                for r in self.records]
        if self.n_members is None:
            return metrics_of(rows[0])
        return {key: [None if row is None else row[key] for row in rows] for key in self.plan.keys}

    # -- the checkpoint ---------------------------------------------------------------------
    def progress(self):
        """What a checkpoint holds besides the arrays: enough to resume exactly."""
        common = {'epoch': self.epoch, 'seed': self.options.seed, 'batch_size': self.plan.batch_size,
                  'steps_per_epoch': self.options.steps_per_epoch, 'source': self.plan.source.fingerprint(),
                  'curriculum': self.stages.fingerprint(),
                  'callbacks': [{'class': type(cb).__name__, 'state': cb.state_dict()} for cb in self.callbacks]}
        if self.n_members is None:
            best = self.records[0].best
            return {**common, 'history': self.records[0].history, 'best_epoch': best.epoch,
                    'best_value': best.value, 'wait': best.wait}
        return {**common, 'seeds': None if self.engine.seeds is None else list(self.engine.seeds),
                'n_members': self.n_members, 'hparams': {k: [float(v) for v in vs] for k, vs in self.hparams.items()},
                'members': [{'history': r.history, 'best_epoch': r.best.epoch, 'best_value': r.best.value,
                             'wait': r.best.wait, 'stopped': r.stopped, 'error': r.error} for r in self.records]}


def run_fit(engine, stages, options, callbacks, *, resume_from=None, restore_best=True, hparams=None):
    """Train ``engine`` through ``stages`` and return the finished :class:`Fit`.

    The models end at their best epochs (``restore_best``); ``fit.best_params``
    holds each member's best ``{name: value}``.
    """
    fit = Fit(engine, stages, options, callbacks, hparams)
    saved = None if resume_from is None else _checkpoint.read(resume_from)
    progress = None if saved is None else _read_progress(saved, resume_from, fit)
    fit.plan = make_plan(stages, options, engine.learner.names_for, engine.placement)
    if progress is not None:
        _check_resume(progress, resume_from, fit)
    engine.learner.program.compiles = {'train': 0, 'eval': 0}
    fit.start_epoch = 1 if progress is None else progress['epoch'] + 1
    if progress is not None:
        _load_callbacks(progress, callbacks)
    for cb in callbacks:
        cb.on_fit_start(fit)
    try:
        fit.state = engine.prepare(fit.plan)
        _check_later_stages(fit)
        if progress is not None:
            _resume(fit, saved, progress, resume_from)
        for epoch in range(fit.start_epoch, fit.plan.n_epochs + 1):
            if not any(fit.active):
                break
            fit.state = _epoch(fit, fit.state, epoch)
            if _after_epoch(fit, epoch):
                break
    finally:
        for cb in callbacks:
            cb.on_fit_end(fit)
    errors = [r.error for r in fit.records]
    fit.best_params = engine.finish(fit.state, restore_best, errors)
    fit.compiles = dict(engine.learner.program.compiles)
    return fit


def _check_later_stages(fit):
    """Check every later curriculum stage against the model before the first step changes it."""
    stages, learner = fit.stages, fit.engine.learner
    if stages.curriculum is None:
        return
    for i in range(stages.stage + 1, len(stages.curriculum)):
        train, held_out = stages.curriculum.stage_splits(i)
        learner.check_data(train, fit.plan.batch_size, padded=False, name=f'curriculum stage {i} train')
        if held_out is not None:
            learner.check_data(held_out, fit.plan.batch_size, padded=True, name=f'curriculum stage {i} held-out')
    learner.template(fit.plan.train, fit.plan.batch_size)  # the model holds the current stage's shapes again


# -- resume ------------------------------------------------------------------------------
def _read_progress(saved, path, fit):
    progress = _checkpoint.check_written_by(_checkpoint.progress(saved), path, n_members=fit.n_members)
    written = progress.get('n_members')
    histories = [progress['history']] if written is None else [m['history'] for m in progress['members']]
    fit.stages.resume(histories, path)
    return progress


def _check_resume(progress, path, fit):
    plan, options = fit.plan, fit.options
    wanted = {'seed': options.seed, 'batch_size': plan.batch_size}
    if plan.source.fingerprint() is not None:  # a stream: its trials are a function of its seed
        wanted.update(steps_per_epoch=options.steps_per_epoch, source=plan.source.fingerprint())
    if fit.n_members is not None:
        wanted['seeds'] = None if fit.engine.seeds is None else list(fit.engine.seeds)
    got = {k: progress.get(k) for k in wanted}
    if got != wanted:
        raise ValueError(f"resume_from={path!r} was written with "
                         f"{', '.join(f'{k}={v}' for k, v in got.items())}; pass the same values to resume exactly.")
    if fit.n_members is not None:
        hparams = {k: [float(v) for v in vs] for k, vs in fit.hparams.items()}
        if progress.get('hparams', {}) != hparams:
            raise ValueError(f"resume_from={path!r} was written with hparams={progress.get('hparams')}, this "
                             f"Ensemble has hparams={hparams}; resume with the hyper-parameters it was "
                             "trained with (or start a new fit).")
    if 'curriculum' in progress and progress['curriculum'] != fit.stages.fingerprint():
        raise ValueError(f"resume_from={path!r} was written by a fit on another curriculum (or dataset "
                         "staging) than train; resume with the curriculum it was trained on.")
    if progress['epoch'] > plan.n_epochs:
        raise ValueError(
            f"resume_from={path!r} already holds {progress['epoch']} epochs, past "
            f"n_epochs={plan.n_epochs} (n_epochs counts all epochs, resumed ones included); "
            f"pass n_epochs={progress['epoch']} or more.")


def _load_callbacks(progress, callbacks):
    """Give each callback the state its namesake saved (the k-th of a class gets the k-th saved one)."""
    saved = {}
    for entry in progress.get('callbacks', []):
        saved.setdefault(entry.get('class'), []).append(entry.get('state', {}))
    for cb in callbacks:
        states = saved.get(type(cb).__name__)
        if states:
            cb.load_state_dict(states.pop(0))


def _resume(fit, saved, progress, path):
    engine = fit.engine
    state, best, _ = _checkpoint.load(path, fit.state, saved)
    fit.state = engine.placed(state)
    entries = [progress] if fit.n_members is None else progress['members']
    for record, entry in zip(fit.records, entries):
        record.history = list(entry['history'])
        record.best.epoch, record.best.value, record.best.wait = entry['best_epoch'], entry['best_value'], entry['wait']
        record.stopped, record.error = entry.get('stopped', False), entry.get('error')
    if fit.stages.starting:  # the checkpoint's best belongs to the stage before
        for record in fit.records:
            record.best = Best(None, None, 0, None)
        engine.reset_best(fit.state)
    else:
        engine.set_best(best)
    fit.epoch = progress['epoch']
    engine.write(fit.state)


# -- one epoch -----------------------------------------------------------------------------
def _epoch(fit, state, epoch):
    """Train (and evaluate) every active member once; append rows, track bests, handle divergence."""
    plan, engine, records = fit.plan, fit.engine, fit.records
    active = np.array([r.active for r in records])
    lrs = engine.lrs(state)
    start = time.perf_counter()
    with counting(engine.learner.program.compiles, 'train'):
        new, sums, finite = engine.train_epoch(state, epoch, active)
    diverged = active & ~finite.all(axis=0)
    if engine.divergence == 'raise' and diverged.any():
        _raise_diverged(fit, state, new, sums, finite, epoch)
    trained = active & ~diverged
    held = None
    if plan.evaluates(epoch):
        new, held_sums = engine.evaluate(new, trained)
        held = [_means(plan, s) for s in held_sums]
    elapsed = time.perf_counter() - start
    improved = []
    for k in np.flatnonzero(trained):
        means = _means(plan, {name: (total[:, k], count[:, k]) for name, (total, count) in sums.items()})
        row = {'epoch': epoch, **({} if plan.stage is None else {'stage': plan.stage}),
               **{name: means[name] for name in plan.names}}
        if plan.held_out is not None:
            row.update({f'held_out_{name}': held[k][name] if held else None for name in plan.names})
        row.update(lr=lrs[k], time=elapsed)
        records[k].history.append(row)
        records[k].best.update(row[plan.monitor], epoch, None, plan.sign, plan.min_delta)
        if records[k].best.epoch == epoch:
            improved.append(int(k))
    engine.keep_best(new, improved)
    if diverged.any():
        new = _freeze_diverged(fit, state, new, sums, finite, epoch, diverged)
    fit.epoch, fit.trained = epoch, list(trained)
    engine.sync(new)  # callbacks and checkpoints see the model after this epoch
    return new


def _means(plan, sums):
    """``{name: mean}`` of an epoch's sums, with each group's worst (``'acc/worst'``) in a multitask fit."""
    means = mean_of(sums, axis=0)
    return means if plan.groups is None else worst_of(means, plan.groups)


def _what_diverged(sums, finite, k, epoch):
    step = int(np.argmin(finite[:, k]))
    total, count = sums['loss'][0][step, k], sums['loss'][1][step, k]
    loss = total / count if count else total
    what = f"the training loss became {loss}" if not np.isfinite(loss) else \
        f"an update made the parameters NaN or infinite (loss {loss:.6g})"
    return f"{what} at epoch {epoch}, step {step}"


def _kept(record, epoch):
    return f"its best epoch ({record.best.epoch})" if record.best.epoch else f"before epoch {epoch}"


def _raise_diverged(fit, before, after, sums, finite, epoch):
    """One model: put it back (the optimizer as before the epoch, the best parameters) and raise."""
    record = fit.records[0]
    fit.engine.write(fit.engine.restore(before, after, [0], [bool(record.best.epoch)]))
    failure = NonFiniteLossError(
        f"{_what_diverged(sums, finite, 0, epoch)}. The model keeps its parameters from {_kept(record, epoch)}; "
        f"trainer.history holds the {len(record.history)} completed epochs. Lower the learning rate or "
        "set grad_clip_norm.")
    failure.history = list(record.history)
    raise failure from None


def _freeze_diverged(fit, before, after, sums, finite, epoch, diverged):
    """Members: each diverged one is put back as a Trainer leaves it and trains no further."""
    members = [int(k) for k in np.flatnonzero(diverged)]
    for k in members:
        record = fit.records[k]
        record.error = (f"models[{k}]: {_what_diverged(sums, finite, k, epoch)}. It keeps its parameters from "
                        f"{_kept(record, epoch)} and trains no further; its result holds the "
                        f"{len(record.history)} completed epochs. Lower its learning rate or set grad_clip_norm.")
        fit.engine.warn(record.error)
    return fit.engine.restore(before, after, members, [bool(r.best.epoch) for r in fit.records])


def _after_epoch(fit, epoch):
    """Callbacks (stops, checkpoints), then the curriculum; ``True`` ends the fit."""
    logs = fit.logs()
    fit.saved_paths, asked, stale = [], [], False
    for cb in fit.callbacks:
        saved_before = bool(fit.saved_paths)
        asked.append(cb.on_epoch_end(epoch, logs) is True)
        stale = stale or (saved_before and bool(cb.state_dict()))
    for path in dict.fromkeys(fit.saved_paths) if stale else ():
        fit.save(path)  # again, with the state of the callbacks that ran after the first write
    if any(getattr(cb, 'changes_model', True) for cb in fit.callbacks):
        fit.state = fit.engine.read(fit.state)  # a callback may have changed the model
    if any(asked) or fit.stop_requested:
        for record in fit.records:
            record.stopped = record.stopped or record.error is None
    if not any(fit.active):
        return True
    rows = {k: r.history[-1] for k, r in enumerate(fit.records) if r.active and r.history
            and r.history[-1]['epoch'] == epoch}
    if fit.stages.advance(rows):
        for record in fit.records:
            record.best = Best(None, None, 0, None)  # a new stage's scores start afresh
        fit.engine.reset_best(fit.state)
        if epoch < fit.plan.n_epochs:
            fit.plan = make_plan(fit.stages, fit.options, fit.engine.learner.names_for, fit.engine.placement)
            fit.state = fit.engine.prepare(fit.plan, fit.state)
    return False
