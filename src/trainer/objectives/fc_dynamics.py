"""Functional-connectivity dynamics (FCD): brainmass's six names, masked and grad-safe.

The FCD matrix (Deco et al.) correlates the FC patterns of sliding windows,
so it captures how connectivity itself moves; a recording's FCD is the usual
fitting target beside its static FC. Numbers match brainmass 0.1.1
(``braintools.metric.functional_connectivity_dynamics`` + a Gaussian KDE of
the upper triangle); the FC of each window is ``trainer.objectives.reduce``'s, whose
gradient stays finite when a region is silent in a window.
"""

import functools
import numbers

import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

from . import reduce as _reduce

__all__ = ['fcd', 'fcd_distribution', 'fcd_ks', 'fcd_wasserstein', 'ks_distance', 'wasserstein_1d']

# brainmass's grid for FCD values (correlations): 100 points on [-0.99, 0.99].
_MIDPOINTS = tuple(np.linspace(-0.99, 0.99, 100).tolist())


def _whole(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
    return int(value)


def _windows(window_size, step_size):
    return _whole('window_size', window_size, 2), _whole('step_size', step_size, 1)


def _grid(midpoints):
    grid = _MIDPOINTS if midpoints is None else tuple(np.asarray(u.get_magnitude(midpoints), float).ravel().tolist())
    steps = np.diff(grid)
    if len(grid) < 2 or not np.all(steps > 0) or not np.allclose(steps, steps[0], rtol=1e-4):
        raise ValueError(
            f"midpoints must be an increasing, evenly spaced grid of at least 2 points, got {midpoints!r}; "
            "use e.g. numpy.linspace(-0.99, 0.99, 100)."
        )
    return grid  # a tuple: hashable, so builders with equal settings share one compiled kernel


def _bandwidth(bw_method):
    # A number becomes a float so that the kernel cache can hash it.
    return bw_method if bw_method is None or isinstance(bw_method, str) or callable(bw_method) else float(bw_method)


def _check_length(prediction, window_size, step_size, min_windows, who):
    """Refuse a series too short for ``min_windows`` windows (braintools returns an empty matrix)."""
    shape = jnp.shape(prediction)
    if len(shape) < 2:
        return  # series_loss names the missing region axis
    n_steps = shape[-2]
    n_windows = (n_steps - window_size) // step_size + 1 if n_steps >= window_size else 0
    if n_windows < min_windows:
        raise ValueError(
            f"{who}: a series of {n_steps} steps gives {n_windows} windows of window_size={window_size} "
            f"every step_size={step_size}, but at least {min_windows} are needed; "
            "use a longer series or a smaller window_size / step_size."
        )


def _fcd_of(x, window_size, step_size):
    """The ``(n_windows, n_windows)`` FCD matrix of one ``(time, regions)`` series."""
    n_steps, n_regions = x.shape
    starts = np.arange(0, n_steps - window_size + 1, step_size)
    windows = x[starts[:, None] + np.arange(window_size)]  # (n_windows, window_size, regions)
    upper = np.triu_indices(n_regions, k=1)
    vectors = jax.vmap(_reduce.functional_connectivity)(windows)[:, upper[0], upper[1]]
    centered = vectors - jnp.mean(vectors, axis=1, keepdims=True)
    # The floor keeps a constant FC vector at 0 (as braintools does) with a finite gradient.
    norms = jnp.sqrt(jnp.maximum(jnp.sum(centered * centered, axis=1), jnp.finfo(centered.dtype).tiny))
    normed = centered / norms[:, None]
    off_diagonal = 1.0 - jnp.eye(len(starts), dtype=normed.dtype)
    return (normed @ normed.T) * off_diagonal + jnp.eye(len(starts), dtype=normed.dtype)


@functools.partial(jax.jit, static_argnames=('n_diag', 'bw_method', 'normalize'))
def _density(matrix, grid, n_diag, bw_method, normalize):
    values = matrix[jnp.triu_indices(matrix.shape[0], k=n_diag)]
    density = jax.scipy.stats.gaussian_kde(values, bw_method=bw_method).evaluate(grid)
    if normalize:
        density = density / (jnp.sum(density) * (grid[1] - grid[0]))
    return density


def _cdfs(p, q):
    p_cdf, q_cdf = jnp.cumsum(p), jnp.cumsum(q)
    return p_cdf / p_cdf[-1], q_cdf / q_cdf[-1]


def check_pair(p, q, who):
    if jnp.ndim(p) != 1 or jnp.shape(p) != jnp.shape(q) or jnp.shape(p)[0] < 2:
        raise ValueError(
            f"{who}: p and q must be 1-D densities on one grid of at least 2 points, got shapes "
            f"{jnp.shape(p)} and {jnp.shape(q)}."
        )


def fcd(window_size=30, step_size=5, *, as_loss=False):
    """Build brainmass's FCD objective: the FCD matrix, or the correlation of two of them.

    Parameters
    ----------
    window_size : int, default 30
        Sliding-window length, in samples (at least 2).
    step_size : int, default 5
        Stride between windows, in samples.
    as_loss : bool, default False
        ``False``: the Pearson correlation of the two FCD upper triangles, a
        score to maximise (``is_score``). ``True``: ``1 - correlation``.

    Returns
    -------
    callable
        ``fn(prediction, target=None, mask=None)``. Without a target, the
        prediction's FCD matrix ``(n_windows, n_windows)`` (one per trial for
        leading trial axes); with one, the score (or loss) averaged over
        trials, ``mask`` weighting whole trials.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> x = np.random.default_rng(0).standard_normal((120, 5))
    >>> objectives.fcd(window_size=20, step_size=5)(x).shape
    (21, 21)
    >>> round(float(objectives.fcd(20, 5)(x, 2.0 * x)), 5)
    1.0
    """
    window_size, step_size = _windows(window_size, step_size)
    as_loss = _reduce.as_loss_flag(as_loss)
    kernel = _fcd_corr_kernel(window_size, step_size, as_loss)

    def score(prediction, target=None, mask=None):
        if target is None:
            if mask is not None:
                raise ValueError("fcd: a mask weights trials against a target; without a target, pass no mask.")
            x = u.get_magnitude(prediction)
            if jnp.ndim(x) < 2 or jnp.shape(x)[-1] < 2:
                raise ValueError(
                    f"fcd: needs (time, regions) series with at least 2 regions, got shape {jnp.shape(x)}.")
            _check_length(x, window_size, step_size, 1, 'fcd')
            return _matrices(x, window_size, step_size)
        _check_length(prediction, window_size, step_size, 3, 'fcd')
        return _reduce.series_loss(kernel, prediction, target, mask, 'fcd', min_regions=3)

    def loss(prediction, target=None, mask=None):
        return score(prediction, target, mask)

    return loss if as_loss else _reduce.mark_score(score)


@functools.partial(jax.jit, static_argnames=('window_size', 'step_size'))
def _matrices(x, window_size, step_size):
    flat = x.reshape((-1,) + x.shape[-2:])  # leading axes are trials
    out = jax.vmap(lambda series: _fcd_of(series, window_size, step_size))(flat)
    return out.reshape(x.shape[:-2] + out.shape[1:])


@functools.lru_cache(maxsize=None)
def _fcd_corr_kernel(window_size, step_size, as_loss):
    # Cached so builders with equal settings share one compiled kernel.
    def kernel(prediction, target):
        fcd_p, fcd_t = jax.vmap(lambda x: _fcd_of(x, window_size, step_size))(jnp.stack([prediction, target]))
        upper = np.triu(np.ones(fcd_p.shape, np.float32), k=1).reshape(-1)
        # braintools.metric.matrix_correlation's value (0 for a constant matrix), as a weighted correlation.
        corr = braintools.metric.weighted_correlation(fcd_p.reshape(-1), fcd_t.reshape(-1), upper)
        return 1.0 - corr if as_loss else corr

    return kernel


def fcd_distribution(fcd_matrix, midpoints=None, n_diag=1, bw_method=None, normalize=True):
    """Kernel-density estimate of an FCD matrix's upper-triangle values, as brainmass computes it.

    Parameters
    ----------
    fcd_matrix : array
        A square FCD matrix (from :func:`fcd` without a target).
    midpoints : array, optional
        The evenly spaced evaluation grid; default 100 points on ``[-0.99, 0.99]``.
    n_diag : int, default 1
        Diagonal offset of the upper triangle (1 leaves out the unit diagonal).
    bw_method : str, float or callable, optional
        Bandwidth of :func:`jax.scipy.stats.gaussian_kde` (default Scott's rule).
    normalize : bool, default True
        Rescale the density to integrate to 1 over ``midpoints``.

    Returns
    -------
    jax.Array
        The density on ``midpoints``. NaN when all values are equal (a
        constant series): the KDE's covariance is singular.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> x = np.random.default_rng(0).standard_normal((120, 5))
    >>> density = objectives.fcd_distribution(objectives.fcd(window_size=20, step_size=5)(x))
    >>> density.shape, round(float(density.sum() * (1.98 / 99)), 4)
    ((100,), 1.0)
    """
    matrix = u.get_magnitude(fcd_matrix)
    shape = jnp.shape(matrix)
    n_diag = _whole('n_diag', n_diag, 0)
    if len(shape) != 2 or shape[0] != shape[1] or len(np.triu_indices(shape[0], k=n_diag)[0]) < 2:
        raise ValueError(
            f"fcd_matrix must be a square matrix with at least 2 values above diagonal n_diag={n_diag}, "
            f"got shape {shape}; pass the output of objectives.fcd(...)(series) for one series."
        )
    return _density(matrix, jnp.asarray(_grid(midpoints)), n_diag, _bandwidth(bw_method), bool(normalize))


def ks_distance(p, q):
    """Kolmogorov-Smirnov statistic between two densities (or histograms) on one grid.

    Each cumulative sum is normalised to a CDF, so the result is in ``[0, 1]``
    whatever the bin width. The supremum is not smooth: prefer
    :func:`wasserstein_1d` as a fitting loss, KS for reporting.

    Parameters
    ----------
    p, q : array
        1-D densities or unnormalised histograms on the same ordered grid.

    Returns
    -------
    jax.Array
        ``max |F_p - F_q|``.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> float(objectives.ks_distance(np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 2.0])))
    1.0
    """
    p, q = u.get_magnitude(p), u.get_magnitude(q)
    check_pair(p, q, 'ks_distance')
    p_cdf, q_cdf = _cdfs(p, q)
    return jnp.max(jnp.abs(p_cdf - q_cdf))


def wasserstein_1d(p, q, x):
    """Wasserstein-1 distance between two densities on the uniform grid ``x``.

    ``sum |F_p - F_q| * dx`` with both CDFs normalised to end at 1: smooth in
    ``p`` and ``q``, in the units of ``x``; it tends to
    :func:`scipy.stats.wasserstein_distance` as the grid is refined.

    Parameters
    ----------
    p, q : array
        1-D densities or unnormalised histograms on ``x``.
    x : array
        The uniform grid, as long as ``p``.

    Returns
    -------
    jax.Array
        The distance.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> x = np.linspace(0.0, 4.0, 5)
    >>> float(objectives.wasserstein_1d(np.array([1.0, 0, 0, 0, 0]), np.array([0, 0, 1.0, 0, 0]), x))
    2.0
    """
    p, q = u.get_magnitude(p), u.get_magnitude(q)
    check_pair(p, q, 'wasserstein_1d')
    if jnp.shape(x) != jnp.shape(p):
        raise ValueError(f"wasserstein_1d: x must be the grid of p, shape {jnp.shape(p)}, got {jnp.shape(x)}.")
    p_cdf, q_cdf = _cdfs(p, q)
    return jnp.sum(jnp.abs(p_cdf - q_cdf)) * (x[1] - x[0])


def fcd_ks(window_size=30, step_size=5, *, midpoints=None, bw_method=None, n_diag=1):
    """Build brainmass's FCD loss: the KS distance between two FCD value distributions.

    The distribution of the FCD matrix's upper-triangle values (a Gaussian KDE
    on ``midpoints``, see :func:`fcd_distribution`) is the standard FCD target;
    this compares the prediction's and the target's with :func:`ks_distance`.
    Not smooth (a supremum): prefer :func:`fcd_wasserstein` for gradient fits.

    Parameters
    ----------
    window_size, step_size : int
        Sliding-window length and stride, in samples (defaults 30 and 5).
    midpoints : array, optional
        The evenly spaced grid for the densities; default 100 points on ``[-0.99, 0.99]``.
    bw_method : str, float or callable, optional
        KDE bandwidth (default Scott's rule).
    n_diag : int, default 1
        Diagonal offset of the upper triangle.

    Returns
    -------
    callable
        ``loss(prediction, target, mask=None) -> scalar`` in ``[0, 1]``, 0 for
        the same series; leading trial axes are averaged, ``mask`` weighting trials.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> x = np.random.default_rng(0).standard_normal((120, 5))
    >>> round(float(objectives.fcd_ks(window_size=20, step_size=5)(x, x)), 6)
    0.0
    """
    return _distribution_loss('ks', 'fcd_ks', window_size, step_size, midpoints, bw_method, n_diag)


def fcd_wasserstein(window_size=30, step_size=5, *, midpoints=None, bw_method=None, n_diag=1):
    """Build brainmass's FCD loss: the Wasserstein-1 distance between two FCD value distributions.

    As :func:`fcd_ks`, with the smooth :func:`wasserstein_1d` distance: the
    FCD objective to use for gradient-based fitting.

    Parameters
    ----------
    window_size, step_size : int
        Sliding-window length and stride, in samples (defaults 30 and 5).
    midpoints : array, optional
        The evenly spaced grid for the densities; default 100 points on ``[-0.99, 0.99]``.
    bw_method : str, float or callable, optional
        KDE bandwidth (default Scott's rule).
    n_diag : int, default 1
        Diagonal offset of the upper triangle.

    Returns
    -------
    callable
        ``loss(prediction, target, mask=None) -> scalar``, 0 for the same
        series; leading trial axes are averaged, ``mask`` weighting trials.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> x = np.random.default_rng(0).standard_normal((120, 5))
    >>> round(float(objectives.fcd_wasserstein(window_size=20, step_size=5)(x, x)), 6)
    0.0
    """
    return _distribution_loss('wasserstein', 'fcd_wasserstein', window_size, step_size, midpoints, bw_method, n_diag)


def _distribution_loss(distance, who, window_size, step_size, midpoints, bw_method, n_diag):
    window_size, step_size = _windows(window_size, step_size)
    n_diag = _whole('n_diag', n_diag, 0)
    kernel = _distance_kernel(distance, window_size, step_size, _grid(midpoints), _bandwidth(bw_method), n_diag)

    def loss(prediction, target, mask=None):
        # The KDE needs at least 2 values above the diagonal n_diag: n_diag + 2 windows.
        _check_length(prediction, window_size, step_size, n_diag + 2, who)
        return _reduce.series_loss(kernel, prediction, target, mask, who, min_regions=3)

    return loss


@functools.lru_cache(maxsize=None)
def _distance_kernel(distance, window_size, step_size, grid, bw_method, n_diag):
    def kernel(prediction, target):
        midpoints = jnp.asarray(grid, prediction.dtype)
        # One vmapped program for both series: the same input gives bit-identical densities (distance 0).
        p, q = jax.vmap(lambda x: _density(_fcd_of(x, window_size, step_size), midpoints, n_diag, bw_method, True))(
            jnp.stack([prediction, target]))
        return ks_distance(p, q) if distance == 'ks' else wasserstein_1d(p, q, midpoints)

    return kernel
