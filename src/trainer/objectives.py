"""Objective builders: ``loss(prediction, target, mask=None) -> scalar``.

Every public function here is a *builder*: it takes keyword-only
configuration and returns a small named function ``loss`` that is jit / grad /
vmap-safe and unit-aware. Builders compose with :func:`combine`; the maths
comes from :mod:`braintools.metric`.

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

import functools
import inspect
import math
import numbers

import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

from . import _checks

__all__ = sorted([
    'accepts_mask',
    'combine',
    'cosine_sim',
    'cross_entropy',
    'fc_corr',
    'fc_rmse',
    'mae',
    'mse',
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
        return _error_stats(*_error_and_mask(prediction, target, mask, 'mse'))[0]

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
        return _error_stats(*_error_and_mask(prediction, target, mask, 'rmse'))[1]

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
        return _error_stats(*_error_and_mask(prediction, target, mask, 'mae'))[2]

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
            _check_mask(tail_mask, jnp.shape(tail), 'steady_state')
            amp = _weighted_mean(tail, tail_mask)
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
        return _series_loss(_fc_corr_score, prediction, target, mask, 'fc_corr', min_regions=3)

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
        return _series_loss(_fc_rmse_score, prediction, target, mask, 'fc_rmse', min_regions=2)

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
    score = _cosine_score(float(epsilon))

    def loss(prediction, target, mask=None):
        return _series_loss(score, prediction, target, mask, 'cosine_sim', min_regions=1)

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
        return _label_loss(_cross_entropy_score, prediction, target, mask, 'cross_entropy')

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
        return sum(w * _call(fn, prediction, target, mask, 'combine') for w, fn in pairs)

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
    return _mask_style(fn) is not None


def _mask_style(fn):
    """``'keyword'``, ``'positional'`` or ``None``: how ``fn`` takes a mask."""
    if not callable(fn):
        raise ValueError(f"expected a callable objective, got {fn!r}.")
    try:
        kinds = {p.name: p.kind for p in inspect.signature(fn).parameters.values()}
    except (TypeError, ValueError):
        return None
    if kinds.get('mask') in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
        return 'keyword'
    positional = [k for k in kinds.values()
                  if k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 3 or inspect.Parameter.VAR_POSITIONAL in kinds.values():
        return 'positional'
    return None


def _call(fn, prediction, target, mask, who):
    """Call objective ``fn``, handing it ``mask`` the way its signature takes one."""
    if mask is None:
        return fn(prediction, target)
    style = _mask_style(fn)
    if style is None:
        name = getattr(fn, '__qualname__', repr(fn))
        raise ValueError(
            f"{who}: objective {name} takes (prediction, target) only, but the data has a mask; "
            "give it a `mask=None` parameter or use a built-in from trainer.objectives."
        )
    return fn(prediction, target, mask=mask) if style == 'keyword' else fn(prediction, target, mask)


# Checks run in Python on static shapes and units; the compiled kernels below
# see plain arrays only, keyed by shape, so builders that share a kernel share
# its compilation (eager calls compile once per shape, not once per jnp op).

def _unit_name(x):
    unit = u.get_unit(x)
    return 'dimensionless' if unit.is_unitless else str(unit)


def _check_mask(mask, shape, who):
    if mask is not None and jnp.shape(mask) != tuple(shape[:jnp.ndim(mask)]):
        raise ValueError(
            f"{who}: mask has shape {jnp.shape(mask)} but the loss per element has shape {tuple(shape)}; "
            f"the mask must match its leading axes, e.g. {tuple(shape[:1])} or {tuple(shape[:2])}."
        )


def _error_and_mask(prediction, target, mask, who):
    """``(prediction - target, mask)``: the difference as plain floats in the prediction's unit."""
    if jnp.shape(prediction) != jnp.shape(target):
        raise ValueError(
            f"{who}: prediction has shape {jnp.shape(prediction)} but target has shape "
            f"{jnp.shape(target)}; they must match. Reshape the target (no implicit broadcasting)."
        )
    if not u.get_unit(prediction).has_same_dim(u.get_unit(target)):
        raise ValueError(
            f"{who}: prediction is in {_unit_name(prediction)} but target is in {_unit_name(target)}; "
            "a difference needs the same physical dimension. Convert the target to the prediction's "
            "unit, or strip both with brainunit.get_magnitude to compare raw numbers."
        )
    error = u.get_magnitude(prediction - target)
    error = error if hasattr(error, 'astype') else np.asarray(error)
    _check_mask(mask, jnp.shape(error), who)
    return error.astype(jnp.result_type(error, float)), mask


def _series_loss(score, prediction, target, mask, who, *, min_regions):
    """Check shapes, then average ``score`` over the leading (trial) axes."""
    p, t = u.get_magnitude(prediction), u.get_magnitude(target)  # scale-invariant: units drop out
    if jnp.shape(p) != jnp.shape(t):
        raise ValueError(f"{who}: prediction has shape {jnp.shape(p)} but target has shape {jnp.shape(t)}; "
                         "they must match.")
    if min_regions > 1 and (jnp.ndim(p) < 2 or jnp.shape(p)[-1] < min_regions):
        raise ValueError(
            f"{who}: needs (time, regions) series with at least {min_regions} regions, got shape "
            f"{jnp.shape(p)}; add leading trial axes if you have a batch, never drop the region axis."
        )
    batch_shape = jnp.shape(p)[:max(jnp.ndim(p) - 2, 0)]
    if mask is None:
        mask = np.ones(batch_shape, jnp.result_type(float))  # one compiled kernel with or without a mask
    elif jnp.shape(mask) != batch_shape:
        raise ValueError(
            f"{who}: mask has shape {jnp.shape(mask)} but must weight whole trials, shape {batch_shape}; "
            "this objective scores whole series, so trim the series instead of masking time steps."
        )
    return _series_kernel(p, t, mask, score=score)


def _label_loss(score, prediction, target, mask, who):
    """Check logits and integer labels, then average ``score(logits, labels)`` over rows."""
    if not u.get_unit(prediction).is_unitless:
        raise ValueError(
            f"{who}: prediction (logits) must be dimensionless, got {_unit_name(prediction)}; "
            "divide it by its unit first (e.g. prediction / u.mV)."
        )
    logits = u.get_magnitude(prediction)
    p_shape, t_shape = jnp.shape(logits), jnp.shape(target)
    extra = len(p_shape) - len(t_shape)
    if extra not in (1, 2) or p_shape[:len(t_shape)] != t_shape:
        raise ValueError(
            f"{who}: prediction has shape {p_shape} and target {t_shape}; expected prediction (B, C) with "
            "target (B,), or prediction (B, T, C) with target (B, T) or (B,). "
            "Give target one integer label per trial or per step of the prediction."
        )
    if not jnp.issubdtype(jnp.result_type(target), jnp.integer):
        raise ValueError(f"{who}: target must hold integer class labels, got dtype {jnp.result_type(target)}; "
                         "use target.astype(jnp.int32).")
    # A per-trial label on a time series covers the steps a per-step mask selects, else the last step.
    broadcast = extra == 2 and mask is not None and jnp.ndim(mask) > len(t_shape)
    _check_mask(mask, p_shape[:-1] if broadcast else t_shape, who)
    return _label_kernel(logits, target, mask, score=score, broadcast=broadcast)


@jax.jit
def _weighted_mean(values, mask):
    if mask is None:
        return jnp.mean(values)
    mask = jnp.asarray(mask, values.dtype)
    weights = jnp.broadcast_to(mask.reshape(mask.shape + (1,) * (values.ndim - mask.ndim)), values.shape)
    # The floor keeps an all-zero mask at 0 instead of 0 / 0.
    return jnp.sum(values * weights) / jnp.maximum(jnp.sum(weights), jnp.finfo(values.dtype).tiny)


def _safe_sqrt(x):
    # sqrt has an infinite slope at 0; without the guard a perfect fit gives NaN gradients.
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


@jax.jit
def _error_stats(error, mask):
    """``(mse, rmse, mae)`` of ``error``: one kernel serves all three builders."""
    mean_squared = _weighted_mean(braintools.metric.squared_error(error), mask)
    mean_absolute = _weighted_mean(braintools.metric.absolute_error(error, reduction='none'), mask)
    return mean_squared, _safe_sqrt(mean_squared), mean_absolute


@functools.partial(jax.jit, static_argnames='score')
def _series_kernel(prediction, target, mask, *, score):
    if mask.ndim == 0:  # one trial: no vmap, a smaller program to compile
        return _weighted_mean(score(prediction, target), mask)
    event_shape = prediction.shape[mask.ndim:]
    flat = lambda x: x.reshape((-1,) + event_shape)  # noqa: E731
    scores = jax.vmap(score)(flat(prediction), flat(target)).reshape(mask.shape)
    return _weighted_mean(scores, mask)


@functools.partial(jax.jit, static_argnames=('score', 'broadcast'))
def _label_kernel(logits, labels, mask, *, score, broadcast):
    time_axis = labels.ndim
    if logits.ndim == labels.ndim + 2:
        if broadcast:
            labels = jnp.broadcast_to(jnp.expand_dims(labels, time_axis), logits.shape[:-1])
        else:
            logits = logits[(slice(None),) * time_axis + (-1,)]
    if not jnp.issubdtype(logits.dtype, jnp.floating):
        logits = logits.astype(jnp.result_type(float))
    return _weighted_mean(score(logits, labels), mask)


def _functional_connectivity(x):
    # Same matrix as braintools.metric.functional_connectivity off the diagonal, but its
    # corrcoef has NaN gradients for a silent (constant) region and compiles ~2x slower.
    z = x - jnp.mean(x, axis=0)
    z = z / jnp.sqrt(jnp.maximum(jnp.sum(z * z, axis=0), jnp.finfo(z.dtype).tiny))
    return z.T @ z


def _upper_weights(n):
    # A 0/1 weight on the strict upper triangle: cheaper to compile than gathering it.
    return np.triu(np.ones((n, n), np.float32), k=1).reshape(-1)


def _fc_corr_score(prediction, target):
    fc_p, fc_t = _functional_connectivity(prediction), _functional_connectivity(target)
    corr = braintools.metric.weighted_correlation(fc_p.reshape(-1), fc_t.reshape(-1), _upper_weights(fc_p.shape[0]))
    return 1.0 - corr


def _fc_rmse_score(prediction, target):
    fc_p, fc_t = _functional_connectivity(prediction), _functional_connectivity(target)
    squared = braintools.metric.squared_error(fc_p.reshape(-1), fc_t.reshape(-1))
    return _safe_sqrt(_weighted_mean(squared, _upper_weights(fc_p.shape[0])))


@functools.lru_cache(maxsize=None)
def _cosine_score(epsilon):
    # Cached so every builder with the same epsilon shares one compiled kernel.
    def score(prediction, target):
        return 1.0 - braintools.metric.cosine_similarity(prediction.reshape(-1), target.reshape(-1), epsilon=epsilon)

    return score


def _cross_entropy_score(logits, labels):
    return braintools.metric.softmax_cross_entropy_with_integer_labels(logits, labels)
