"""Shared argument checks, so every public function words its errors alike."""

import math
import numbers

import brainunit as u
import numpy as np

__all__ = ['as_dt', 'check_array', 'check_bool', 'check_finite', 'check_index_int',
           'check_positive_int', 'dt_ms']


def check_positive_int(name, value, *, at_most=None, fix=''):
    """Return ``value`` as an ``int`` if it is an integer in ``[1, at_most]``, else raise.

    The one positive-int check of both packages (``trainer`` reuses it, so
    ``datasets`` stays free of any ``trainer`` import); ``fix`` is appended.
    """
    tail = f' {fix}' if fix else ''
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f'{name} must be a positive int, got {value!r}.{tail}')
    if at_most is not None and value > at_most:
        raise ValueError(f'{name} must be at most {at_most}, got {value}.{tail}')
    return int(value)


def check_bool(name, value):
    """Return ``value`` as a ``bool`` if it is one (numpy's too); a string such as 'no' is not."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f'{name} must be True or False, got {type(value).__name__}: {value!r}.')
    return bool(value)


def check_index_int(name, value):
    """Return ``value`` as an ``int`` if it is an integer >= 0 (a seed, an epoch, a step)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f'{name} must be a non-negative int, got {value!r}.')
    return int(value)


def as_dt(dt):
    """Return ``dt`` as a scalar brainunit Quantity in milliseconds.

    A bare number is read as milliseconds; a Quantity must carry a time unit.
    """
    if isinstance(dt, u.Quantity):
        if u.get_dim(dt) != u.get_dim(u.ms):
            raise ValueError(f'dt must be a time (e.g. 1 * brainunit.ms), got {dt!r}.')
        value = np.asarray(dt.to_decimal(u.ms))
    elif isinstance(dt, numbers.Real) and not isinstance(dt, bool):
        value = np.asarray(float(dt))
    elif _is_real_scalar_array(dt):  # a 0-d numpy or JAX array, e.g. from a config
        value = np.asarray(dt, dtype=float)
    else:
        raise TypeError(
            f'dt must be a float (milliseconds) or a brainunit time Quantity, '
            f'got {type(dt).__name__}: {dt!r}.'
        )
    if value.ndim != 0 or not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f'dt must be a positive finite scalar, got {dt!r}.')
    return u.Quantity(float(value), unit=u.ms)


def _is_real_scalar_array(value):
    if not (hasattr(value, 'shape') and hasattr(value, 'dtype')) or np.ndim(value) != 0:
        return False
    dtype = np.dtype(value.dtype)
    return np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)


def dt_ms(dt):
    """The float number of milliseconds in a Quantity made by :func:`as_dt`."""
    return float(dt.to_decimal(u.ms))


def check_array(name, value, dtype, ndims):
    """Raise unless ``value`` is a numpy array of exactly ``dtype`` and one of the ranks ``ndims``."""
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f'{name} must be a numpy array, got {type(value).__name__}; '
            f'build the dataset with datasets.from_arrays(...) to convert.'
        )
    if value.dtype != dtype or value.ndim not in ndims:
        raise ValueError(
            f'{name} must be a {np.dtype(dtype)} array of rank {" or ".join(map(str, ndims))}, '
            f'got {value.dtype} of shape {value.shape}; '
            f'build the dataset with datasets.from_arrays(...) to convert.'
        )


def check_finite(name, value):
    """Raise, counting them, if ``value`` holds NaN or infinite entries."""
    if not np.all(np.isfinite(value)):
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        raise ValueError(f'{name} must be finite, got {bad} NaN or infinite values.')
