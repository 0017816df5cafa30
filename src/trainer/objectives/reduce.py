"""Checks, masked reductions and compiled kernels shared by objectives and metrics.

Checks run in Python on static shapes and units; the compiled kernels see
plain arrays only and are keyed by shape, so builders that share a kernel
share its compilation (eager calls compile once per shape, not once per op).
"""

import functools
import inspect

import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np


def _unit_name(x):
    unit = u.get_unit(x)
    return 'dimensionless' if unit.is_unitless else str(unit)


def check_mask(mask, shape, who):
    if mask is not None and jnp.shape(mask) != tuple(shape[:jnp.ndim(mask)]):
        raise ValueError(
            f"{who}: mask has shape {jnp.shape(mask)} but the loss per element has shape {tuple(shape)}; "
            f"the mask must match its leading axes, e.g. {tuple(shape[:1])} or {tuple(shape[:2])}."
        )


def error_and_mask(prediction, target, mask, who):
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
    check_mask(mask, jnp.shape(error), who)
    return error.astype(jnp.result_type(error, float)), mask


def series_loss(score, prediction, target, mask, who, *, min_regions):
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


def label_loss(score, prediction, target, mask, who):
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
    rows_shape = p_shape[:-1] if broadcast else t_shape
    check_mask(mask, rows_shape, who)
    if mask is None:
        mask = np.ones(rows_shape, jnp.result_type(float))  # one compiled kernel with or without a mask
    return _label_kernel(logits, target, mask, score=score, broadcast=broadcast)


@jax.jit
def weighted_mean(values, mask):
    if mask is None:
        return jnp.mean(values)
    mask = jnp.asarray(mask, values.dtype)
    weights = jnp.broadcast_to(mask.reshape(mask.shape + (1,) * (values.ndim - mask.ndim)), values.shape)
    # The floor keeps an all-zero mask at 0 instead of 0 / 0.
    return jnp.sum(values * weights) / jnp.maximum(jnp.sum(weights), jnp.finfo(values.dtype).tiny)


def safe_sqrt(x):
    # sqrt has an infinite slope at 0; without the guard a perfect fit gives NaN gradients.
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


@jax.jit
def error_stats(error, mask):
    """``(mse, rmse, mae)`` of ``error``: one kernel serves all three builders."""
    mean_squared = weighted_mean(braintools.metric.squared_error(error), mask)
    mean_absolute = weighted_mean(braintools.metric.absolute_error(error, reduction='none'), mask)
    return mean_squared, safe_sqrt(mean_squared), mean_absolute


@functools.partial(jax.jit, static_argnames='score')
def _series_kernel(prediction, target, mask, *, score):
    if mask.ndim == 0:  # one trial: no vmap, a smaller program to compile
        return weighted_mean(score(prediction, target), mask)
    event_shape = prediction.shape[mask.ndim:]
    flat = lambda x: x.reshape((-1,) + event_shape)  # noqa: E731
    scores = jax.vmap(score)(flat(prediction), flat(target)).reshape(mask.shape)
    return weighted_mean(scores, mask)


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
    return weighted_mean(score(logits, labels), mask)


def functional_connectivity(x):
    # Same matrix as braintools.metric.functional_connectivity off the diagonal, whose corrcoef
    # compiles ~2x slower. A constant region that is not exact in binary (0.7) keeps ~1e-8 of
    # rounding noise after centring, and normalising it gives huge gradients (~1e5 through
    # corrcoef, ~1e17 through a plain division). A region whose spread is within 16 float steps
    # of its values (rounding leaves at most ~5) is silent here: FC 0 with everything, no gradient.
    z = x - jnp.mean(x, axis=0)
    power = jnp.sum(z * z, axis=0)
    silent = power <= (16 * jnp.finfo(z.dtype).eps) ** 2 * jnp.sum(x * x, axis=0)
    z = jnp.where(silent, 0.0, z / jnp.sqrt(jnp.where(silent, 1.0, power)))
    return z.T @ z


def _upper_weights(n):
    # A 0/1 weight on the strict upper triangle: cheaper to compile than gathering it.
    return np.triu(np.ones((n, n), np.float32), k=1).reshape(-1)


def fc_corr_score(prediction, target):
    """brainmass's FC correlation: Pearson r of the two FC upper triangles (1 = same pattern)."""
    fc_p, fc_t = functional_connectivity(prediction), functional_connectivity(target)
    return braintools.metric.weighted_correlation(fc_p.reshape(-1), fc_t.reshape(-1), _upper_weights(fc_p.shape[0]))


def fc_corr_loss(prediction, target):
    return 1.0 - fc_corr_score(prediction, target)


def fc_rmse_score(prediction, target):
    """brainmass's FC RMSE: over all n**2 entries, the unit diagonal counting as zero error."""
    fc_p, fc_t = functional_connectivity(prediction), functional_connectivity(target)
    n = fc_p.shape[0]
    # Only the upper triangle is summed (twice, for symmetry): our FC leaves a silent region's
    # diagonal at 0 where braintools sets it to 1, and the diagonal error is 0 by definition.
    squared = braintools.metric.squared_error(fc_p.reshape(-1), fc_t.reshape(-1)) * _upper_weights(n)
    return safe_sqrt(2.0 * jnp.sum(squared) / n ** 2)


@functools.lru_cache(maxsize=None)
def cosine_score(epsilon, as_loss):
    # Cached so every builder with the same configuration shares one compiled kernel.
    def score(prediction, target):
        cos = braintools.metric.cosine_similarity(prediction.reshape(-1), target.reshape(-1), epsilon=epsilon)
        return 1.0 - cos if as_loss else cos

    return score


def cross_entropy_score(logits, labels):
    return braintools.metric.softmax_cross_entropy_with_integer_labels(logits, labels)


def mask_style(fn):
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


def call_with_mask(fn, prediction, target, mask, who):
    """Call objective ``fn``, handing it ``mask`` the way its signature takes one."""
    if mask is None:
        return fn(prediction, target)
    style = mask_style(fn)
    if style is None:
        name = getattr(fn, '__qualname__', repr(fn))
        raise ValueError(
            f"{who}: objective {name} takes (prediction, target) only, but the data has a mask; "
            "give it a `mask=None` parameter or use a built-in from trainer.objectives."
        )
    return fn(prediction, target, mask=mask) if style == 'keyword' else fn(prediction, target, mask)


def as_loss_flag(as_loss):
    if not isinstance(as_loss, bool):
        raise ValueError(f"as_loss must be True or False, got {as_loss!r}.")
    return as_loss


def mark_score(fn):
    """Flag ``fn`` as a score (higher is better), so no optimiser minimises it by mistake."""
    fn.is_score = True
    return fn


def is_score(fn):
    return getattr(fn, 'is_score', False) is True


def refuse_score(objective, who):
    """Raise ``ValueError`` when ``objective`` is a score: minimising it would fit the worst match."""
    if is_score(objective):
        builder = getattr(objective, '__qualname__', repr(objective)).split('.')[0]
        example = f" (objectives.{builder}(as_loss=True))" if builder in ('fc_corr', 'cosine_sim', 'fcd') else ''
        raise ValueError(
            f"{who}: the objective {builder} returns a score to maximise (1.0 for a perfect match), "
            f"but {who} minimises its objective. Build the loss form with as_loss=True{example}, "
            "or give a score a negative weight in objectives.combine."
        )
    return objective
