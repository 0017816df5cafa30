"""``Fitter``: fit one fixed target with the section-3b loop (or SciPy), brainmass's interface."""

import dataclasses
import math
import numbers

import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

from ..core import checks as _checks
from ..objectives import reduce as _reduce
from ..core.errors import NonFiniteLossError
from ..core.params import param_values, set_param_values, trainable_states
from ..core.program import Program
# finite_box too: brainmass's fitter module holds these three helpers, and its tests import them from there.
from .search_space import build_search_space, finite_box, trainable_params, scipy_options  # noqa: F401
from ..core.step import make_loss, make_train_step, register
from ..loop.callbacks import as_callbacks, is_main
from . import many as _fit_many, population as _population
from .result import FitResult

__all__ = ['FitResult', 'Fitter', 'NonFiniteLossError']

_BACKENDS = ('grad', 'scipy', 'evosax')


def _check_n_steps(n_steps):
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise ValueError(f"n_steps must be >= 1 (an int), got {n_steps!r}. Pass n_steps=100, for example.")
    return int(n_steps)


class Fitter:
    """Fit a model's trainable parameters to one fixed target (brainmass's ``Fitter``).

    Give either ``predict(model) -> prediction`` (compared with the target by
    ``objective``) or ``loss_fn(model) -> (loss, aux)`` (the whole loss, no
    target). ``backend='grad'`` is the seed's section-3b loop, compiled once (a
    pure ``jax.jit`` of the state values, so no per-step state bookkeeping on
    the host); ``backend='scipy'`` hands the same loss to
    ``braintools.optim.ScipyOptimizer``.

    Parameters
    ----------
    model : brainstate.nn.Module
        Holds ``brainstate.nn.Param(..., fit=True)`` parameters.
    optimizer : optional
        ``'grad'``: a ``braintools.optim`` optimizer; ``None`` gives
        ``braintools.optim.Adam(lr=1e-2)``, as in brainmass. ``'scipy'``: a
        SciPy method name (``'Nelder-Mead'``, ``'L-BFGS-B'``...), a dict of
        ``ScipyOptimizer`` options (``{'method': ..., 'tol': ...}``), or
        ``None`` (SciPy's default for bounded problems, L-BFGS-B).
    objective : callable, optional
        ``objective(prediction, target) -> scalar`` to minimise; default
        :func:`trainer.objectives.timeseries_rmse` (brainmass's default). A
        score (``objectives.is_score``, e.g. ``fc_corr()``) is refused: pass
        its ``as_loss=True`` form.
    predict, loss_fn : callable
        Exactly one of them.
    transient : int, optional
        Leading prediction steps to drop before the objective.
    callbacks : list, optional
        :class:`trainer.callbacks.Callback` objects, told after every step
        (``on_epoch_end(step, {'loss', 'best_loss'})``; ``EarlyStopping``,
        ``ProgressBar``, ``CSVLogger`` apply), or functions ``callback(info)``
        with ``info = {'step', 'loss', 'best_loss', 'model'}``; returning
        ``True`` stops the fit (``'grad'``).
    backend : {'grad', 'scipy', 'evosax'}, default 'grad'
        ``'evosax'``: a population search (evosax, CMA-ES by default) whose
        whole generation is one vmapped call; ``optimizer`` is an evosax
        algorithm name or ``{'method', 'population_size', 'std_init'}``
        (``std_init`` a fraction of the box), the box as for ``'scipy'``.
    bounds : dict, optional
        ``{dotted_name: (low, high)}`` for ``backend='scipy'`` (dimensionless
        parameters only). A parameter without an entry searches the box of
        its bounded transform (``Param(v, t=SigmoidT(low, high))``, ``ClipT``).
        SciPy runs its own iterations from ``n_steps`` random starts in the
        box, so ``callbacks`` are not called and ``history`` holds the final
        loss alone.
    search_space : dict, optional
        brainmass's name for ``bounds``.

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
                 transient=None, callbacks=None, backend='grad', bounds=None, search_space=None):
        if backend not in _BACKENDS:
            hint = (" nevergrad is not supported: backend='scipy' with optimizer='Nelder-Mead' is gradient-free too."
                    if backend == 'nevergrad' else '')
            raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}.{hint}")
        if predict is None and loss_fn is None:
            raise ValueError("provide either loss_fn=callable(model)->(loss, aux) or "
                             "predict=callable(model)->prediction.")
        if predict is not None and loss_fn is not None:
            raise ValueError("pass loss_fn or predict, not both.")
        if loss_fn is not None and (objective is not None or transient is not None):
            raise ValueError(
                "loss_fn is the whole loss, so objective and transient would be ignored; "
                "drop them, or pass predict= instead of loss_fn=.")
        if bounds is not None and search_space is not None:
            raise ValueError("bounds and search_space are one argument (search_space is brainmass's name); pass one.")
        if backend == 'grad':
            if bounds is not None or search_space is not None:
                raise ValueError("bounds (search_space) box a gradient-free search: use them with backend='scipy', "
                                 "or bound a gradient fit with Param(value, t=SigmoidT(low, high)).")
            optimizer = braintools.optim.Adam(lr=1e-2) if optimizer is None else _checks.optax_optimizer(optimizer)
        elif backend == 'evosax':
            self._evosax_options = _population.evosax_options(optimizer)
        else:
            self._scipy_options = scipy_options(optimizer)
        if objective is None and loss_fn is None:
            from ..objectives.losses import timeseries_rmse
            objective = timeseries_rmse()
        if objective is not None:
            _reduce.refuse_score(objective, 'Fitter')
        self.model, self.optimizer, self.objective = model, optimizer, objective
        self.predict, self.loss_fn, self.transient = predict, loss_fn, transient
        as_callbacks(callbacks)  # checked now, wrapped at each fit
        self.callbacks, self.backend = list(callbacks or []), backend
        self.bounds = bounds if bounds is not None else search_space

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

    def fit_many(self, targets=None, n_steps=100, *, n_starts=1, seed=0, per_target=None, verbose=False):
        """Fit every target (and ``n_starts`` starts each) at once, in one vmapped program.

        Each fit -- a (target, start) pair -- has its own parameters,
        optimizer state (``'grad'``) or search distribution (``'evosax'``),
        best point and history; one trace and one compilation serve them all.
        Fit k ends where ``fit(targets[k])`` would (float32 rounding); a fit
        whose loss or update is not finite freezes there while the others go on.

        Parameters
        ----------
        targets : array, pytree or list
            One target per fit along axis 0 (a list is stacked); ``None`` with
            ``loss_fn`` (one target).
        n_steps : int, default 100
            Steps (``'grad'``) or generations (``'evosax'``).
        n_starts : int, default 1
            Fits per target: start 0 from the model's own point, the others
            from seeded uniform draws in the search box (each ``Param``'s
            bounded transform, or ``bounds``).
        seed : int, default 0
            Seeds the starts and the evosax search.
        per_target : dict, optional
            ``{dotted state name: values (n_targets, ...)}``: non-trainable
            model states that differ between targets (each subject's
            connectome); each fit's trace reads its own.
        verbose : bool, default False

        Returns
        -------
        ManyFitResult
            Arrays ``(n_targets, n_starts)``; ``per_target`` and ``best`` as
            :class:`FitResult`. The model ends holding the overall best fit.

        Examples
        --------
        >>> import brainstate, braintools, numpy as np
        >>> from trainer import Fitter
        >>> class Point(brainstate.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.x = brainstate.nn.Param(0.0, fit=True)
        >>> fitter = Fitter(Point(), braintools.optim.Adam(lr=0.1), objective=lambda p, t: (p - t) ** 2,
        ...                 predict=lambda m: m.x.value())
        >>> result = fitter.fit_many(np.array([1.0, -2.0]), n_steps=300)
        >>> np.round(result.best_params['x'][:, 0], 2).tolist()
        [1.0, -2.0]
        """
        if self.backend == 'scipy':
            raise ValueError("fit_many runs backend='grad' or backend='evosax' (one vmapped program); "
                             "backend='scipy' fits one target at a time: call fit for each.")
        if self.callbacks:
            raise ValueError("callbacks see one fit's model after each step; fit_many, n_starts and "
                             "backend='evosax' run many fits in one program and call none. Drop callbacks, "
                             "or fit one target with backend='grad'.")
        _checks.has_trainable(trainable_states(self.model), 'Fitter')
        return _fit_many.fit_many(
            self.model, self.optimizer, self._compute_loss, targets, _check_n_steps(n_steps),
            backend=self.backend, n_starts=n_starts, seed=seed, bounds=self.bounds,
            options=getattr(self, '_evosax_options', None), per_target=per_target, verbose=verbose)

    def fit(self, target=None, n_steps=100, *, verbose=False, n_starts=None, seed=0):
        """Run the fit and return a :class:`FitResult`; the model ends at its best point.

        Parameters
        ----------
        target : Any
            What ``objective`` compares the prediction with (unused with ``loss_fn``).
        n_steps : int, default 100
            Optimisation steps (``'grad'``), or random restarts of SciPy's
            minimiser (``'scipy'``).
        verbose : bool, default False
            Print each step's loss (``'grad'``), or the result (``'scipy'``).
        n_starts : int, optional
            Run ``n_starts`` fits from different points in one program
            (:meth:`fit_many`) and return the best; ``raw`` holds the
            :class:`ManyFitResult` of every start.
        seed : int, default 0
            Seeds the starts (with ``n_starts``) and the ``'evosax'`` search.

        Raises
        ------
        NonFiniteLossError
            When a loss is NaN or infinite; the model keeps its best parameters.
        """
        n_steps = _check_n_steps(n_steps)
        if n_starts is not None or self.backend == 'evosax':
            # Every start in one program (evosax: one search); the best one's FitResult, all of them in raw.
            many = self.fit_many(None if target is None else [target], n_steps, n_starts=n_starts or 1,
                                 seed=seed, verbose=verbose)
            return dataclasses.replace(many.best, raw=many)
        if target is not None and not _all_finite(target):
            raise ValueError("target contains NaN or infinite values; the loss against it would be "
                             "NaN at every step. Clean the target (e.g. drop or interpolate the gaps).")
        weights = trainable_states(self.model)
        _checks.has_trainable(weights, 'Fitter')
        if self.backend == 'scipy':
            return self._fit_scipy(target, n_steps, verbose)
        register(self.optimizer, weights)
        program = Program(self.model, self.optimizer)
        step = program.jit('fit', (self.objective, self.predict, self.loss_fn, self.transient),
                           lambda: _one_transfer(make_train_step(self.model, self.optimizer, weights,
                                                                 self._compute_loss)))
        # Arguments put on the device once: a Python float or numpy flag would be copied every step.
        state, advance = program.read(), jax.device_put(np.bool_(False))
        target = jax.device_put(target) if _is_numeric(target) else target
        history, best_loss, best, best_pred = [], float('inf'), None, None
        callbacks, run = as_callbacks(self.callbacks), Steps(self.model, n_steps)
        write = None  # for the callbacks: set up after step 0, whose trace may create hidden states
        for cb in callbacks:
            cb.on_fit_start(run)
        try:
            for i in range(n_steps):
                # The loss of step i is measured at the parameters before its update.
                new, (status, prediction) = step(state, target, advance)
                loss, finite = (float(x) for x in np.asarray(status))  # one host transfer per step
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
                if verbose:
                    print(f"[grad] step {i}: loss={loss:.6g} best={best_loss:.6g}")
                if callbacks:
                    write = write or program.writer()
                    write(state)  # callbacks see the model after step i
                    if run.after_step(i, loss, best_loss, callbacks):
                        break
        finally:
            for cb in callbacks:
                cb.on_fit_end(run)
        # Parameters from the best point, the rest (optimizer) from the last step.
        program.write(state._replace(params=state.params if best is None else best))
        return FitResult('grad', best_loss, param_values(self.model), history, len(history),
                         best_pred, self.model, self.optimizer)

    def _fit_scipy(self, target, n_steps, verbose):
        space = build_search_space(trainable_params(self.model), self.bounds)
        loss_closure = make_loss(self.model, self._compute_loss)

        def loss_of(**values):
            set_param_values(self.model, values)
            return loss_closure(target)[0]

        optimizer = braintools.optim.ScipyOptimizer(loss_of, space, **self._scipy_options)
        res = optimizer.minimize(n_iter=n_steps)
        set_param_values(self.model, {k: jnp.asarray(v, jnp.float32) for k, v in res.x.items()})
        loss, prediction = loss_closure(target)
        if verbose:
            print(f"[scipy] best loss={float(loss):.6g} success={getattr(res, 'success', None)}")
        self.optimizer = optimizer
        return FitResult('scipy', float(loss), param_values(self.model), [float(loss)],
                         n_steps, prediction, self.model, optimizer, res)


def _all_finite(target):
    try:
        values = np.asarray(u.get_magnitude(target), dtype=float)
    except (TypeError, ValueError):  # not numeric (a pytree, say): the objective judges it
        return True
    return bool(np.all(np.isfinite(values)))


def _is_numeric(target):
    return isinstance(target, (int, float, np.ndarray, np.generic)) and not isinstance(target, bool)


def _one_transfer(step):
    """``step`` returning ``([loss, finite], aux)``: the host reads both with one transfer."""
    def fit_step(*args):
        loss, aux, finite = step(*args)
        loss = jnp.asarray(loss, jnp.float32)
        return jnp.stack([loss, finite.astype(jnp.float32)]), aux

    return fit_step


class Steps:
    """A Fitter's fit in progress, as its callbacks see it (each step is their "epoch").

    Attributes
    ----------
    model : brainstate.nn.Module
    history : list of dict
        ``{'step', 'loss', 'best_loss'}`` per step so far.
    n_epochs : int
        The steps asked for (a progress bar's total).
    """

    n_members, n_models, stage, last_stage, stages_moved = None, 1, None, True, False
    monitor, keys = 'loss', ('loss', 'best_loss')

    def __init__(self, model, n_steps):
        self.model, self.n_epochs, self.history = model, n_steps, []
        self.trained, self.stop_requested, self.is_main = [True], False, is_main()

    def stop(self):
        """Stop after this step."""
        self.stop_requested = True

    def stop_member(self, k):
        self.stop()

    def rows_of(self, step):
        return [row for row in self.history if row['step'] == step]

    def callback_info(self, step):
        row = self.history[-1]
        return {'step': step, 'loss': row['loss'], 'best_loss': row['best_loss'], 'model': self.model}

    def after_step(self, i, loss, best_loss, callbacks):
        """Record step ``i`` and tell the callbacks; ``True`` stops the fit."""
        self.history.append({'step': i, 'loss': loss, 'best_loss': best_loss})
        logs = {'loss': loss, 'best_loss': best_loss}
        asked = [cb.on_epoch_end(i, logs) is True for cb in callbacks]
        return any(asked) or self.stop_requested
