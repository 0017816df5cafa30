"""The weights of a brain-constrained network: input, recurrent and output matrices as ``Param``s.

:func:`wiring` builds the three matrices (and biases) a leaky rate or a
spiking network shares: masks and Dale signs enter each ``Param``'s
``precompute``, so ``param.value()`` *is* the effective matrix (masked
entries exactly zero, signs fixed), and the raw values the optimizer moves
are stored with zeros where the mask is zero. A matrix named in ``fixed``
is a ``Param(fit=False)``: a constant, not a ``ParamState``, so no
optimizer sees it.

    >>> import numpy as np
    >>> w, signs = wiring(np.random.default_rng(0), 2, 5, 1, dale=0.8, fixed=('w_in',))
    >>> sorted(w), w['w_in'].fit, w['w_rec'].fit
    (['b', 'b_out', 'w_in', 'w_out', 'w_rec'], False, True)
    >>> bool(np.all(np.asarray(w['w_rec'].value())[4] <= 0))  # unit 4 inhibits
    True
"""

import jax
import numpy as np
from brainstate.nn import Param

from .connectivity import balanced_init, check_mask, dale_signs, effective, gaussian_init, no_self_mask

__all__ = ['MATRICES', 'wiring']

MATRICES = ('w_in', 'w_rec', 'w_out')


def _glorot(rng, shape):
    return rng.standard_normal(shape) * np.sqrt(2.0 / sum(shape))


def _precompute(mask, signs):
    mask = jax.device_put(mask)  # device_put, not jnp.asarray: no copy kernel compiles
    signs = None if signs is None else jax.device_put(signs)
    return lambda w: effective(w, mask=mask, signs=signs)


def wiring(rng, n_input, n_hidden, n_output, *, dale=None, input_mask=None, rec_mask=None,
           output_mask=None, readout='all', fixed=(), init=None, radius=None, bias=True, input_scale=1.0):
    """``(params, signs)``: ``{'w_in', 'w_rec', 'w_out', 'b', 'b_out'}`` as ``brainstate.nn.Param`` s, and the Dale signs (or ``None``).

    Parameters
    ----------
    rng : numpy.random.Generator
    n_input, n_hidden, n_output : int
    dale : float or array_like, optional
        Excitatory fraction or sign vector (:func:`~trainer.nets.connectivity.dale_signs`);
        ``None``: unconstrained signs. Under Dale's law the recurrent and
        output matrices carry the signs, and the recurrent mask drops
        self-connections unless ``rec_mask`` is given.
    input_mask, rec_mask, output_mask : array_like, optional
        Fixed 0/1 connectivity, ``(pre, post)``.
    readout : {'all', 'excitatory'}
        ``'excitatory'`` reads out from excitatory units only (Song et al. 2016).
    fixed : sequence of str
        Matrices among ``'w_in', 'w_rec', 'w_out'`` that are not trained.
    init : {'balanced', 'gaussian'}, optional
        Recurrent init; default ``'balanced'`` under Dale's law, else ``'gaussian'``.
    radius : float, optional
        Initial spectral radius of the effective recurrent matrix (default 1.5
        balanced, 1.0 gaussian).
    bias : bool
        Train a hidden bias ``b`` (else a fixed zero).
    input_scale : float
        Multiplies the initial (Glorot normal) input weights.
    """
    unknown = sorted(set(fixed) - set(MATRICES))
    if isinstance(fixed, str) or unknown:
        raise ValueError(f'fixed must be a sequence of names among {list(MATRICES)}, got {fixed!r}.')
    if readout not in ('all', 'excitatory'):
        raise ValueError(f"readout must be 'all' or 'excitatory', got {readout!r}.")
    signs = None if dale is None else dale_signs(n_hidden, dale)
    if readout == 'excitatory' and signs is None:
        raise ValueError("readout='excitatory' needs Dale's law: pass dale=0.8 (or a sign vector).")
    init = init or ('balanced' if signs is not None else 'gaussian')
    if init not in ('balanced', 'gaussian'):
        raise ValueError(f"init must be 'balanced' or 'gaussian', got {init!r}.")
    if init == 'balanced' and signs is None:
        raise ValueError("init='balanced' balances excitation against inhibition; it needs dale=.")
    radius = (1.5 if init == 'balanced' else 1.0) if radius is None else float(radius)
    m_in = check_mask(input_mask, (n_input, n_hidden), 'input_mask')
    default_rec = no_self_mask(n_hidden) if signs is not None else None
    m_rec = check_mask(rec_mask if rec_mask is not None else default_rec, (n_hidden, n_hidden), 'rec_mask')
    m_out = check_mask(output_mask, (n_hidden, n_output), 'output_mask')
    if readout == 'excitatory':
        m_out = m_out * (signs > 0)[:, None]
    if init == 'balanced':
        w_rec = balanced_init(rng, signs, m_rec, radius=radius)
    else:
        w_rec = gaussian_init(rng, n_hidden, m_rec, radius=radius)
    w_in = _glorot(rng, (n_input, n_hidden)) * m_in * float(input_scale)
    w_out = _glorot(rng, (n_hidden, n_output)) * m_out
    if signs is not None:  # magnitudes: the signs live in the precompute
        w_out = np.abs(w_out)
    raw = {'w_in': (w_in, m_in, None), 'w_rec': (w_rec, m_rec, signs), 'w_out': (w_out, m_out, signs)}
    params = {name: Param(jax.device_put(w.astype(np.float32)), fit=name not in fixed,
                          precompute=_precompute(mask, sgn))
              for name, (w, mask, sgn) in raw.items()}
    zeros = lambda n: jax.device_put(np.zeros(n, np.float32))  # noqa: E731
    params['b'] = Param(zeros(n_hidden), fit=bool(bias))
    params['b_out'] = Param(zeros(n_output), fit=True)
    return params, signs

