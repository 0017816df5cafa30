"""The objective builders (see :mod:`trainer.objectives`)."""

import math
import numbers

import brainunit as u
import jax.numpy as jnp

from ..core import checks as _checks
from . import reduce as _reduce

__all__ = sorted(['cosine_sim', 'cross_entropy', 'fc_corr', 'fc_rmse', 'mae', 'mse', 'rmse', 'steady_state',
                  'timeseries_rmse'])


def mse():
    """Build a mean-squared-error loss, masked when a mask is given.

    Returns
    -------
    callable
        ``loss(prediction, target, mask=None) -> scalar``: ``mean((prediction -
        target) ** 2)`` as a plain array in the prediction's unit squared.
        Shapes must match; units must share a dimension.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> prediction, target = np.ones((2, 3, 1)), np.zeros((2, 3, 1))
    >>> float(objectives.mse()(prediction, target))
    1.0
    >>> prediction[0, 2] = 9.0                          # a step the mask ignores
    >>> mask = np.array([[1., 1., 0.], [0., 0., 0.]])   # trial 2 is padding
    >>> float(objectives.mse()(prediction, target, mask))
    1.0
    """

    def loss(prediction, target, mask=None):
        return _reduce.error_stats(*_reduce.error_and_mask(prediction, target, mask, 'mse'))[0]

    return loss


def rmse():
    """Build a root-mean-square-error loss (``timeseries_rmse`` in brainmass).

    Returns
    -------
    callable
        ``loss(prediction, target, mask=None) -> scalar``: the square root of
        :func:`mse`, in the prediction's unit. Its gradient at a perfect fit is
        0 rather than NaN.

    Examples
    --------
    >>> import numpy as np
    >>> import brainunit as u
    >>> from trainer import objectives
    >>> float(objectives.rmse()(np.full(3, 2.0) * u.mV, np.zeros(3) * u.mV))
    2.0
    """

    def loss(prediction, target, mask=None):
        return _reduce.error_stats(*_reduce.error_and_mask(prediction, target, mask, 'rmse'))[1]

    return loss


timeseries_rmse = rmse


def mae():
    """Build a mean-absolute-error loss, masked when a mask is given.

    Returns
    -------
    callable
        ``loss(prediction, target, mask=None) -> scalar``: ``mean(|prediction -
        target|)`` in the prediction's unit.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> float(objectives.mae()(np.array([1.0, -3.0, 2.0]), np.zeros(3)))
    2.0
    """

    def loss(prediction, target, mask=None):
        return _reduce.error_stats(*_reduce.error_and_mask(prediction, target, mask, 'mae'))[2]

    return loss


def steady_state(*, n_tail=50):
    """Build the seed's steady-state loss: squared error of the settled mean.

    Parameters
    ----------
    n_tail : int, default 50
        Number of trailing time steps (axis 0) averaged into the amplitude.

    Returns
    -------
    callable
        ``loss(prediction, target, mask=None) -> scalar`` equal to
        ``(mean(get_magnitude(prediction[-n_tail:])) - target) ** 2``, bit for
        bit the seed's ``steadystate_loss``. Units of the prediction are
        stripped, so ``target`` is a plain number in the prediction's unit. A
        mask (aligned with the time axis) weights the tail steps.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> trace = np.concatenate([np.zeros(100), np.full(50, 1.5)])
    >>> float(objectives.steady_state(n_tail=50)(trace, 1.0))
    0.25
    """
    n_tail = _checks.positive_int('n_tail', n_tail, fix='Use the number of settled steps to average, e.g. 50.')

    def loss(prediction, target, mask=None):
        if mask is None:
            amp = jnp.mean(u.get_magnitude(prediction[-n_tail:]))
        else:
            tail, tail_mask = u.get_magnitude(prediction[-n_tail:]), mask[-n_tail:]
            _reduce.check_mask(tail_mask, jnp.shape(tail), 'steady_state')
            amp = _reduce.weighted_mean(tail, tail_mask)
        return (amp - target) ** 2

    return loss


def fc_corr(*, as_loss=False):
    """Build brainmass's functional-connectivity correlation: a score, or with ``as_loss`` a loss.

    The functional connectivity (FC) of a ``(time, regions)`` series is its
    region-by-region Pearson correlation; this is the Pearson correlation of
    the two FC upper triangles (:func:`braintools.metric.matrix_correlation`,
    1.0 for the same pattern). Scale-invariant, so units are stripped. Leading
    axes beyond ``(time, regions)`` are trials: each is scored and the scores
    averaged (``mask`` of the batch shape weights them).

    Parameters
    ----------
    as_loss : bool, default False
        ``False``: the correlation in ``[-1, 1]``, a score to *maximise*
        (``is_score`` is true, so ``Fitter`` refuses to minimise it).
        ``True``: ``1 - correlation`` in ``[0, 2]``, a loss to minimise.

    Returns
    -------
    callable
        ``score(prediction, target, mask=None) -> scalar`` (``loss`` with ``as_loss``).

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> x = np.random.default_rng(0).standard_normal((40, 4))
    >>> round(float(objectives.fc_corr()(3.0 * x, x)), 6)
    1.0
    >>> round(float(objectives.fc_corr(as_loss=True)(3.0 * x, x)), 6)
    0.0
    """
    def score(prediction, target, mask=None):
        return _reduce.series_loss(_reduce.fc_corr_score, prediction, target, mask, 'fc_corr', min_regions=3)

    def loss(prediction, target, mask=None):
        return _reduce.series_loss(_reduce.fc_corr_loss, prediction, target, mask, 'fc_corr', min_regions=3)

    return loss if _reduce.as_loss_flag(as_loss) else _reduce.mark_score(score)


def fc_rmse():
    """Build brainmass's FC RMSE: the RMSE between two FC matrices over all n**2 entries.

    The diagonal (always 1 - 1) is included, as in brainmass, so the value is
    the off-diagonal RMSE times ``sqrt(1 - 1/n)``. Scale-invariant; batching
    and masks as in :func:`fc_corr`.

    Returns
    -------
    callable
        ``loss(prediction, target, mask=None) -> scalar``.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> x = np.random.default_rng(0).standard_normal((40, 4))
    >>> round(float(objectives.fc_rmse()(x, x)), 6)
    0.0
    """

    def loss(prediction, target, mask=None):
        return _reduce.series_loss(_reduce.fc_rmse_score, prediction, target, mask, 'fc_rmse', min_regions=2)

    return loss


def cosine_sim(*, as_loss=False, epsilon=1e-8):
    """Build brainmass's cosine similarity of two flattened series: a score, or a loss.

    Scale-invariant, so units are stripped. A ``(time, features)`` series (or
    a vector) is one sample; leading axes beyond two are trials, scored and
    averaged as in :func:`fc_corr`.

    Parameters
    ----------
    as_loss : bool, default False
        ``False``: the cosine similarity in ``[-1, 1]``, a score to maximise.
        ``True``: ``1 - cosine similarity`` in ``[0, 2]``, a loss.
    epsilon : float, default 1e-8
        Norm floor forwarded to :func:`braintools.metric.cosine_similarity`
        (brainmass passes 0.0, which gives NaN for an all-zero series).

    Returns
    -------
    callable
        ``score(prediction, target, mask=None) -> scalar`` (``loss`` with ``as_loss``).

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    >>> float(objectives.cosine_sim()(a, b)), float(objectives.cosine_sim(as_loss=True)(a, b))
    (0.0, 1.0)
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not 0 <= epsilon < math.inf:
        raise ValueError(f"epsilon must be a finite float >= 0, got {epsilon!r}.")
    score_kernel, loss_kernel = (_reduce.cosine_score(float(epsilon), flag) for flag in (False, True))

    def score(prediction, target, mask=None):
        return _reduce.series_loss(score_kernel, prediction, target, mask, 'cosine_sim', min_regions=1)

    def loss(prediction, target, mask=None):
        return _reduce.series_loss(loss_kernel, prediction, target, mask, 'cosine_sim', min_regions=1)

    return loss if _reduce.as_loss_flag(as_loss) else _reduce.mark_score(score)


def cross_entropy():
    """Build a softmax cross-entropy loss against integer class labels.

    Shapes, with ``C`` classes:

    - prediction ``(B, C)``, target ``(B,)``: one label per trial;
    - prediction ``(B, T, C)``, target ``(B, T)``: one label per step;
    - prediction ``(B, T, C)``, target ``(B,)``: a per-trial label, scored on
      the steps a ``(B, T)`` mask selects, or at the last step when there is
      no per-step mask.

    ``mask`` (``(B,)`` or ``(B, T)``, float weights) gives the masked mean.
    Labels outside ``[0, C)`` are not checked (JAX clamps the gather).

    Returns
    -------
    callable
        ``loss(prediction, target, mask=None) -> scalar``.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> logits = np.zeros((2, 3), np.float32)
    >>> round(float(objectives.cross_entropy()(logits, np.array([0, 2]))), 4)  # log 3
    1.0986
    """

    def loss(prediction, target, mask=None):
        return _reduce.label_loss(_reduce.cross_entropy_score, prediction, target, mask, 'cross_entropy')

    return loss
