"""Front doors for recorded data: numpy arrays and ``.npz`` files."""

import os
import zipfile

import brainunit as u
import numpy as np

from ._checks import as_dt, dt_ms
from ._record import TaskDataset

__all__ = ['from_arrays', 'from_npz', 'save_npz']


def _as_numeric(name, value):
    if isinstance(value, u.Quantity):
        raise TypeError(
            f'{name} must be plain numbers, got a brainunit Quantity in {u.get_unit(value)}; '
            f'pass its magnitude, e.g. {name}.to_decimal(brainunit.mV).'
        )
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f'{name} must be a rectangular array, got {type(value).__name__} '
                         f'that numpy cannot stack ({error}).') from None
    if array.dtype != bool and not (np.issubdtype(array.dtype, np.integer)
                                    or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f'{name} must hold real numbers, got dtype {array.dtype}.')
    return array


def _as_labels(targets):
    if np.issubdtype(targets.dtype, np.floating) and not np.all(np.isfinite(targets)):
        bad = int(targets.size - np.count_nonzero(np.isfinite(targets)))
        raise ValueError(
            f'targets must be finite, got {bad} NaN or infinite labels; labels are integers '
            f'0, 1, ..., n_classes - 1 (drop or relabel the trials without one).')
    if np.issubdtype(targets.dtype, np.floating) and not (
            np.all(np.isfinite(targets)) and np.array_equal(targets, np.round(targets))):
        raise ValueError(
            f'targets of rank {targets.ndim} are read as labels and must be integer-valued, '
            f'got non-integer floats; for per-step values pass shape '
            f'(n_trials, n_steps, n_outputs), e.g. targets[..., None].'
        )
    if targets.size and (targets.min() < 0 or targets.max() > np.iinfo(np.int32).max):
        raise ValueError(
            f'labels in targets must lie in [0, 2**31), got values from '
            f'{targets.min()} to {targets.max()}.'
        )
    return targets.astype(np.int32)


# The prefix that marks a condition's array in an .npz file (``condition.coherence``).
_CONDITION_PREFIX = 'condition.'


def _as_conditions(conditions):
    if conditions is None:
        return {}
    if not hasattr(conditions, 'items'):
        raise TypeError(
            f'conditions must be a dict {{name: per-trial array}}, got {type(conditions).__name__}.')
    out = {}
    for key, value in conditions.items():
        array = np.asarray(value)
        if array.dtype.kind == 'O':
            raise TypeError(f'conditions[{key!r}] must hold numbers, bools or text, not objects.')
        out[key] = array
    return out


def from_arrays(inputs, targets, mask=None, *, dt=1.0, n_classes=None, seed=None,
                description='', name='', conditions=None, loss_weights=None):
    """Validate and convert arrays into a :class:`TaskDataset`.

    Parameters
    ----------
    inputs : array_like
        ``(n_trials, n_steps, n_features)``; converted to float32.
    targets : array_like
        ``(n_trials,)`` per-trial labels or ``(n_trials, n_steps)`` per-step
        labels (integer-valued; converted to int32), or
        ``(n_trials, n_steps, n_outputs)`` per-step values (float32).
    mask : array_like, optional
        ``(n_trials, n_steps)`` loss weights (bool or numbers, >= 0); float32.
    dt : float or brainunit.Quantity, optional
        The time step; a float is milliseconds. Default 1 ms.
    n_classes : int, optional
        For label targets; derived as ``max label + 1`` when omitted. Pass it
        when these trials do not show every class.
    seed : int, optional
        The seed that generated the data, if any.
    description, name : str, optional
        One line saying what the data are, and a name.
    conditions : dict, optional
        ``{name: (n_trials,) array}``: what varied from trial to trial
        (numbers, bools or text), e.g. ``{'coherence': coh}``.
    loss_weights : array_like, optional
        ``(n_trials, n_steps)`` weights of each step in the objective
        (>= 0; float32), apart from ``mask``, which then scores the metrics
        only: e.g. 0.2 on fixation and 1 on the response.

    Returns
    -------
    TaskDataset

    Examples
    --------
    >>> import numpy as np
    >>> import datasets
    >>> ds = datasets.from_arrays(np.ones((8, 20, 3)), np.zeros((8, 20)), dt=0.1)
    >>> ds.inputs.dtype, ds.targets.dtype, ds.n_classes, ds.dt
    (dtype('float32'), dtype('int32'), 1, Quantity(0.1, "ms"))
    >>> ds = datasets.from_arrays(np.ones((4, 2, 1)), [0, 1, 1, 0],
    ...                           conditions={'coherence': [0.0, 6.4, 6.4, 12.8]})
    >>> ds[1:3].conditions['coherence']
    array([6.4, 6.4])
    """
    inputs = _as_numeric('inputs', inputs)
    if inputs.ndim != 3:
        raise ValueError(
            f'inputs must have shape (n_trials, n_steps, n_features), got shape {inputs.shape}; '
            f'add a feature axis with inputs[..., None] if it has one feature.'
        )
    targets = _as_numeric('targets', targets)
    if targets.ndim not in (1, 2, 3):
        raise ValueError(
            f'targets must have shape (n_trials,), (n_trials, n_steps) or '
            f'(n_trials, n_steps, n_outputs), got shape {targets.shape}.'
        )
    if targets.ndim == 3:
        targets = targets.astype(np.float32)
    else:
        targets = _as_labels(targets)
        if n_classes is None and targets.size:
            n_classes = int(targets.max()) + 1
    if mask is not None:
        mask = _as_numeric('mask', mask).astype(np.float32)
        if mask.size and not np.any(mask):
            raise ValueError(
                'mask is zero on every step, so no step would count in the loss; '
                'mark the scored steps with 1 (or pass mask=None to score every step).'
            )
    if loss_weights is not None:
        loss_weights = _as_numeric('loss_weights', loss_weights).astype(np.float32)
        if loss_weights.size and not np.any(loss_weights):
            raise ValueError(
                'loss_weights are zero on every step, so the objective would see nothing; '
                'give the trained steps a positive weight (or pass loss_weights=None).'
            )
    return TaskDataset(
        inputs=inputs.astype(np.float32), targets=targets, mask=mask, dt=as_dt(dt),
        n_classes=n_classes, seed=seed, description=description, name=name,
        conditions=_as_conditions(conditions), loss_weights=loss_weights,
    )


def save_npz(dataset, path):
    """Write a dataset to ``path`` in the format :func:`from_npz` reads.

    As ``numpy.savez``, this appends ``.npz`` to a path without that suffix.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import datasets
    >>> ds = datasets.from_arrays(np.ones((2, 3, 1)), np.array([0, 1]), dt=0.5)
    >>> path = os.path.join(tempfile.mkdtemp(), 'trials.npz')
    >>> datasets.save_npz(ds, path)
    >>> datasets.from_npz(path).dt
    Quantity(0.5, "ms")
    """
    if not isinstance(dataset, TaskDataset):
        raise TypeError(f'dataset must be a TaskDataset, got {type(dataset).__name__}.')
    path = _check_path(path)
    if os.path.isdir(path):
        raise IsADirectoryError(
            f'path={path!r} is a directory; give a file name in it, e.g. '
            f'{os.path.join(path, dataset.name or "trials")}.npz.'
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f'path={path!r}: the folder {folder!r} does not exist; create it first '
            f'(os.makedirs(folder, exist_ok=True)).'
        )
    arrays = dict(inputs=dataset.inputs, targets=dataset.targets, dt=dt_ms(dataset.dt),
                  description=dataset.description, name=dataset.name)
    if dataset.mask is not None:
        arrays['mask'] = dataset.mask
    if dataset.loss_weights is not None:
        arrays['loss_weights'] = dataset.loss_weights
    if dataset.n_classes is not None:
        arrays['n_classes'] = dataset.n_classes
    if dataset.seed is not None:
        arrays['seed'] = dataset.seed
    arrays.update({_CONDITION_PREFIX + key: value for key, value in dataset.conditions.items()})
    np.savez(path, **arrays)


def from_npz(path, *, dt=None, name=None, description=None):
    """Load recorded trials from an ``.npz`` file.

    The file holds ``inputs`` and ``targets`` (as :func:`from_arrays` takes
    them) and optionally ``mask``, ``loss_weights``, ``dt`` (milliseconds), ``n_classes``,
    ``seed``, ``name``, ``description`` and one ``condition.<name>`` array
    per trial condition; :func:`save_npz` writes it.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.
    dt : float or brainunit.Quantity, optional
        The time step, for files without one (default then 1 ms).
    name, description : str, optional
        Override the file's; ``name`` defaults to the file's stem.

    Returns
    -------
    TaskDataset

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import datasets
    >>> path = os.path.join(tempfile.mkdtemp(), 'recorded.npz')
    >>> np.savez(path, inputs=np.ones((4, 10, 2)), targets=np.ones((4, 10, 1)))
    >>> ds = datasets.from_npz(path, dt=0.1)
    >>> ds.name, ds.n_classes, ds.targets.shape
    ('recorded', None, (4, 10, 1))
    """
    path = _check_path(path)
    stored = _read_npz(path)
    if 'dt' in stored:
        stored['dt'] = _stored_scalar(path, stored, 'dt', np.floating)
    if dt is not None and 'dt' in stored and dt_ms(as_dt(dt)) != stored['dt']:
        raise ValueError(
            f'dt={dt!r} disagrees with the file, which says {stored["dt"]} ms; '
            f'drop the dt argument.'
        )
    dt = stored['dt'] if 'dt' in stored else (1.0 if dt is None else dt)
    stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    return from_arrays(
        stored['inputs'], stored['targets'], stored.get('mask'), dt=dt,
        n_classes=_stored_scalar(path, stored, 'n_classes', np.integer),
        seed=_stored_scalar(path, stored, 'seed', np.integer),
        description=description if description is not None else str(stored.get('description', '')),
        name=name if name is not None else str(stored.get('name', '') or stem),
        conditions={key[len(_CONDITION_PREFIX):]: value for key, value in stored.items()
                    if key.startswith(_CONDITION_PREFIX)},
        loss_weights=stored.get('loss_weights'),
    )


def _check_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f'path must be a str or os.PathLike, got {type(path).__name__}: {path!r}.')
    return os.fspath(path)


def _read_npz(path):
    """Every array of the ``.npz`` at ``path``, or an error that names the file and the fix."""
    if os.path.isdir(path):
        raise IsADirectoryError(f'path={path!r} is a directory; pass the .npz file in it.')
    if not os.path.isfile(path):
        hint = (f'; numpy.savez added ".npz", did you mean {path + ".npz"!r}?'
                if os.path.isfile(path + '.npz') else '; check the path and the working directory')
        raise FileNotFoundError(f'path={path!r}: no such file{hint}.')
    if not zipfile.is_zipfile(path):  # np.load would call such a file "pickled data"
        raise ValueError(
            f'path={path!r} is not an .npz file (no zip archive: empty, truncated or another '
            f'format); write one with datasets.save_npz(dataset, path).'
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = {key: data[key] for key in data.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(
            f'path={path!r} could not be read as an npz dataset ({error}); write it with '
            f'datasets.save_npz, or numpy.savez of plain numeric arrays (object arrays are '
            f'refused: loading them would unpickle).'
        ) from None
    missing = [key for key in ('inputs', 'targets') if key not in stored]
    if missing:
        raise ValueError(
            f'path={path!r} lacks {missing}; an npz dataset needs "inputs" and '
            f'"targets" arrays (found {sorted(stored)}).'
        )
    return stored


def _stored_scalar(path, stored, key, kind):
    """The file's ``key`` as a Python number of ``kind`` (None when absent), checked exactly."""
    if key not in stored:
        return None
    value = stored[key]
    is_real = np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating)
    if value.ndim == 0 and is_real and (kind is np.floating or float(value).is_integer()):
        return float(value) if kind is np.floating else int(value)
    expected = 'a number of milliseconds' if kind is np.floating else 'an int'
    raise ValueError(
        f'path={path!r} stores {key}={value!r}, which must be {expected} (a scalar); '
        f'rewrite the file with datasets.save_npz.'
    )
