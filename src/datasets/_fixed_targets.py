"""Fixed targets for fitting: single-trial datasets that never change."""

import dataclasses
import math
import numbers

import numpy as np

from . import _brainmass
from ._checks import check_positive_int
from ._io import from_arrays
from ._record import TaskDataset
from ._registry import register_dataset

__all__ = ['Signal', 'example_connectome', 'example_signal', 'fc_matrix', 'multi_region_signal',
           'steady_state_target']

_STEADY = 'Rate trajectory of GainPopulation (tau=10 ms) driven by input 1.0 at gain g.'
_SIGNAL = 'Eight coupled oscillating regions, 500 steps at 1 ms (brainmass example_signal).'
_EXAMPLE_SIGNAL = "brainmass's bundled example_signal (regions R0-R7, 500 steps at 1 ms) as a TaskDataset."
_CONNECTOME = "brainmass's bundled 8-region connectome (weights, mm distances, labels), as is."


def steady_state_target(*, g=2.0, n_steps=600):
    """The fitting seed's target: the rate of ``GainPopulation`` at gain ``g``.

    Integrates ``dr/dt = (-r + g * tanh(1.0)) / tau`` (``tau = 10`` ms) from
    ``r = 0`` with Euler steps of ``dt = 0.1`` ms in float32 (``jax.lax.scan``)
    and records ``r`` after each step -- the trajectory whose last 50 steps
    average 1.5184532403945923 at ``g = 2.0``, the seed's published number.

    Parameters
    ----------
    g : float, optional
        The input gain (the ground truth the fit should recover; default 2.0).
    n_steps : int, optional
        Steps of 0.1 ms (default 600, i.e. 60 ms).

    Returns
    -------
    TaskDataset
        One trial: ``inputs`` ones ``(1, n_steps, 1)``, ``targets`` the rate
        ``(1, n_steps, 1)``, no mask, ``dt = 0.1`` ms.

    Examples
    --------
    >>> import datasets
    >>> ds = datasets.steady_state_target()
    >>> round(float(ds.targets[0, -50:, 0].mean()), 6)
    1.518453
    """
    import jax
    import jax.numpy as jnp
    n_steps = check_positive_int('n_steps', n_steps)
    if isinstance(g, bool) or not isinstance(g, numbers.Real) or not math.isfinite(g):
        raise ValueError(f'g must be a finite number, got {g!r}.')

    def euler_step(r, _):
        # The seed's exact float32 expression: reordering it shifts the published number.
        r = r + ((-r + g * jnp.tanh(1.0)) / 10.0) * 0.1
        return r, r

    _, rates = jax.lax.scan(euler_step, jnp.zeros((1,), jnp.float32), None, length=n_steps)
    return from_arrays(np.ones((1, n_steps, 1)), np.asarray(rates)[None], dt=0.1,
                       description=f'{_STEADY} (g={g:g})', name='steady_state_target')


def _generate_example_signal():
    """brainmass 0.1.1's ``example_signal`` generator (``_data/_generate.py``), verbatim in effect."""
    n, n_time = 8, 500
    rng = np.random.default_rng(0)
    angles = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    coords = 40.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    distances = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(distances, 0.0)
    raw = rng.random((n, n))
    raw = 0.5 * (raw + raw.T)
    weights = raw * (1.0 / (1.0 + distances / 40.0))
    np.fill_diagonal(weights, 0.0)
    weights = weights / (weights.max() * 1.0001)
    weights = 0.5 * (weights + weights.T)
    np.fill_diagonal(weights, 0.0)

    rng = np.random.default_rng(1)
    t = np.arange(n_time)
    freqs, phases = np.linspace(0.02, 0.06, n), np.linspace(0.0, np.pi, n)
    base = np.sin(2.0 * np.pi * freqs[None, :] * t[:, None] + phases[None, :])
    row_sum = weights.sum(1, keepdims=True)
    row_sum[row_sum == 0.0] = 1.0
    signal = base @ (np.eye(n) + 0.5 * (weights / row_sum)).T
    return signal + 0.05 * rng.standard_normal((n_time, n))


def multi_region_signal():
    """A short multi-region target time series, for fitting functional connectivity.

    Eight regions of sinusoids mixed through a synthetic ring connectome plus
    small noise, 500 steps at 1 ms, generated on load (deterministic) by the
    same code that made brainmass 0.1.1's bundled ``example_signal``. Its FC
    matrix is :func:`fc_matrix` of the dataset.

    Returns
    -------
    TaskDataset
        One trial: ``targets (1, 500, 8)`` float32, ``inputs`` zeros
        ``(1, 500, 1)`` (the signal has no external drive), no mask, ``dt = 1`` ms.

    Examples
    --------
    >>> import datasets
    >>> ds = datasets.multi_region_signal()
    >>> ds.targets.shape, datasets.fc_matrix(ds).shape
    ((1, 500, 8), (8, 8))
    """
    signal = _generate_example_signal()
    return from_arrays(np.zeros((1, signal.shape[0], 1)), signal[None], dt=1.0,
                       description=_SIGNAL, name='multi_region_signal')


def fc_matrix(signal):
    """Functional connectivity: the Pearson correlation between regions.

    Parameters
    ----------
    signal : TaskDataset or array_like
        A ``(n_steps, n_regions)`` array, a ``(1, n_steps, n_regions)`` one,
        or a one-trial dataset with value targets (its targets are used).

    Returns
    -------
    numpy.ndarray
        ``(n_regions, n_regions)`` float64, symmetric, ones on the diagonal.

    Examples
    --------
    >>> import numpy as np
    >>> import datasets
    >>> t = np.linspace(0, 6, 100)
    >>> fc = datasets.fc_matrix(np.stack([np.sin(t), 2 * np.sin(t), -np.sin(t)], axis=1))
    >>> fc.round(6).tolist()[0]
    [1.0, 1.0, -1.0]
    """
    if isinstance(signal, TaskDataset):
        if signal.targets.ndim != 3 or signal.n_trials != 1:
            raise ValueError(
                f'fc_matrix needs a one-trial dataset with value targets (1, n_steps, n_regions), '
                f'got targets of shape {signal.targets.shape}; pick a trial with dataset[i].'
            )
        signal = signal.targets
    try:
        array = np.asarray(signal, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f'signal must be a numeric (n_steps, n_regions) array or a TaskDataset, '
            f'got {type(signal).__name__}: {signal!r:.80}.'
        ) from None
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f'signal must be finite, got {int(np.size(array) - np.isfinite(array).sum())} NaN or '
            f'infinite values; drop or interpolate them before computing FC.'
        )
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.shape[0] < 2:
        raise ValueError(
            f'signal must have shape (n_steps, n_regions) with n_steps >= 2, got {np.shape(signal)}.'
        )
    flat = np.flatnonzero(array.std(axis=0) == 0)
    if flat.size:
        raise ValueError(
            f'regions {flat.tolist()} are constant, so their correlation is undefined; '
            f'drop them before computing FC.'
        )
    return np.corrcoef(array.T)


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Signal(TaskDataset):
    """A one-trial TaskDataset that also answers to brainmass's ``Signal`` fields.

    brainmass's ``example_signal`` is a ``Signal(signal, dt, labels, fc)``;
    this is the same data as a fixed target for ``Fitter`` and ``Trainer``,
    with those four names: ``signal`` is ``targets[0]``, ``fc`` its
    functional connectivity, ``labels`` the region names.

    Examples
    --------
    >>> import datasets
    >>> sig = datasets.load_dataset('example_signal')
    >>> sig.signal.shape, sig.fc.shape, sig.labels[:2].tolist(), sig.dt
    ((500, 8), (8, 8), ['R0', 'R1'], Quantity(1., "ms"))
    """

    labels: np.ndarray = None

    @property
    def signal(self):
        """The ``(time, regions)`` series: ``targets[0]``."""
        return self.targets[0]

    @property
    def fc(self):
        """The ``(regions, regions)`` functional connectivity of :attr:`signal`."""
        return fc_matrix(self.signal)


def example_signal():
    """brainmass's bundled ``example_signal``, as a one-trial :class:`Signal` (needs brainmass).

    The target time series of brainmass's fitting tutorials, read from
    brainmass's own file: eight regions (``R0`` ... ``R7``), 500 steps at
    1 ms. It is a TaskDataset (``targets (1, 500, 8)`` float32, ``inputs``
    zeros ``(1, 500, 1)``, no mask) with brainmass's ``signal``, ``dt``,
    ``labels`` and ``fc``. The same numbers as :func:`multi_region_signal`,
    which regenerates them without brainmass.

    Returns
    -------
    Signal

    Raises
    ------
    ImportError
        When brainmass is not installed.

    Examples
    --------
    >>> import datasets
    >>> ds = datasets.load_dataset('example_signal')
    >>> ds.targets.shape, ds.dt
    ((1, 500, 8), Quantity(1., "ms"))
    """
    theirs = _brainmass.require().load_dataset('example_signal')
    values = np.asarray(theirs.signal, np.float32)
    return Signal(np.zeros((1, values.shape[0], 1), np.float32), values[None], dt=theirs.dt,
                  description=_EXAMPLE_SIGNAL, name='example_signal', labels=np.asarray(theirs.labels))


def example_connectome():
    """brainmass's bundled ``example_connectome``, returned as is (needs brainmass).

    A structural connectome is not a set of trials, so this is brainmass's
    ``Connectome(weights, distances, labels)``: ``(8, 8)`` symmetric
    zero-diagonal weights in ``[0, 1]``, distances in mm, region labels.

    Raises
    ------
    ImportError
        When brainmass is not installed.

    Examples
    --------
    >>> import datasets
    >>> conn = datasets.load_dataset('example_connectome')
    >>> type(conn).__name__, conn.weights.shape, conn.distances.unit
    ('Connectome', (8, 8), Unit("mm"))
    """
    return _brainmass.require().load_dataset('example_connectome')


register_dataset('steady_state_target', steady_state_target, description=_STEADY)
register_dataset('multi_region_signal', multi_region_signal, description=_SIGNAL)
register_dataset('example_signal', example_signal, description=_EXAMPLE_SIGNAL)
register_dataset('example_connectome', example_connectome, description=_CONNECTOME)
