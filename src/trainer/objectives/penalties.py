"""Regularisers as named loss terms: L1/L2 on weights, L2 toward the initial weights, L1/L2 on activity.

Each builder returns a :class:`Regularizer`, a small immutable record; a
Trainer given ``regularizers=[...]`` binds them to its model
(:func:`bind`), adds every term to the objective inside the compiled step,
and reports each one under its name in every history row::

    loss = objective + sum(terms)

===================================  =====================================================
``weight_l1(lam, 'w_rec')``          ``lam * mean(|W|)`` over the matrix's entries
``weight_l2(lam, 'w_rec')``          ``lam * mean(W ** 2)``  (PsychRNN's convention)
``weight_l2_init(lam, 'w_rec')``     ``lam * mean((W - W_0) ** 2)``, ``W_0`` the weights at bind time
``rate_l1(lam, state='r')``          ``lam * mean(|r|)`` over trials, steps and units
``rate_l2(lam, state='r')``          ``lam * mean(r ** 2)``
===================================  =====================================================

A weight name is an attribute path of the model (``'w_rec'``,
``'readout.weight'``); a ``brainstate.nn.Param`` contributes its
effective ``value()`` (masked and Dale-signed for :class:`trainer.models.LeakyRNN`).
An activity term records its hidden state after every step (the default
forward only), and averages over every step (``steps='all'``) or the steps
the objective scores (``steps='scored'``); padded trials never count.

    >>> from trainer import regularizers
    >>> regularizers.rate_l2(1e-3, state='r')
    Regularizer(name='reg_rate_l2', lam=0.001, state='r', steps='all')
    >>> regularizers.weight_l2(1e-4, 'w_rec', 'w_in').name
    'reg_weight_l2'
"""

import dataclasses
from typing import Optional

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

from ..core.forward import rollout

__all__ = ['Penalty', 'Regularizer', 'bind', 'rate_l1', 'rate_l2', 'weight_l1', 'weight_l2',
           'weight_l2_init']

_KINDS = ('weight', 'weight_init', 'rate')


@dataclasses.dataclass(frozen=True)
class Regularizer:
    """One regularisation term: ``lam`` times a mean of ``|v|`` or ``v ** 2`` (see the module).

    Attributes
    ----------
    name : str
        Its history key (``'reg_rate_l2'``); pass ``name=`` to a builder to tell two apart.
    lam : float
        The coefficient.
    kind : {'weight', 'weight_init', 'rate'}
    power : {1, 2}
    weights : tuple of str
        The matrices a weight term reads.
    state : str or None
        The hidden state an activity term reads.
    steps : {'all', 'scored'}
        Which steps an activity term averages over.
    """

    name: str
    lam: float
    kind: str = dataclasses.field(repr=False, default='rate')
    power: int = dataclasses.field(repr=False, default=2)
    weights: tuple = ()
    state: Optional[str] = None
    steps: str = 'all'

    def __repr__(self):
        where = f"state={self.state!r}, steps={self.steps!r}" if self.kind == 'rate' else \
            f"weights={self.weights!r}"
        return f"Regularizer(name={self.name!r}, lam={self.lam!r}, {where})"


def _lam(lam):
    if isinstance(lam, bool) or not isinstance(lam, (int, float, np.floating)) or not lam >= 0:
        raise ValueError(f'lam must be a non-negative number (the term\'s coefficient), got {lam!r}.')
    return float(lam)


def _weights(names, builder):
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"{builder} needs the names of the matrices it regularises, e.g. "
                         f"{builder}(1e-4, 'w_rec'); got {names!r}.")
    return tuple(names)


def _rate(lam, power, state, steps, name):
    if not isinstance(state, str) or not state:
        raise ValueError(f"state must name a hidden state of the model (e.g. state='r'), got {state!r}.")
    if steps not in ('all', 'scored'):
        raise ValueError(f"steps must be 'all' or 'scored', got {steps!r}.")
    return Regularizer(name or f'reg_rate_l{power}', _lam(lam), 'rate', power, (), state, steps)


def weight_l1(lam, *names, name=None):
    """``lam * mean(|W|)`` for each named matrix, summed.

    Examples
    --------
    >>> weight_l1(1e-3, 'w_rec')
    Regularizer(name='reg_weight_l1', lam=0.001, weights=('w_rec',))
    """
    return Regularizer(name or 'reg_weight_l1', _lam(lam), 'weight', 1, _weights(names, 'weight_l1'))


def weight_l2(lam, *names, name=None):
    """``lam * mean(W ** 2)`` for each named matrix, summed.

    Examples
    --------
    >>> weight_l2(1e-4, 'w_rec', name='reg_rec_l2').name
    'reg_rec_l2'
    """
    return Regularizer(name or 'reg_weight_l2', _lam(lam), 'weight', 2, _weights(names, 'weight_l2'))


def weight_l2_init(lam, *names, name=None):
    """``lam * mean((W - W_0) ** 2)``: an L2 pull toward the weights the model had when bound.

    Examples
    --------
    >>> weight_l2_init(1e-3, 'w_rec').name
    'reg_weight_l2_init'
    """
    return Regularizer(name or 'reg_weight_l2_init', _lam(lam), 'weight_init', 2,
                       _weights(names, 'weight_l2_init'))


def rate_l1(lam, *, state='r', steps='all', name=None):
    """``lam * mean(|state|)`` over trials, the chosen steps and units (on spikes: the mean rate).

    Examples
    --------
    >>> rate_l1(1e-2, state='spike').name
    'reg_rate_l1'
    """
    return _rate(lam, 1, state, steps, name)


def rate_l2(lam, *, state='r', steps='all', name=None):
    """``lam * mean(state ** 2)`` over trials, the chosen steps and units.

    Examples
    --------
    >>> rate_l2(1e-3, steps='scored')
    Regularizer(name='reg_rate_l2', lam=0.001, state='r', steps='scored')
    >>> rate_l2(1e-3, steps='last')
    Traceback (most recent call last):
    ...
    ValueError: steps must be 'all' or 'scored', got 'last'.
    """
    return _rate(lam, 2, state, steps, name)


def _resolve(model, name):
    """The current value of attribute path ``name`` of ``model`` (a Param's effective value)."""
    node = model
    for part in name.split('.'):
        node = getattr(node, part, None)
        if node is None:
            break
    if isinstance(node, brainstate.nn.Param):
        return node.value()
    if isinstance(node, brainstate.State):
        return node.value
    if node is not None and hasattr(node, 'shape'):
        return node
    available = sorted('.'.join(map(str, path[:-1] if path[-1] == 'val' else path))
                       for path in model.states(brainstate.ParamState))
    raise ValueError(f"regularizer weights: {name!r} is not a weight of the model; it has {available}.")


def _power(x, power):
    x = u.get_mantissa(x)
    return jnp.abs(x) if power == 1 else jnp.square(x)


def _mean(tree, power, anchor=None):
    leaves = jax.tree.leaves(tree)
    anchors = [None] * len(leaves) if anchor is None else jax.tree.leaves(anchor)
    return sum(jnp.mean(_power(x if a is None else u.get_mantissa(x) - a, power))
               for x, a in zip(leaves, anchors))


class Penalty:
    """The regularisers of one model, bound: validated names, initial weights kept.

    Parameters
    ----------
    model : brainstate.nn.Module
    terms : list of Regularizer
    forward : callable
        The fit's forward; an activity term needs the default :func:`trainer.rollout`.

    Attributes
    ----------
    names : tuple of str
        The terms' history keys, in order.
    paths : dict
        ``{state name: path}`` of the hidden states the terms record.

    Examples
    --------
    >>> from trainer import regularizers
    >>> from trainer.models import LeakyRNN
    >>> p = bind(LeakyRNN(2, 4, 1), [regularizers.rate_l2(1e-3), regularizers.weight_l2(1e-4, 'w_rec')])
    >>> p.names, p.paths
    (('reg_rate_l2', 'reg_weight_l2'), {'r': ('r',)})
    """

    def __init__(self, model, terms, forward=rollout):
        self.terms = tuple(terms)
        names = [t.name for t in self.terms]
        for t in self.terms:
            if not isinstance(t, Regularizer):
                raise TypeError(f"regularizers must be built by trainer.regularizers (rate_l2, weight_l2, "
                                f"...), got {t!r:.60}.")
            if names.count(t.name) > 1:
                raise ValueError(f"regularizers: two terms are named {t.name!r}; tell them apart with "
                                 f"name=..., e.g. weight_l2(1e-4, 'w_in', name='reg_in_l2').")
            if t.name in ('loss',) or not t.name.startswith('reg_'):
                raise ValueError(f"regularizers: a term's name starts with 'reg_' (metrics and the loss "
                                 f"keep theirs), got {t.name!r}.")
        self.names = tuple(names)
        self.initial = {(t.name, w): jax.tree.map(lambda x: np.asarray(u.get_mantissa(x)), _resolve(model, w))
                        for t in self.terms for w in t.weights if t.kind == 'weight_init'}
        for t in self.terms:
            for w in t.weights:
                _resolve(model, w)  # refuse an unknown name now, not inside a trace
        self.paths = self._paths(model)
        if self.paths and forward is not rollout:
            raise ValueError(
                f"activity regularizers ({[t.name for t in self.terms if t.kind == 'rate']}) record "
                f"hidden states step by step, which needs the default forward (trainer.rollout); "
                f"got forward={forward!r}. Drop forward=, or regularise weights only.")

    def _paths(self, model):
        if any(t.kind == 'rate' for t in self.terms) and not _hidden(model):
            brainstate.nn.init_all_states(model)  # states appear in init_state; a fit re-initialises them
        hidden = _hidden(model)
        wanted = [t.state for t in self.terms if t.kind == 'rate']
        unknown = [s for s in wanted if s not in hidden]
        if unknown:
            raise ValueError(f"regularizers: state {unknown[0]!r} is not a hidden state of the model; "
                             f"it has {sorted(hidden)}.")
        return {s: hidden[s] for s in dict.fromkeys(wanted)}

    def __bool__(self):
        return bool(self.terms)

    @property
    def key(self):
        """Hashable: the terms (part of a compiled program's key)."""
        return self.terms

    def __call__(self, model, activity, step_weight, scored_weight):
        """``{name: value}`` inside a trace; ``*_weight`` are ``(B, T)`` or ``None`` (every step counts)."""
        values = {}
        for t in self.terms:
            if t.kind == 'rate':
                weight = step_weight if t.steps == 'all' else scored_weight
                values[t.name] = t.lam * _activity_mean(activity[t.state], t.power, weight)
            else:
                values[t.name] = t.lam * sum(
                    _mean(_resolve(model, w), t.power, self.initial.get((t.name, w))) for w in t.weights)
        return values


def _hidden(model):
    return {'.'.join(map(str, path)): path for path, st in model.states().items()
            if isinstance(st, brainstate.HiddenState)}


def _activity_mean(x, power, weight):
    """Mean over trials, steps and units of ``|x|`` or ``x ** 2``, steps weighted by ``(B, T)`` ``weight``."""
    per_step = _power(x, power).reshape(x.shape[:2] + (-1,)).mean(-1)
    if weight is None:
        return jnp.mean(per_step)
    total = jnp.sum(weight)
    return jnp.sum(per_step * weight) / jnp.where(total > 0, total, 1.0)


def bind(model, regularizers, forward=rollout):
    """:class:`Penalty` of ``regularizers`` (a list, or ``None`` for none) on ``model``."""
    if regularizers is None:
        regularizers = []
    if isinstance(regularizers, Regularizer) or not isinstance(regularizers, (list, tuple)):
        raise TypeError(f"regularizers must be a list of terms, got {regularizers!r:.60}; wrap a single "
                        "one in a list: regularizers=[trainer.regularizers.rate_l2(1e-3)].")
    return Penalty(model, regularizers, forward)
