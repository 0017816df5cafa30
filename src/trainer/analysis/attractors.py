"""Fixed and slow points of a model's one-step map, as Golub & Sussillo's FixedPointFinder finds them.

From many initial hidden states ``h``, minimise ``q(h) = 1/2 ||F(h) - h||^2``
where ``F`` is one ``model(x)`` step at a constant input ``x``. Every start is
optimised at once (``vmap`` of ``q`` and its gradient, one optax update on
the stacked points) in one compiled ``while_loop`` that stops when every
``q`` is below ``tol`` or after ``n_iter`` steps. The converged points are
de-duplicated, and the Jacobian of ``F`` at each gives eigenvalues and a
stable/unstable label (stable: every ``|eigenvalue| < 1``, as ``F`` is a
discrete-time map).
"""

import dataclasses
import warnings

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import optax

from datasets._checks import as_dt

from .prediction import kept_hidden_states, recordable
from ..core.state import batch_template, hidden_states, load_template

__all__ = ['FixedPoints', 'fixed_points', 'sample_states']


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class FixedPoints:
    """What :func:`fixed_points` found; numpy arrays, points flattened to vectors.

    A point is the model's hidden states concatenated in the order of
    ``layout`` (``D`` numbers in all); :meth:`as_states` splits points back
    into ``{name: (k, ...)}``.

    Attributes
    ----------
    locations : numpy.ndarray
        ``(n, D)``: the lowest-``q`` point each of the ``n`` starts reached.
    q : numpy.ndarray
        ``(n,)``: ``1/2 ||F(h) - h||^2`` there.
    unique : numpy.ndarray
        ``(k, D)``: the distinct points with ``q <= tol``, lowest ``q`` first.
    unique_q : numpy.ndarray
        ``(k,)``: their ``q``.
    jacobians : numpy.ndarray
        ``(k, D, D)``: ``dF/dh`` at each unique point.
    eigenvalues : numpy.ndarray
        ``(k, D)`` complex: the Jacobian's eigenvalues, largest modulus first.
    stable : numpy.ndarray
        ``(k,)`` bool: every eigenvalue inside the unit circle.
    outputs : numpy.ndarray
        ``(k, ...)``: the model's output for one step from each unique point.
    layout : tuple
        ``((name, shape), ...)``: the hidden states a point is made of.
    n_iter : int
        Optimisation steps taken.
    tol : float
        The ``q`` below which a point counts as fixed.

    Examples
    --------
    >>> import numpy as np
    >>> from trainer.models import GainPopulation
    >>> fps = fixed_points(GainPopulation(1, g=2.0), 0.5, np.array([[0.0], [3.0]]), dt=1.0)
    >>> fps.labels, np.round(fps.unique[:, 0], 4)
    (['stable'], array([0.9242], dtype=float32))
    """

    locations: np.ndarray
    q: np.ndarray
    unique: np.ndarray
    unique_q: np.ndarray
    jacobians: np.ndarray
    eigenvalues: np.ndarray
    stable: np.ndarray
    outputs: np.ndarray
    layout: tuple
    n_iter: int
    tol: float

    @property
    def labels(self):
        """``['stable' | 'unstable', ...]``, one per unique point."""
        return ['stable' if s else 'unstable' for s in self.stable]

    def as_states(self, points=None):
        """Split ``(k, D)`` points (default :attr:`unique`) into ``{name: (k, ...)}``."""
        points = self.unique if points is None else np.asarray(points)
        out, start = {}, 0
        for name, shape in self.layout:
            size = int(np.prod(shape))
            out[name] = points[:, start:start + size].reshape((len(points),) + tuple(shape))
            start += size
        return out

    def __repr__(self):
        n_stable = int(self.stable.sum())
        return (f'FixedPoints(n_starts={len(self.q)}, converged={int((self.q <= self.tol).sum())}, '
                f'unique={len(self.unique)} ({n_stable} stable, {len(self.unique) - n_stable} '
                f'unstable), tol={self.tol:g}, n_iter={self.n_iter})')


def fixed_points(model, inputs, initial_states, *, dt=None, n_iter=4000, tol=1e-10,
                 optimizer=None, unique_tol=1e-3):
    """Find the fixed points of ``h -> F(h)``, one ``model(inputs)`` step.

    Parameters
    ----------
    model : brainstate.nn.Module
        A one-step model (``update(x_t)``), e.g. a trained ``RateRNN``.
    inputs : float or array_like
        The constant input: a scalar (broadcast to ``model.n_input``
        features when the model has that attribute) or one value per feature.
    initial_states : dict or array_like
        Where to start: ``{dotted hidden-state name: (n, ...)}`` for every
        ``brainstate.HiddenState`` of the model, or one ``(n, ...)`` array
        when it has one. Points on recorded trajectories make good starts
        (:func:`sample_states`).
    dt : float or brainunit.Quantity, optional
        The time step of ``F`` (a float is milliseconds); default the current
        ``brainstate.environ`` dt.
        Use the dataset's (``dataset.dt``) for a trained network.
    n_iter : int, optional
        At most this many optimisation steps.
    tol : float, optional
        Stop when every ``q`` is below it; points with ``q <= tol`` count as
        fixed (the rest are slow points, kept in ``locations``).
    optimizer : optax.GradientTransformation, optional
        Default Adam (``b2=0.9``) with a learning rate decaying from 1e-2 to
        1e-5 over ``n_iter``: Adam's steps do not shrink with the gradient,
        so a fixed rate would circle the minimum, and the default ``b2=0.999``
        remembers the large early gradients for ~1000 steps and crawls (on a
        3-unit ``GainPopulation`` from 64 starts and ``tol=1e-12``, the
        largest ``q`` was 4e-5 after 4000 steps with it, 9e-13 after 1359
        steps with ``b2=0.9``).
        Each start has its own optimizer state; ``optax.lbfgs()`` works too
        (a line search per start: more precise, but ~40x slower on CPU for a
        32-unit GRU).
    unique_tol : float, optional
        Converged points closer than this (Euclidean) are one point.

    Returns
    -------
    FixedPoints

    Examples
    --------
    >>> import numpy as np
    >>> from trainer.models import GainPopulation
    >>> fps = fixed_points(GainPopulation(1, g=1.0), 0.3, np.linspace(-2, 2, 8)[:, None], dt=0.1)
    >>> round(float(fps.unique[0, 0]), 4), round(float(np.tanh(0.3)), 4)
    (0.2913, 0.2913)
    >>> round(float(fps.eigenvalues[0, 0].real), 4)   # 1 - dt / tau, tau = 10 ms
    0.99
    """
    n_iter = _positive_int('n_iter', n_iter)
    for name, value in (('tol', tol), ('unique_tol', unique_tol)):
        if not (isinstance(value, (int, float)) and value > 0):
            raise ValueError(f'{name} must be a positive number, got {value!r}.')
    optimizer = optimizer or optax.adam(optax.exponential_decay(1e-2, n_iter, 1e-3), b2=0.9)
    with brainstate.environ.context(dt=_dt(dt)), kept_hidden_states(model):
        template = batch_template(model, 1)
        paths = recordable(model)
        h0, layout = _starts(initial_states, paths, template)
        finite = _finite_starts(h0)
        x = _input(model, inputs)
        step = _one_step(model, template, paths, layout, x)
        found, found_q, steps = jax.device_get(_minimise(step, optimizer, n_iter, tol)(h0[finite]))
        # A dropped start keeps its row, as NaN, so rows still match the starts given.
        locations = np.full(h0.shape, np.nan, np.float32)
        q = np.full(len(h0), np.nan, np.float32)
        locations[finite], q[finite] = found, found_q
        keep = _unique(locations, q, tol, unique_tol)
        jacobians, eigenvalues, outputs = _linearise(step, locations[keep])
    return FixedPoints(locations, q, locations[keep], q[keep], jacobians, eigenvalues,
                       np.all(np.abs(eigenvalues) < 1, axis=-1), outputs, layout, int(steps),
                       float(tol))


def sample_states(prediction, n, *, seed=0, scored_only=None):
    """Draw ``n`` hidden states from recorded trajectories, as starts for :func:`fixed_points`.

    Parameters
    ----------
    prediction : Prediction
        From ``predict(..., record=True)``.
    n : int
        How many states.
    seed : int, optional
        Seeds the draw of (trial, step) pairs.
    scored_only : numpy.ndarray, optional
        An ``(n_trials, n_steps)`` mask; draw only where it is positive.

    Returns
    -------
    dict
        ``{name: (n, ...)}`` numpy.

    Examples
    --------
    >>> import numpy as np
    >>> import datasets
    >>> from trainer.analysis.prediction import predict
    >>> from trainer.models import RateRNN
    >>> data = datasets.from_arrays(np.ones((3, 5, 2)), np.array([0, 1, 0]))
    >>> starts = sample_states(predict(RateRNN(2, 6, 2), data, record=True), 10)
    >>> starts['cell.h'].shape
    (10, 6)
    """
    if not prediction.states:
        raise ValueError('prediction has no recorded states; run predict(..., record=True).')
    n = _positive_int('n', n)
    first = next(iter(prediction.states.values()))
    if scored_only is None:
        where = np.ones(first.shape[:2], bool)
    else:
        try:
            where = np.asarray(scored_only, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f'scored_only must be an (n_trials, n_steps) array of numbers, such as '
                            f'dataset.mask; got {type(scored_only).__name__}.') from None
        if where.shape != first.shape[:2]:
            raise ValueError(f'scored_only must have shape (n_trials, n_steps) = {first.shape[:2]}, '
                             f'the recorded states\' first two axes; got {where.shape}.')
        where = where > 0
        if not where.any():
            raise ValueError('scored_only is zero everywhere, so there is no step to draw states '
                             'from; pass a mask with positive entries (e.g. dataset.mask) or '
                             'scored_only=None for every step.')
    trials, steps = np.nonzero(where)
    pick = np.random.default_rng(seed).integers(0, len(trials), size=n)
    return {name: value[trials[pick], steps[pick]] for name, value in prediction.states.items()}


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f'{name} must be a positive int, got {value!r}.')
    return int(value)


def _dt(dt):
    if dt is not None:
        return as_dt(dt)  # a bare number is milliseconds, as everywhere in datasets
    try:
        return brainstate.environ.get_dt()
    except KeyError:
        raise ValueError(
            'dt is not set: pass dt= (the dataset\'s, e.g. dt=dataset.dt) or run inside '
            'brainstate.environ.context(dt=...).') from None


def _starts(initial_states, paths, template):
    """``(n, D)`` float32 starts and the layout ``((name, shape), ...)`` of a point."""
    if not paths:
        raise ValueError('the model has no hidden states (brainstate.HiddenState) to find fixed points of.')
    if not isinstance(initial_states, dict):
        if len(paths) != 1:
            raise ValueError(
                f'initial_states must be a dict {{name: (n, ...)}} for a model with several '
                f'hidden states {sorted(paths)}; got one array.')
        initial_states = {next(iter(paths)): initial_states}
    missing, extra = sorted(set(paths) - set(initial_states)), sorted(set(initial_states) - set(paths))
    if missing or extra:
        raise ValueError(
            f'initial_states must give every hidden state of the model, {sorted(paths)}; '
            f'missing {missing}, unknown {extra}.')
    layout, columns, n = [], [], None
    for name, path in paths.items():
        shape = tuple(jnp.shape(template[path])[1:])
        try:
            value = np.asarray(initial_states[name], np.float32)
        except (TypeError, ValueError):
            raise TypeError(
                f'initial_states[{name!r}] must be an array of real numbers (n, '
                f'{", ".join(map(str, shape))}), got {type(initial_states[name]).__name__} '
                f'{initial_states[name]!r:.60}; sample starts with sample_states(...).') from None
        if value.ndim == len(shape):  # one start, without the leading axis
            value = value[None]
        if value.ndim == len(shape) + 1 and len(value) == 0:
            raise ValueError(
                f'initial_states[{name!r}] holds no starts (shape {value.shape}); give at least '
                f'one, e.g. sample_states(prediction, 64).')
        if value.shape[1:] != shape or (n is not None and len(value) != n):
            raise ValueError(
                f'initial_states[{name!r}] must have shape (n, {", ".join(map(str, shape))}) '
                f'with one n for every state, got {value.shape}.')
        n = len(value)
        layout.append((name, shape))
        columns.append(value.reshape(n, -1))
    return jnp.asarray(np.concatenate(columns, axis=1)), tuple(layout)


def _finite_starts(h0):
    """The rows of ``h0`` to search: a NaN or infinite start is dropped with a warning."""
    finite = np.all(np.isfinite(np.asarray(h0)), axis=1)
    if not finite.any():
        raise ValueError(f'initial_states must hold finite starts, got {len(h0)} start(s), each '
                         'with NaN or infinite values; sample starts with sample_states(...).')
    if not finite.all():
        warnings.warn(f'initial_states: {int((~finite).sum())} of {len(h0)} starts hold NaN or '
                      'infinite values; they are skipped (NaN in locations and q).', stacklevel=3)
    return finite


def _input(model, inputs):
    """The constant input as a batch of one: ``(1, n_features)``, or a bare scalar."""
    try:
        x = np.asarray(inputs, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(f'inputs must be a number or an array of numbers (one per feature), got '
                        f'{type(inputs).__name__} {inputs!r:.60}.') from None
    if not np.all(np.isfinite(x)):
        raise ValueError(f'inputs must be finite, got {x.tolist()!r:.80}; the fixed points of a NaN '
                         'input are meaningless.')
    x = jnp.asarray(x)
    n_input = getattr(model, 'n_input', None)
    if x.ndim == 0 and n_input is not None:
        x = jnp.broadcast_to(x, (n_input,))
    if x.ndim > 1 or (x.ndim == 1 and n_input is not None and x.shape != (n_input,)):
        raise ValueError(
            f'inputs must be a scalar or one value per feature'
            f'{"" if n_input is None else f" ({n_input}, model.n_input)"}, got shape {x.shape}.')
    return x if x.ndim == 0 else x[None]


def _one_step(model, template, paths, layout, x):
    """``F(h) -> (F(h), output)`` for one flat point ``h`` (D,), as a pure function."""
    states = hidden_states(model)
    sizes = [int(np.prod(shape)) for _, shape in layout]
    splits = np.cumsum(sizes)[:-1]

    def unflatten(h):
        return {name: part.reshape((1,) + shape)
                for (name, shape), part in zip(layout, jnp.split(h, splits))}

    def step(h, x):
        load_template(model, template)  # states outside the point (counters) start as in training
        for name, value in h.items():
            states[paths[name]].value = value
        y = model(x)
        return {name: states[paths[name]].value for name in h}, y

    fn = brainstate.transform.StatefulFunction(step)
    example = unflatten(jnp.zeros(sum(sizes), jnp.float32))
    values = [s.value for s in fn.get_states(example, x)]

    def one_step(h):
        new, y = fn.jaxpr_call(values, unflatten(h), x)[1]
        return jnp.concatenate([new[name].reshape(-1) for name, _ in layout]), y[0] if jnp.ndim(y) else y

    return one_step


def _minimise(step, optimizer, n_iter, tol):
    def q_of(h):
        moved = step(h)[0] - h
        return 0.5 * jnp.sum(moved ** 2)

    # Each start gets its own optimizer state (vmapped), so line searches and
    # curvature memories (optax.lbfgs) never mix points; extra args reach those that take them.
    optimizer = optax.with_extra_args_support(optimizer)

    def update_one(h, opt_state):
        q, grad = jax.value_and_grad(q_of)(h)
        updates, opt_state = optimizer.update(grad, opt_state, h, value=q, grad=grad, value_fn=q_of)
        return optax.apply_updates(h, updates), opt_state, q

    update_all = jax.vmap(update_one)

    def run(h0):
        # Adam circles a minimum, so every start keeps the best point it has visited.
        def not_done(carry):
            i, _, _, _, best_q = carry
            return (i < n_iter) & (jnp.max(best_q) > tol)

        def update(carry):
            i, h, opt_state, best_h, best_q = carry
            new_h, opt_state, q = update_all(h, opt_state)  # q is at h, before the update
            better = q < best_q
            best_h = jnp.where(better[:, None], h, best_h)
            return i + 1, new_h, opt_state, best_h, jnp.where(better, q, best_q)

        q0 = jax.vmap(q_of)(h0)
        carry = (jnp.int32(0), h0, jax.vmap(optimizer.init)(h0), h0, q0)
        i, _, _, best_h, best_q = jax.lax.while_loop(not_done, update, carry)
        return best_h, best_q, i

    return jax.jit(run)


def _linearise(step, points):
    """Jacobians ``(k, D, D)``, eigenvalues ``(k, D)`` (largest modulus first) and outputs at ``points``."""
    size = points.shape[1]
    if not len(points):
        return (np.zeros((0, size, size), np.float32), np.zeros((0, size), complex),
                np.zeros((0,), np.float32))

    def one(h):
        return jax.jacfwd(lambda v: step(v)[0])(h), step(h)[1]

    jacobians, outputs = jax.device_get(jax.jit(jax.vmap(one))(jnp.asarray(points)))
    eigenvalues = np.linalg.eigvals(jacobians.astype(np.float64))
    order = np.argsort(-np.abs(eigenvalues), axis=-1)
    return jacobians, np.take_along_axis(eigenvalues, order, -1), np.asarray(outputs)


def _unique(locations, q, tol, unique_tol):
    """Indices of the converged points, lowest ``q`` first, dropping near-duplicates."""
    keep = []
    for i in np.argsort(q):
        if not q[i] <= tol:  # a slow point, or a skipped (NaN) start: sorted last
            break
        if all(np.linalg.norm(locations[i] - locations[j]) > unique_tol for j in keep):
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)
