"""Objective builders: ``loss(prediction, target, mask=None) -> scalar``.

Every public function here is a *builder*: it takes keyword-only
configuration and returns a small named function ``loss`` that is jit / grad /
vmap-safe and unit-aware. Builders compose with :func:`combine`; the maths
comes from :mod:`braintools.metric` (the shared checks and compiled kernels
live in ``trainer._reduce``).

    >>> import numpy as np
    >>> from trainer import objectives
    >>> loss = objectives.combine((1.0, objectives.mse()), (0.5, objectives.mae()))
    >>> float(loss(np.full(3, 2.0), np.zeros(3)))   # 1.0 * 4.0 + 0.5 * 2.0
    5.0

Conventions
-----------
Units
    Differences (``mse``, ``rmse``, ``mae``) are unit-checked: a prediction in
    mV against a target in seconds raises ``ValueError`` naming both units.
    The value comes back as a plain array expressed in the *prediction's*
    unit (``mse`` of mV traces is a number of mV**2), so ``loss +
    model.reg_loss()`` works and differentiates. Scale-invariant objectives
    (``fc_corr``, ``fc_rmse``, ``cosine_sim``) strip units first, as does
    ``steady_state`` (the seed's loss, kept exactly).
Masks
    ``mask`` holds float weights (0 = ignore) aligned with the *leading* axes
    of the per-element loss, so a ``(B, T)`` mask covers a ``(B, T, N)``
    output. Masked means are ``sum(l * m) / max(sum(m), tiny)``: a padded
    trial whose mask row is all zero contributes nothing.
"""

import math
import numbers

import brainunit as u
import jax
import jax.numpy as jnp

from . import _checks, _reduce

__all__ = sorted([
    'accepts_mask',
    'combine',
    'cosine_sim',
    'cross_entropy',
    'fc_corr',
    'fc_rmse',
    'mae',
    'mse',
    'per_trial',
    'rmse',
    'steady_state',
    'timeseries_rmse',
])


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


def fc_corr():
    """Build ``1 - corr`` between the upper triangles of two FC matrices.

    The functional connectivity (FC) of a ``(time, regions)`` series is its
    region-by-region Pearson correlation. Scale-invariant, so units are
    stripped. Leading axes beyond ``(time, regions)`` are trials: each is
    scored and the scores averaged (``mask`` of the batch shape weights them).

    Returns
    -------
    callable
        ``loss(prediction, target, mask=None) -> scalar`` in ``[0, 2]``.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> x = np.random.default_rng(0).standard_normal((40, 4))
    >>> round(float(objectives.fc_corr()(3.0 * x, x)), 6)
    0.0
    """

    def loss(prediction, target, mask=None):
        return _reduce.series_loss(_reduce.fc_corr_score, prediction, target, mask, 'fc_corr', min_regions=3)

    return loss


def fc_rmse():
    """Build the RMSE between the upper triangles of two FC matrices.

    Only off-diagonal pairs count, each once (the diagonal is always 1).
    Scale-invariant; batching and masks as in :func:`fc_corr`.

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


def cosine_sim(*, epsilon=1e-8):
    """Build ``1 - cosine similarity`` between two flattened series.

    Scale-invariant, so units are stripped. A ``(time, features)`` series (or
    a vector) is one sample; leading axes beyond two are trials, scored and
    averaged as in :func:`fc_corr`.

    Parameters
    ----------
    epsilon : float, default 1e-8
        Norm floor forwarded to :func:`braintools.metric.cosine_similarity`.

    Returns
    -------
    callable
        ``loss(prediction, target, mask=None) -> scalar`` in ``[0, 2]``.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> float(objectives.cosine_sim()(np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])))
    1.0
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not 0 <= epsilon < math.inf:
        raise ValueError(f"epsilon must be a finite float >= 0, got {epsilon!r}.")
    score = _reduce.cosine_score(float(epsilon))

    def loss(prediction, target, mask=None):
        return _reduce.series_loss(score, prediction, target, mask, 'cosine_sim', min_regions=1)

    return loss


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


def combine(*weighted_objectives):
    """Build the weighted sum of objectives (like ``optax.chain`` for losses).

    Parameters
    ----------
    *weighted_objectives : tuple of (float, callable)
        ``(weight, objective)`` pairs. A two-argument objective works on
        unmasked data and raises ``ValueError`` when a mask is passed.

    Returns
    -------
    callable
        ``loss(prediction, target, mask=None) -> scalar`` equal to
        ``sum(weight * objective(prediction, target[, mask]))``.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> loss = objectives.combine((2.0, objectives.rmse()), (0.5, objectives.rmse()))
    >>> float(loss(np.ones(3), np.zeros(3)))
    2.5
    """
    if not weighted_objectives:
        raise ValueError("combine needs at least one (weight, objective) pair, got none.")
    pairs = []
    for i, pair in enumerate(weighted_objectives):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"combine argument {i} must be a (weight, objective) pair, got {pair!r}.")
        weight, objective = pair
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not math.isfinite(weight):
            raise ValueError(f"combine argument {i}: the weight must be a finite number, got {weight!r}.")
        if not callable(objective):
            raise ValueError(
                f"combine argument {i}: the objective must be callable, got {objective!r}; "
                "pass a built objective such as objectives.mse(), not objectives.mse."
            )
        pairs.append((float(weight), objective))

    def loss(prediction, target, mask=None):
        return sum(w * _reduce.call_with_mask(fn, prediction, target, mask, 'combine') for w, fn in pairs)

    return loss


def per_trial(objective):
    """Lift a single-trial objective to a batch: its mean over trials.

    ``objective(prediction, target)`` written for one trial (a Fitter
    objective, say) becomes ``loss(prediction, target, mask=None)`` over a
    leading trial axis, with ``jax.vmap``; a ``(B,)`` mask weights the trials.
    This is how a fixed target fits with the ``Trainer``: one trial, batch 1.

    Parameters
    ----------
    objective : callable
        ``objective(prediction, target) -> scalar`` for one trial.

    Returns
    -------
    callable
        ``loss(prediction, target, mask=None) -> scalar``.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer import objectives
    >>> loss = objectives.per_trial(objectives.steady_state(n_tail=2))
    >>> prediction = np.array([[1., 2., 3.], [0., 0., 1.]])   # two trials
    >>> float(loss(prediction, np.array([2.5, 0.5])))          # (0 + 0) / 2
    0.0
    """
    if not callable(objective):
        raise ValueError(f"per_trial needs a callable objective, got {objective!r}.")

    def loss(prediction, target, mask=None):
        scores = jax.vmap(objective)(prediction, target)
        if jnp.ndim(scores) != 1:
            raise ValueError(
                f"per_trial: the objective must return a scalar per trial, got shape "
                f"{jnp.shape(scores)[1:]}; reduce it inside the objective.")
        _reduce.check_mask(mask, jnp.shape(scores), 'per_trial')
        return _reduce.weighted_mean(scores, mask)

    return loss


def accepts_mask(fn):
    """Tell whether objective ``fn`` can take a mask.

    True when ``fn`` has a ``mask`` parameter, a third positional parameter,
    or ``*args``; False for a two-argument ``fn(prediction, target)`` or when
    the signature cannot be read.

    Examples
    --------
    >>> from trainer import objectives
    >>> objectives.accepts_mask(objectives.mse())
    True
    >>> objectives.accepts_mask(lambda prediction, target: 0.0)
    False
    """
    return _reduce.mask_style(fn) is not None
