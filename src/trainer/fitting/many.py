"""Many targets and many starts in one program: the Fitter's step ``jax.vmap``-ed over fits.

Each member of the vmap is one fit -- a (target, start) pair -- with its own
parameters, optimizer state, best point and history; one trace and one
compilation serve them all. A member whose loss or update is not finite
freezes at its last good state (``jnp.where`` inside the program) while the
others go on. Start 0 of every target is the model's own initial point;
starts 1..K-1 are seeded uniform draws inside the search box (explicit
``bounds``, else each ``Param``'s bounded transform).
"""

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from .many_result import ManyFitResult
from ..loop.members import member_of, stack, to_host
from ..core.params import param_values, trainable_states
from .population import algorithm, generation_fn, pure_loss, settle, unit_box, write_raw
from ..core.program import Program
from ..core.step import make_train_step, register

__all__ = ['check_n_starts', 'fit_many', 'fit_many_evosax', 'fit_many_grad', 'member_values', 'stack_targets']


def check_n_starts(n_starts):
    if isinstance(n_starts, bool) or not isinstance(n_starts, numbers.Integral) or n_starts < 1:
        raise ValueError(f"n_starts must be an int >= 1 (fits from different initial points), got {n_starts!r}.")
    return int(n_starts)


def stack_targets(targets):
    """``(stacked, n_targets)``: a list of targets stacked on a new axis 0, or an array's own axis 0."""
    if targets is None:
        return None, 1
    if isinstance(targets, (list, tuple)):
        if not targets:
            raise ValueError("targets is empty; pass one target per fit, e.g. fit_many([fc_a, fc_b]).")
        shapes = {jax.tree.structure(t) for t in targets} if len(targets) > 1 else set()
        if len(shapes) > 1:
            raise ValueError("targets must share one structure and shape to be fitted in one program; "
                             f"got {len(shapes)} different structures.")
        return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *targets), len(targets)
    leaves = jax.tree.leaves(targets)
    if not leaves or np.ndim(leaves[0]) == 0:
        raise ValueError("targets must have a leading target axis (one row per fit) or be a list of targets; "
                         "got a scalar. Pass [target] for one target.")
    return jax.tree.map(np.asarray, targets), int(np.shape(leaves[0])[0])


def _starts(model, bounds, n_starts, seed):
    """The raw parameter values of starts 1..K-1: seeded uniform draws in the search box."""
    if n_starts == 1:
        return []
    to_params, z0, _ = unit_box(model, bounds)
    draws = np.random.default_rng(seed).random((n_starts - 1, z0.shape[0]), dtype=np.float32)
    return [to_params(jnp.asarray(z)) for z in draws]


def member_hidden(model, hidden, per_target, n_targets, n_starts):
    """``hidden`` with the ``per_target`` states' values stacked per member (target-major), the rest shared.

    Returns ``(stacked, axes)``: ``{path: value}`` and the matching ``vmap`` axes (0 or ``None``).
    """
    if not per_target:
        return hidden, None
    names = {'.'.join(str(p) for p in path): path for path in hidden}
    stacked, axes = dict(hidden), {path: None for path in hidden}
    for name, values in per_target.items():
        if name not in names:
            raise ValueError(f"per_target names {name!r}, which is not a non-trainable state of the model; "
                             f"its states are {sorted(names)}.")
        values = np.asarray(values)
        if values.shape[:1] != (n_targets,) or values.shape[1:] != np.shape(hidden[names[name]]):
            raise ValueError(f"per_target[{name!r}] must have shape {(n_targets,) + np.shape(hidden[names[name]])} "
                             f"(one value per target), got {values.shape}.")
        stacked[names[name]] = jnp.asarray(np.repeat(values, n_starts, axis=0), jnp.result_type(hidden[names[name]]))
        axes[names[name]] = 0
    return stacked, axes


def _member_targets(targets, n_starts):
    # Member m fits target m // n_starts: each target repeated for its starts.
    return None if targets is None else jax.tree.map(lambda x: np.repeat(x, n_starts, axis=0), targets)


def _where(mask, new, old):
    return jax.tree.map(lambda n, o: jnp.where(mask.reshape(mask.shape + (1,) * (jnp.ndim(n) - 1)), n, o),
                        new, old)


def fit_many_grad(model, optimizer, compute_loss, targets, n_targets, n_steps, *, n_starts, bounds, seed,
                  per_target=None, verbose=False):
    """Run ``n_targets * n_starts`` gradient fits in one vmapped program.

    Returns ``(best_loss (M,), best_raw {path: (M, ...)}, history (n_steps, M),
    diverged_at (M,) int, -1 if never, best_aux)``; ``model`` is left as it was.
    """
    weights = trainable_states(model)
    before = {k: s.value for k, s in weights.items()}
    starts = _starts(model, bounds, n_starts, seed)
    write_raw(model, before)
    register(optimizer, weights)
    program = Program(model, optimizer)
    pure = program.pure(make_train_step(model, optimizer, weights, compute_loss))
    state0 = program.read()
    members = [state0 if s == 0 else state0._replace(params={**state0.params, **starts[s - 1]})
               for _ in range(n_targets) for s in range(n_starts)]
    state = stack(members)
    n = n_targets * n_starts
    if per_target:
        hidden, axes = member_hidden(model, state0.hidden, per_target, n_targets, n_starts)
        state = state._replace(hidden={k: hidden[k] if axes[k] == 0 else v for k, v in state.hidden.items()})
    target_axis = None if targets is None else 0
    targets = _member_targets(targets, n_starts)

    def many_step(state, best, active, targets, advance):
        new, (loss, aux, finite) = jax.vmap(pure, in_axes=(0, target_axis, None))(state, targets, advance)
        loss = loss.astype(jnp.float32)
        ok = active & finite
        # As the solo loop: the loss of a step is measured at the parameters before its update.
        improved = ok & (loss < best[0])
        best = (jnp.where(improved, loss, best[0]), _where(improved, state.params, best[1]),
                _where(improved, aux, best[2]))
        return _where(ok, new, state), best, ok, loss

    step = jax.jit(many_step)
    advance = jax.device_put(np.bool_(False))
    aux0 = jax.eval_shape(lambda s, t: jax.vmap(pure, in_axes=(0, target_axis, None))(s, t, advance)[1][1],
                          state, targets)
    best = (jnp.full((n,), jnp.inf, jnp.float32), state.params,
            jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), aux0))
    active = jnp.ones((n,), bool)
    history, diverged_at = [], np.full(n, -1)
    for i in range(n_steps):
        state, best, active, loss = step(state, best, active, targets, advance)
        loss, alive = np.asarray(loss), np.asarray(active)
        newly = (~alive) & (diverged_at < 0)
        diverged_at[newly] = i
        history.append(np.where((diverged_at < 0) | (diverged_at == i), loss, np.nan))
        if verbose:
            print(f"[grad x{n}] step {i}: min loss={np.nanmin(history[-1]):.6g} active={int(alive.sum())}/{n}")
        if not alive.any():
            break
    write_raw(model, before)
    return np.asarray(best[0]), to_host(best[1]), np.stack(history), diverged_at, best[2]


def fit_many_evosax(model, compute_loss, targets, n_targets, n_steps, *, n_starts, bounds, options, seed,
                    per_target=None, verbose=False):
    """Run ``n_targets * n_starts`` population searches, every member's generation in one vmapped call.

    Returns ``(best_loss (M,), best_raw {path: (M, ...)}, history (n_steps, M),
    diverged_at (M,) all -1, best_aux)``; ``model`` is left as it was.
    """
    before = {k: s.value for k, s in trainable_states(model).items()}
    to_params, z0, _ = unit_box(model, bounds)
    loss_of, _, hidden0 = pure_loss(model, compute_loss, with_hidden=True)
    hidden, hidden_axes = member_hidden(model, hidden0, per_target, n_targets, n_starts)
    strategy = algorithm(options['method'])(population_size=options['population_size'], solution=z0)
    es_params = strategy.default_params.replace(std_init=float(options['std_init']))
    rng = np.random.default_rng(seed)
    z_starts = [z0 if s == 0 else jnp.asarray(rng.random(z0.shape[0], dtype=np.float32))
                for s in range(n_starts)]
    z_members = jnp.stack([z for _ in range(n_targets) for z in z_starts])
    n = n_targets * n_starts
    keys = jax.random.split(jax.random.key(seed), n)
    es_state = jax.jit(jax.vmap(lambda k, z: strategy.init(k, z, es_params)))(keys, z_members)
    target_axis = None if targets is None else 0
    targets = _member_targets(targets, n_starts)
    one = generation_fn(strategy, es_params, loss_of, to_params)
    generation = jax.jit(jax.vmap(one, in_axes=(0, 0, hidden_axes, target_axis)))
    best_loss, best_z, history = np.full(n, np.inf), np.array(z_members), []
    keys_of = jax.jit(jax.vmap(jax.random.fold_in, (0, None)))
    es_state = settle(es_state, generation, keys_of(keys, 0), hidden, targets)
    for g in range(n_steps):
        es_state, (losses, population) = generation(es_state, keys_of(keys, g), hidden, targets)
        losses = np.asarray(losses)
        i = np.argmin(losses, axis=1)
        gen_best = losses[np.arange(n), i]
        history.append(gen_best)
        better = gen_best < best_loss
        best_loss = np.where(better, gen_best, best_loss)
        best_z[better] = np.asarray(population)[np.arange(n), i][better]
        if verbose:
            print(f"[evosax x{n}] generation {g}: min best={best_loss.min():.6g}")
    best_raw = jax.jit(jax.vmap(to_params))(jnp.asarray(best_z))
    _, aux = jax.jit(jax.vmap(loss_of, in_axes=(0, hidden_axes, target_axis)))(best_raw, hidden, targets)
    write_raw(model, before)
    return best_loss.astype(np.float32), to_host(best_raw), np.stack(history), np.full(n, -1), aux


def member_values(model, best_raw, k):
    """Member ``k``'s ``{dotted_name: constrained value}``, read through the model (left as it was)."""
    weights = trainable_states(model)
    before = {p: s.value for p, s in weights.items()}
    write_raw(model, member_of(best_raw, k))
    values = jax.tree.map(np.asarray, param_values(model))
    write_raw(model, before)
    return values


def fit_many(model, optimizer, compute_loss, targets, n_steps, *, backend='grad', n_starts=1, seed=0,
             bounds=None, options=None, per_target=None, verbose=False):
    """Fit each target ``n_starts`` times, all fits in one vmapped program; a :class:`ManyFitResult`.

    What :meth:`trainer.Fitter.fit_many` runs. ``targets`` is a list of
    targets or an array (pytree) whose axis 0 indexes them; ``None`` with a
    ``loss_fn`` fitter (one target). The model ends holding the overall best
    fit (``result.best``).

    Examples
    --------
    >>> import brainstate, braintools, numpy as np
    >>> from trainer import Fitter
    >>> class Quadratic(brainstate.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.x = brainstate.nn.Param(0.0, fit=True)
    >>> fitter = Fitter(Quadratic(), braintools.optim.Adam(lr=0.1), objective=lambda p, t: (p - t) ** 2,
    ...                 predict=lambda m: m.x.value())
    >>> result = fitter.fit_many(np.array([1.0, -2.0]), n_steps=300)
    >>> np.round(result.best_params['x'][:, 0], 2).tolist()
    [1.0, -2.0]
    """
    n_starts = check_n_starts(n_starts)
    stacked, n_targets = stack_targets(targets)
    common = dict(n_starts=n_starts, bounds=bounds, seed=seed, per_target=per_target, verbose=verbose)
    if backend == 'evosax':
        out = fit_many_evosax(model, compute_loss, stacked, n_targets, n_steps, options=options, **common)
    else:
        out = fit_many_grad(model, optimizer, compute_loss, stacked, n_targets, n_steps, **common)
    best_loss, best_raw, history, diverged_at, aux = out
    n = n_targets * n_starts
    values = [member_values(model, best_raw, k) for k in range(n)]
    shape = (n_targets, n_starts)
    params = {name: np.stack([v[name] for v in values]).reshape(shape + np.shape(values[0][name]))
              for name in values[0]}
    k_best = int(np.nanargmin(np.where(np.isfinite(best_loss), best_loss, np.nan))) \
        if np.isfinite(best_loss).any() else 0
    write_raw(model, member_of(best_raw, k_best))
    reshape = lambda x: np.asarray(x).reshape(shape + np.shape(x)[1:])  # noqa: E731
    return ManyFitResult(backend, n_targets, n_starts, np.asarray(best_loss).reshape(shape), params,
                         history.reshape((len(history),) + shape), diverged_at.reshape(shape),
                         jax.tree.map(reshape, aux), model, optimizer)
