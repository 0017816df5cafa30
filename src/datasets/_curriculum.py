"""``Curriculum``: an ordered list of stages of one task, and when to move on."""

import math
import numbers

import numpy as np

from ._checks import check_index_int, check_positive_int
from ._cogtask import shapes_only
from ._io import from_arrays
from ._record import TaskDataset
from ._registry import load_dataset

__all__ = ['Curriculum']

# Trials per dict stage to check its shapes (a cogtask stage only traces its trial function).
_PROBE_TRIALS = 8


def _kind(ds):
    """What a model must output for ``ds``: labels, or values of some width."""
    return ('labels',) if ds.n_classes is not None else ('values', ds.targets.shape[-1])


class Curriculum:
    """Stages of one task, easiest first, and the rule that advances between them.

    A curriculum trains on stage 0 until the monitored held-out value crosses
    ``threshold`` (after at least ``min_epochs`` epochs in the stage), or until
    ``max_epochs_per_stage`` epochs, then moves to the next; the last stage
    runs to the end of the epoch budget. Delayed match-to-sample, for example,
    learns within minutes when its delay grows from 100 ms to 1000 ms, and
    sits at chance for as long with the full delay from the start.

    A curriculum also fixes its trials: every stage draws ``n_trials`` with
    ``seed`` and keeps a ``held_out`` fraction of them aside, so
    ``Trainer.fit(curriculum, ...)`` needs no other data, and a resumed run
    sees exactly the trials the first one saw. The loop the Trainer runs::

        for stage in range(len(curriculum)):
            train, held_out = curriculum.stage_splits(stage)
            rows = []                               # this stage's history rows
            while epochs are left:
                rows.append(train_one_epoch(train, held_out))  # each row with 'stage': stage
                if curriculum.should_advance(stage, rows):
                    break

    and it resumes from a history with :meth:`position`.

    Parameters
    ----------
    stages : sequence of TaskDataset or dict
        At least one stage. A dict is the keyword arguments of the registered
        task ``task`` (``load_dataset(task, n_trials=..., seed=..., **stage)``),
        e.g. ``{'t_delay': 100 * u.ms}``; ``{}`` is the task at its defaults.
        Every stage must have the same number of input features and the same
        kind of target (labels, or values of one width), so one model serves all.
    task : str, optional
        The registered task the dict stages load; required when any stage is a dict.
    monitor : str, default 'held_out_acc'
        The history key :meth:`should_advance` reads.
    threshold : float, default 0.9
        Advance once the monitored value reaches it (``>=`` when maximised,
        ``<=`` when minimised).
    min_epochs : int, default 1
        Epochs a stage trains at least before it may advance.
    max_epochs_per_stage : int, optional
        Advance after this many epochs even below the threshold (never for the
        last stage); ``None`` waits for the threshold.
    mode : {'auto', 'max', 'min'}, default 'auto'
        ``'auto'`` maximises keys containing ``'acc'`` and minimises the rest.
    n_trials : int, default 512
        Trials a dict stage draws (a TaskDataset stage keeps its own).
    held_out : float, default 0.2
        The fraction of each stage's trials held out (``0``: none, and the
        monitor must then be a training key such as ``'acc'``).
    seed : int, default 0
        Seeds each dict stage's trials and every stage's held-out split.
    pad : bool, default False
        Pad every stage to the longest one's trial length under a zero loss
        mask (:meth:`stage_dataset`'s ``n_steps``): one compiled step serves
        all stages, each as long as the longest. Without padding a fit
        compiles once per distinct trial length.

    Raises
    ------
    ValueError
        If there are no stages, a dict stage has no ``task``, or stages differ
        in feature count or target kind (the message names both stages).

    Examples
    --------
    >>> import datasets
    >>> curriculum = datasets.Curriculum(
    ...     [{'seq_len': 4}, {'seq_len': 10}], task='delayed_match_task', threshold=0.9)
    >>> len(curriculum), curriculum.n_steps
    (2, (4, 10))
    >>> curriculum.stage_dataset(0, n_trials=16, seed=0).inputs.shape
    (16, 4, 4)
    >>> curriculum.should_advance(0, [{'held_out_acc': 0.5}, {'held_out_acc': 0.95}])
    True
    >>> curriculum.should_advance(1, [{'held_out_acc': 1.0}])   # the last stage never advances
    False
    """

    def __init__(self, stages, *, task=None, monitor='held_out_acc', threshold=0.9, min_epochs=1,
                 max_epochs_per_stage=None, mode='auto', n_trials=512, held_out=0.2, seed=0, pad=False):
        if isinstance(stages, (TaskDataset, dict)) or not hasattr(stages, '__len__') or not len(stages):
            raise ValueError(
                f'stages must be a non-empty list of TaskDataset or dict stages, got {stages!r}; '
                f'wrap a single stage in a list.')
        for i, stage in enumerate(stages):
            if not isinstance(stage, (TaskDataset, dict)):
                raise TypeError(
                    f'stage {i} must be a TaskDataset or a dict of task arguments, '
                    f'got {type(stage).__name__}.')
        if task is None and any(isinstance(s, dict) for s in stages):
            raise ValueError(
                'a dict stage holds arguments of a registered task, so task= must name it, '
                "e.g. Curriculum([{'t_delay': 100 * u.ms}, {}], task='delay_match_sample').")
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor must be a history key such as 'held_out_acc', got {monitor!r}.")
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) \
                or not math.isfinite(threshold):
            raise ValueError(f'threshold must be a finite number, got {threshold!r}.')
        if 'acc' in monitor and not 0 <= threshold <= 1:
            # An accuracy is a fraction: 1.5 would never advance, -0.5 always would.
            raise ValueError(
                f'threshold must be in [0, 1] for the accuracy monitor {monitor!r}, got '
                f'{threshold!r}; pass a fraction such as threshold=0.9.')
        if mode not in ('auto', 'max', 'min'):
            raise ValueError(f"mode must be 'auto', 'max' or 'min', got {mode!r}.")
        if isinstance(held_out, bool) or not isinstance(held_out, numbers.Real) or not 0 <= held_out < 1:
            raise ValueError(f'held_out must be a fraction in [0, 1) of each stage\'s trials, got '
                             f'{held_out!r}; e.g. held_out=0.2.')
        if not isinstance(pad, bool):
            raise TypeError(f'pad must be True or False, got {pad!r}.')
        self.n_trials = check_positive_int('n_trials', n_trials)
        self.held_out, self.seed, self.pad = float(held_out), check_index_int('seed', seed), pad
        self.stages, self.task = tuple(stages), task
        self.monitor, self.threshold = monitor, float(threshold)
        self.min_epochs = check_positive_int('min_epochs', min_epochs)
        self.max_epochs_per_stage = None if max_epochs_per_stage is None else check_positive_int(
            'max_epochs_per_stage', max_epochs_per_stage)
        self.maximize = ('acc' in monitor) if mode == 'auto' else mode == 'max'
        self.n_steps = self._check_stages()
        self._splits = {}

    def _probe(self, i):
        """Stage ``i``'s shapes: a TaskDataset as it is, a dict stage's trials as zeros (none compiled)."""
        stage = self.stages[i]
        if isinstance(stage, TaskDataset):
            return stage
        with shapes_only():
            return load_dataset(self.task, n_trials=_PROBE_TRIALS, seed=0, **stage)

    def _check_stages(self):
        """Materialise a few trials of each stage; every stage must fit one model."""
        probes = [self._probe(i) for i in range(len(self.stages))]
        for i, probe in enumerate(probes[1:], 1):
            if probe.n_features != probes[0].n_features:
                raise ValueError(
                    f'every stage must have the same number of input features (one model serves '
                    f'them all): stage 0 has {probes[0].n_features}, stage {i} has '
                    f'{probe.n_features}. Keep the task arguments that set the inputs '
                    f'(e.g. num_stimuli) equal across stages.')
            if _kind(probe) != _kind(probes[0]):
                raise ValueError(
                    f'every stage must have the same kind of targets: stage 0 has '
                    f'{_kind(probes[0])}, stage {i} has {_kind(probe)}.')
        return tuple(p.n_steps for p in probes)

    def __len__(self):
        return len(self.stages)

    def __repr__(self):
        stages = ', '.join(repr(s) if isinstance(s, dict) else f'<{s.name or "TaskDataset"}>'
                           for s in self.stages)
        return (f'Curriculum([{stages}], task={self.task!r}, monitor={self.monitor!r}, '
                f'threshold={self.threshold:g}, min_epochs={self.min_epochs}, '
                f'max_epochs_per_stage={self.max_epochs_per_stage}, n_trials={self.n_trials}, '
                f'held_out={self.held_out:g}, seed={self.seed}, pad={self.pad})')

    @property
    def max_steps(self):
        """The longest stage's trial length (pad to it to compile one step for all)."""
        return max(self.n_steps)

    def stage_dataset(self, stage, *, n_trials, seed, n_steps=None):
        """The trials of ``stage``: the same arrays for the same arguments.

        Parameters
        ----------
        stage : int
            Index in ``[0, len(self))``.
        n_trials, seed : int
            Passed to the task's loader for a dict stage; a TaskDataset stage
            is returned as it is.
        n_steps : int, optional
            Pad each trial at its end to this many steps, with zero inputs and
            a zero loss mask, so every stage shares one shape (and one compiled
            step). The mask keeps the scored steps as they were; a dataset
            without a mask gets one on its real steps, or, for per-trial
            labels, on its last real step -- where they are scored unpadded.

        Returns
        -------
        TaskDataset

        Examples
        --------
        >>> import datasets
        >>> c = datasets.Curriculum([{'seq_len': 4}, {}], task='delayed_match_task')
        >>> padded = c.stage_dataset(0, n_trials=8, seed=0, n_steps=c.max_steps)
        >>> padded.inputs.shape, padded.mask[0].tolist()
        ((8, 10, 4), [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        """
        if isinstance(stage, bool) or not isinstance(stage, numbers.Integral) \
                or not 0 <= stage < len(self):
            raise ValueError(f'stage must be an int in [0, {len(self)}), got {stage!r}; this '
                             f'curriculum has {len(self)} stages.')
        spec = self.stages[stage]
        if isinstance(spec, TaskDataset):
            ds = spec
        else:
            ds = load_dataset(self.task, n_trials=check_positive_int('n_trials', n_trials),
                              seed=check_index_int('seed', seed), **spec)
        return ds if n_steps is None else pad_steps(ds, n_steps)

    def stage_splits(self, stage):
        """The training and held-out trials of ``stage``: what ``Trainer.fit`` trains on there.

        The stage's :meth:`stage_dataset` (``n_trials`` trials drawn with
        ``seed``, padded to :attr:`max_steps` with ``pad=True``), split by a
        ``seed``-ed permutation into ``1 - held_out`` and ``held_out``.

        Returns
        -------
        tuple
            ``(train, held_out)`` TaskDatasets; ``held_out`` is ``None``
            when the curriculum holds none out.

        Examples
        --------
        >>> import datasets
        >>> c = datasets.Curriculum([{'seq_len': 4}, {}], task='delayed_match_task', n_trials=20)
        >>> [len(part) for part in c.stage_splits(0)]
        [16, 4]
        """
        if stage not in self._splits:  # the same arrays every time: draw them once
            ds = self.stage_dataset(stage, n_trials=self.n_trials, seed=self.seed,
                                    n_steps=self.max_steps if self.pad else None)
            self._splits[stage] = (ds, None) if not self.held_out else ds.split(
                1 - self.held_out, seed=self.seed)
        return self._splits[stage]

    def should_advance(self, stage, rows):
        """Whether training should move on from ``stage`` after these epochs of it.

        Parameters
        ----------
        stage : int
            The current stage; the last one never advances.
        rows : list of dict
            This stage's history rows so far, oldest first; the last row's
            ``monitor`` value is read (``None``, an epoch without evaluation,
            never advances on the threshold).

        Returns
        -------
        bool

        Examples
        --------
        >>> import datasets
        >>> c = datasets.Curriculum([{'seq_len': 4}, {}], task='delayed_match_task',
        ...                         min_epochs=2, max_epochs_per_stage=5)
        >>> c.should_advance(0, [{'held_out_acc': 0.95}])          # below min_epochs
        False
        >>> c.should_advance(0, [{'held_out_acc': 0.1}] * 5)       # max_epochs_per_stage
        True
        """
        if stage >= len(self) - 1 or not rows:
            return False
        if self.max_epochs_per_stage is not None and len(rows) >= self.max_epochs_per_stage:
            return True
        if len(rows) < self.min_epochs:
            return False
        if self.monitor not in rows[-1]:
            raise KeyError(
                f'the curriculum monitors {self.monitor!r}, which is not in the history row '
                f'(keys {sorted(rows[-1])}); train with held-out data or pass another monitor=.')
        value = rows[-1][self.monitor]
        if value is None or not math.isfinite(value):
            return False
        return value >= self.threshold if self.maximize else value <= self.threshold

    def position(self, history):
        """Where a run stands after ``history``: ``(stage, rows of that stage)``.

        Every row must carry the ``'stage'`` key a curriculum run writes. A
        stage that has just met its rule has ended, so a resumed run starts
        the next one, exactly as the uninterrupted run would.

        Examples
        --------
        >>> import datasets
        >>> c = datasets.Curriculum([{'seq_len': 4}, {}], task='delayed_match_task')
        >>> c.position([{'stage': 0, 'held_out_acc': 0.6}])
        (0, [{'stage': 0, 'held_out_acc': 0.6}])
        >>> c.position([{'stage': 0, 'held_out_acc': 0.95}])
        (1, [])
        """
        if not history:
            return 0, []
        missing = [i for i, row in enumerate(history) if 'stage' not in row]
        if missing:
            raise ValueError(
                f"history row {missing[0]} has no 'stage' key; only the history of a curriculum "
                f'run can be resumed into a curriculum.')
        stages = [row['stage'] for row in history]
        bad = next((s for s in stages if isinstance(s, bool) or not isinstance(s, numbers.Integral)
                    or not 0 <= s < len(self)), None)
        if bad is not None or stages != sorted(stages):
            found = f'stage {bad!r}' if bad is not None else f'stages {stages} out of order'
            raise ValueError(
                f'history holds {found}, but this curriculum has {len(self)} stages '
                f'(0 to {len(self) - 1}); the history was written by another curriculum -- '
                f'resume with the curriculum it was written with.')
        stage = history[-1]['stage']
        rows = [row for row in history if row['stage'] == stage]
        if self.should_advance(stage, rows):
            return stage + 1, []
        return stage, rows


def pad_steps(ds, n_steps):
    """``ds`` with every trial padded at its end to ``n_steps`` steps under a mask, scored as before."""
    n_steps = check_positive_int('n_steps', n_steps)
    if n_steps < ds.n_steps:
        raise ValueError(
            f'n_steps must be at least the stage\'s own {ds.n_steps} steps, got {n_steps}; '
            f'pad to the longest stage (Curriculum.max_steps).')
    if n_steps == ds.n_steps and ds.mask is not None:
        return ds
    # A dataset of the full length still gets its mask: every padded stage then has the same
    # arrays (and pytree structure), so one compiled step serves them all.
    extra = n_steps - ds.n_steps
    if ds.mask is not None:
        mask = ds.mask
    elif ds.targets.ndim == 1:  # a per-trial label is scored at the last step when unmasked
        mask = np.zeros((ds.n_trials, ds.n_steps), np.float32)
        mask[:, -1] = 1.0
    else:
        mask = np.ones((ds.n_trials, ds.n_steps), np.float32)
    targets = ds.targets
    if targets.ndim >= 2:
        # Unscored padding: repeat the last target so labels stay valid.
        targets = np.concatenate([targets, np.repeat(targets[:, -1:], extra, axis=1)], axis=1)
    loss_weights = None if ds.loss_weights is None else np.pad(ds.loss_weights, ((0, 0), (0, extra)))
    return from_arrays(np.pad(ds.inputs, ((0, 0), (0, extra), (0, 0))), targets,
                       np.pad(mask, ((0, 0), (0, extra))), dt=ds.dt, n_classes=ds.n_classes,
                       seed=ds.seed, description=ds.description, name=ds.name,
                       conditions=dict(ds.conditions), loss_weights=loss_weights)
