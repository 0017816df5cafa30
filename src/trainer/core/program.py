"""THE owner of compiled code: pure functions of a ``TrainState``, compiled once per key.

A brainstate model keeps its values in ``State`` objects; a compiled program
wants them as arguments. :class:`Program` converts at the boundary only:
:meth:`Program.read` collects the values of the model, its optimizer and the
RNG into a :class:`~trainer.core.state.TrainState`, :meth:`Program.write` puts
them back. In between, a stateful step is traced once by brainstate's
``StatefulFunction`` and called as a pure function ``(state, *args) ->
(state, out)`` under ``jax.jit`` -- no per-call state bookkeeping on the host.

Every compiled program is cached on all that its trace reads besides its
arguments (``jax.jit`` keys on those): the caller's key (objective, forward,
metrics, clipping, schedule...) and the ``brainstate.environ`` values (``dt``).
"""

import concurrent.futures
import dataclasses
import hashlib
import weakref
from typing import Optional

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

from .compiles import counting
from .malloc import retain_freed_memory
from .placement import Placement
from .state import TrainState, hidden_states, strong
from .step import optimizer_states

__all__ = ['Members', 'Program', 'environ_key', 'model_key']

# One background thread compiles ahead of time while the main thread trains.
_COMPILER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix='trainer-compile')
# Each model's one Program (see Program.of), dropped with the model.
_OWNERS = weakref.WeakKeyDictionary()


def _hashable(value):
    if hasattr(value, 'mantissa'):  # a brainunit Quantity: its number and its unit
        return _hashable(value.mantissa), str(value.unit)
    if hasattr(value, 'shape'):
        array = np.asarray(value)
        return array.dtype.str, array.shape, array.tobytes()
    return value


def environ_key():
    """``brainstate.environ``'s current settings (``dt``, precision...) as a hashable key.

    Examples
    --------
    >>> import brainstate, brainunit as u
    >>> with brainstate.environ.context(dt=0.1 * u.ms):
    ...     a = environ_key()
    >>> with brainstate.environ.context(dt=1.0 * u.ms):
    ...     a == environ_key()
    False
    """
    return tuple(sorted((k, _hashable(v)) for k, v in brainstate.environ.all().items()))


def model_key(model):
    """What ``model``'s traces bake in besides its states: array attributes and ``compile_key()``.

    A trace reads a module's plain attributes as constants. Array attributes
    (a connectivity mask, ``jnp``/``numpy``/brainunit arrays that are not
    ``State``s) are keyed by their content, so replacing one after a compile
    compiles afresh instead of replaying the old values. A module whose
    ``update`` reads plain Python numbers (a noise level ``sigma_rec``, a time
    constant) defines ``compile_key()`` returning them, to the same effect.

    Examples
    --------
    >>> from trainer.models import LeakyRNN
    >>> net = LeakyRNN(2, 4, 1, sigma_rec=0.05)
    >>> before = model_key(net)
    >>> net.sigma_rec = 0.0
    >>> model_key(net) == before
    False
    """
    key = []
    for path, node in model.nodes().items():
        arrays = tuple((name, _digest(value)) for name, value in sorted(vars(node).items()) if _is_constant(value))
        own = node.compile_key() if callable(getattr(node, 'compile_key', None)) else None
        if arrays or own is not None:
            key.append((path, own, arrays))
    return tuple(key)


def _is_constant(value):
    # An array a trace would bake in: not a State (an argument), not a tracer left by a trace.
    array = getattr(value, 'mantissa', value)
    return isinstance(array, (jax.Array, np.ndarray)) and not isinstance(array, jax.core.Tracer)


def _digest(value):
    array = getattr(value, 'mantissa', value)
    if isinstance(array, jax.Array) and not array.is_fully_addressable:
        return array.dtype.str, array.shape, id(array)  # spread over processes: no one holds it whole
    array = np.asarray(array)
    unit = str(value.unit) if hasattr(value, 'mantissa') else ''
    return array.dtype.str, array.shape, hashlib.blake2b(array.tobytes(), digest_size=16).hexdigest(), unit


def _abstract(args):
    leaves, treedef = jax.tree.flatten(args)
    return treedef, tuple((jax.typeof(x), getattr(x, 'sharding', None)) if hasattr(x, 'shape')
                          else x for x in leaves)


class Program:
    """The compiled programs of one model and its optimizer, over one explicit state.

    Parameters
    ----------
    model : brainstate.nn.Module
        Holds the trainable ``ParamState`` leaves and the hidden states.
    optimizer : braintools.optim.OptaxOptimizer, optional
        Already registered with ``model``'s weights; ``None`` for programs
        that only run the model (predictions).
    placement : trainer.core.placement.Placement, optional
        Where the state and the data live (default: the default device).
    """

    def __init__(self, model, optimizer=None, placement=None):
        if jax.default_backend() == 'cpu':
            retain_freed_memory()  # each call's temporaries reuse the last call's pages
        self.model, self.optimizer = model, optimizer
        self.placement = placement or Placement(None)
        self.weights = model.states(brainstate.ParamState)
        ids = {id(s) for s in self.weights.values()}
        self.opt_states = [] if optimizer is None else [s for s in optimizer_states(optimizer) if id(s) not in ids]
        self._jitted, self._ahead = {}, {}
        self.compiles = {'train': 0, 'eval': 0}
        # States outside the model a step carries like its hidden states (an online learner's traces).
        self.extra_hidden = {}
        # The (group, key) slots that some traced program writes (params, opt, rng): see writer().
        self.written = set()

    def hidden_states(self):
        """``{path: State}``: the model's hidden states and :attr:`extra_hidden`."""
        return {**hidden_states(self.model), **self.extra_hidden}

    # -- the boundary: module states <-> TrainState ---------------------------
    def read(self, template=None):
        """The model's, the optimizer's and the RNG's current values as a ``TrainState``."""
        hidden = dict(template) if template is not None else {
            k: s.value for k, s in self.hidden_states().items() if _readable(s)}
        return self.placement.state(TrainState(
            params=strong({k: s.value for k, s in self.weights.items()}),
            opt=tuple(strong(s.value) for s in self.opt_states),
            hidden=hidden, rng=brainstate.random.DEFAULT.value))

    def write(self, state):
        """Put ``state``'s values back into the model, the optimizer and the RNG.

        With several processes the model receives this process's copy of each
        replicated value (eager code, a callback say, cannot read global arrays).
        """
        state = jax.tree.map(Placement.local, state)
        for key, s in self.weights.items():
            s.value = state.params[key]
        for s, value in zip(self.opt_states, state.opt):
            s.value = value
        current = self.hidden_states()
        for key, value in state.hidden.items():
            if key in current and value is not None:
                current[key].value = value
        brainstate.random.DEFAULT.value = state.rng

    def writer(self):
        """:meth:`write` for a loop that writes after every step: ``write(state)``, set up once.

        :meth:`write` walks the model's graph for its hidden states, maps
        ``Placement.local`` over the whole state and sets every ``State`` on
        every call: 150-300 us on a CPU, as long as a small fit's whole step.
        The closure's first call is :meth:`write` itself (make the closure
        after the programs' first call: their trace may create states); later
        calls look nothing up and write only the slots that a traced program
        of this ``Program`` writes (``self.written``: the parameters and the
        optimizer moments, say),
        because a program returns the other values as it was given them, and
        the model already holds those. So the model holds ``state`` after
        each call, provided nothing else writes its states in between. In a
        single process every array is addressable: no local copies are made.
        """
        weights, opt = dict(self.weights), list(self.opt_states)
        local = Placement.local if jax.process_count() > 1 else None
        targets, seen = None, 0  # (State, slot) of the written slots; len(self.written) then

        def write(state):
            nonlocal targets, seen
            first = targets is None
            if first or seen != len(self.written):
                # The first call, or a program traced since the last one writes more slots.
                seen = len(self.written)
                targets = [(_state_of(slot, weights, opt), slot) for slot in self.written]
            if first:
                self.write(state)  # everything, once
                return
            if local is not None:
                state = jax.tree.map(local, state)
            for s, slot in targets:
                s.value = _get(state, slot)

        return write

    # -- pure functions of the state ------------------------------------------
    def _slot(self, st, hidden_ids):
        for group, ids in (('params', self._weight_ids), ('opt', self._opt_ids), ('hidden', hidden_ids)):
            if id(st) in ids:
                return group, ids[id(st)]
        if st is brainstate.random.DEFAULT:
            return 'rng', None
        raise ValueError(
            f"a compiled step touched a State that belongs to neither the model nor its optimizer "
            f"({type(st).__name__} of shape {jax.tree.map(np.shape, st.value)}); keep the states "
            "your forward or objective writes inside the model, so each fit can carry them.")

    @property
    def _weight_ids(self):
        return {id(s): k for k, s in self.weights.items()}

    @property
    def _opt_ids(self):
        return {id(s): i for i, s in enumerate(self.opt_states)}

    def opt_index(self, state):
        """Where the optimizer ``State`` ``state`` sits in ``TrainState.opt`` (``None`` if it is not there)."""
        return self._opt_ids.get(id(state))

    def pure(self, fn, *, carry_hidden=False):
        """``fn(*args) -> out`` that touches model states, as ``pure(state, *args) -> (state, out)``.

        Written hidden states are dropped: every call starts from the template
        in ``state.hidden`` (one minibatch never leaks into the next), unless
        ``carry_hidden``: then they are returned in ``state.hidden``, and the
        next call goes on from them (truncated BPTT's chunks of one trial).
        """
        traced = brainstate.transform.StatefulFunction(fn)

        def pure_fn(state, *args):
            # Which states this trace touches, in its order; traced (or cached) for these shapes.
            states = traced.get_states(*args)
            hidden_ids = {id(s): k for k, s in self.hidden_states().items()}
            slots = [self._slot(s, hidden_ids) for s in states]
            values = [_get(state, slot) for slot in slots]
            new, out = traced.jaxpr_call(values, *args)
            self.written.update(slot for slot, n in zip(slots, new) if n is not None and slot[0] != 'hidden')
            # jaxpr_call returns None for a state it passes through.
            new = _put(state, slots, [v if n is None else n for v, n in zip(values, new)], carry_hidden)
            return self.placement.constrain(new), out

        return pure_fn

    @classmethod
    def of(cls, model, optimizer=None, placement=None):
        """The one ``Program`` of ``model`` (made on first use; a Trainer's replaces a bare one).

        ``trainer.analysis.predict(model, ...)`` finds the Trainer's programs here, so a
        trained model never compiles its prediction twice.
        """
        program = _OWNERS.get(model)
        if program is None or (optimizer is not None and program.optimizer is not optimizer) \
                or (placement is not None and program.placement.key != placement.key):
            program = cls(model, optimizer, placement)
            _OWNERS[model] = program
        return program

    def jit(self, name, key, build, *, env=None, scan=False, members=None, carry_hidden=False):
        """``jax.jit(self.pure(build()))``, built once per ``(name, key, env, placement)``, called under ``env``.

        Parameters
        ----------
        env : dict, optional
            ``brainstate.environ`` settings (``dt``, ``fit``) the program traces and runs
            under; they are part of its key, so another ``dt`` or mode never reuses it.
        scan : bool
            ``(state, fixed, *stacked) -> (state, outs)``: the step ``fn(state, *fixed,
            *xs)`` scanned over the stacked rest (one compiled call per epoch).
        members : Members, optional
            Map the step over a leading member axis of the state (an ensemble).
        carry_hidden : bool
            Return the written hidden states in the state (see :meth:`pure`).
        """
        with brainstate.environ.context(**(env or {})):
            full = (name, key, scan, members, carry_hidden, environ_key(), self.placement.key, model_key(self.model))
            if full not in self._jitted:
                fn = self.pure(build(), carry_hidden=carry_hidden)
                if members is not None:
                    fn = members.over(fn)
                self._jitted[full] = _under(env, jax.jit(_scanned(fn) if scan else fn))
        return self._jitted[full]

    def ahead(self, name, key, build, *args, env=None, members=None):
        """Compile ``pure(build())`` scanned over batches for ``args``, ahead of time, in the background.

        The program is ``(state, fixed, stacked) -> (state, outs)`` (with ``members``:
        ``(state, active, fixed, stacked)``). Returns a future of the executable,
        cached on ``(name, key, env, placement)`` and the arguments' shapes, dtypes and
        shardings. Tracing runs here (brainstate's trace stacks are not thread-safe);
        only XLA's compilation, which releases the GIL, overlaps the caller's next work.
        """
        with brainstate.environ.context(**(env or {})):
            full = (name, key, members, environ_key(), self.placement.key, model_key(self.model), _abstract(args))
            if full not in self._ahead:
                fn = _scanned_all(self.pure(build()))
                lowered = jax.jit(fn if members is None else members.over(fn)).lower(*args)

                def compile_():
                    with counting(self.compiles, name):
                        return lowered.compile()

                self._ahead[full] = _COMPILER.submit(compile_)
        return self._ahead[full]


@dataclasses.dataclass(frozen=True)
class Members:
    """A program over K states stacked on a leading member axis: ``(state, active, *args)``.

    A member whose ``active`` flag is false keeps its state (``jnp.where`` inside
    the program): a stopped or diverged member freezes while the others go on.

    Parameters
    ----------
    in_axes : tuple
        The member axis of each argument after ``active`` (``0`` or ``None``).
    batch : int, optional
        ``None`` vmaps all members at once; ``b`` runs a ``jax.lax.map`` over
        chunks of ``b`` vmapped members, still one program (on a CPU, where K small
        batched matrix products cost no less than K separate ones, ``1`` is fastest).
    """

    in_axes: tuple
    batch: Optional[int] = None

    def over(self, fn):
        def step(state, active, *args):
            new, out = fn(state, *args)
            return jax.tree.map(lambda n, o: jnp.where(active, n, o), new, state), out

        return _over_members(step, (0, 0, *self.in_axes), self.batch)


def _over_members(fn, in_axes, member_batch):
    if member_batch is None:
        return jax.vmap(fn, in_axes=in_axes)
    mapped = [i for i, axis in enumerate(in_axes) if axis == 0]

    def each(*args):
        def one(xs):
            full = list(args)
            for i, x in zip(mapped, xs):
                full[i] = x
            return fn(*full)

        return jax.lax.map(one, tuple(args[i] for i in mapped), batch_size=member_batch)

    return each


def _under(env, fn):
    """``fn`` called under the ``brainstate.environ`` settings it was traced with."""
    if not env:
        return fn

    def call(*args):
        with brainstate.environ.context(**env):
            return fn(*args)

    return call


def _scanned_all(fn):
    # (state, fixed_tuple, stacked_tuple): scan fn(state, *fixed, *stacked[i]) over i.
    def scanned(state, fixed, stacked):
        return jax.lax.scan(lambda s, xs: fn(s, *fixed, *xs), state, stacked)

    return scanned


def _scanned(fn):
    # (state, fixed_tuple, *stacked): scan fn(state, *fixed, *xs) over the stacked arguments.
    def scanned(state, fixed, *stacked):
        return jax.lax.scan(lambda s, xs: fn(s, *fixed, *xs), state, stacked)

    return scanned


def _readable(state):
    try:
        state.value
    except Exception:  # a state created inside an earlier trace holds no value
        return False
    return True


def _get(state, slot):
    group, key = slot
    if group == 'rng':
        return state.rng
    if group == 'opt':
        return state.opt[key]
    return getattr(state, group)[key]


def _state_of(slot, weights, opt):
    group, key = slot
    if group == 'rng':
        return brainstate.random.DEFAULT
    return weights[key] if group == 'params' else opt[key]


def _put(state, slots, values, carry_hidden=False):
    params, opt, rng, hidden = dict(state.params), list(state.opt), state.rng, dict(state.hidden)
    for (group, key), value in zip(slots, values):
        if group == 'params':
            params[key] = value
        elif group == 'opt':
            opt[key] = value
        elif group == 'rng':
            rng = value
        elif carry_hidden:
            hidden[key] = value
    return state._replace(params=params, opt=tuple(opt), rng=rng, hidden=hidden if carry_hidden else state.hidden)
