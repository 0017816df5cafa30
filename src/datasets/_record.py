"""The one dataset type: :class:`TaskDataset`, an immutable record of trials."""

import dataclasses
import math
import numbers
import types
from typing import Mapping, Optional

import brainunit as u
import numpy as np

from ._checks import as_dt, check_array, check_finite, check_index_int, dt_ms

__all__ = ['TaskDataset']


def _readonly(array):
    # A read-only *view* freezes the record without locking the caller's own array.
    view = array.view()
    view.flags.writeable = False
    return view


def _validate(ds):
    check_array('inputs', ds.inputs, np.float32, (3,))
    n_trials, n_steps, n_features = ds.inputs.shape
    for axis, count in (('trial', n_trials), ('time step', n_steps), ('feature', n_features)):
        if count < 1:
            raise ValueError(
                f'inputs must hold at least one {axis}: shape (n_trials, n_steps, n_features) '
                f'must have no zero axis, got {ds.inputs.shape}.'
            )
    check_finite('inputs', ds.inputs)
    targets = ds.targets
    is_values = isinstance(targets, np.ndarray) and targets.ndim == 3
    check_array('targets', targets, np.float32 if is_values else np.int32, (1, 2, 3))
    if targets.shape[0] != n_trials:
        raise ValueError(
            f'inputs has {n_trials} trials but targets has {targets.shape[0]}; '
            f'they must match along axis 0.'
        )
    if targets.ndim >= 2 and targets.shape[1] != n_steps:
        raise ValueError(
            f'inputs has {n_steps} steps but targets has {targets.shape[1]}; '
            f'per-step targets must match inputs along axis 1.'
        )
    if is_values:
        if targets.shape[2] < 1:
            raise ValueError(
                f'value targets (n_trials, n_steps, n_outputs) need n_outputs >= 1, '
                f'got shape {targets.shape}.'
            )
        check_finite('targets', targets)
        if ds.n_classes is not None:
            raise ValueError(
                f'n_classes must be None for per-step value targets (rank 3), got {ds.n_classes!r}.'
            )
    else:
        low, high = int(targets.min()), int(targets.max())
        if low < 0:
            raise ValueError(f'labels in targets must be >= 0, got a minimum of {low}.')
        if (isinstance(ds.n_classes, bool) or not isinstance(ds.n_classes, numbers.Integral)
                or ds.n_classes <= high):
            raise ValueError(
                f'n_classes must be an int greater than the largest label ({high}), '
                f'got {ds.n_classes!r}; from_arrays derives it as max label + 1.'
            )
    if ds.mask is not None:
        check_array('mask', ds.mask, np.float32, (2,))
        if ds.mask.shape != (n_trials, n_steps):
            raise ValueError(
                f'mask must have shape (n_trials, n_steps) = {(n_trials, n_steps)}, '
                f'got {ds.mask.shape}.'
            )
        check_finite('mask', ds.mask)
        if np.any(ds.mask < 0):
            raise ValueError('mask must be >= 0 (it weights steps in the loss), got negative values.')
    if ds.loss_weights is not None:
        _validate_loss_weights(ds.loss_weights, n_trials, n_steps)
    _validate_conditions(ds.conditions, n_trials)
    if ds.seed is not None:
        check_index_int('seed', ds.seed)
    for name in ('description', 'name'):
        if not isinstance(getattr(ds, name), str):
            raise TypeError(f'{name} must be a str, got {type(getattr(ds, name)).__name__}.')


def _validate_loss_weights(loss_weights, n_trials, n_steps):
    check_array('loss_weights', loss_weights, np.float32, (2,))
    if loss_weights.shape != (n_trials, n_steps):
        raise ValueError(
            f'loss_weights must have shape (n_trials, n_steps) = {(n_trials, n_steps)}, '
            f'got {loss_weights.shape}.'
        )
    check_finite('loss_weights', loss_weights)
    if np.any(loss_weights < 0):
        raise ValueError('loss_weights must be >= 0 (they weight steps in the objective), '
                         'got negative values.')


_SPLIT_RULE = ('split takes fractions in (0, 1) summing to at most 1, e.g. split(0.8), or '
               'positive trial counts summing to at most n_trials={n}, e.g. split({example})')


def _check_split_parts(n_trials, parts):
    """Raise, saying what ``split`` allows, unless ``parts`` are all fractions or all counts."""
    rule = _SPLIT_RULE.format(n=n_trials, example=max(1, n_trials * 4 // 5))
    for part in parts:
        if isinstance(part, bool) or not isinstance(part, numbers.Real):
            hint = (f'; pass the parts as separate arguments, split(*{part!r})'
                    if isinstance(part, (list, tuple)) else '')
            raise TypeError(f'{rule}; got {type(part).__name__} {part!r}{hint}.')
        if not isinstance(part, numbers.Integral) and not (math.isfinite(part) and 0 < part < 1):
            hint = (f'; for {int(part)} trials pass the int, split({int(part)})'
                    if math.isfinite(part) and part > 1 and float(part).is_integer() else '')
            raise ValueError(f'{rule}; got the fraction {part!r}, which is not in (0, 1){hint}.')
    kinds = {isinstance(part, numbers.Integral) for part in parts}
    if len(kinds) > 1:
        raise ValueError(f'{rule}, not a mix of both; got {tuple(parts)}.')


# bool, signed and unsigned ints, floats and text: what an .npz stores without pickling.
_CONDITION_KINDS = 'biufU'


def _validate_conditions(conditions, n_trials):
    if not isinstance(conditions, Mapping):
        raise TypeError(
            f'conditions must be a dict of per-trial arrays, got {type(conditions).__name__}.')
    for key, value in conditions.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f'condition names must be non-empty strings, got {key!r}.')
        if not isinstance(value, np.ndarray):
            raise TypeError(
                f'conditions[{key!r}] must be a numpy array, got {type(value).__name__}; '
                f'build the dataset with datasets.from_arrays(..., conditions=...) to convert.')
        if value.dtype.kind not in _CONDITION_KINDS:
            raise ValueError(
                f'conditions[{key!r}] must hold numbers, bools or text, got dtype {value.dtype}.')
        if value.shape != (n_trials,):
            raise ValueError(
                f'conditions[{key!r}] must have shape (n_trials,) = ({n_trials},), got '
                f'{value.shape}; give one value per trial.')


def _split_sizes(n_trials, parts):
    """Turn fractions or sizes into part sizes; parts that fall short get one more, last part."""
    if not parts:
        raise ValueError('split needs at least one fraction or size, e.g. ds.split(0.8, seed=0).')
    _check_split_parts(n_trials, parts)
    if isinstance(parts[0], numbers.Integral):
        sizes = [int(p) for p in parts]
        if min(sizes) < 1 or sum(sizes) > n_trials:
            raise ValueError(
                f'split sizes must be positive ints summing to at most n_trials={n_trials}, '
                f'got {tuple(parts)}; for fractions pass floats in (0, 1), e.g. split(0.8).'
            )
        covered = sum(sizes) == n_trials
    else:
        total = float(sum(parts))
        if total > 1 + 1e-9:
            raise ValueError(f'split fractions must sum to at most 1, got {parts} (sum {total:g}).')
        sizes = [int(round(p * n_trials)) for p in parts]
        covered = abs(total - 1) <= 1e-9
        if covered:
            sizes[-1] = n_trials - sum(sizes[:-1])  # the last part absorbs rounding
    if not covered:
        sizes.append(n_trials - sum(sizes))
    if len(sizes) == 1:
        raise ValueError(
            f'split{tuple(parts)} of {n_trials} trials gives one part, the whole set; '
            f'ask for less, e.g. split({max(1, n_trials * 4 // 5)}) or split(0.8).'
        )
    if min(sizes) < 1:
        raise ValueError(
            f'split{tuple(parts)} of {n_trials} trials leaves a part empty (sizes {sizes}); '
            f'use larger fractions or more trials.'
        )
    return sizes


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class TaskDataset:
    """An immutable set of trials: batch-major inputs, targets and a loss mask.

    Build one with :func:`datasets.from_arrays` (which converts dtypes and
    derives ``n_classes``) or :func:`datasets.load_dataset`; the constructor
    itself only validates.

    Attributes
    ----------
    inputs : numpy.ndarray
        ``(n_trials, n_steps, n_features)`` float32.
    targets : numpy.ndarray
        Per-trial labels ``(n_trials,)`` int32, per-step labels
        ``(n_trials, n_steps)`` int32, or per-step values
        ``(n_trials, n_steps, n_outputs)`` float32.
    mask : numpy.ndarray or None
        ``(n_trials, n_steps)`` float32 mask: which steps are scored (by the
        metrics, and by the objective unless ``loss_weights`` is given).
    dt : brainunit.Quantity
        The time step, in milliseconds.
    n_classes : int or None
        ``max label + 1`` for label targets, ``None`` for value targets.
    seed : int or None
        The seed that generated the trials (``None`` for fixed data).
    description : str
        One line saying what the trials are.
    name : str
        The registry name, ``''`` for unregistered data.
    conditions : Mapping[str, numpy.ndarray]
        What varied from trial to trial, one ``(n_trials,)`` array per
        variable (a cogtask's ``coherence`` and ``ground_truth``, delayed
        match's ``sample`` and ``test`` symbols); read-only, and kept by
        indexing, :meth:`subset`, :meth:`split` and ``save_npz``.
    loss_weights : numpy.ndarray or None
        ``(n_trials, n_steps)`` float32 weights of each step in the
        *objective* (e.g. 0.2 on fixation, 1 on the response), apart from
        ``mask``, which then weights the metrics only; ``None`` means the
        objective uses ``mask`` too. Kept as ``mask`` is.

    Examples
    --------
    >>> import numpy as np
    >>> import datasets
    >>> ds = datasets.from_arrays(np.zeros((10, 5, 2)), np.arange(10) % 2)
    >>> len(ds), ds.n_steps, ds.n_classes
    (10, 5, 2)
    >>> train, held_out = ds.split(0.8, seed=0)
    >>> len(train), len(held_out)
    (8, 2)
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: Optional[np.ndarray] = None
    dt: u.Quantity = dataclasses.field(default_factory=lambda: 1.0 * u.ms)
    n_classes: Optional[int] = None
    seed: Optional[int] = None
    description: str = ''
    name: str = ''
    conditions: Mapping = dataclasses.field(default_factory=dict)
    loss_weights: Optional[np.ndarray] = None

    def __post_init__(self):
        _validate(self)
        object.__setattr__(self, 'dt', as_dt(self.dt))
        for field in ('inputs', 'targets', 'mask', 'loss_weights'):
            if getattr(self, field) is not None:
                object.__setattr__(self, field, _readonly(getattr(self, field)))
        object.__setattr__(self, 'conditions', types.MappingProxyType(
            {key: _readonly(value) for key, value in self.conditions.items()}))

    @property
    def n_trials(self) -> int:
        """Number of trials (axis 0)."""
        return self.inputs.shape[0]

    @property
    def n_steps(self) -> int:
        """Number of time steps per trial (axis 1)."""
        return self.inputs.shape[1]

    @property
    def n_features(self) -> int:
        """Number of input features (axis 2)."""
        return self.inputs.shape[2]

    def __len__(self) -> int:
        return self.n_trials

    def __repr__(self) -> str:
        return (
            f'TaskDataset(name={self.name!r}, n_trials={self.n_trials}, n_steps={self.n_steps}, '
            f'n_features={self.n_features}, targets={self.targets.shape} {self.targets.dtype}, '
            f'n_classes={self.n_classes}, mask={"None" if self.mask is None else "yes"}, '
            + ('' if self.loss_weights is None else 'loss_weights=yes, ') +
            f'dt={dt_ms(self.dt):g} ms, seed={self.seed}'
            + (f', conditions={sorted(self.conditions)})' if self.conditions else ')')
        )

    def __getitem__(self, index):
        """Trials ``index`` as a dataset; an int keeps the trial axis (length 1).

        Examples
        --------
        >>> import numpy as np
        >>> import datasets
        >>> ds = datasets.from_arrays(np.zeros((4, 3, 1)), np.array([0, 1, 0, 1]))
        >>> ds[1].targets.shape, len(ds[1:3]), len(ds[np.array([0, 3])])
        ((1,), 2, 2)
        """
        n = self.n_trials
        if isinstance(index, numbers.Integral) and not isinstance(index, bool):
            if not -n <= index < n:
                raise IndexError(f'trial index {index} is out of range for {n} trials.')
            return self._take(np.array([index % n]))
        if isinstance(index, slice):
            return self._take(index)
        indices = np.asarray(index)
        if indices.dtype != bool and not np.issubdtype(indices.dtype, np.integer) and indices.size:
            raise IndexError(
                f'a trial index must be an int, a slice, or an array of ints or bools, '
                f'got {type(index).__name__} {index!r}.'
            )
        if indices.dtype == bool:
            if indices.shape != (n,):
                raise IndexError(
                    f'a boolean index must have shape ({n},), got {indices.shape}.'
                )
            return self.subset(np.flatnonzero(indices))
        return self.subset(indices)

    def subset(self, indices):
        """The trials at ``indices`` (ints in ``[0, n_trials)``), in that order.

        ``n_classes`` is carried over, so a subset missing a class keeps the
        parent's label space.

        Examples
        --------
        >>> import numpy as np
        >>> import datasets
        >>> ds = datasets.from_arrays(np.zeros((4, 3, 1)), np.array([0, 1, 2, 1]))
        >>> ds.subset([0, 1]).n_classes
        3
        """
        indices = np.asarray(indices)
        if indices.ndim != 1 or indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(
                f'indices must be a non-empty 1-D array of ints, got dtype {indices.dtype} '
                f'and shape {indices.shape}.'
            )
        if indices.min() < 0 or indices.max() >= self.n_trials:
            raise IndexError(
                f'indices must lie in [0, {self.n_trials}), got values from '
                f'{indices.min()} to {indices.max()}.'
            )
        return self._take(indices)

    def _take(self, index):
        if isinstance(index, slice) and len(range(*index.indices(self.n_trials))) == 0:
            raise IndexError(f'slice {index} selects no trials out of {self.n_trials}.')
        return dataclasses.replace(
            self,
            inputs=self.inputs[index],
            targets=self.targets[index],
            mask=None if self.mask is None else self.mask[index],
            loss_weights=None if self.loss_weights is None else self.loss_weights[index],
            conditions={key: value[index] for key, value in self.conditions.items()},
        )

    def split(self, *parts, seed=0):
        """Disjoint parts drawn by a seeded permutation of the trials.

        Parameters
        ----------
        *parts : float or int
            Either fractions in ``(0, 1)`` or positive trial counts (not
            mixed). If they do not cover every trial, the rest forms one
            more, last part: ``split(0.8)`` gives two parts and
            ``split(0.7, 0.15, 0.15)`` three; ``split(256, 64)`` of 320 trials
            gives two, of 1000 trials three.
        seed : int, optional
            Seed of the permutation ``numpy.random.default_rng(seed)``.

        Returns
        -------
        tuple of TaskDataset
            The parts; each keeps its trials in their original order.

        Examples
        --------
        >>> import numpy as np
        >>> import datasets
        >>> ds = datasets.from_arrays(np.zeros((10, 3, 1)), np.arange(10) % 2)
        >>> [len(part) for part in ds.split(0.6, 0.2, 0.2, seed=0)]
        [6, 2, 2]
        """
        seed = check_index_int('seed', seed)
        sizes = _split_sizes(self.n_trials, parts)
        order = np.random.default_rng(seed).permutation(self.n_trials)
        bounds = np.cumsum(sizes)[:-1]
        return tuple(self._take(np.sort(part)) for part in np.split(order, bounds))
