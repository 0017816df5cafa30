"""Many tasks in one network (Yang et al. 2019): a mixture of datasets or streams on a common shape.

Every task's trials are embedded in one shape: inputs zero-padded to the
widest task, plus a one-hot *rule* input naming the task; trials padded in
time to the longest task under a zero mask; one shared readout, labels
keeping their meaning per task (``n_classes`` the largest). Each trial
records its task id in ``conditions['task']`` (and a batch in ``'groups'``),
so per-task metrics are exact ``(total, count)`` sums.
"""

import functools
import numbers

import numpy as np

from ._checks import check_bool, check_index_int, check_positive_int, dt_ms
from ._curriculum import pad_steps
from ._io import from_arrays
from ._record import TaskDataset
from ._stream import FAST_COMPILE, Stream, check_position, index_step, train_key, train_keys

__all__ = ['Multitask', 'TASK_CONDITION']

TASK_CONDITION = 'task'
"""The condition holding each :class:`Multitask` trial's task id, an int in ``[0, n_tasks)``.

Examples
--------
>>> import datasets
>>> datasets.TASK_CONDITION
'task'
"""
_SAMPLING = ('mixed', 'per_batch')


def allocation(weights, batch_size):
    """Trials per task in a mixed batch: ``batch_size * weights`` rounded by largest remainder."""
    exact = np.asarray(weights, np.float64) * batch_size
    counts = np.floor(exact).astype(int)
    counts[np.argsort(-(exact - counts), kind='stable')[:batch_size - counts.sum()]] += 1
    return counts


def _embed(batch, k, shape, xp):
    """Task ``k``'s batch on the common ``shape``: padded inputs and rule, padded time, ``groups``."""
    n_features, n_steps, n_tasks, rule, weighted = shape
    x = batch['inputs']
    b, t, f = x.shape
    pad_t = n_steps - t
    x = xp.pad(x, ((0, 0), (0, pad_t), (0, n_features - f)))
    if rule:
        x = xp.concatenate([x, xp.broadcast_to(xp.eye(n_tasks, dtype=x.dtype)[k], (b, n_steps, n_tasks))], axis=2)
    y = batch['targets']
    if y.ndim == 1:  # per-trial labels: one per scored step (the mask selects them)
        y = xp.broadcast_to(y[:, None], (b, t))
    # Unscored padding repeats the last target, so labels stay valid.
    y = xp.concatenate([y, xp.repeat(y[:, -1:], pad_t, axis=1)], axis=1) if pad_t else y
    mask = xp.pad(batch['mask'], ((0, 0), (0, pad_t)))
    out = {'inputs': x, 'targets': y, 'mask': mask, 'groups': xp.full((b,), k, dtype=np.int32)}
    if weighted:
        out['loss_weights'] = xp.pad(batch.get('loss_weights', batch['mask']), ((0, 0), (0, pad_t)))
    return out


def _concat(batches, xp):
    return {key: xp.concatenate([b[key] for b in batches]) for key in batches[0]}


def _as_batch(ds):
    """A stored dataset as a batch dict, with a per-step mask (per-trial labels: the last step)."""
    ds = pad_steps(ds, ds.n_steps)
    out = {'inputs': ds.inputs, 'targets': ds.targets, 'mask': ds.mask}
    if ds.loss_weights is not None:
        out['loss_weights'] = ds.loss_weights
    return out


class Multitask:
    """Several tasks trained in one network, on a common input width, length and readout.

    Parameters
    ----------
    tasks : dict
        ``{name: TaskDataset}`` (a *stored* mixture) or ``{name: Stream}``
        (a *device* mixture, drawn in the train step, or a *host* one when
        any stream draws on the host). Every task must share ``dt`` and the
        kind of targets (labels, or values of one width).
    rule_input : bool, optional
        Append a one-hot input naming the task (default True), on at every step.
    weights : dict, optional
        ``{name: weight}`` of each task in the sampling (normalised). Default:
        equal for streams; a stored task's share of the trials for datasets.
    sampling : {'mixed', 'per_batch'}, optional
        ``'mixed'``: every batch holds the tasks in proportion to their weights;
        ``'per_batch'``: each batch is one task, drawn by weight (Yang et al.).
    held_out : float or dict, optional
        Stored mixtures: the fraction of each task's trials held out
        (default 0.2; split with ``seed``), or ``{name: TaskDataset}`` of
        fixed held-out sets, or ``None``. Streams hold out their own.
    seed : int, optional
        Seeds the sampling (and a stored mixture's split).

    Notes
    -----
    When any task weighs its objective apart from its mask (``loss_weights``),
    every trial of the mixture carries loss weights: a task without its own
    weighs its objective by its mask. The rule input is on at every step,
    padding included (padded steps are never scored). A ``'mixed'`` batch
    holds ``round(batch_size * weight)`` trials of each task (largest
    remainder), in task order.

    Examples
    --------
    >>> import numpy as np
    >>> import datasets
    >>> a = datasets.from_arrays(np.ones((20, 4, 2)), np.zeros((20, 4)))
    >>> b = datasets.from_arrays(np.ones((10, 6, 3)), np.ones((10, 6)))
    >>> mix = datasets.Multitask({'a': a, 'b': b}, held_out=0.2)
    >>> mix.kind, mix.n_features, mix.n_steps, mix.n_classes
    ('stored', 5, 6, 2)
    >>> train = mix.train_set()
    >>> len(train), sorted(set(train.conditions['task'].tolist()))
    (24, [0, 1])
    >>> mix.epoch_indices(0, 8).shape
    (3, 8)
    """

    def __init__(self, tasks, *, rule_input=True, weights=None, sampling='mixed', held_out=0.2, seed=0):
        if not isinstance(tasks, dict) or not tasks:
            raise TypeError(f'tasks must be a non-empty dict {{name: TaskDataset or Stream}}, got {tasks!r:.60}.')
        members = list(tasks.values())
        if all(isinstance(m, TaskDataset) for m in members):
            self.kind = 'stored'
        elif all(isinstance(m, Stream) for m in members):
            self.kind = 'device' if all(m.kind == 'device' for m in members) else 'host'
        else:
            raise TypeError('tasks must all be TaskDatasets or all Streams, got '
                            f'{sorted({type(m).__name__ for m in members})}; make fixed trials of a stream '
                            'with stream.held_out_set(), or stream every task.')
        if sampling not in _SAMPLING:
            raise ValueError(f'sampling must be one of {_SAMPLING}, got {sampling!r}.')
        self.tasks = tuple(tasks)
        self.rule_input, self.sampling = check_bool('rule_input', rule_input), sampling
        self.seed = check_index_int('seed', seed)
        self._check_common(members)
        if self.kind == 'stored':
            self._train, self._held = self._split(tasks, held_out)
        else:
            self._train, self._held = dict(tasks), None
        self.weights = self._weights(weights)
        n_rule = len(self.tasks) if self.rule_input else 0
        self.n_features = max(m.n_features for m in members) + n_rule
        self.n_steps = max(m.n_steps for m in members)
        weighted = any((m.loss_weights is not None) if isinstance(m, TaskDataset)
                       else m.has_loss_weights for m in members)
        self._shape = (self.n_features - n_rule, self.n_steps, len(self.tasks), self.rule_input, weighted)
        self._sets, self._generators = {}, {}

    def __repr__(self):
        return (f'Multitask(kind={self.kind!r}, tasks={list(self.tasks)}, sampling={self.sampling!r}, '
                f'n_features={self.n_features}, n_steps={self.n_steps}, n_classes={self.n_classes}, '
                f'rule_input={self.rule_input})')

    def _check_common(self, members):
        dts = {dt_ms(m.dt) for m in members}
        if len(dts) > 1:
            got = dict(zip(self.tasks, (dt_ms(m.dt) for m in members)))
            raise ValueError(f'every task must share one dt, got {got} ms; build them with the same dt=.')
        self.dt = members[0].dt
        classes = [m.n_classes for m in members]
        if any(c is None for c in classes) and not all(c is None for c in classes):
            raise ValueError(f'tasks mix label and value targets (n_classes {dict(zip(self.tasks, classes))}); '
                             'one shared readout needs one kind.')
        self.n_classes = None if classes[0] is None else max(classes)

    def _split(self, tasks, held_out):
        if held_out is None:
            return dict(tasks), None
        if isinstance(held_out, dict):
            if set(held_out) != set(tasks):
                raise ValueError(f'held_out must name the same tasks as tasks, got {sorted(held_out)} for '
                                 f'{sorted(tasks)}.')
            return dict(tasks), dict(held_out)
        if isinstance(held_out, bool) or not isinstance(held_out, numbers.Real) or not 0 < held_out < 1:
            raise ValueError(f'held_out must be a fraction in (0, 1), a dict {{name: TaskDataset}} or None, '
                             f'got {held_out!r}.')
        parts = {name: ds.split(1 - held_out, seed=self.seed) for name, ds in tasks.items()}
        return {n: p[0] for n, p in parts.items()}, {n: p[1] for n, p in parts.items()}

    def _weights(self, weights):
        if weights is None:
            raw = [len(self._train[n]) if self.kind == 'stored' else 1.0 for n in self.tasks]
        else:
            if not isinstance(weights, dict) or set(weights) != set(self.tasks):
                raise ValueError(f'weights must be a dict naming every task {list(self.tasks)}, got {weights!r}.')
            raw = [weights[n] for n in self.tasks]
            if any(isinstance(w, bool) or not isinstance(w, numbers.Real) or w < 0 for w in raw) or sum(raw) <= 0:
                raise ValueError(f'weights must be numbers >= 0 with a positive sum, got {weights!r}.')
        raw = np.asarray(raw, np.float64)
        return raw / raw.sum()

    # -- fixed trials -------------------------------------------------------------------------
    def _combined(self, parts):
        batches = [_embed(_as_batch(parts[n]), k, self._shape, np) for k, n in enumerate(self.tasks)]
        batch = _concat(batches, np)
        names = np.concatenate([np.full(len(parts[n]), n) for n in self.tasks])
        shared = set.intersection(*(set(parts[n].conditions) for n in self.tasks)) - {TASK_CONDITION}
        conditions = {key: np.concatenate([parts[n].conditions[key] for n in self.tasks]) for key in sorted(shared)
                      if len({parts[n].conditions[key].dtype.kind for n in self.tasks}) == 1}
        conditions.update({TASK_CONDITION: batch['groups'], 'task_name': names})
        return from_arrays(batch['inputs'], batch['targets'], batch['mask'], dt=self.dt, n_classes=self.n_classes,
                           seed=self.seed, name='+'.join(self.tasks), description=f'Multitask({", ".join(self.tasks)})',
                           conditions=conditions, loss_weights=batch.get('loss_weights'))

    def train_set(self):
        """Stored mixtures: every training trial on the common shape, ``conditions['task']`` its task id."""
        if self.kind != 'stored':
            raise TypeError(f'a {self.kind} Multitask has no fixed training set; its batches are drawn per step.')
        if 'train' not in self._sets:
            self._sets['train'] = self._combined(self._train)
        return self._sets['train']

    def held_out_set(self):
        """Every task's fixed held-out trials on the common shape (a stream's own ``held_out_set()``); cached."""
        if 'held_out' not in self._sets:
            if self.kind == 'stored' and self._held is None:
                raise ValueError('this Multitask holds nothing out (held_out=None).')
            parts = self._held if self.kind == 'stored' else {n: self._train[n].held_out_set() for n in self.tasks}
            self._sets['held_out'] = self._combined(parts)
        return self._sets['held_out']

    # -- what a compiled epoch consumes --------------------------------------------------------
    def epoch_indices(self, epoch, batch_size, *, n_steps=None):
        """Stored mixtures: ``(n_steps, batch_size)`` int32 rows of :meth:`train_set`, a function of ``(seed, epoch)``.

        ``n_steps`` defaults to the training trials over ``batch_size``. Each
        task's trials are taken in a fresh permutation per ``(seed, epoch,
        task)``, cycling when a task is drawn more often than it has trials.
        """
        epoch, batch_size = check_index_int('epoch', epoch), check_positive_int('batch_size', batch_size)
        sizes = [len(self._train[n]) for n in self.tasks]
        n_steps = sum(sizes) // batch_size if n_steps is None else check_positive_int('n_steps', n_steps)
        if n_steps < 1:
            raise ValueError(f'batch_size={batch_size} exceeds the {sum(sizes)} training trials.')
        rng = np.random.default_rng([self.seed, epoch])
        if self.sampling == 'mixed':
            counts = np.tile(allocation(self.weights, batch_size), (n_steps, 1))
        else:
            which = rng.choice(len(self.tasks), n_steps, p=self.weights)
            counts = np.eye(len(self.tasks), dtype=int)[which] * batch_size
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        rows = np.zeros((n_steps, batch_size), np.int32)
        filled = np.zeros(n_steps, int)
        for k, size in enumerate(sizes):
            need = int(counts[:, k].sum())
            laps = -(-need // size)
            order = np.concatenate([np.random.default_rng([self.seed, epoch, k, lap]).permutation(size)
                                    for lap in range(max(laps, 1))])[:need] + offsets[k]
            start = 0
            for step in np.flatnonzero(counts[:, k]):
                c = counts[step, k]
                rows[step, filled[step]:filled[step] + c] = order[start:start + c]
                filled[step] += c
                start += c
        return rows

    def key(self, epoch, step=0):
        """The PRNG key of batch ``step`` of ``epoch`` (streams), derived as a Stream's."""
        return train_key(self.seed, epoch, step)

    def epoch(self, epoch, n_steps, batch_size, *, start_step=0, inline=True):
        """``(data, idx)`` of a scanned epoch, as :meth:`Stream.epoch`; stored: ``(None, epoch_indices)``.

        ``data=None`` means the loop's own device arrays: the stored mixture's
        :meth:`train_set` (put on the device once), or nothing for a device mixture.
        ``inline=False``: a device mixture generates the epoch in a program of its own.
        """
        if self.kind == 'stored':
            return None, self.epoch_indices(epoch, batch_size, n_steps=n_steps)[start_step:]
        if self.kind == 'device':
            keys = train_keys(self.seed, *check_position(epoch, n_steps, start_step))
            if inline:
                return None, keys
            return self._generator(check_positive_int('batch_size', batch_size))(keys), np.arange(len(keys))
        batches = [self.host_batch(epoch, step, batch_size) for step in range(start_step, n_steps)]
        return {k: np.stack([b[k] for b in batches]) for k in batches[0]}, np.arange(len(batches), dtype=np.int32)

    def sampler(self, batch_size, *, inline=True):
        """``sample(data, idx) -> batch`` traced in the train step, with the batch's ``'groups'`` ids."""
        batch_size = check_positive_int('batch_size', batch_size)
        if self.kind == 'stored':
            return _gather
        if self.kind == 'host' or not inline:
            return index_step
        return functools.partial(_draw_mixture, self, batch_size)

    def _generator(self, batch_size):
        import jax
        if batch_size not in self._generators:
            draw = functools.partial(_draw_mixture, self, batch_size, None)
            self._generators[batch_size] = jax.jit(functools.partial(jax.lax.map, draw), compiler_options=FAST_COMPILE)
        return self._generators[batch_size]

    def host_batch(self, epoch, step, batch_size):
        """Batch ``step`` of ``epoch`` drawn on the host (stream mixtures): numpy, seeded per task."""
        seeds = np.random.SeedSequence([self.seed, 0, epoch, step]).generate_state(len(self.tasks) + 1)
        counts = self._counts(int(seeds[-1]), batch_size)
        parts = [_embed(self._train[n].host_batch(int(seeds[k]), int(c)), k, self._shape, np)
                 for k, (n, c) in enumerate(zip(self.tasks, counts)) if c]
        return _concat(parts, np)

    def _counts(self, seed, batch_size):
        if self.sampling == 'mixed':
            return allocation(self.weights, batch_size)
        k = np.random.default_rng(seed).choice(len(self.tasks), p=self.weights)
        return np.eye(len(self.tasks), dtype=int)[k] * batch_size


def _gather(data, idx):
    return {key: None if value is None else value[idx] for key, value in data.items()}


def _draw_mixture(mix, batch_size, data, key):
    """One mixed or one-task batch of the device mixture from ``key`` (traced in the step)."""
    import jax
    import jax.numpy as jnp
    del data
    streams = [mix._train[n] for n in mix.tasks]
    draw = lambda k, n: _embed(streams[k].draw(jax.random.fold_in(key, k), n), k, mix._shape, jnp)  # noqa: E731
    if mix.sampling == 'mixed':
        return _concat([draw(k, int(c)) for k, c in enumerate(allocation(mix.weights, batch_size)) if c], jnp)
    which = jax.random.categorical(jax.random.fold_in(key, len(streams)), jnp.log(jnp.asarray(mix.weights)))
    return jax.lax.switch(which, [functools.partial(draw, k, batch_size) for k in range(len(streams))])
