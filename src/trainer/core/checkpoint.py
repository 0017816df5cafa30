"""Checkpoints: the whole ``TrainState`` plus progress, in one ``braintools.file`` msgpack file.

A save serialises to ``<path>.partial-<pid>-<random>`` (one name per writer,
so two writers of one path never share a temporary file; braintools writes
its own temporary file and renames it), ``fsync``s it and renames it over
``path``: a kill at any moment leaves either the old or the new checkpoint,
and a full disk or a folder turned read-only mid-save leaves the old one.
Leftovers of a killed save (``<path>.partial*``, ``<path>.tmp-*``) of a writer
no longer running are removed by the next save or load of the same path.
"""

import errno
import glob
import json
import numbers
import os
import re
import secrets

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
from braintools.file import msgpack_from_state_dict, msgpack_load, msgpack_save

__all__ = ['check_writable', 'check_written_by', 'load', 'load_checkpoint', 'save']


def _key(path):
    return '/'.join(map(str, path))


def _is_typed_key(x):
    return jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _rng_data(x):
    # msgpack stores plain integers; a typed PRNG key is unwrapped to its data.
    return jax.random.key_data(x) if _is_typed_key(x) else x


def _partial_name(path):
    return f'{path}.partial-{os.getpid()}-{secrets.token_hex(4)}'


def _running(pid):
    """Whether process ``pid`` is this one or still alive (its temporary files are in use)."""
    if pid == os.getpid():
        return True  # this process removes its own temporaries when a save fails
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, owned by another user
        return True
    return True


def _clean(path):
    writer = re.compile(re.escape(path) + r'\.partial-(\d+)-')
    for stale in glob.glob(glob.escape(path) + '.partial*') + glob.glob(glob.escape(path) + '.tmp-*'):
        match = writer.match(stale)
        if match and _running(int(match.group(1))):
            continue  # another writer's save in flight
        try:
            os.remove(stale)
        except OSError:
            pass


def _write_error(path, error):
    """Our ``OSError`` (same type and errno) for a save that the disk refused."""
    code = error.errno if error.errno is not None else getattr(error.__cause__, 'errno', None)
    if code == errno.ENOSPC or code == getattr(errno, 'EDQUOT', None):
        why = 'the disk is full'
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = 'its folder is not writable (read-only or without permission)'
    else:
        why = error.strerror or str(error)
    new = type(error)(f"checkpoint={path!r} could not be written: {why}. The previous checkpoint, "
                      "if any, is kept; free space, or pass checkpoint= a path on a writable disk.")
    new.errno, new.checkpoint_reason = code, why
    return new


def check_writable(path):
    """Raise ``ValueError`` naming ``checkpoint=`` unless ``path`` can be written (before training)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"checkpoint={path!r} is a directory; pass a file path such as "
                         f"{os.path.join(path, 'checkpoint.msgpack')!r}.")
    probe = _partial_name(path)
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
    # The carried hidden state (a truncated-BPTT fit resumes mid-trial). A template sharded over
    # several processes is held whole by none (to_host gives no array for it): it is not saved.
    hidden = {_key(k): v for k, v in state.hidden.items()
              if v is not None and all(np.asarray(x).dtype != object for x in jax.tree.leaves(v))}
    if hidden:
        contents['hidden'] = hidden
    partial = _partial_name(path)
    try:
        msgpack_save(partial, contents, verbose=False)
        with open(partial, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(partial, path)
    except OSError as error:
        raise _write_error(path, error) from None
    finally:  # what an interrupted or refused save left (braintools' own temporary file too)
        for leftover in [partial] + glob.glob(glob.escape(partial) + '.tmp-*'):
            try:
                os.remove(leftover)
            except OSError:
                pass
    try:
        directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:  # the rename is done; a folder we cannot open only loses the fsync
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
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
    if not isinstance(raw, dict) or not {'params', 'best', 'opt', 'rng', 'progress'} <= set(raw):
        raise ValueError(f"{who}={path!r} is not a checkpoint written by fit(checkpoint=...).")
    _check_progress(raw['progress'], who, path)
    return raw


# What every progress record holds, and what each kind adds (Trainer.fit / Ensemble.fit's save).
_PROGRESS_KEYS = ('epoch', 'seed', 'batch_size')
_TRAINER_KEYS = ('history', 'best_epoch', 'best_value', 'wait')
_MEMBER_KEYS = ('history', 'best_epoch', 'best_value', 'wait', 'stopped', 'error')


def _check_progress(text, who, path):
    """Raise unless ``text`` is the JSON progress record of a Trainer or an Ensemble."""
    def unreadable(why):
        return ValueError(f"{who}={path!r} is not a readable checkpoint: its progress record {why}; "
                          "pass a file written by fit(checkpoint=...).")

    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    if not isinstance(text, str):
        raise unreadable(f'holds {type(text).__name__} data, not JSON text')
    try:
        record = json.loads(text)
    except RecursionError:
        raise unreadable('is nested too deeply') from None
    except ValueError as error:
        raise unreadable(f'is not JSON ({error})') from None
    if not isinstance(record, dict):
        raise unreadable(f'is a JSON {type(record).__name__}, not an object')
    ensemble = 'n_members' in record
    needed = _PROGRESS_KEYS + (('n_members', 'members') if ensemble else _TRAINER_KEYS)
    missing = [k for k in needed if k not in record]
    if missing:
        raise unreadable(f'lacks {missing}')
    epoch = record['epoch']
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise unreadable(f'holds epoch={epoch!r}, not a non-negative int')
    histories = [record['history']] if not ensemble else None
    if ensemble:
        members, n = record['members'], record['n_members']
        if isinstance(n, bool) or not isinstance(n, int) or not isinstance(members, list) \
                or len(members) != n or not all(isinstance(m, dict) for m in members):
            raise unreadable(f'holds n_members={n!r} but {type(members).__name__} members')
        lacking = [k for m in members for k in _MEMBER_KEYS if k not in m]
        if lacking:
            raise unreadable(f'has a member that lacks {lacking[0]!r}')
        histories = [m['history'] for m in members]
    for history in histories:
        if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
            raise unreadable('holds a history that is not a list of rows')
    return record


def _cast(value, like, name, who, path):
    """``value`` in ``like``'s dtype, refusing what the cast would silently change."""
    dtype = jnp.result_type(like)
    source = np.asarray(value)
    if not (np.issubdtype(source.dtype, np.number) or source.dtype == np.bool_):
        raise ValueError(f"{who}={path!r}: parameter {name!r} holds {source.dtype} data, not "
                         "numbers; pass a checkpoint written by fit(checkpoint=...).")
    if np.iscomplexobj(source) and not jnp.issubdtype(dtype, jnp.complexfloating):
        raise ValueError(f"{who}={path!r}: parameter {name!r} is complex ({source.dtype}) but the "
                         f"model's is {dtype}; loading it would drop the imaginary part. Load it "
                         "into a model with complex parameters, or save real ones.")
    if jnp.issubdtype(dtype, jnp.floating) and np.issubdtype(source.dtype, np.floating) \
            and jnp.finfo(source.dtype).max > jnp.finfo(dtype).max:
        finite = np.abs(source[np.isfinite(source)]).astype(np.float64)
        too_large = int(np.count_nonzero(finite > float(jnp.finfo(dtype).max)))
        if too_large:
            raise ValueError(f"{who}={path!r}: parameter {name!r} has {too_large} value(s) (up to "
                             f"{finite.max():.3g}) too large for the model's {dtype}, which would "
                             f"load as inf; load it into a {source.dtype} model or save values in "
                             f"{dtype}'s range.")
    out = jnp.asarray(source, dtype=dtype)
    return out


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
        out[key] = jax.tree.map(lambda v, c: _cast(v, c, name, who, path), value, current[key])
    return out


def read(path):
    """The contents of a ``fit(checkpoint=...)`` file, read once: pass them to :func:`load`."""
    return _read(path, 'resume_from')


def progress(raw):
    """The progress record (epoch, seed, history, best epoch...) of :func:`read`'s contents."""
    return json.loads(raw['progress'])


def check_written_by(record, path, *, n_members=None, who='resume_from'):
    """Raise unless progress ``record`` is a Trainer's (``n_members=None``) or an ``n_members`` Ensemble's.

    Examples
    --------
    >>> check_written_by({'n_members': 2}, 'run.msgpack')
    Traceback (most recent call last):
    ...
    ValueError: resume_from='run.msgpack' is a 2-member ensemble checkpoint (Ensemble.fit); resume it with an Ensemble of 2 members, or load one member with load_checkpoint(path, model, member=k).
    """
    written = record.get('n_members')
    if written == n_members:
        return record
    if n_members is None:
        raise ValueError(f"{who}={os.fspath(path)!r} is a {written}-member ensemble checkpoint "
                         f"(Ensemble.fit); resume it with an Ensemble of {written} members, or load "
                         "one member with load_checkpoint(path, model, member=k).")
    if written is None:
        raise ValueError(f"{who}={os.fspath(path)!r} was written by a Trainer, not an Ensemble; resume "
                         "it with Trainer.fit(resume_from=...).")
    raise ValueError(f"{who}={os.fspath(path)!r} was written by an ensemble of {written} members; "
                     f"resume it with an Ensemble of that many members (this one has {n_members}).")


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
    opt = tuple(jax.tree.map(lambda v, c: _cast(v, c, f'optimizer state {i}', who, path), opt[str(i)], c)
                for i, c in enumerate(state.opt))
    rng = jnp.asarray(raw['rng'])
    if _is_typed_key(state.rng):
        rng = jax.random.wrap_key_data(rng)
    state = state._replace(params=params, opt=opt, rng=rng)
    current = {k: v for k, v in state.hidden.items() if v is not None}
    if 'hidden' in raw and current and {_key(k) for k in current} == set(raw['hidden']):
        state = state._replace(hidden={**state.hidden, **_restore(current, raw['hidden'], who, path, 'hidden states')})
    return state, best, progress(raw)


def load_checkpoint(path, model, *, best=True, member=None):
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
    member : int, optional
        For a checkpoint written by :meth:`trainer.Ensemble.fit`: the member
        whose parameters to load (``0 <= member < n_members``); required there,
        refused for a Trainer's checkpoint.

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
    if isinstance(path, brainstate.nn.Module) and isinstance(model, (str, os.PathLike)):
        raise TypeError("load_checkpoint(path, model) takes the checkpoint's path first, then the "
                        f"model; got a {type(path).__name__} and {model!r}. Swap them: "
                        "load_checkpoint(path, model).")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike (a fit(checkpoint=...) file), got "
                        f"{type(path).__name__}.")
    if not isinstance(model, brainstate.nn.Module):
        raise TypeError(f"model must be a brainstate.nn.Module of the architecture the checkpoint "
                        f"was written for, got {type(model).__name__}.")
    if not isinstance(best, (bool, np.bool_)):
        raise TypeError(f"best must be True or False, got {type(best).__name__}: {best!r}.")
    weights = model.states(brainstate.ParamState)
    raw = _read(path, 'path')
    record = progress(raw)
    saved = raw['best' if best else 'params']
    if 'n_members' in record:
        n = record['n_members']
        if member is None:
            raise ValueError(f"path={os.fspath(path)!r} is a {n}-member ensemble checkpoint "
                             f"(Ensemble.fit); pass member=k with 0 <= k < {n} to load one member.")
        if isinstance(member, bool) or not isinstance(member, numbers.Integral) or not 0 <= member < n:
            raise ValueError(f"member must be an int in [0, {n}) for this {n}-member ensemble "
                             f"checkpoint, got {member!r}.")
        try:
            saved = {name: jax.tree.map(lambda x: np.asarray(x)[int(member)], value)
                     for name, value in saved.items()}
        except IndexError:
            raise ValueError(f"path={os.fspath(path)!r} is not a readable checkpoint: its "
                             "parameters lack the member axis of an ensemble.") from None
        member_record = record['members'][int(member)]
        record = {**{k: v for k, v in record.items() if k not in ('members', 'n_members', 'seeds')},
                  **member_record, 'member': int(member)}
    elif member is not None:
        raise ValueError(f"member={member!r} picks a member of an ensemble checkpoint, but "
                         f"path={os.fspath(path)!r} was written by a Trainer; drop member=.")
    values = _restore({k: s.value for k, s in weights.items()}, saved, 'path', path, 'parameters')
    for key, state in weights.items():
        state.value = values[key]
    return record
