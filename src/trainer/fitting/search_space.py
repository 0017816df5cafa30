"""The box a gradient-free fit searches: explicit bounds, else each ``Param``'s bounded transform."""

import brainunit as u
import jax.numpy as jnp

from ..core.params import fit_params, param_paths, trainable_states

# What ScipyOptimizer takes besides the loss and the bounds.
_SCIPY_OPTIONS = ('callback', 'constraints', 'method', 'options', 'tol')


def trainable_params(model):
    """``{dotted_name: Param}`` for each trainable ``Param``; a bare ``ParamState`` for the rest."""
    params, states = fit_params(model), trainable_states(model)
    return {name: params.get(name, states[path]) for name, path in param_paths(model).items()}


def finite_box(transform):
    """The ``(low, high)`` interval a bounded transform maps onto, or ``None``.

    ``SigmoidT``-like transforms expose ``lower`` and ``width``, ``ClipT``
    ``lower`` and ``upper``; half-lines (``SoftplusT``, ``ReluT``) and
    ``IdentityT`` have no finite box.
    """
    lower = getattr(transform, 'lower', None)
    if lower is None:
        return None
    width, upper = getattr(transform, 'width', None), getattr(transform, 'upper', None)
    if width is not None:
        return lower, lower + width
    return (lower, upper) if upper is not None else None


def _value(param):
    return param.value() if callable(param.value) else param.value


def build_search_space(params, bounds):
    """``{name: (low, high)}`` for every parameter: ``bounds`` where given, else the transform's box.

    Each pair is broadcast to the parameter's shape. Raises ``ValueError`` for
    a name in ``bounds`` that is not a trainable parameter, a parameter with
    units, and a parameter with neither an entry nor a bounded transform.
    """
    bounds = dict(bounds or {})
    unknown = sorted(set(bounds) - set(params))
    if unknown:
        raise ValueError(
            f"bounds names unknown parameter(s) {unknown}; trainable parameters are {sorted(params)}."
        )
    with_units = sorted(name for name, param in params.items() if not u.get_unit(_value(param)).is_unitless)
    if with_units:
        raise ValueError(
            f"a gradient-free search takes dimensionless parameters only; {with_units} carry units. "
            "Keep the trainable knob a plain number (the seed's rule), or use backend='grad'."
        )
    space = {}
    for name, param in params.items():
        box = bounds.get(name) or finite_box(getattr(param, 't', None))
        if box is None:
            kind = type(param.t).__name__ if hasattr(param, 't') else 'no'
            raise ValueError(
                f"cannot derive search bounds for trainable parameter {name!r}: it has {kind} transform, "
                f"which defines no finite interval. Pass bounds={{{name!r}: (low, high)}}, or build it as "
                "Param(value, t=SigmoidT(low, high), fit=True)."
            )
        if not isinstance(box, (tuple, list)) or len(box) != 2:
            raise ValueError(f"bounds[{name!r}] must be a (low, high) pair, got {box!r}.")
        shape = jnp.shape(u.get_magnitude(_value(param)))
        space[name] = tuple(jnp.broadcast_to(b, shape) if shape else b for b in box)
    return space


def scipy_options(optimizer):
    """``ScipyOptimizer`` keyword arguments from a method name, an options dict, or ``None``."""
    if optimizer is None:
        return {}
    if isinstance(optimizer, str):
        return {'method': optimizer}
    if isinstance(optimizer, dict):
        unknown = sorted(set(optimizer) - set(_SCIPY_OPTIONS))
        if unknown:
            raise ValueError(
                f"optimizer options {unknown} are not ScipyOptimizer's; use {list(_SCIPY_OPTIONS)}, "
                "e.g. {'method': 'Nelder-Mead', 'tol': 1e-6}."
            )
        return dict(optimizer)
    raise TypeError(
        "for backend='scipy', optimizer must be a SciPy method name (str) such as 'Nelder-Mead', "
        f"an options dict such as {{'method': 'L-BFGS-B'}}, or None; got {type(optimizer).__name__}."
    )
