"""Where a fit's training batches come from: stored trials, or a stream drawn from ``(seed, epoch, step)``.

Both engines ask their plan's source the same four things, and never which
kind it is::

    source.prepare(placement)                  # once per plan: device arrays, compiled key maths
    sampler = source.sampler(batch_size)       # traced in the step (None: gather stored trials)
    data, idx = source.epoch(plan, epoch)      # per epoch: step s trains on sampler(data, idx[s])
    source.shards_idx                          # whether idx holds trial indices (split under data parallel)

- :class:`StoredSource`: a ``TaskDataset`` (or a stored :class:`datasets.Multitask`'s
  ``train_set()``) put on the device once; ``idx`` the shuffled trial indices.
- :class:`StreamSource`: a :class:`datasets.Stream` or a stream ``Multitask``.
  A *device* source's ``idx`` is the epoch's PRNG keys (replicated, never split)
  and its trials are drawn inside the compiled step; a *host* source's
  ``data`` is the epoch's numpy batches, put on the device once per epoch.
  Batch ``s`` of epoch ``e`` is a function of the stream's seed, ``e`` and
  ``s`` alone, so a resumed fit trains on the trials the uninterrupted one did.
"""

import datasets
import jax
import numpy as np

from ..core.data import to_device

__all__ = ['StoredSource', 'StreamSource', 'epoch_order', 'source_of']


def epoch_order(plan, epoch, seed):
    """``(n_steps, batch)`` trial indices of ``epoch`` (its shuffle counted within the stage)."""
    return datasets.epoch_indices(len(plan.train), plan.batch_size, seed=seed, epoch=epoch - plan.offset,
                                  shuffle=plan.shuffle, drop_remainder=True)


def is_stream(train):
    """Whether ``train`` draws its trials (a ``Stream`` or a stream ``Multitask``), rather than storing them."""
    return isinstance(train, datasets.Stream) or (isinstance(train, datasets.Multitask) and train.kind != 'stored')


def source_of(train):
    """The :class:`StoredSource` or :class:`StreamSource` of ``train`` (a ``Multitask`` keeps its task names)."""
    if is_stream(train):
        return StreamSource(train)
    if isinstance(train, datasets.Multitask):
        return StoredSource(train.train_set(), groups=train.tasks)
    return StoredSource(train)


def default_held_out(train):
    """A stream's or a mixture's fixed held-out set (drawn once, from a seed path training never takes)."""
    if is_stream(train):
        return train.held_out_set()
    if isinstance(train, datasets.Multitask):
        try:
            return train.held_out_set()
        except ValueError:  # Multitask(held_out=None) holds nothing out
            return None
    return None


class StoredSource:
    """Stored trials: on the device once, gathered by shuffled indices.

    Parameters
    ----------
    dataset : datasets.TaskDataset
    groups : tuple of str, optional
        The task names of a stored mixture (per-task sums).
    """

    kind = 'stored'
    shards_idx = True

    def __init__(self, dataset, groups=None):
        self.like, self.groups = dataset, groups
        self.data = None

    def n_steps(self, batch_size, steps_per_epoch):
        if steps_per_epoch is not None:
            raise ValueError(
                f"steps_per_epoch={steps_per_epoch!r} is for streams; a dataset's epoch is every trial once "
                f"({len(self.like)} trials // batch_size {batch_size} = {len(self.like) // batch_size} "
                "steps). Drop steps_per_epoch, or train on datasets.stream(...).")
        return len(self.like) // batch_size

    def program_key(self, batch_size):
        return ('stored', self.groups)

    def sampler(self, batch_size):
        return None  # make_score gathers the device arrays at the trial indices

    def fingerprint(self):
        return None

    def prepare(self, plan, placement, seeds=None):
        self.data = to_device(self.like, placement)

    def epoch(self, plan, epoch, seeds=None):
        """``(device data, (n_steps, B) indices)``; with member ``seeds``, ``(n_steps, K, B)``."""
        if seeds is None:
            return self.data, epoch_order(plan, epoch, plan.seed)
        return self.data, np.stack([epoch_order(plan, epoch, s) for s in seeds], axis=1)


class StreamSource:
    """Fresh trials from a :class:`datasets.Stream` or a stream :class:`datasets.Multitask`.

    The fit's ``seed`` does not change the trials: they are the stream's own
    (``datasets.stream(name, seed=...)``), batch ``s`` of fit epoch ``e``
    being ``stream.batch(e, s, batch_size)``. Ensemble members share them,
    unless ``Ensemble.fit(seeds=...)`` gives each its own: member ``k``'s
    keys are then the stream's folded with ``seeds[k]`` (device streams only).
    """

    shards_idx = False  # keys and step numbers are replicated, never split like trial indices

    def __init__(self, stream):
        self.stream, self.kind = stream, stream.kind
        self.like = stream.held_out_set()  # the trials' shape, dt and mask, for the model's checks
        self.groups = stream.tasks if isinstance(stream, datasets.Multitask) else None
        self.placement = None

    def n_steps(self, batch_size, steps_per_epoch):
        if steps_per_epoch is None:
            raise ValueError(
                f"steps_per_epoch is required when training on a stream ({self.stream!r}): a stream has no "
                "natural epoch length; pass e.g. steps_per_epoch=100 (batches per epoch, each fresh trials).")
        if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, (int, np.integer)) \
                or steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be a positive int, got {steps_per_epoch!r}.")
        return int(steps_per_epoch)

    def program_key(self, batch_size):
        return ('stream', self.stream, batch_size)

    def sampler(self, batch_size):
        return self.stream.sampler(batch_size)

    def fingerprint(self):
        """What a checkpoint must resume on: the stream's kind, seed, shape and tasks."""
        s = self.stream
        return [self.kind, int(s.seed), int(s.n_steps), int(s.n_features), list(self.groups or [getattr(s, 'name', '')])]

    def prepare(self, plan, placement, seeds=None):
        if seeds is not None and self.kind == 'host':
            raise ValueError("Ensemble.fit(seeds=...) gives each member its own trials, which a host stream "
                             "(neurogym) cannot draw in one program; drop seeds (every member then trains on "
                             "the same fresh trials) or use a device (cogtask) stream.")
        self.placement = placement
        if self.kind == 'device':
            self.epoch(plan, 1, seeds)  # the key maths compiles now, before the counted epochs

    def _epoch_keys(self, epoch, n_steps):
        return np.asarray(self.stream.epoch(epoch, n_steps, 1)[1]) if self.kind == 'device' else None

    def epoch(self, plan, epoch, seeds=None):
        """``(None, keys (n_steps, 2))`` for a device stream (``(n_steps, K, 2)`` with member seeds);
        ``(device batches (n_steps, B, ...), step numbers)`` for a host stream."""
        if self.kind == 'host':
            batches, steps = self.stream.epoch(epoch, plan.n_steps, plan.batch_size)
            return self.placement.batched(_drop_conditions(batches), axis=1), steps
        keys = self._epoch_keys(epoch, plan.n_steps)
        if seeds is None:
            return None, keys
        return None, np.stack([_fold(keys, s) for s in seeds], axis=1)


@jax.jit
def _fold_keys(keys, seed):
    return jax.vmap(lambda k: jax.random.fold_in(k, seed))(keys)


def _fold(keys, seed):
    return np.asarray(_fold_keys(keys, np.uint32(seed)))


def _drop_conditions(batches):
    return {k: v for k, v in batches.items() if k != 'conditions'}
