"""``sweep``: an Optuna study over a registered task, K trials trained per compiled program.

Each round a worker asks K trials of the study. The first one's structural
values (hidden size, batch size, clip, cell: what changes the program) are
sampled by the sampler; the other K-1 are enqueued with those values fixed
(``study.enqueue_trial``), so the sampler picks only their vmappable values
(``lr``, ``weight_decay``, ``seed``). Trials that share their structure train
as one :class:`trainer.Ensemble`; each member reports its held-out monitor to
its trial every epoch and is stopped (``fit.stop_member``) and told
``TrialPruned`` when the pruner says so. Another worker may pop a trial this
one enqueued (or a retried one of another structure): the trials a worker
holds are grouped by structure, so every group is still one program.

Resume and several workers rest on the RDB storage: the study is loaded if it
exists, so a finished trial is never trained again; each worker beats a
heartbeat for the trials it trains, and trials whose heartbeat stopped (a
killed worker) are marked ``FAIL`` by the next round of any worker and
re-enqueued with the same parameters (Optuna's
``RetryHeartbeatStaleTrialCallback``), so they are trained once more, from
scratch. A worker stopped by an exception (Ctrl-C included) tells its
unfinished trials ``FAIL`` and enqueues their parameters again before it exits.
"""

import contextlib
import dataclasses
import os
import socket
import threading
import time
import uuid
import warnings
from typing import Any, Optional

from ..objectives.scores import mean_of  # noqa: F401  (keeps the layer order visible: sweeps sit on top)
from .programs import Report, load_data, settings_for, train_group
from .space import DEFAULT_SPACE, STRUCTURAL, distributions

__all__ = ['SweepResult', 'sweep']


@dataclasses.dataclass(frozen=True, repr=False)
class SweepResult:
    """What :func:`sweep` returns.

    Attributes
    ----------
    study : optuna.Study
        The study (all workers' trials).
    best_params : dict
        The best trial's parameters, fixed values included (what :func:`retrain` takes).
    best_value : float or None
        Its held-out monitor value (best epoch).
    monitor : str
        The held-out key the trials are scored on.
    trained : list of int
        The trial numbers this call trained.
    n_programs : int
        The programs (Ensembles or Trainers) this call trained.
    wall_s : float
        Seconds this call took.
    """

    study: Any
    best_params: dict
    best_value: Optional[float]
    monitor: str
    trained: list
    n_programs: int
    wall_s: float

    def __repr__(self):
        best = 'None' if self.best_value is None else f'{self.best_value:.4g}'
        return (f'SweepResult(study={self.study.study_name!r}, trials={len(self.study.trials)}, '
                f'trained={len(self.trained)}, programs={self.n_programs}, {self.monitor}={best}, '
                f'wall_s={self.wall_s:.1f})')


def sweep(task, *, n_trials, storage='sqlite:///study.db', study_name=None, space=None, members=8,
          pruner='median', sampler=None, seed=0, n_epochs=None, recipe=None, member_batch=None,
          heartbeat_interval=30, grace_period=None, log=None):
    """Search hyper-parameters of ``task``'s recipe with Optuna, training ``members`` trials per program.

    Parameters
    ----------
    task : str
        A registered task; it trains at its recipe's final task (no curriculum:
        an Ensemble's curriculum moves on for all members together, which
        would couple the trials), at a constant learning rate.
    n_trials : int
        The study's finished trials (complete, pruned or diverged) to reach,
        all workers and earlier runs together: a second call with the same
        ``n_trials`` trains nothing. Workers racing for the last trials may
        pass it by at most ``members - 1`` each.
    storage : str or optuna.storages.BaseStorage, default 'sqlite:///study.db'
        An RDB URL (one file, or a database server for many machines).
    study_name : str, optional
        Default ``'<task>'``. Loaded if it exists.
    space : dict, optional
        ``{name: spec}`` (see :func:`trainer.sweeps.distributions`); default
        :data:`trainer.sweeps.DEFAULT_SPACE`.
    members : int, default 8
        Trials per compiled program (``1``: one Trainer per trial).
    pruner : 'median', None or optuna.pruners.BasePruner
        ``'median'``: ``MedianPruner(n_startup_trials=members, n_warmup_steps=1)``;
        ``None``: no pruning.
    sampler : optuna.samplers.BaseSampler, optional
        Default ``TPESampler(seed=seed + <trials already in the study>, constant_liar=True)``
        (K trials are asked before any is told; a worker that joins or resumes a study draws
        its own stream). Workers started at the same moment should each pass their own.
    seed : int, default 0
        Seeds the data and split, and each trial's weights and shuffles (unless
        ``space`` searches ``seed``).
    n_epochs : int, optional
        Epochs per trial; default the recipe's.
    recipe : trainer.recipes.Recipe, optional
        Default :func:`trainer.recipes.recipe_for(task) <trainer.recipes.recipe_for>`.
    member_batch : int, optional
        Passed to the Ensemble (``1`` runs the members one at a time inside the program).
    heartbeat_interval, grace_period : int
        Seconds between heartbeats; a RUNNING trial silent for ``grace_period``
        (default twice the interval) is taken as killed and retried.
    log : callable, optional
        Called with one line per trained program.

    Returns
    -------
    SweepResult
    """
    optuna = _optuna()
    from ..core import checks
    from ..loop.plan import mode_sign
    from ..recipes import recipe_for
    from ..recipes.task_run import scoring_for

    n_trials = checks.positive_int('n_trials', n_trials)
    members = checks.positive_int('members', members, fix='Pass 1 to train one trial per program.')
    start = time.perf_counter()
    base = recipe_for(task) if recipe is None else recipe
    n_epochs = base.n_epochs if n_epochs is None else checks.positive_int('n_epochs', n_epochs)
    searched, fixed = distributions(DEFAULT_SPACE if space is None else space)
    monitor = scoring_for(base)[2]
    study, storage = _study(optuna, storage, study_name or task, sampler, seed, _pruner(optuna, pruner, members),
                   'maximize' if mode_sign('auto', monitor) > 0 else 'minimize', heartbeat_interval, grace_period,
                   {'task': task, 'n_epochs': n_epochs, 'seed': seed, 'monitor': monitor})
    data = load_data(task, base, seed)
    worker = f'{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}'
    trained, n_programs = [], 0
    with _Heartbeat(study, storage, heartbeat_interval) as heart:
        while True:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)  # a killed worker's trials: FAIL, re-enqueued
            batch = _ask_batch(study, searched, fixed, n_trials, members)
            if not batch:
                break
            heart.running = batch
            groups = {}
            for trial in batch:
                params = {**fixed, **trial.params}
                trial.set_user_attr('worker', worker)
                groups.setdefault(tuple(params.get(k) for k in STRUCTURAL), []).append(trial)
            try:
                for group in groups.values():
                    _train_and_tell(study, group, fixed, base, data, n_epochs, seed, monitor, member_batch, heart)
                    n_programs += 1
                    trained += [t.number for t in group]
                    if log is not None:
                        log(f'trials {[t.number for t in group]}: one program of {len(group)}')
            except BaseException:
                _give_back(study, batch)
                raise
            heart.running = []
    return _result(study, fixed, monitor, trained, n_programs, time.perf_counter() - start)


def _train_and_tell(study, group, fixed, base, data, n_epochs, seed, monitor, member_batch, heart):
    optuna = _optuna()
    settings = [settings_for(base, {**fixed, **t.params}, seed) for t in group]
    report = Report(group, monitor, beat=heart.beat)
    outcomes = train_group(data, settings, n_epochs=n_epochs, seed=seed, callbacks=[report],
                           member_batch=member_batch)
    for k, (trial, (value, error)) in enumerate(zip(group, outcomes)):
        trial.set_user_attr('program', [t.number for t in group])
        trial.set_user_attr('fixed', fixed)
        if k in report.pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif error is not None or value is None:
            trial.set_user_attr('sweep_error', error or 'no held-out value')  # it trained: it counts as finished
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, value)


def _give_back(study, batch):
    """A worker stopping on an error (Ctrl-C included): its unfinished trials FAIL and are enqueued again."""
    from optuna.trial import TrialState
    for trial in batch:
        with contextlib.suppress(Exception):  # already told
            study.tell(trial, state=TrialState.FAIL)
            study.enqueue_trial(trial.params, user_attrs={'retry_of': trial.number})


def _ask_batch(study, searched, fixed, n_trials, members):
    """Up to ``members`` trials: the first samples the structure, the others are enqueued with it fixed."""
    batch = []
    while len(batch) < members:
        done, running, waiting = _counts(study)
        free = n_trials - done - running - waiting
        if free <= 0 and waiting == 0:
            break
        if batch and free > 0:
            structure = {k: batch[0].params[k] for k in STRUCTURAL if k in batch[0].params}
            study.enqueue_trial(structure)
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='Heartbeat of storage')  # we beat it ourselves
            batch.append(study.ask(fixed_distributions=searched))
    return batch


def _counts(study):
    from optuna.trial import TrialState
    trials = study.get_trials(deepcopy=False)
    done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) or
               (t.state == TrialState.FAIL and 'sweep_error' in t.user_attrs) for t in trials)
    running = sum(t.state == TrialState.RUNNING for t in trials)
    waiting = sum(t.state == TrialState.WAITING for t in trials)
    return done, running, waiting


class _Heartbeat:
    """Beats every ``interval`` s for the trials in ``running`` (Optuna's own thread serves ``optimize`` only)."""

    def __init__(self, study, storage, interval):
        self.study, self.interval, self.running = study, interval, []
        self.storage = storage  # the storage object the study was created on
        self.stop = threading.Event()

    def beat(self, trials=None):
        storage = self.storage
        study_id = storage.get_study_id_from_name(self.study.study_name)
        for trial in list(self.running if trials is None else trials):
            with contextlib.suppress(Exception):  # a trial told meanwhile
                storage.record_heartbeat(storage.get_trial_id_from_study_id_trial_number(study_id, trial.number))

    def _loop(self):
        while not self.stop.wait(self.interval):
            self.beat()

    def __enter__(self):
        self.thread = threading.Thread(target=self._loop, daemon=True, name='sweep-heartbeat')
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def _study(optuna, storage, name, sampler, seed, pruner, direction, interval, grace, settings):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', optuna.exceptions.ExperimentalWarning)
        if isinstance(storage, str):
            engine = {'connect_args': {'timeout': 60}} if storage.startswith('sqlite') else None
            storage = optuna.storages.RDBStorage(
                storage, engine_kwargs=engine, heartbeat_interval=interval, grace_period=grace,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback())
        study = optuna.create_study(storage=storage, study_name=name, sampler=sampler, pruner=pruner,
                                    direction=direction, load_if_exists=True)
        if sampler is None:  # a worker joining a study (or resuming it) draws a stream of its own
            study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.get_trials(deepcopy=False)),
                                                       constant_liar=True)
    saved = study.user_attrs.get('sweep')
    if saved is None:
        study.set_user_attr('sweep', settings)
    elif saved != settings:
        raise ValueError(f"study {name!r} in this storage was run with {saved}, not {settings}; pass the same "
                         "task, n_epochs and seed to continue it, or another study_name.")
    if study.direction.name.lower() != direction:
        raise ValueError(f"study {name!r} {study.direction.name.lower()}s, but {settings['monitor']} is to "
                         f"{direction}; pass another study_name.")
    return study, storage


def _pruner(optuna, pruner, members):
    if pruner is None:
        return optuna.pruners.NopPruner()
    if pruner == 'median':
        return optuna.pruners.MedianPruner(n_startup_trials=members, n_warmup_steps=1)
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    raise ValueError(f"pruner must be 'median', None or an optuna.pruners.BasePruner, got {pruner!r}.")


def _result(study, fixed, monitor, trained, n_programs, wall_s):
    from optuna.trial import TrialState
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    best = study.best_trial if complete else None
    return SweepResult(study, {} if best is None else {**fixed, **best.params},
                       None if best is None else best.value, monitor, trained, n_programs, wall_s)


def _optuna():
    try:
        import optuna
    except ImportError as error:
        from ..tracking.scalars import missing_extra
        raise missing_extra('trainer.sweep', error) from None
    return optuna
