"""Run a model over a dataset: outputs, choices and recorded hidden trajectories, on the host.

``predict`` is a standalone function of a model, so a trained network can be
opened with or without the Trainer that trained it. One compiled program runs
every (padded) batch in a ``for_loop``: built by the model's
:class:`~trainer.core.program.Program` (the Trainer's own, when it calls), keyed
on the forward, the recorded states and ``dt``, and compiled once per shape.
"""

import contextlib
import dataclasses
import math
from typing import Optional

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

from ..core import checks as _checks
from ..core.data import as_dataset
from ..core.forward import recording_rollout, rollout
from ..core.program import Program
from ..core.state import batch_template, hidden_states, load_template

__all__ = ['Prediction', 'predict']

@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Prediction:
    """What a model did on a dataset, as numpy arrays on the host.

    Attributes
    ----------
    outputs : numpy.ndarray
        ``(n_trials, n_steps, n_outputs)`` from a per-step forward, or
        ``(n_trials, n_outputs)`` from a whole-sequence one.
    choices : numpy.ndarray or None
        ``(n_trials,)`` int: for label datasets (``n_classes`` set), the
        argmax of the outputs averaged over the steps the dataset's mask scores
        (the last step without a mask, or where a trial's mask is all zero);
        ``None`` for value targets.
    states : dict or None
        ``{dotted name: (n_trials, n_steps, ...)}``: each recorded hidden
        state after every step (``'cell.h'``), when ``predict(...,
        record=...)`` asked for it; else ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> import datasets
    >>> from trainer.models import RateRNN
    >>> data = datasets.from_arrays(np.ones((5, 4, 3)), np.array([0, 1, 0, 1, 1]))
    >>> prediction = predict(RateRNN(3, 8, 2), data, record=True)
    >>> prediction
    Prediction(outputs=(5, 4, 2), choices=(5,), states={'cell.h': (5, 4, 8)})
    """

    outputs: np.ndarray
    choices: Optional[np.ndarray] = None
    states: Optional[dict] = None

    def __len__(self):
        return self.outputs.shape[0]

    def __repr__(self):
        choices = None if self.choices is None else self.choices.shape
        states = None if self.states is None else {k: v.shape for k, v in self.states.items()}
        return f'Prediction(outputs={self.outputs.shape}, choices={choices}, states={states})'


def predict(model, dataset, *, forward=None, batch_size=None, record=False, max_bytes=2 ** 31,
            program=None, noise=False, seed=None):
    """Run ``model`` over every trial of ``dataset`` and return a :class:`Prediction`.

    Trials go in batches of ``batch_size`` (the last one padded, so one
    compiled program serves them all) under ``brainstate.environ.context(
    dt=dataset.dt)``; hidden states start from their initial values in every
    batch, as in training. The model's hidden states are left as they were.

    Parameters
    ----------
    model : brainstate.nn.Module
        A trained model, e.g. ``trainer.model``.
    dataset : datasets.TaskDataset or tuple
        The trials (or ``(inputs, targets[, mask])``).
    forward : callable, optional
        ``forward(model, inputs) -> outputs``; default :func:`trainer.rollout`
        (one ``model(x_t)`` per step).
    batch_size : int, optional
        Trials per batch; default ``min(n_trials, 256)``.
    record : bool or list of str, optional
        ``True`` records every hidden state (``brainstate.HiddenState``)
        after every step; a list of dotted names (``['cell.h']``) records
        those. Recording steps the model itself, so it needs the default
        ``forward``.
    max_bytes : int, optional
        Refuse to record trajectories larger than this (default 2 GiB): they
        are held on the device and then the host in full.
    program : trainer.core.program.Program, optional
        The owner of the model's compiled code (a Trainer passes its own).
    noise : bool, default False
        Run under ``brainstate.environ`` ``fit=noise``: ``False`` is evaluation
        mode (no noise, no dropout); ``True`` draws the training-time noise.
    seed : int, optional
        Draw this call's noise from ``seed`` (the same seed repeats the same
        noise) and leave brainstate's global random stream as it was; without
        it the call draws from the global stream and moves it on, so repeated
        calls differ.

    Returns
    -------
    Prediction
        ``outputs``, ``choices`` and (when recorded) ``states``, unpadded
        numpy arrays with ``n_trials`` first.

    Examples
    --------
    >>> import datasets
    >>> from trainer.models import RateRNN
    >>> data = datasets.load_dataset('delayed_match_task', n_trials=10, seq_len=5)
    >>> prediction = predict(RateRNN(4, 16, 2), data, batch_size=4, record=['cell.h'])
    >>> prediction.outputs.shape, prediction.choices.shape, prediction.states['cell.h'].shape
    ((10, 5, 2), (10,), (10, 5, 16))
    """
    ds = as_dataset(dataset, 'dataset')
    forward = rollout if forward is None else forward
    if not callable(forward):
        raise TypeError(f'forward must be callable(model, inputs), got {forward!r}.')
    batch_size = _checks.positive_int('batch_size', min(len(ds), 256) if batch_size is None else batch_size)
    max_bytes = _checks.positive_int('max_bytes', max_bytes)
    n_batches = -(-len(ds) // batch_size)
    with brainstate.environ.context(dt=ds.dt), kept_hidden_states(model):
        template = batch_template(model, batch_size)
        paths = _recorded_paths(model, record, forward)
        _check_size(paths, template, len(ds), ds.n_steps, max_bytes)
        owner = program or Program.of(model)  # the Trainer's, when one trained this model
        run = owner.jit('predict', (forward, tuple(paths.items()), bool(noise)),
                        lambda: _build(model, forward, paths, bool(noise)), env={'dt': ds.dt})
        # Pad with zero trials to whole batches; the padding is cut off below.
        xs = np.zeros((n_batches * batch_size,) + ds.inputs.shape[1:], np.float32)
        xs[:len(ds)] = ds.inputs
        xs = jax.device_put(xs.reshape((n_batches, batch_size) + ds.inputs.shape[1:]))
        state = owner.read(template)
        if seed is not None:
            state = state._replace(rng=brainstate.random.RandomState(seed).value)
        state, (outputs, recorded) = run(state, template, xs)
        if seed is None:
            brainstate.random.DEFAULT.value = state.rng  # the noise drawn moves the stream on
        outputs, recorded = jax.device_get((outputs, recorded))
    outputs = _unbatch(outputs, len(ds))
    states = {name: _unbatch(recorded[name], len(ds)) for name in paths} if paths else None
    return Prediction(outputs, _choices(outputs, ds), states)


@contextlib.contextmanager
def kept_hidden_states(model):
    """Give ``model``'s hidden states back their values (and so their shapes) on exit.

    ``init_all_states`` swaps in new state objects of another batch size; a
    Trainer that compiled for its own batch size must find its shapes again.
    """
    before = {path: state.value for path, state in hidden_states(model).items()}
    try:
        yield
    finally:
        for path, state in hidden_states(model).items():
            if path in before:
                state.value = before[path]


def dotted(path):
    """``('cell', 'h')`` -> ``'cell.h'``: the public name of a state."""
    return '.'.join(str(p) for p in path)


def recordable(model):
    """``{dotted name: path}`` of the model's ``HiddenState``s, in the model's order."""
    return {dotted(path): path for path, state in hidden_states(model).items()
            if isinstance(state, brainstate.HiddenState)}


def _recorded_paths(model, record, forward):
    if record is False or record is None:
        return {}
    available = recordable(model)
    if forward is not rollout:
        raise ValueError(
            'record needs the default forward (trainer.rollout): recording steps the model '
            f'one update at a time, and a custom forward ({forward!r}) is opaque. Drop forward=, '
            'or record inside your forward yourself.')
    if record is True:
        names = list(available)
    else:
        names = [record] if isinstance(record, str) else list(record)
        unknown = [n for n in names if n not in available]
        if unknown or not names:
            raise ValueError(
                f'record must be True or a list of hidden-state names; {unknown or names!r} '
                f'{"are not hidden states" if unknown else "is empty"}. The model has '
                f'{sorted(available)}.')
    if not names:
        raise ValueError('record=True, but the model has no hidden states (brainstate.HiddenState).')
    return {name: available[name] for name in names}


def _check_size(paths, template, n_trials, n_steps, max_bytes):
    sizes = {}
    for name, path in paths.items():
        per_step = sum(math.prod(jnp.shape(x)[1:]) * jnp.result_type(x).itemsize
                       for x in jax.tree.leaves(template[path]))
        sizes[name] = n_trials * n_steps * per_step
    total = sum(sizes.values())
    if total > max_bytes:
        parts = ', '.join(f'{k} {_size(v)}' for k, v in sizes.items())
        raise ValueError(
            f'recording {list(sizes)} over {n_trials} trials x {n_steps} steps needs '
            f'{_size(total)} ({parts}), more than max_bytes={max_bytes} ({_size(max_bytes)}). '
            f'Record fewer states (record=[...]), predict on a subset of the trials, or raise '
            f'max_bytes.')


def _size(n_bytes):
    """``1536`` -> ``'1.5 KiB'``."""
    for unit in ('bytes', 'KiB', 'MiB', 'GiB'):
        if n_bytes < 1024 or unit == 'GiB':
            return f'{n_bytes:.4g} {unit}'
        n_bytes /= 1024


def _build(model, forward, paths, noise):
    """``run(template, xs) -> (outputs, recorded)``: every batch from the template, in one loop."""
    def run(template, xs):
        def batch(x):
            load_template(model, template)  # each batch starts where training batches start
            if paths:
                return recording_rollout(model, x, paths)
            return forward(model, x), {}

        with brainstate.environ.context(fit=noise):  # inside the trace: the mode is the program's
            return brainstate.transform.for_loop(batch, xs)

    return run


def _unbatch(value, n_trials):
    """``(n_batches, B, ...)`` -> ``(n_trials, ...)`` numpy, padding dropped, units stripped."""
    array = np.asarray(u.get_mantissa(value))
    return array.reshape((-1,) + array.shape[2:])[:n_trials]


def _choices(outputs, ds):
    """Argmax of the outputs averaged over the scored steps (see :class:`Prediction`)."""
    if ds.n_classes is None or outputs.ndim not in (2, 3):
        return None
    if outputs.ndim == 2:
        return np.argmax(outputs, axis=-1).astype(np.int32)
    return np.argmax(scored_mean(outputs, ds.mask), axis=-1).astype(np.int32)


def scored_mean(values, mask):
    """``(N, T, ...)`` -> ``(N, ...)``: the mask-weighted mean over time, else the last step."""
    last = values[:, -1]
    if mask is None:
        return last
    weight = mask.reshape(mask.shape + (1,) * (values.ndim - 2))
    total = weight.sum(1)
    mean = (values * weight).sum(1) / np.where(total > 0, total, 1)
    return np.where(total > 0, mean, last)
