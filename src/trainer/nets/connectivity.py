"""Connectivity of brain-constrained networks: Dale signs, fixed masks, sane initial spectra.

Weights follow brainstate's ``x @ W`` layout: ``W[pre, post]``. Dale's law
fixes the sign of every *presynaptic* unit, so the effective matrix is
``mask * |W| * sign[:, None]`` (Song, Yang & Wang 2016 write ``W = |W| D`` for
the transposed layout). A masked entry is multiplied by zero in the forward
pass, so it stays exactly zero and its gradient is exactly zero.

All drawing is numpy, seeded: building a network runs no JAX op (see
``trainer.models.RateRNN`` for why that matters).

    >>> import numpy as np
    >>> signs = dale_signs(5, 0.8)
    >>> signs
    array([ 1.,  1.,  1.,  1., -1.], dtype=float32)
    >>> w = balanced_init(np.random.default_rng(0), signs, no_self_mask(5), radius=1.5)
    >>> bool(np.all(w >= 0)), round(spectral_radius(effective(w, signs=signs)), 3)
    (True, 1.5)
"""

import numpy as np

__all__ = ['balanced_init', 'check_mask', 'dale_signs', 'effective', 'gaussian_init',
           'leading_eigenvalue', 'no_self_mask', 'spectral_radius']


def dale_signs(n, dale):
    """``(n,)`` float32 signs, ``+1`` excitatory then ``-1`` inhibitory.

    Parameters
    ----------
    n : int
        Number of units.
    dale : float or array_like
        The excitatory fraction (``0.8``: the first ``round(0.8 n)`` units
        excite), or an explicit vector of ``+1`` / ``-1``.

    Examples
    --------
    >>> dale_signs(4, [1, -1, 1, 1])
    array([ 1., -1.,  1.,  1.], dtype=float32)
    >>> dale_signs(4, 1.5)
    Traceback (most recent call last):
    ...
    ValueError: dale must be an excitatory fraction in (0, 1] or a vector of +1/-1 of length 4, got 1.5.
    """
    if np.ndim(dale) == 0:
        fraction = float(dale)
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f'dale must be an excitatory fraction in (0, 1] or a vector of +1/-1 of '
                             f'length {n}, got {dale!r}.')
        n_exc = int(round(fraction * n))
        return np.where(np.arange(n) < n_exc, 1.0, -1.0).astype(np.float32)
    signs = np.asarray(dale, np.float32)
    if signs.shape != (n,) or not np.all(np.isin(signs, (-1.0, 1.0))):
        raise ValueError(f'dale as a sign vector must hold {n} values, each +1 or -1; got shape '
                         f'{signs.shape} with values {np.unique(signs)[:4]}.')
    return signs


def check_mask(mask, shape, name):
    """``mask`` as a float32 0/1 array of ``shape`` (``None``: all ones).

    Examples
    --------
    >>> check_mask(None, (2, 2), 'rec_mask')
    array([[1., 1.],
           [1., 1.]], dtype=float32)
    >>> check_mask(np.ones(3), (2, 2), 'rec_mask')
    Traceback (most recent call last):
    ...
    ValueError: rec_mask must have shape (2, 2) (pre, post), got (3,).
    """
    if mask is None:
        return np.ones(shape, np.float32)
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f'{name} must have shape {tuple(shape)} (pre, post), got {mask.shape}.')
    if not np.all(np.isin(mask, (0, 1))):
        raise ValueError(f'{name} must hold only 0 and 1 (fixed connectivity), got values '
                         f'{np.unique(mask)[:4]}; scale weights with an initialiser instead.')
    return mask.astype(np.float32)


def no_self_mask(n):
    """The ``(n, n)`` mask without autapses (a zero diagonal), as Song et al. 2016 use.

    Examples
    --------
    >>> no_self_mask(2)
    array([[0., 1.],
           [1., 0.]], dtype=float32)
    """
    return (1.0 - np.eye(n)).astype(np.float32)


def effective(w, *, mask=None, signs=None):
    """The effective weights ``mask * |w| * signs[:, None]`` (numpy or JAX arrays alike).

    Without ``signs`` the weights keep their own sign: ``mask * w``.

    Examples
    --------
    >>> effective(np.array([[1.0, -2.0], [3.0, 4.0]]), signs=np.array([1.0, -1.0]))
    array([[ 1.,  2.],
           [-3., -4.]])
    """
    if signs is not None:
        w = abs(w) * signs[:, None]
    return w if mask is None else w * mask


def spectral_radius(w):
    """The largest eigenvalue modulus of a square matrix (numpy, float64)."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(w, np.float64)))))


def leading_eigenvalue(w):
    """The eigenvalue of largest real part of a square matrix, as a Python complex.

    Examples
    --------
    >>> leading_eigenvalue(np.diag([0.5, -2.0]))
    (0.5+0j)
    """
    values = np.linalg.eigvals(np.asarray(w, np.float64))
    return complex(values[np.argmax(values.real)])


def _scaled(w, radius, signs=None, mask=None):
    rho = spectral_radius(effective(w, mask=mask, signs=signs))
    return (w * (radius / rho) if rho > 0 else w).astype(np.float32)


def gaussian_init(rng, n, mask=None, *, radius=1.0):
    """``N(0, 1/n)`` recurrent weights (masked), scaled to spectral ``radius``.

    Examples
    --------
    >>> w = gaussian_init(np.random.default_rng(0), 50, radius=0.9)
    >>> round(spectral_radius(w), 4)
    0.9
    """
    mask = np.ones((n, n), np.float32) if mask is None else mask
    w = rng.standard_normal((n, n)) / np.sqrt(n) * mask
    return _scaled(w, radius, mask=mask)


def balanced_init(rng, signs, mask=None, *, radius=1.5, shape=2.0):
    """Song et al. 2016's E/I init: gamma magnitudes, inhibition balancing excitation, radius ``radius``.

    Magnitudes are drawn from a gamma distribution (``shape``, unit scale) and
    masked; each postsynaptic unit's inhibitory inputs are scaled so that they
    sum to its excitatory inputs (the mean input is zero, so the spectrum's
    bulk sits around the origin rather than one large real outlier); the
    whole matrix is then scaled to spectral radius ``radius``. Returns the
    non-negative magnitudes ``|W|``: the signs come from ``signs``.
    """
    n = len(signs)
    mask = np.ones((n, n), np.float32) if mask is None else mask
    w = rng.gamma(shape, 1.0, (n, n)) * mask
    exc, inh = signs > 0, signs < 0
    if exc.any() and inh.any():
        e_sum, i_sum = w[exc].sum(0), w[inh].sum(0)
        w[inh] *= np.where(i_sum > 0, e_sum / np.where(i_sum > 0, i_sum, 1.0), 1.0)
    return _scaled(w, radius, signs=signs, mask=mask)
