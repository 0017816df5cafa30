"""THE section-3b step, written once for the Fitter and the Trainer.

``make_train_step`` returns an uncompiled function; the caller runs it through
:class:`ValueLoop` (the Fitter, the Trainer's per-step mode) or scans it over
a stack of batches inside ``brainstate.transform.jit`` (the compiled epoch).
"""

import brainstate
import jax
import jax.numpy as jnp
import optax


def make_loss(model, compute_loss):
    """Wrap ``compute_loss(*args) -> (loss, aux)`` as the 3b loss closure.

    The loss is evaluated inside ``model.param_precompute()`` and
    ``model.reg_loss()`` is added, exactly as the seed's hand-written loop does.
    """

    def loss_closure(*args):
        with model.param_precompute():
            loss, aux = compute_loss(*args)
            return loss + model.reg_loss(), aux

    return loss_closure


def make_train_step(model, optimizer, weights, compute_loss, *, clip_norm=None, lr_per_step=False):
    """Build ``step(*args) -> (loss, aux)``: grad of the 3b loss, then ``optimizer.step``.

    Parameters
    ----------
    model : brainstate.nn.Module
        The model whose ``param_precompute`` / ``reg_loss`` wrap the loss.
    optimizer : braintools.optim.OptaxOptimizer
        Already registered with ``weights``.
    weights : dict
        ``model.states(ParamState)``.
    compute_loss : callable
        ``compute_loss(*args) -> (loss, aux)`` without regularisation.
    clip_norm : float, optional
        Clip the gradients to this global norm before the optimizer sees them.
    lr_per_step : bool, default False
        Advance the optimizer's learning-rate schedule after every step
        (otherwise the caller advances it once per epoch).
    """
    grad_fn = brainstate.transform.grad(
        make_loss(model, compute_loss), weights, has_aux=True, return_value=True
    )

    def step(*args):
        grads, loss, aux = grad_fn(*args)
        if clip_norm is not None:
            # optax's clip needs no optimizer state, so it stays out of the checkpoint.
            grads, _ = optax.clip_by_global_norm(clip_norm).update(grads, optax.EmptyState())
        optimizer.step(grads)
        if lr_per_step:
            step_schedule(optimizer)
        return loss, aux

    return step


class ValueLoop:
    """Run a stateful step over many batches with the states held as plain values.

    ``brainstate.transform.jit`` reads, re-abstracts and writes back every
    state on each call (hundreds of microseconds of host work, more than a
    small step computes). A loop over an epoch only needs the values in and
    out: we trace the step once with ``StatefulFunction``, compile it as a
    pure ``jax.jit`` function of the state values, and write the states back
    once, after the loop.
    """

    def __init__(self, fn):
        self._fn = brainstate.transform.StatefulFunction(fn)
        self._jitted = jax.jit(self._pure)

    def _pure(self, values, *args):
        new, out = self._fn.jaxpr_call(values, *args)
        # jaxpr_call returns None for a state it passes through (a Python list value).
        return [v if n is None else n for v, n in zip(values, new)], out

    def start(self, *args):
        """Trace the step for these argument shapes; return ``(states, their values)``."""
        states = self._fn.get_states(*args)
        return states, [s.value for s in states]

    def __call__(self, values, *args):
        """One step on plain values: ``(new_values, output)``; no state is touched."""
        return self._jitted(values, *args)

    def run(self, fixed, stream):
        """Call ``step(*fixed, x)`` for each ``x`` of ``stream``; return the outputs, on device."""
        outs, states, values = [], (), ()
        for x in stream:
            if not outs:
                states, values = self.start(*fixed, x)
            values, out = self(values, *fixed, x)
            outs.append(out)
        write_states(states, values)
        return outs


def write_states(states, values):
    """Assign ``values`` to ``states``, pairwise."""
    for state, value in zip(states, values):
        state.value = value


def register(optimizer, weights):
    """``optimizer.register_trainable_weights(weights)`` with every state canonicalised.

    Weights are canonicalised first, because the optimizer's moments copy
    their dtypes (a weak-typed bias gives weak-typed moments that turn strong
    after one step: a second compilation).
    """
    canonicalize_states(weights.values())
    optimizer.register_trainable_weights(weights)
    canonicalize_states(optimizer_states(optimizer))


def step_schedule(optimizer):
    """Advance the learning-rate schedule (on the host or inside a compiled step).

    A schedule may write a Python float (a weak type) where the last call left
    a float32 array; left as is, the next call would recompile.
    """
    optimizer.lr.step()
    canonicalize_states(optimizer_states(optimizer))


def optimizer_states(optimizer):
    """The optimizer's states, with its LR scheduler's (which hang off it, outside its graph)."""
    schedule = [v for v in vars(optimizer.lr).values() if isinstance(v, brainstate.State)]
    return [*brainstate.graph.states(optimizer).values(), *schedule]


def canonicalize_states(states):
    """Give every state a committed, strongly-typed value so the first call compiles once.

    A Python float in a state (a weak-typed scalar) is retraced as a strong
    array after the first update, which silently costs a second compilation.
    """
    for state in states:
        state.value = jax.tree.map(_strong, state.value)


def _strong(x):
    if isinstance(x, (bool, int, float)) or (hasattr(x, 'weak_type') and x.weak_type):
        return jnp.asarray(x, dtype=jnp.result_type(x))
    return x
