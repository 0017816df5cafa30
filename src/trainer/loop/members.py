"""An ensemble's members: cloned optimizers, per-member hyper-parameters, stacked states.

K structurally identical models give K ``TrainState``s that stack into one
pytree with a leading member axis; one vmapped program steps them all.
Member 0's model and optimizer are the ones traced, the others only supply
values. A hyper-parameter that differs between members (the base learning
rate, the weight decay) is therefore a traced *argument* of member 0's
trace, never a constant baked into it.
"""

import contextlib
import copy
import math
import numbers

import braintools
import jax
import numpy as np

from ..core.params import dotted_name
from ..core.step import optimizer_states

__all__ = ['HPARAMS', 'apply_hparams', 'check_hparams', 'check_same_structure', 'clone_optimizer',
           'from_host', 'member_of', 'set_member', 'stack', 'to_host', 'traced_hparams']

HPARAMS = ('lr', 'weight_decay')

# Schedules computed from `base_lrs` alone: a member's traced base rate gives exactly the
# schedule `Scheduler(base_lr=lr_k, ...)` would (OneCycleLR, CyclicLR... derive more from it).
_BASE_LR_SCHEDULES = ('ConstantLR', 'StepLR', 'MultiStepLR', 'ExponentialLR', 'CosineAnnealingLR',
                      'PolynomialLR', 'LinearLR', 'CosineAnnealingWarmRestarts')


# -- optimizers ------------------------------------------------------------------
def clone_optimizer(optimizer):
    """A copy of an unregistered braintools optimizer with its own states and scheduler.

    brainstate's ``deepcopy`` of a graph node shares its non-node attributes
    (the scheduler, the parameter registry), so we copy the attributes
    ourselves; a ``State`` is rebuilt from its value (its creation traceback
    cannot be copied). The clone's ``tx`` still closes over the original's
    schedule: only its ``init`` is ever called, the traced step is member 0's.
    """
    new = object.__new__(type(optimizer))
    memo = {id(optimizer): new}
    for state in optimizer_states(optimizer):
        memo[id(state)] = type(state)(jax.tree.map(lambda x: x, state.value))
    new.__dict__.update(copy.deepcopy(optimizer.__dict__, memo))
    return new


class _TracedWeightDecay(float):
    """A weight decay optax calls as a schedule: this member's value, or inside member 0's trace its traced one.

    The float value is only a positive sentinel, so the optimizer's ``default_tx``
    keeps its ``add_decayed_weights`` step whatever the member's value.
    """

    def __new__(cls, value):
        self = super().__new__(cls, 1.0)
        self.value, self.traced = float(value), None
        return self

    def __call__(self, count):
        return self.value if self.traced is None else self.traced

    def __deepcopy__(self, memo):
        return _TracedWeightDecay(self.value)

    def __repr__(self):
        return f'{self.value!r} (per member)'


def check_hparams(hparams, n_members, optimizer):
    """``{name: float32 array (K,)}`` from ``hparams``, or raise naming the key, the rule and the fix."""
    if hparams is None:
        return {}
    if not isinstance(hparams, dict):
        raise TypeError(f"hparams must be a dict such as {{'lr': [1e-2, 3e-3, ...]}} (one value per "
                        f"member), got {type(hparams).__name__}.")
    unknown = sorted(set(hparams) - set(HPARAMS))
    if unknown:
        raise ValueError(f"hparams: {unknown[0]!r} is not a per-member hyper-parameter; the supported "
                         f"ones are {list(HPARAMS)}.")
    out = {}
    for name, values in hparams.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, '__len__'):
            raise TypeError(f"hparams[{name!r}] must be a list of {n_members} numbers (one per member), "
                            f"got {values!r:.60}.")
        if len(values) != n_members:
            raise ValueError(f"hparams[{name!r}] has {len(values)} values but the ensemble has "
                             f"{n_members} members; give one value per member.")
        for k, v in enumerate(values):
            low_ok = v > 0 if name == 'lr' else v >= 0
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or not low_ok:
                rule = 'a positive finite number' if name == 'lr' else 'a finite number >= 0'
                raise ValueError(f"hparams[{name!r}][{k}] must be {rule}, got {v!r}.")
        out[name] = np.asarray(values, np.float32)
    if 'lr' in out:
        schedule = type(optimizer.lr).__name__
        if schedule not in _BASE_LR_SCHEDULES:
            raise ValueError(
                f"hparams['lr'] sets each member's base learning rate, which needs a schedule computed "
                f"from the base rate alone ({', '.join(_BASE_LR_SCHEDULES)}); the optimizer's is "
                f"{schedule}. Use one of those, or train the members with separate Trainers.")
    if 'lr' in out and type(optimizer) is braintools.optim.OptaxOptimizer:
        raise ValueError(
            "hparams['lr'] sets each member's learning rate, but this optimizer wraps a plain optax "
            "transformation, whose rate lives inside optax where no member can change it; use a "
            "braintools optimizer such as braintools.optim.Adam(lr=...), or train the members with "
            "separate Trainers.")
    if 'weight_decay' in out and type(optimizer) is braintools.optim.OptaxOptimizer:
        raise ValueError(
            "hparams['weight_decay'] rebuilds the optimizer's own transformation with a per-member "
            "decay, but this OptaxOptimizer was given a custom tx; use a named optimizer such as "
            "braintools.optim.Adam or AdamW.")
    return out


def apply_hparams(optimizer, values):
    """Give an unregistered ``optimizer`` one member's ``{name: value}``, as its constructor would have."""
    if 'lr' in values:
        lr, schedule = float(values['lr']), optimizer.lr
        schedule.base_lrs = [lr] * len(schedule.base_lrs)
        schedule.step(schedule.last_epoch.value)  # the schedule's rate at its epoch, from the new base
        optimizer.current_lr = schedule.get_last_lr()[0]
    if 'weight_decay' in values:
        optimizer.weight_decay = _TracedWeightDecay(values['weight_decay'])
        optimizer.tx = optimizer.default_tx()
        state = optimizer.tx.init({})
        found = jax.tree.leaves(state, is_leaf=lambda x: type(x).__name__ == 'WeightDecaySchedule')
        if not any(type(x).__name__ == 'WeightDecaySchedule' for x in found):
            raise ValueError(f"hparams['weight_decay']: {type(optimizer).__name__} has no weight decay "
                             "step to set per member; use an optimizer that takes weight_decay, "
                             "such as braintools.optim.Adam or AdamW.")


@contextlib.contextmanager
def traced_hparams(optimizer, hparams):
    """Inside member 0's trace: its schedule and weight decay read ``hparams``' traced values."""
    schedule, saved = optimizer.lr, optimizer.lr.base_lrs
    try:
        if 'lr' in hparams:
            schedule.base_lrs = [hparams['lr']] * len(saved)
        if 'weight_decay' in hparams:
            optimizer.weight_decay.traced = hparams['weight_decay']
        yield
    finally:
        schedule.base_lrs = saved
        if 'weight_decay' in hparams:
            optimizer.weight_decay.traced = None


# -- structure ---------------------------------------------------------------------
def _describe(value):
    leaves = jax.tree.leaves(value)
    shapes = [f'{np.shape(x)} {getattr(x, "dtype", type(x).__name__)}' for x in leaves]
    return shapes[0] if len(shapes) == 1 else '[' + ', '.join(shapes) + ']'


def _first_difference(ref, other, what):
    if isinstance(ref, dict):
        for key in ref:
            if key not in other:
                return f"it lacks the {what} {dotted_name(key)!r}"
        for key in other:
            if key not in ref:
                return f"it has a {what} {dotted_name(key)!r} that models[0] lacks"
        items = [(dotted_name(key), ref[key], other[key]) for key in ref]
    else:
        if len(ref) != len(other):
            return f"its optimizer holds {len(other)} states, models[0]'s {len(ref)}"
        items = [(str(i), a, b) for i, (a, b) in enumerate(zip(ref, other))]
    for name, a, b in items:
        same_tree = jax.tree.structure(a) == jax.tree.structure(b)
        if not same_tree or any(np.shape(x) != np.shape(y) or jax.numpy.result_type(x) != jax.numpy.result_type(y)
                                for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))):
            return f"its {what} {name!r} is {_describe(b)}, models[0]'s is {_describe(a)}"
    return None


def check_same_structure(models, states):
    """Raise ``ValueError`` naming the first member, and its first state, unlike member 0."""
    for k, (model, state) in enumerate(zip(models[1:], states[1:]), start=1):
        if type(model) is not type(models[0]):
            diff = f"it is a {type(model).__name__}, models[0] a {type(models[0]).__name__}"
        else:
            diff = (_first_difference(states[0].params, state.params, 'parameter')
                    or _first_difference(states[0].opt, state.opt, 'optimizer state')
                    or _first_difference(states[0].hidden, state.hidden, 'hidden state'))
        if diff:
            raise ValueError(
                f"models[{k}] is not structurally identical to models[0]: {diff}. An ensemble's "
                "members must share their class, sizes and dtypes (only the values differ); build "
                "them with one constructor, e.g. [RateRNN(3, 64, 3, seed=s) for s in range(K)].")


# -- stacking, on the host (an eager jnp.stack or x[k] would compile one program per shape) ------
class _HostKeys:
    """Typed PRNG keys on the host: their raw data and implementation."""

    def __init__(self, data, impl):
        self.data, self.impl = data, impl


def _is_key(x):
    return hasattr(x, 'dtype') and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _host_leaf(x):
    if _is_key(x):
        return _HostKeys(np.asarray(jax.random.key_data(x)), jax.random.key_impl(x))
    return x


def to_host(tree):
    """``tree`` as writable numpy arrays, in one transfer (typed keys as their raw data)."""
    return jax.tree.map(lambda x: _HostKeys(np.array(x.data), x.impl) if isinstance(x, _HostKeys) else np.array(x),
                        jax.device_get(jax.tree.map(_host_leaf, tree)))


def from_host(tree):
    """The device arrays of a :func:`to_host` tree."""
    return jax.tree.map(lambda x: jax.random.wrap_key_data(x.data, impl=x.impl) if isinstance(x, _HostKeys)
                        else jax.device_put(x), tree)


def stack(trees):
    """One tree whose leaves stack the ``trees``' leaves along a new leading member axis."""
    hosts = [to_host(t) for t in trees]

    def stack_leaf(*xs):
        if isinstance(xs[0], _HostKeys):
            return _HostKeys(np.stack([x.data for x in xs]), xs[0].impl)
        return np.stack([np.asarray(x) for x in xs])

    return from_host(jax.tree.map(stack_leaf, *hosts))


def member_of(host_tree, k):
    """Member ``k``'s slice of a host tree (still on the host)."""
    return jax.tree.map(lambda x: _HostKeys(x.data[k], x.impl) if isinstance(x, _HostKeys) else x[k],
                        host_tree)


def set_member(host_tree, k, member_tree):
    """Write member ``k``'s slice of a host tree in place."""
    def put(x, y):
        if isinstance(x, _HostKeys):
            x.data[k] = y.data
        else:
            x[k] = y
    jax.tree.map(put, host_tree, member_tree)
