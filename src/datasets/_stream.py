"""Trial streams: fresh trials every epoch, or every step, drawn from ``(seed, epoch, step)``.

A :class:`Stream` has a :class:`TaskDataset`'s shape (``n_features``,
``n_steps``, ``n_classes``, ``dt``) but no fixed trials: the batch of step
``s`` of epoch ``e`` is a pure function of ``(seed, e, s)``, so a run is
reproducible and resumes exactly mid-epoch, and held-out trials come from a
seed path that training never takes. A *device* stream (every
``braintools.cogtask`` task) draws a batch with a JAX function the training
step traces, so trials are generated inside the compiled epoch and never
cross from the host; a *host* stream (neurogym) draws numpy batches that
the loop puts on the device once per epoch.

A fit loop consumes a stream (or a :class:`datasets.Multitask`) in a scanned
epoch as it does stored trials, with two substitutions: the batch source
traced in the step, and what is stacked per epoch::

    sample = source.sampler(batch_size)          # traced: sample(data, idx[s]) -> batch dict
    for epoch in range(n_epochs):                # host, outside jit
        data, idx = source.epoch(epoch, n_steps, batch_size, start_step=0)
        data = device_data if data is None else jax.device_put(data)
        state, outs = train_epoch(state, data, idx)   # lax.scan over idx
    held_out = source.held_out_set()             # a fixed TaskDataset: evaluate as today

``idx`` is the epoch's ``(n_steps, 2)`` keys for a device source (replicate
them, never shard them like trial indices), step numbers for a host source,
and trial indices for a stored ``Multitask`` (whose ``device_data`` is its
``train_set()`` on the device). Resuming at step ``k`` is ``start_step=k``.
"""

import functools

import numpy as np

from ._checks import check_bool, check_index_int, check_positive_int, dt_ms
from ._io import from_arrays

__all__ = ['Stream']

# The first fold of a stream's root key: training epochs and the held-out set never share a path.
_TRAIN, _HELD_OUT = 0, 1
# As datasets._cogtask's generator: XLA's lowest level compiles a trial generator ~2x faster.
FAST_COMPILE = {'xla_backend_optimization_level': 0}


def train_key(seed, epoch, step):
    """The key of training batch ``step`` of ``epoch``: ``PRNGKey(seed)`` folded with 0, epoch, step.

    ``epoch`` and ``step`` may be traced values (the key is computed in a compiled epoch).
    """
    import jax
    root = jax.random.fold_in(jax.random.PRNGKey(seed), _TRAIN)
    return jax.random.fold_in(jax.random.fold_in(root, epoch), step)


def train_keys(seed, epoch, n_steps, start_step=0):
    """Keys of steps ``start_step .. n_steps - 1`` of ``epoch``, stacked ``(n, 2)`` uint32."""
    import jax
    import jax.numpy as jnp
    steps = jnp.arange(start_step, n_steps, dtype=jnp.uint32)
    return jax.vmap(lambda step: train_key(seed, epoch, step))(steps)


def check_position(epoch, n_steps, start_step):
    """``(epoch, n_steps, start_step)`` checked: ints, ``0 <= start_step < n_steps``."""
    epoch = check_index_int('epoch', epoch)
    n_steps = check_positive_int('n_steps', n_steps)
    start_step = check_index_int('start_step', start_step)
    if start_step >= n_steps:
        raise ValueError(f'start_step={start_step} must be below n_steps={n_steps}.')
    return epoch, n_steps, start_step


def _numpy_batch(batch):
    import jax
    return jax.tree.map(np.asarray, jax.device_get(batch))


class Stream:
    """Fresh trials of one task for every ``(epoch, step)``: a dataset without fixed trials.

    Build one with :func:`datasets.stream`; the constructor takes the
    stream's source as one of two functions.

    Parameters
    ----------
    draw : callable, optional
        *Device* source: ``draw(key, batch_size) -> batch`` (``batch_size``
        static), a pure JAX function, ``jit``/``vmap``-safe; trial ``i`` of a
        batch must depend on ``key`` and ``i`` only.
    host_draw : callable, optional
        *Host* source: ``host_draw(seed, batch_size) -> batch`` of numpy
        arrays, ``seed`` a non-negative int.
    n_features, n_steps : int
        Input width and trial length of every batch.
    n_classes : int or None
        Label space (``None`` for value targets).
    dt : brainunit.Quantity
        The time step.
    seed : int, optional
        Root of every key (default 0).
    held_out : int, optional
        Trials in :meth:`held_out_set` (default 512).
    name, description : str, optional
    has_loss_weights : bool, optional
        Whether its batches carry ``'loss_weights'``.

    Notes
    -----
    A batch is a dict ``{'inputs' (B, T, F) float32, 'targets' (B, T) int32
    or (B, T, O) float32, 'mask' (B, T) float32}``, plus ``'loss_weights'``
    (B, T) when the stream weights its objective apart from the mask, and
    ``'conditions'`` (a dict of ``(B,)`` arrays) when asked for.

    Examples
    --------
    >>> import jax
    >>> import datasets
    >>> s = datasets.stream('go_no_go', seed=0, held_out=64)
    >>> s.kind, s.n_features, s.n_steps, s.n_classes
    ('device', 3, 100, 3)
    >>> batch = jax.jit(s.draw, static_argnums=1)(s.key(epoch=1, step=0), 16)
    >>> batch['inputs'].shape, batch['mask'].shape
    ((16, 100, 3), (16, 100))
    >>> len(s.held_out_set())
    64
    """

    def __init__(self, *, draw=None, host_draw=None, n_features, n_steps, n_classes, dt, seed=0,
                 held_out=512, name='', description='', has_loss_weights=False):
        if (draw is None) == (host_draw is None):
            raise TypeError('Stream needs exactly one source: draw=(key, batch_size) -> batch for a device '
                            'stream, or host_draw=(seed, batch_size) -> batch for a host stream.')
        self._draw, self._host_draw = draw, host_draw
        self.kind = 'device' if draw is not None else 'host'
        self.n_features = check_positive_int('n_features', n_features)
        self.n_steps = check_positive_int('n_steps', n_steps)
        self.n_classes, self.dt = n_classes, dt
        self.seed = check_index_int('seed', seed)
        self.held_out = check_positive_int('held_out', held_out)
        self.name, self.description = name, description
        self.has_loss_weights = check_bool('has_loss_weights', has_loss_weights)
        self._held_out_set, self._compiled = None, {}

    def __repr__(self):
        return (f'Stream(name={self.name!r}, kind={self.kind!r}, n_features={self.n_features}, '
                f'n_steps={self.n_steps}, n_classes={self.n_classes}, dt={dt_ms(self.dt):g} ms, '
                f'seed={self.seed}, held_out={self.held_out})')

    # -- keys: a batch is a pure function of (seed, epoch, step) --------------------------------
    def key(self, epoch, step=0):
        """The PRNG key of batch ``step`` of ``epoch`` (``train_key`` of the stream's seed)."""
        return train_key(self.seed, epoch, step)

    def epoch_keys(self, epoch, n_steps, *, start_step=0):
        """Keys of steps ``start_step .. n_steps - 1`` of ``epoch``, stacked ``(n, 2)`` uint32."""
        return train_keys(self.seed, *check_position(epoch, n_steps, start_step))

    def host_seed(self, epoch, step):
        """The int seed of a host batch: ``SeedSequence([seed, 0, epoch, step])``'s first word."""
        return int(np.random.SeedSequence([self.seed, _TRAIN, epoch, step]).generate_state(1)[0])

    # -- drawing ------------------------------------------------------------------------------
    def draw(self, key, batch_size, *, conditions=False):
        """A batch of ``batch_size`` fresh trials from ``key``: pure JAX, traceable in ``jit``.

        Device streams only (a host stream's trials cannot be traced; use :meth:`epoch_batches`).
        """
        if self.kind != 'device':
            raise TypeError(f'Stream {self.name!r} draws its trials on the host (kind={self.kind!r}); '
                            'it has no traceable draw. Use stream.epoch_batches(...) or stream.epoch(...).')
        batch = self._draw(key, check_positive_int('batch_size', batch_size))
        return batch if conditions else {k: v for k, v in batch.items() if k != 'conditions'}

    def batch(self, epoch, step, batch_size, *, conditions=False):
        """Batch ``step`` of ``epoch`` as numpy arrays (either kind): what training at that step sees."""
        epoch, _, step = check_position(epoch, step + 1, step)
        if self.kind == 'device':
            batch = _numpy_batch(self._jitted(check_positive_int('batch_size', batch_size), conditions)(
                self.key(epoch, step)))
        else:
            batch = self._host_draw(self.host_seed(epoch, step), check_positive_int('batch_size', batch_size))
        return batch if conditions else {k: v for k, v in batch.items() if k != 'conditions'}

    def host_batch(self, seed, batch_size, *, conditions=False):
        """A numpy batch from an int ``seed`` (either kind): a device stream draws from ``PRNGKey(seed)``."""
        seed, batch_size = check_index_int('seed', seed), check_positive_int('batch_size', batch_size)
        if self.kind == 'device':
            import jax
            batch = _numpy_batch(self._jitted(batch_size, conditions=True)(jax.random.PRNGKey(seed)))
        else:
            batch = self._host_draw(seed, batch_size)
        return batch if conditions else {k: v for k, v in batch.items() if k != 'conditions'}

    def epoch_batches(self, epoch, n_steps, batch_size, *, start_step=0):
        """Steps ``start_step .. n_steps - 1`` of ``epoch`` stacked: numpy arrays ``(n, batch_size, ...)``."""
        epoch, n_steps, start_step = check_position(epoch, n_steps, start_step)
        if self.kind == 'device':
            keys = self.epoch_keys(epoch, n_steps, start_step=start_step)
            return _numpy_batch(self._jitted(check_positive_int('batch_size', batch_size), epoch=True)(keys))
        steps = [self.batch(epoch, step, batch_size) for step in range(start_step, n_steps)]
        return {key: np.stack([s[key] for s in steps]) for key in steps[0]}

    # -- what a compiled epoch consumes --------------------------------------------------------
    def epoch(self, epoch, n_steps, batch_size, *, start_step=0, inline=True):
        """``(data, idx)`` for a scanned epoch: step ``s`` trains on ``sampler(batch_size)(data, idx[s])``.

        A device stream gives ``(None, keys)`` (nothing crosses from the host but
        ``(n, 2)`` keys); a host stream gives its stacked numpy batches and the step numbers.
        With ``inline=False`` a device stream instead generates the epoch's batches on the
        device in a program of its own, compiled for speed of compiling (as ``from_cogtask``),
        and gives those device arrays and the step numbers: the train program then compiles
        as for stored trials (use ``sampler(batch_size, inline=False)``).
        """
        if self.kind == 'device' and inline:
            return None, self.epoch_keys(epoch, n_steps, start_step=start_step)
        if self.kind == 'device':
            keys = self.epoch_keys(epoch, n_steps, start_step=start_step)
            batches = self._jitted(check_positive_int('batch_size', batch_size), epoch=True, fast=True)(keys)
        else:
            batches = self.epoch_batches(epoch, n_steps, batch_size, start_step=start_step)
        return batches, np.arange(n_steps - start_step, dtype=np.int32)

    def sampler(self, batch_size, *, inline=True):
        """``sample(data, idx) -> batch``, traced in the train step (``trainer`` ``make_score(batch=...)``).

        Device streams draw from ``idx``, a key; host streams (and device streams with
        ``inline=False``) index ``data`` by the step ``idx`` (or, with ``idx=None``, take
        ``data`` as the batch).
        """
        batch_size = check_positive_int('batch_size', batch_size)
        if self.kind == 'device' and inline:
            return functools.partial(_draw_from_key, self, batch_size)
        return index_step

    # -- fixed trials -------------------------------------------------------------------------
    def held_out_set(self):
        """``held_out`` fixed trials from a seed path no training batch takes, as a :class:`TaskDataset`.

        Drawn once and cached: ``held_out_set()`` is the same object every call.
        """
        if self._held_out_set is None:
            if self.kind == 'device':
                import jax
                root = jax.random.fold_in(jax.random.PRNGKey(self.seed), _HELD_OUT)
                batch = _numpy_batch(self._jitted(self.held_out, conditions=True)(root))
            else:
                seed = int(np.random.SeedSequence([self.seed, _HELD_OUT]).generate_state(1)[0])
                batch = self._host_draw(seed, self.held_out)
            self._held_out_set = as_dataset(batch, self, seed=self.seed)
        return self._held_out_set

    # -- helpers ------------------------------------------------------------------------------
    def _jitted(self, batch_size, conditions=False, *, epoch=False, fast=False):
        """The compiled draw of ``batch_size`` trials (mapped over an epoch's keys), one per shape."""
        import jax
        key = (batch_size, conditions, epoch, fast)
        if key not in self._compiled:
            draw = functools.partial(self.draw, batch_size=batch_size, conditions=conditions)
            if epoch:
                # lax.map, not vmap: a one-task-a-batch mixture's switch then runs one branch a step.
                draw = functools.partial(jax.lax.map, draw) if fast else jax.vmap(draw)
            self._compiled[key] = jax.jit(draw, compiler_options=FAST_COMPILE if fast else None)
        return self._compiled[key]


def _draw_from_key(stream, batch_size, data, key):
    del data  # a device stream needs no arrays: the key is the whole batch
    return stream.draw(key, batch_size)


def index_step(data, step):
    """Batch ``step`` of stacked batches ``data`` (``step=None``: ``data`` is the batch)."""
    if step is None:
        return data
    return {key: value[step] for key, value in data.items() if key != 'conditions'}


def as_dataset(batch, stream, *, seed=None):
    """A drawn batch (numpy) as a :class:`TaskDataset` with the stream's ``n_classes`` and ``dt``."""
    if stream.n_classes is not None and batch['targets'].size and int(batch['targets'].max()) >= stream.n_classes:
        raise ValueError(
            f"stream {stream.name or stream.description!r} declares n_classes={stream.n_classes} but its trials "
            f"carry label {int(batch['targets'].max())}; pass n_classes={int(batch['targets'].max()) + 1} "
            "to datasets.stream.")
    return from_arrays(batch['inputs'], batch['targets'], batch['mask'], dt=stream.dt,
                       n_classes=stream.n_classes, seed=seed, name=stream.name,
                       description=stream.description, conditions=batch.get('conditions'),
                       loss_weights=batch.get('loss_weights'))
