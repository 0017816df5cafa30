"""From a dataset to device arrays and per-epoch index stacks.

The arrays go to the device once per ``fit``; every batch is gathered on the
device by an index array, so no trial data crosses from the host per step.
"""

import datasets
import jax
import numpy as np


def as_dataset(data, name):
    """Accept a ``TaskDataset`` or an ``(inputs, targets[, mask])`` tuple."""
    if isinstance(data, datasets.TaskDataset):
        return data
    if isinstance(data, (tuple, list)) and any(isinstance(d, datasets.TaskDataset) for d in data):
        fix = {'train': "pass the evaluation set as held_out=: fit(train, held_out=held_out, ...)",
               'held_out': "pass one held-out set (join their trials first) and evaluate any "
                           "other with evaluate(dataset)"}.get(name, "call once per dataset")
        raise TypeError(f"{name} must be one datasets.TaskDataset, got a {type(data).__name__} "
                        f"holding datasets; {fix}.")
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        return datasets.from_arrays(*data)
    raise TypeError(
        f"{name} must be a datasets.TaskDataset or an (inputs, targets[, mask]) tuple, "
        f"got {type(data).__name__}; build one with datasets.from_arrays(inputs, targets)."
    )


def to_device(ds, placement=None):
    """``{'inputs', 'targets', 'mask', 'loss_weights', 'groups'}`` as device arrays, on every device of ``placement``.

    ``mask`` and ``loss_weights`` may be ``None``; ``groups`` is the int
    ``task`` condition of a :class:`datasets.Multitask` set (``None`` otherwise).
    """
    arrays = {'inputs': ds.inputs, 'targets': ds.targets, 'mask': ds.mask,
              'loss_weights': ds.loss_weights, 'groups': group_ids(ds)}
    # device_put, not jnp.asarray: the latter compiles a copy kernel per new shape.
    return jax.device_put(arrays) if placement is None else placement.replicated(arrays)


def group_ids(ds):
    """The dataset's int ``task`` condition (one group id per trial), or ``None``."""
    ids = ds.conditions.get(datasets.TASK_CONDITION)
    return ids if ids is not None and ids.dtype.kind in 'iu' else None


def batch_of(data, idx):
    """The batch at ``idx``: every array of ``data`` (a dict) indexed along its trial axis.

    ``idx=None`` means ``data`` is already one batch (a :class:`datasets.Stream` drew it).
    """
    if idx is None:
        return data
    return {key: None if value is None else value[idx] for key, value in data.items()}


def gather(data, idx):
    """One batch ``(inputs, targets, mask)`` of the device arrays at ``idx`` (other keys ignored)."""
    batch = batch_of(data, idx)
    return batch['inputs'], batch['targets'], batch.get('mask')


def eval_indices(n_trials, batch_size):
    """Sequential ``(n_batches, batch_size)`` indices and validity weights.

    The last batch is padded with trial 0 and weight 0, so every batch has the
    training shape and the eval step compiles once.
    """
    n_batches = -(-n_trials // batch_size)
    idx = np.zeros(n_batches * batch_size, np.int32)
    idx[:n_trials] = np.arange(n_trials)
    valid = np.zeros(n_batches * batch_size, np.float32)
    valid[:n_trials] = 1.0
    return idx.reshape(n_batches, batch_size), valid.reshape(n_batches, batch_size)
