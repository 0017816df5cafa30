"""Parameter names: one public convention (dotted) and the raw state paths.

``model.states(ParamState)`` keys a trainable leaf by its tuple path
(``('node', 'g', 'val')``); results use the dotted name (``'node.g'``).
:func:`rename_params` converts a mapping either way, so a user never has to
juggle the two conventions by hand.
"""

import brainstate
from brainstate.nn import Param

__all__ = ['rename_params']


def dotted_name(path):
    """``('node', 'g', 'val')`` -> ``'node.g'`` (the ``val`` leaf of a ``Param``)."""
    parts = [str(p) for p in path]
    if len(parts) > 1 and parts[-1] == 'val':
        parts = parts[:-1]
    return '.'.join(parts)


def trainable_states(model):
    """Return ``{path: ParamState}`` of ``model``'s trainable leaves."""
    return model.states(brainstate.ParamState)


def param_paths(model):
    """Return ``{dotted_name: path}`` for every trainable leaf of ``model``."""
    return {dotted_name(path): path for path in trainable_states(model)}


def fit_params(model):
    return {'.'.join(str(p) for p in path): node for path, node in model.nodes().items()
            if isinstance(node, Param) and node.fit}


def param_values(model):
    """Return ``{dotted_name: value}`` in the constrained (physical) space.

    A ``Param`` reports ``Param.value()`` (transform applied); any other
    trainable state (a ``Linear`` weight, say) reports its raw value.
    """
    params = fit_params(model)
    return {
        name: params[name].value() if name in params else state.value
        for name, state in ((dotted_name(p), s) for p, s in trainable_states(model).items())
    }


def set_param_values(model, values):
    """Write ``{dotted_name: value}`` (constrained space) into ``model``."""
    params, states = fit_params(model), trainable_states(model)
    for path, value in rename_params(values, model).items():
        name = dotted_name(path)
        if name in params:
            params[name].set_value(value)
        else:
            states[path].value = value


def rename_params(mapping, model):
    """Convert a parameter mapping between raw state paths and dotted names.

    Tuple keys (as returned by ``brainstate.transform.grad`` over
    ``model.states(ParamState)``) become dotted names; dotted-name keys (as in
    ``FitResult.best_params``) become tuple paths. Values are passed through.

    Parameters
    ----------
    mapping : dict
        Keys all tuples, or all strings.
    model : brainstate.nn.Module
        The model the keys refer to.

    Returns
    -------
    dict
        The same values under the other key convention.

    Examples
    --------
    >>> import brainstate
    >>> class M(brainstate.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.g = brainstate.nn.Param(1.0, fit=True)
    >>> m = M()
    >>> rename_params({('g', 'val'): 0.5}, m)
    {'g': 0.5}
    >>> rename_params({'g': 0.5}, m)
    {('g', 'val'): 0.5}
    """
    paths = param_paths(model)
    out = {}
    for key, value in mapping.items():
        if isinstance(key, tuple):
            out[dotted_name(key)] = value
        elif key in paths:
            out[paths[key]] = value
        else:
            raise KeyError(
                f"{key!r} is not a trainable parameter of the model; "
                f"trainable parameters are {sorted(paths)}."
            )
    return out
