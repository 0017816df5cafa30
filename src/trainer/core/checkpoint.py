"""Checkpoints: the whole ``TrainState`` plus progress, in one ``braintools.file`` msgpack file.

A save serialises to ``<path>.partial`` (braintools writes its own temporary
file and renames it), ``fsync``s it and renames it over ``path``: a kill at
any moment leaves either the old or the new checkpoint. Leftovers of a killed
save (``<path>.partial*``, ``<path>.tmp-*``) are removed by the next save or
load of the same path.
"""

import glob
import json
import os

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
from braintools.file import msgpack_from_state_dict, msgpack_load, msgpack_save

__all__ = ['check_writable', 'load', 'load_checkpoint', 'save']


def _key(path):
    return '/'.join(map(str, path))


def _is_typed_key(x):
    return jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _rng_data(x):
    # msgpack stores plain integers; a typed PRNG key is unwrapped to its data.
    return jax.random.key_data(x) if _is_typed_key(x) else x


def _clean(path):
    for stale in glob.glob(glob.escape(path) + '.partial*') + glob.glob(glob.escape(path) + '.tmp-*'):
        try:
            os.remove(stale)
        except OSError:
            pass


def check_writable(path):
    """Raise ``ValueError`` naming ``checkpoint=`` unless ``path`` can be written (before training)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"checkpoint={path!r} is a directory; pass a file path such as "
                         f"{os.path.join(path, 'checkpoint.msgpack')!r}.")
    probe = path + '.partial'
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(probe, 'wb'):
            pass
        os.remove(probe)
    except OSError as error:
        raise ValueError(f"checkpoint={path!r} cannot be written ({error.strerror}); "
                         "pass a path in a writable folder.") from None


def save(path, state, best_params, progress):
    """Write ``state`` (a ``TrainState``), the best epoch's parameters and ``progress`` (JSON-able)."""
    path = os.fspath(path)
    _clean(path)
    contents = {
        'params': {_key(k): v for k, v in state.params.items()},
        'best': {_key(k): v for k, v in best_params.items()},
        'opt': {str(i): v for i, v in enumerate(state.opt)},
        'rng': _rng_data(state.rng),
        'progress': json.dumps(progress),
    }
    hidden = {_key(k): v for k, v in state.hidden.items() if v is not None}
    if hidden:  # the carried hidden state: a truncated-BPTT fit resumes mid-trial
        contents['hidden'] = hidden
    partial = path + '.partial'
    msgpack_save(partial, contents, verbose=False)
    with open(partial, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(partial, path)
    directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _read(path, who):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{who}={path!r} does not exist; pass a checkpoint written by "
                                "fit(checkpoint=...).")
    _clean(path)
    try:
        raw = msgpack_load(path, verbose=False)
    except Exception as error:  # braintools reports corrupt data in several ways
        raise ValueError(f"{who}={path!r} is not a readable checkpoint (empty, truncated or "
                         f"corrupt: {error}); pass another file.") from None
    if not isinstance(raw, dict) or not {'params', 'progress'} <= set(raw):
        raise ValueError(f"{who}={path!r} is not a checkpoint written by fit(checkpoint=...).")
    return raw


def _shape(value):
    if isinstance(value, dict) and 'mantissa' in value:
        value = value['mantissa']
    return jax.tree.map(np.shape, value)


def _restore(current, raw, who, path, what):
    """``{path: value}`` of ``raw`` in ``current``'s structure, shapes and dtypes."""
    keys = {_key(k): k for k in current}
    if set(keys) != set(raw):
        missing, extra = sorted(set(keys) - set(raw)), sorted(set(raw) - set(keys))
        raise ValueError(
            f"{who}={path!r} was written for a different model: its {what} "
            f"{'lack ' + repr(missing[0]) if missing else 'have an extra ' + repr(extra[0])} "
            f"(checkpoint: {sorted(raw)}; model: {sorted(keys)}). Resume with the model it was written for.")
    out = {}
    for name, key in keys.items():
        try:
            value = msgpack_from_state_dict(current[key], raw[name])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"{who}={path!r} was written for a different model: parameter {name!r} has shape "
                f"{_shape(raw[name])} there and {_shape(current[key])} in this model ({error}). "
                "Resume with the model it was written for.") from None
        # Restore the model's own dtypes (a float16 file must not turn training into float16).
        out[key] = jax.tree.map(lambda v, c: jnp.asarray(v, dtype=jnp.result_type(c)), value, current[key])
    return out


def read(path):
    """The contents of a ``fit(checkpoint=...)`` file, read once: pass them to :func:`load`."""
    return _read(path, 'resume_from')


def progress(raw):
    """The progress record (epoch, seed, history, best epoch...) of :func:`read`'s contents."""
    return json.loads(raw['progress'])


def load(path, state, raw=None):
    """Read ``path`` (or its contents ``raw``, already read) into ``state``'s structure.

    Returns ``(state, best_params, progress)``.
    """
    who = 'resume_from'
    raw = _read(path, who) if raw is None else raw
    params = _restore(state.params, raw['params'], who, path, 'parameters')
    best = _restore(state.params, raw['best'], who, path, 'best parameters')
    try:
        opt = msgpack_from_state_dict({str(i): v for i, v in enumerate(state.opt)}, raw['opt'])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{who}={path!r} holds the state of another optimizer ({error}); resume "
                         "with the optimizer (type and hyper-parameters) it was written with.") from None
    opt = tuple(jax.tree.map(lambda v, c: jnp.asarray(v, dtype=jnp.result_type(c)), opt[str(i)], c)
                for i, c in enumerate(state.opt))
    rng = jnp.asarray(raw['rng'])
    if _is_typed_key(state.rng):
        rng = jax.random.wrap_key_data(rng)
    state = state._replace(params=params, opt=opt, rng=rng)
    current = {k: v for k, v in state.hidden.items() if v is not None}
    if 'hidden' in raw and current and {_key(k) for k in current} == set(raw['hidden']):
        state = state._replace(hidden={**state.hidden, **_restore(current, raw['hidden'], who, path, 'hidden states')})
    return state, best, progress(raw)


def load_checkpoint(path, model, *, best=True):
    """Load a ``fit(checkpoint=...)`` file's parameters into ``model``, for inference.

    Parameters
    ----------
    path : str
        A checkpoint written by :meth:`trainer.Trainer.fit`.
    model : brainstate.nn.Module
        A freshly built model of the same architecture.
    best : bool, default True
        Load the best epoch's parameters (what ``fit`` leaves in the model with
        ``restore_best=True``); ``False`` loads the last epoch's.

    Returns
    -------
    dict
        The checkpoint's progress record (``epoch``, ``history``, ``best_epoch``...).

    Examples
    --------
    >>> import braintools, datasets, os, tempfile
    >>> from trainer import Trainer, load_checkpoint, objectives
    >>> from trainer.models import RateRNN
    >>> data = datasets.load_dataset('delayed_match_task', n_trials=32, seq_len=6, n_symbols=2)
    >>> path = os.path.join(tempfile.mkdtemp(), 'run.msgpack')
    >>> _ = Trainer(RateRNN(2, 8, 2), braintools.optim.Adam(lr=1e-2), progress=False,
    ...             objective=objectives.cross_entropy()).fit(data, n_epochs=2, batch_size=16,
    ...                                                       checkpoint=path)
    >>> load_checkpoint(path, RateRNN(2, 8, 2, seed=1))['epoch']
    2
    """
    weights = model.states(brainstate.ParamState)
    raw = _read(path, 'path')
    values = _restore({k: s.value for k, s in weights.items()}, raw['best' if best else 'params'],
                      'path', path, 'parameters')
    for key, state in weights.items():
        state.value = values[key]
    return json.loads(raw['progress'])
