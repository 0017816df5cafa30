"""``Fitter``: fit one fixed target with the section-3b loop (or SciPy)."""

import dataclasses
import math
from typing import Any

import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

from . import _checks
from ._errors import NonFiniteLossError
from ._params import param_values, rename_params, set_param_values, trainable_states
from ._program import Program
from ._step import make_loss, make_train_step, register

__all__ = ['FitResult', 'Fitter', 'NonFiniteLossError']


@dataclasses.dataclass(frozen=True, repr=False)
class FitResult:
    """What :meth:`Fitter.fit` returns.

    Attributes
    ----------
    backend : str
        ``'grad'`` or ``'scipy'``.
    best_loss : float
        The lowest loss seen.
    best_params : dict
        ``{dotted_name: value}`` at the best-seen point (constrained values,
        units kept).
    history : list of float
        The loss of every step.
    n_steps : int
        Steps actually run (fewer when a callback stopped the fit).
    prediction : Any
        The auxiliary output (the prediction) at the best-seen point.
    model : brainstate.nn.Module
        The fitted model, holding ``best_params``.

    Examples
    --------
    >>> FitResult('grad', 0.5, {'g': 1.0}, [0.5], 1, None, None)
    FitResult(backend='grad', best_loss=0.5, n_steps=1, params=[g])
    """

    backend: str
    best_loss: float
    best_params: dict
    history: list
    n_steps: int
    prediction: Any
    model: Any

    def __repr__(self):
        return (f"FitResult(backend={self.backend!r}, best_loss={self.best_loss:.6g}, "
                f"n_steps={self.n_steps}, params=[{', '.join(self.best_params)}])")


class Fitter:
    """Fit a model's trainable parameters to one fixed target.

    Give either ``predict(model) -> prediction`` (compared with the target by
    ``objective``) or ``loss_fn(model) -> (loss, aux)`` (the whole loss, no
    target). ``backend='grad'`` is the seed's section-3b loop, compiled once (a
    pure ``jax.jit`` of the state values, so no per-step state bookkeeping on
    the host); ``backend='scipy'`` hands the same loss to
    ``braintools.optim.ScipyOptimizer`` within ``bounds``.

    Parameters
    ----------
    model : brainstate.nn.Module
        Holds ``brainstate.nn.Param(..., fit=True)`` parameters.
    optimizer : braintools.optim.OptaxOptimizer or None
        The gradient optimizer (``'grad'``); ``None`` for ``'scipy'``.
    objective : callable, optional
        ``objective(prediction, target) -> scalar``; default
        :func:`trainer.objectives.mse`.
    predict, loss_fn : callable
        Exactly one of them.
    transient : int, optional
        Leading prediction steps to drop before the objective.
    callbacks : list of callable, optional
        ``callback(info)`` after every step with ``info = {'step', 'loss',
        'best_loss', 'model'}``; returning ``True`` stops the fit.
    backend : {'grad', 'scipy'}, default 'grad'
    bounds : dict, optional
        ``{dotted_name: (low, high)}`` for ``backend='scipy'``: dimensionless
        parameters only; SciPy runs its own iterations, so ``callbacks`` are
        not called and ``history`` holds the final loss alone.
    method : str, default 'L-BFGS-B'
        The SciPy method for ``backend='scipy'``.

    Examples
    --------
    >>> import braintools, brainunit as u
    >>> from trainer import Fitter, Simulator, objectives
    >>> from trainer.models import GainPopulation
    >>> def predict(m):
    ...     return Simulator(m, dt=0.1 * u.ms).run(
    ...         60. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])['r']
    >>> fitter = Fitter(GainPopulation(1, g=0.5), braintools.optim.Adam(lr=0.1),
    ...                 objective=objectives.steady_state(n_tail=50), predict=predict)
    >>> result = fitter.fit(target=1.5184532, n_steps=60)
    >>> round(float(result.best_params['g']), 1)
    2.0
    """

    def __init__(self, model, optimizer=None, *, objective=None, predict=None, loss_fn=None,
                 transient=None, callbacks=None, backend='grad', bounds=None, method='L-BFGS-B'):
        if (predict is None) == (loss_fn is None):
            raise ValueError(
                "pass exactly one of predict=callable(model)->prediction or "
                "loss_fn=callable(model)->(loss, aux); got "
                f"{'both' if predict is not None else 'neither'}."
            )
        if loss_fn is not None and (objective is not None or transient is not None):
            raise ValueError(
                "loss_fn is the whole loss, so objective and transient would be ignored; "
                "drop them, or pass predict= instead of loss_fn=.")
        if backend not in ('grad', 'scipy'):
            raise ValueError(f"backend must be 'grad' or 'scipy', got {backend!r}.")
        if backend == 'grad':
            optimizer = _checks.optax_optimizer(optimizer)
        elif bounds is None:
            raise ValueError("backend='scipy' needs bounds={name: (low, high)} for every parameter.")
        if objective is None and loss_fn is None:
            from .objectives import mse
            objective = mse()
        self.model, self.optimizer, self.objective = model, optimizer, objective
        self.predict, self.loss_fn, self.transient = predict, loss_fn, transient
        self.callbacks, self.backend = list(callbacks or []), backend
        self.bounds, self.method = bounds, method

    def _compute_loss(self, target):
        if self.loss_fn is not None:
            out = self.loss_fn(self.model)
            if not isinstance(out, tuple) or len(out) != 2:
                raise TypeError(
                    f"loss_fn must return a pair (loss, aux), got {type(out).__name__}; return "
                    "(loss, None) when there is nothing else to keep.")
            _checks.scalar(out[0], 'loss_fn')
            return out
        prediction = self.predict(self.model)
        if self.transient is not None and self.transient >= len(prediction):
            raise ValueError(
                f"transient={self.transient} drops every step of the prediction, which has "
                f"{len(prediction)}; pass a transient smaller than the simulated steps.")
        trimmed = prediction if self.transient is None else prediction[self.transient:]
        loss = self.objective(trimmed, target)
        _checks.scalar(loss, 'objective')
        return loss, prediction

    def fit(self, target=None, n_steps=100):
        """Run the fit and return a :class:`FitResult`; the model ends at its best point.

        Parameters
        ----------
        target : Any
            What ``objective`` compares the prediction with (unused with ``loss_fn``).
        n_steps : int, default 100
            Optimisation steps (``'grad'``) or SciPy iterations (``'scipy'``).

        Raises
        ------
        NonFiniteLossError
            When a loss is NaN or infinite; the model keeps its best parameters.
        """
        n_steps = _checks.positive_int('n_steps', n_steps, fix='Pass n_steps=100, for example.')
        if target is not None and not _all_finite(target):
            raise ValueError("target contains NaN or infinite values; the loss against it would be "
                             "NaN at every step. Clean the target (e.g. drop or interpolate the gaps).")
        weights = trainable_states(self.model)
        _checks.has_trainable(weights, 'Fitter')
        if self.backend == 'scipy':
            return self._fit_scipy(target, n_steps)
        register(self.optimizer, weights)
        program = Program(self.model, self.optimizer)
        step = program.jit('fit', (self.objective, self.predict, self.loss_fn, self.transient),
                           lambda: make_train_step(self.model, self.optimizer, weights, self._compute_loss))
        state, advance = program.read(), np.bool_(False)
        history, best_loss, best, best_pred = [], float('inf'), None, None
        for i in range(n_steps):
            # The loss of step i is measured at the parameters before its update.
            new, (loss, prediction, finite) = step(state, target, advance)
            loss, finite = (float(x) for x in jax.device_get((loss, finite)))
            history.append(loss)
            if not finite:
                # The failed update touches nothing: the optimizer as before it, the best parameters.
                program.write(state._replace(params=state.params if best is None else best))
                what = f"the loss became {loss}" if not math.isfinite(loss) else \
                    f"an update made the parameters NaN or infinite (loss {loss:.6g})"
                raise NonFiniteLossError(
                    f"{what} at step {i}; the model keeps its best parameters (loss "
                    f"{best_loss:.6g}). Lower the learning rate or bound the parameters "
                    "(e.g. Param(..., t=SigmoidT(lo, hi))).")
            if loss < best_loss:
                best_loss, best, best_pred = loss, state.params, prediction
            state = new
            if self.callbacks:
                program.write(state)  # callbacks see the model after step i
                info = {'step': i, 'loss': loss, 'best_loss': best_loss, 'model': self.model}
                if any([cb(info) is True for cb in self.callbacks]):
                    break
        # Parameters from the best point, the rest (optimizer) from the last step.
        program.write(state._replace(params=state.params if best is None else best))
        return FitResult('grad', best_loss, param_values(self.model), history, len(history),
                         best_pred, self.model)

    def _fit_scipy(self, target, n_steps):
        rename_params(self.bounds, self.model)  # raises on an unknown name
        loss_closure = make_loss(self.model, self._compute_loss)

        def loss_of(**values):
            set_param_values(self.model, values)
            return loss_closure(target)[0]

        optimizer = braintools.optim.ScipyOptimizer(
            loss_of, {k: tuple(v) for k, v in self.bounds.items()}, method=self.method)
        res = optimizer.minimize(n_iter=n_steps)
        set_param_values(self.model, {k: jnp.asarray(v, jnp.float32) for k, v in res.x.items()})
        loss, prediction = loss_closure(target)
        return FitResult('scipy', float(loss), param_values(self.model), [float(loss)],
                         n_steps, prediction, self.model)


def _all_finite(target):
    try:
        values = np.asarray(u.get_magnitude(target), dtype=float)
    except (TypeError, ValueError):  # not numeric (a pytree, say): the objective judges it
        return True
    return bool(np.all(np.isfinite(values)))
