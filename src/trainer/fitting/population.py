"""Population search on the device: a whole evosax generation in one vmapped, compiled call.

brainmass's gradient-free ``Fitter`` backends evaluate one candidate at a
time from the host. Here the Fitter's loss becomes a pure function of the
raw parameter values (``Program.pure``), which is ``jax.vmap``-ed over the
population: ask, evaluate every candidate, tell -- one program per
generation. Candidates live in the unit cube of the search box (explicit
``bounds``, else each ``Param``'s bounded transform, as for SciPy), so every
candidate respects the bounds.
"""

import importlib

import jax
import jax.numpy as jnp
import numpy as np

from ..core.params import param_paths, param_values, trainable_states
from ..core.program import Program
from .search_space import build_search_space, trainable_params
from ..core.step import make_loss

__all__ = ['algorithm', 'evosax_options', 'generation_fn', 'pure_loss', 'settle', 'unit_box', 'write_raw']

_DEFAULTS = {'method': 'CMA_ES', 'population_size': 64, 'std_init': 0.3}
# Candidates stay this far inside the box: a bounded transform's inverse is infinite on its edge.
_EDGE = 1e-4


def evosax_options(optimizer):
    """``{'method', 'population_size', 'std_init'}`` from ``None``, an evosax algorithm name, or a dict."""
    if optimizer is None:
        return dict(_DEFAULTS)
    if isinstance(optimizer, str):
        return {**_DEFAULTS, 'method': optimizer}
    if isinstance(optimizer, dict):
        unknown = sorted(set(optimizer) - set(_DEFAULTS))
        if unknown:
            raise ValueError(f"optimizer options {unknown} are not the evosax backend's; use {sorted(_DEFAULTS)}, "
                             "e.g. {'method': 'CMA_ES', 'population_size': 64, 'std_init': 0.3}.")
        options = {**_DEFAULTS, **optimizer}
        size = options['population_size']
        if isinstance(size, bool) or not isinstance(size, int) or size < 2:
            raise ValueError(f"optimizer['population_size'] must be an int >= 2, got {size!r}.")
        if not (isinstance(options['std_init'], (int, float)) and options['std_init'] > 0):
            raise ValueError(f"optimizer['std_init'] must be a positive number (a fraction of the box), "
                             f"got {options['std_init']!r}.")
        return options
    raise TypeError("for backend='evosax', optimizer must be an evosax algorithm name such as 'CMA_ES', a dict "
                    "such as {'method': 'CMA_ES', 'population_size': 64}, or None; got "
                    f"{type(optimizer).__name__}.")


def algorithm(name):
    try:
        algorithms = importlib.import_module('evosax.algorithms')
    except ImportError as error:
        raise ImportError("backend='evosax' needs evosax: `pip install evosax` (or `pip install -e .[empirical]`)."
                          ) from error
    if not hasattr(algorithms, name):
        known = sorted(n for n in getattr(algorithms, '__all__', dir(algorithms)) if not n.startswith('_'))
        raise ValueError(f"optimizer method {name!r} is not an evosax algorithm; pick one of {known}.")
    return getattr(algorithms, name)


def pure_loss(model, compute_loss, *, with_hidden=False):
    """``(loss_of, params)``: ``loss_of(params, *args) -> (loss, aux)`` pure in the raw parameter values.

    ``params`` are the model's current raw values (``{path: array}``), the
    template that a caller perturbs. Hidden states and the RNG come from the
    model as it is now, the same for every call (a vmapped population shares
    its noise: common random numbers). With ``with_hidden=True`` the hidden
    states are an argument too: ``(loss_of(params, hidden, *args), params, hidden)``.
    """
    program = Program(model)
    pure = program.pure(make_loss(model, compute_loss))
    state = program.read()
    if with_hidden:
        def loss_with(params, hidden, *args):
            return pure(state._replace(params=params, hidden=hidden), *args)[1]

        return loss_with, state.params, state.hidden

    def loss_of(params, *args):
        return pure(state._replace(params=params), *args)[1]

    return loss_of, state.params


def unit_box(model, bounds):
    """``(to_params, z0, names)``: the unit-cube coordinates of the search box and their map to raw values.

    ``to_params(z)`` takes a flat vector in ``[0, 1]^d`` (one entry per scalar
    of every trainable parameter) and returns ``{path: raw value}``; ``z0``
    is the model's current point.
    """
    params = trainable_params(model)
    space, paths = build_search_space(params, bounds), param_paths(model)
    names = list(space)
    shapes = [np.shape(space[n][0]) or np.shape(param_values(model)[n]) for n in names]
    sizes = [int(np.prod(s)) for s in shapes]
    lows = [jnp.broadcast_to(jnp.asarray(space[n][0], jnp.float32), s) for n, s in zip(names, shapes)]
    highs = [jnp.broadcast_to(jnp.asarray(space[n][1], jnp.float32), s) for n, s in zip(names, shapes)]

    def to_params(z):
        out, start = {}, 0
        for name, shape, size, low, high in zip(names, shapes, sizes, lows, highs):
            unit = jnp.clip(z[start:start + size].reshape(shape), _EDGE, 1 - _EDGE)
            value, start = low + unit * (high - low), start + size
            transform = getattr(params[name], 't', None)
            out[paths[name]] = value if transform is None else transform.inverse(value)
        return out

    current = param_values(model)
    z0 = jnp.concatenate([jnp.ravel((jnp.asarray(current[n], jnp.float32) - lo) / (hi - lo))
                          for n, lo, hi in zip(names, lows, highs)])
    return to_params, jnp.clip(z0, _EDGE, 1 - _EDGE), names


def generation_fn(strategy, es_params, loss_of, to_params):
    """``generation(es_state, key, *args) -> (es_state, (losses, population))``: ask, evaluate all in one vmap, tell.

    ``args`` are passed to ``loss_of(params, *args)`` unchanged (the same for every candidate).
    """

    def generation(es_state, key, *args):
        ask_key, tell_key = jax.random.split(key)
        population, es_state = strategy.ask(ask_key, es_state, es_params)
        population = jnp.clip(population, 0.0, 1.0)
        losses = jax.vmap(lambda z: loss_of(to_params(z), *args)[0])(population)
        losses = jnp.where(jnp.isfinite(losses), losses, jnp.inf)  # a diverged candidate ranks last
        es_state, _ = strategy.tell(tell_key, population, losses, es_state, es_params)
        return es_state, (losses, population)

    return generation


def settle(es_state, generation, *args):
    """``es_state`` with the dtypes that ``generation(es_state, *args)`` returns.

    evosax's ``init`` leaves some leaves weak-typed (the mean, the step size)
    that ``tell`` returns strong: left so, the second generation compiles
    the whole program again.
    """
    out = jax.eval_shape(generation, es_state, *args)[0]
    return jax.tree.map(lambda x, s: x if s.weak_type else jnp.asarray(x, s.dtype), es_state, out)


def write_raw(model, raw):
    """Put raw parameter values ``{path: array}`` into ``model``'s trainable states."""
    weights = trainable_states(model)
    for path, value in raw.items():
        weights[path].value = jnp.asarray(value, weights[path].value.dtype)
