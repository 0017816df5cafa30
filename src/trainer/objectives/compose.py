"""Objectives built from objectives: weighted sums, per-trial lifting, and what a callable accepts."""

import inspect
import math
import numbers

import jax
import jax.numpy as jnp

from . import reduce as _reduce

__all__ = ['accepts_mask', 'combine', 'is_score', 'per_trial']


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
        ``sum(weight * objective(prediction, target[, mask]))``; a score
        (``is_score``) when any score has a positive weight.

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
        if callable(pair):
            built = f'{_label(pair)}()' if _unbuilt(pair) else _label(pair)
            raise TypeError(f"combine argument {i} must be a (weight, objective) pair, got the "
                            f"objective {_label(pair)} alone; pass combine((1.0, {built})).")
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
        if _unbuilt(objective):
            raise TypeError(
                f"combine argument {i}: {_label(objective)} is an objective builder (it takes no "
                f"prediction and target); call it: ({weight!r}, {_label(objective)}()).")
        pairs.append((float(weight), objective))

    def loss(prediction, target, mask=None):
        return sum(w * _reduce.call_with_mask(fn, prediction, target, mask, 'combine') for w, fn in pairs)

    # A score with a positive weight pulls the sum the wrong way for a minimiser.
    return _reduce.mark_score(loss) if any(w > 0 and is_score(fn) for w, fn in pairs) else loss


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
    if _unbuilt(objective):
        raise TypeError(f"per_trial: objective={_label(objective)} is an objective builder (it "
                        f"takes no prediction and target); call it: per_trial({_label(objective)}()).")

    def loss(prediction, target, mask=None):
        scores = jax.vmap(objective)(prediction, target)
        if jnp.ndim(scores) != 1:
            raise ValueError(
                f"per_trial: the objective must return a scalar per trial, got shape "
                f"{jnp.shape(scores)[1:]}; reduce it inside the objective.")
        _reduce.check_mask(mask, jnp.shape(scores), 'per_trial')
        return _reduce.weighted_mean(scores, mask)

    return _reduce.mark_score(loss) if is_score(objective) else loss


def _label(fn):
    """``objectives.mse`` for one of ours, else the function's own name."""
    name = getattr(fn, '__name__', None) or type(fn).__name__
    module = getattr(fn, '__module__', '') or ''
    return f'objectives.{name}' if module.startswith('trainer.objectives') else name


def _unbuilt(fn):
    """Whether ``fn`` cannot take ``(prediction, target)``: a builder passed where its product belongs."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) < 2


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


def is_score(fn):
    """Tell whether objective ``fn`` returns a score to maximise rather than a loss.

    True for ``fc_corr()``, ``cosine_sim()`` and ``fcd()`` built without
    ``as_loss=True``, and for a :func:`combine` or :func:`per_trial` of such a
    score (with a positive weight). ``Fitter`` and ``Trainer`` refuse to
    minimise a score. Mark your own score with ``fn.is_score = True``.

    Examples
    --------
    >>> from trainer import objectives
    >>> objectives.is_score(objectives.fc_corr()), objectives.is_score(objectives.fc_corr(as_loss=True))
    (True, False)
    >>> objectives.is_score(objectives.combine((-1.0, objectives.fc_corr())))
    False
    """
    return _reduce.is_score(fn)
