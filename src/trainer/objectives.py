"""Objective builders: ``loss(prediction, target, mask=None) -> scalar``.

Every public function here is a *builder*: it takes keyword-only
configuration and returns a small named function ``loss`` that is jit / grad /
vmap-safe and unit-aware. Builders compose with :func:`combine`; the maths
comes from :mod:`braintools.metric`.

    >>> import jax.numpy as jnp
    >>> from trainer import objectives
    >>> loss = objectives.combine((1.0, objectives.mse()), (0.5, objectives.mae()))
    >>> x = jnp.zeros((4, 3))
    >>> float(loss(x + 2.0, x))           # 1.0 * 4.0 + 0.5 * 2.0
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

import inspect
import math
import numbers

import braintools
import brainunit as u
import jax
import jax.numpy as jnp

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
    >>> import jax.numpy as jnp
    >>> from trainer import objectives
    >>> loss = objectives.mse()
    >>> pred, target = jnp.ones((2, 3, 1)), jnp.zeros((2, 3, 1))
    >>> float(loss(pred, target))
    1.0
    >>> mask = jnp.array([[1., 1., 0.], [0., 0., 0.]])  # trial 2 is padding
    >>> float(loss(pred.at[0, 2].set(9.0), target, mask))
    1.0
    """

    def loss(prediction, target, mask=None):
        error = _difference(prediction, target, 'mse')
        return _masked_mean(braintools.metric.squared_error(error), mask, 'mse')

    return loss


def rmse():
    """Build a root-mean-square-error loss (``timeseries_rmse`` in brainmass).

    Returns
    -------
    callable
        ``loss(prediction, target, mask=None) -> scalar``: ``sqrt`` of
        :func:`mse`, in the prediction's unit. Its gradient at a perfect fit is
        0 rather than NaN.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import brainunit as u
    >>> from trainer import objectives
    >>> x = jnp.zeros((10, 3))
    >>> float(objectives.rmse()((x + 2.0) * u.mV, x * u.mV))
    2.0
    """

    def loss(prediction, target, mask=None):
        error = _difference(prediction, target, 'rmse')
        return _safe_sqrt(_masked_mean(braintools.metric.squared_error(error), mask, 'rmse'))

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
    >>> import jax.numpy as jnp
    >>> from trainer import objectives
    >>> float(objectives.mae()(jnp.array([1.0, -3.0]), jnp.zeros(2)))
    2.0
    """

    def loss(prediction, target, mask=None):
        error = _difference(prediction, target, 'mae')
        return _masked_mean(braintools.metric.absolute_error(error, reduction='none'), mask, 'mae')

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
    >>> import jax.numpy as jnp
    >>> from trainer import objectives
    >>> trace = jnp.concatenate([jnp.zeros(100), jnp.full(50, 1.5)])
    >>> float(objectives.steady_state(n_tail=50)(trace, 1.0))
    0.25
    """
    n_tail = _checks.positive_int('n_tail', n_tail, fix='Use the number of settled steps to average, e.g. 50.')

    def loss(prediction, target, mask=None):
        tail = u.get_magnitude(prediction[-n_tail:])
        if mask is None:
            amp = jnp.mean(tail)
        else:
            amp = _masked_mean(tail, jnp.asarray(mask)[-n_tail:], 'steady_state')
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
    >>> import numpy as np, jax.numpy as jnp
    >>> from trainer import objectives
    >>> x = jnp.asarray(np.random.default_rng(0).standard_normal((200, 5)))
    >>> round(float(objectives.fc_corr()(3.0 * x, x)), 6)
    0.0
    """

    def score(prediction, target):
        fc_p = braintools.metric.functional_connectivity(prediction)
        fc_t = braintools.metric.functional_connectivity(target)
        return 1.0 - braintools.metric.matrix_correlation(fc_p, fc_t)

    def loss(prediction, target, mask=None):
        return _per_trial(score, prediction, target, mask, 'fc_corr', min_regions=3)

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
    >>> import numpy as np, jax.numpy as jnp
    >>> from trainer import objectives
    >>> x = jnp.asarray(np.random.default_rng(0).standard_normal((200, 4)))
    >>> round(float(objectives.fc_rmse()(x, x)), 6)
    0.0
    """

    def score(prediction, target):
        fc_p = braintools.metric.functional_connectivity(prediction)
        fc_t = braintools.metric.functional_connectivity(target)
        upper = jnp.triu_indices(fc_p.shape[0], k=1)
        return _safe_sqrt(jnp.mean(braintools.metric.squared_error(fc_p[upper] - fc_t[upper])))

    def loss(prediction, target, mask=None):
        return _per_trial(score, prediction, target, mask, 'fc_rmse', min_regions=2)

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
    >>> import jax.numpy as jnp
    >>> from trainer import objectives
    >>> float(objectives.cosine_sim()(jnp.array([1.0, 0.0]), jnp.array([0.0, 2.0])))
    1.0
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not 0 <= epsilon < math.inf:
        raise ValueError(f"epsilon must be a finite float >= 0, got {epsilon!r}.")

    def score(prediction, target):
        cos = braintools.metric.cosine_similarity(prediction.reshape(-1), target.reshape(-1), epsilon=epsilon)
        return 1.0 - cos

    def loss(prediction, target, mask=None):
        return _per_trial(score, prediction, target, mask, 'cosine_sim', min_regions=1)

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
    >>> import jax.numpy as jnp
    >>> from trainer import objectives
    >>> logits = jnp.array([[0.0, 0.0], [0.0, 0.0]])
    >>> round(float(objectives.cross_entropy()(logits, jnp.array([0, 1]))), 4)  # log 2
    0.6931
    """

    def loss(prediction, target, mask=None):
        logits, labels, mask = _align_labels(prediction, target, mask, 'cross_entropy')
        per_row = braintools.metric.softmax_cross_entropy_with_integer_labels(logits, labels)
        return _masked_mean(per_row, mask, 'cross_entropy')

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
    >>> import jax.numpy as jnp
    >>> from trainer import objectives
    >>> loss = objectives.combine((2.0, objectives.rmse()), (0.5, objectives.rmse()))
    >>> float(loss(jnp.ones(3), jnp.zeros(3)))
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
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = {p.name: p.kind for p in params}
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


def _masked_mean(values, mask, who):
    """Mean of ``values``, weighted by a ``mask`` aligned with its leading axes."""
    if mask is None:
        return jnp.mean(values)
    mask = jnp.asarray(mask)
    if mask.shape != values.shape[:mask.ndim]:
        raise ValueError(
            f"{who}: mask has shape {mask.shape} but the loss per element has shape {values.shape}; "
            f"the mask must match its leading axes, e.g. {values.shape[:1]} or {values.shape[:2]}."
        )
    weights = jnp.broadcast_to(mask.reshape(mask.shape + (1,) * (values.ndim - mask.ndim)), values.shape)
    weights = weights.astype(values.dtype)
    # The floor keeps an all-zero mask at 0 instead of 0 / 0.
    return jnp.sum(values * weights) / jnp.maximum(jnp.sum(weights), jnp.finfo(values.dtype).tiny)


def _safe_sqrt(x):
    # sqrt has an infinite slope at 0; without the guard a perfect fit gives NaN gradients.
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def _unit_name(x):
    unit = u.get_unit(x)
    return 'dimensionless' if unit.is_unitless else str(unit)


def _difference(prediction, target, who):
    """``prediction - target`` as a plain float array in the prediction's unit."""
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
    return error.astype(jnp.result_type(error, float))


def _per_trial(score, prediction, target, mask, who, *, min_regions):
    """Apply ``score`` to each ``(time, regions)`` trial and average over leading axes."""
    p, t = jnp.asarray(u.get_magnitude(prediction)), jnp.asarray(u.get_magnitude(target))
    if p.shape != t.shape:
        raise ValueError(f"{who}: prediction has shape {p.shape} but target has shape {t.shape}; they must match.")
    if min_regions > 1 and (p.ndim < 2 or p.shape[-1] < min_regions):
        raise ValueError(
            f"{who}: needs (time, regions) series with at least {min_regions} regions, got shape {p.shape}; "
            "add leading trial axes if you have a batch, never drop the region axis."
        )
    batch_shape = p.shape[:max(p.ndim - 2, 0)]
    if mask is not None and jnp.shape(mask) != batch_shape:
        raise ValueError(
            f"{who}: mask has shape {jnp.shape(mask)} but must weight whole trials, shape {batch_shape}; "
            "this objective scores whole series, so trim the series instead of masking time steps."
        )
    event_shape = p.shape[len(batch_shape):]
    scores = jax.vmap(score)(p.reshape((-1,) + event_shape), t.reshape((-1,) + event_shape))
    return _masked_mean(scores.reshape(batch_shape), mask, who)


def _align_labels(prediction, target, mask, who):
    """Return ``(logits, labels, mask)`` with ``logits.shape == labels.shape + (C,)``."""
    if not u.get_unit(prediction).is_unitless:
        raise ValueError(
            f"{who}: prediction (logits) must be dimensionless, got {_unit_name(prediction)}; "
            "divide it by its unit first (e.g. prediction / u.mV)."
        )
    logits, target = jnp.asarray(u.get_magnitude(prediction)), jnp.asarray(target)
    extra = logits.ndim - target.ndim
    if extra not in (1, 2) or logits.shape[:target.ndim] != target.shape:
        raise ValueError(
            f"{who}: prediction has shape {logits.shape} and target {target.shape}; expected prediction "
            "(B, C) with target (B,), or prediction (B, T, C) with target (B, T) or (B,). "
            "Give target one integer label per trial or per step of the prediction."
        )
    if not jnp.issubdtype(target.dtype, jnp.integer):
        raise ValueError(f"{who}: target must hold integer class labels, got dtype {target.dtype}; "
                         "use target.astype(jnp.int32).")
    if not jnp.issubdtype(logits.dtype, jnp.floating):
        logits = logits.astype(jnp.result_type(float))
    if extra == 1:
        return logits, target, mask
    time_axis = target.ndim
    if mask is not None and jnp.ndim(mask) > time_axis:
        # A per-step mask selects the scored steps; the trial's label applies to each of them.
        return logits, jnp.broadcast_to(jnp.expand_dims(target, time_axis), logits.shape[:-1]), mask
    return logits[(slice(None),) * time_axis + (-1,)], target, mask
