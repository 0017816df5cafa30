"""THE section-3b step, written once for the Fitter and the Trainer.

``make_train_step`` returns a stateful, uncompiled function; the
:class:`~trainer.core.program.Program` turns it into a pure function of the
``TrainState`` and compiles it (one step at a time, or scanned over an epoch).
"""

import brainstate
import jax
import jax.extend.core
import jax.numpy as jnp
import optax

from .state import strong


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


def make_train_step(model, optimizer, weights, compute_loss, *, clip_norm=None, schedule=None, grad_fn=None):
    """Build ``step(*args, advance) -> (loss, aux, finite)``: grad of the 3b loss, then ``optimizer.step``.

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
    schedule : {None, 'step', 'epoch'}
        ``'step'`` advances the LR schedule after every step; ``'epoch'`` when
        the step's last argument ``advance`` is true (the last step of an
        epoch); ``None`` never.
    grad_fn : callable, optional
        ``grad_fn(*args) -> (grads, loss, aux)`` in place of the BPTT gradient
        of ``compute_loss`` (braintrace's online gradient, say).

    The returned ``finite`` is false when the loss or any updated parameter is
    NaN or infinite (``lr=nan``, an exploding update): the caller stops there.
    """
    grad_fn = grad_fn or brainstate.transform.grad(
        make_loss(model, compute_loss), weights, has_aux=True, return_value=True
    )

    def step(*args):
        *args, advance = args
        grads, loss, aux = grad_fn(*args)
        if clip_norm is not None:
            # optax's clip needs no optimizer state, so it stays out of the checkpoint.
            grads, _ = optax.clip_by_global_norm(clip_norm).update(grads, optax.EmptyState())
        optimizer.step(grads)
        if schedule == 'step':
            step_schedule(optimizer)
        elif schedule == 'epoch':
            step_schedule(optimizer, when=advance)
        finite = jnp.isfinite(loss) & all_finite({k: w.value for k, w in weights.items()})
        return loss, aux, finite

    return step


def all_finite(tree):
    """Whether every floating leaf of ``tree`` is finite (one reduction per leaf)."""
    checks = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
              if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
    return jnp.all(jnp.stack(checks)) if checks else jnp.asarray(True)


def optimizer_states(optimizer):
    """The optimizer's states, with its LR scheduler's (which hang off it, outside its graph)."""
    schedule = [v for v in vars(optimizer.lr).values() if isinstance(v, brainstate.State)]
    return [*brainstate.graph.states(optimizer).values(), *schedule]


def register(optimizer, weights):
    """``optimizer.register_trainable_weights(weights)`` with every state canonicalised.

    Weights are canonicalised first, because the optimizer's moments copy
    their dtypes (a weak-typed bias gives weak-typed moments that turn strong
    after one step: a second compilation).
    """
    for state in weights.values():
        state.value = strong(state.value)
    tx = getattr(optimizer, 'tx', None)
    if not isinstance(tx, optax.GradientTransformation):
        optimizer.register_trainable_weights(weights)
        return
    # optax's init builds each moment with an eager zeros_like: one XLA compilation per weight shape
    # (~15 ms each on a CPU, 12 for a GRU's Adam). Compiled whole it is one compilation, same values.
    optimizer.tx = tx._replace(init=_compiled_init(tx.init))
    try:
        optimizer.register_trainable_weights(weights)
    finally:
        optimizer.tx = tx


_INITS = {}  # the program text of an optimizer init -> its compiled program (one per structure, any optimizer)


def _compiled_init(init):
    """``init`` run as one compiled program, shared by every optimizer whose init traces to the same program.

    Keyed on the traced program's text (shapes, dtypes and operations), so the
    tenth Trainer of the same shapes reuses the first one's compilation as
    eager ops would; an init with captured constants is compiled on its own.
    """

    def run(params):
        closed, out_shape = jax.make_jaxpr(init, return_shape=True)(params)
        if closed.consts:
            return jax.jit(init)(params)
        key = str(closed)
        if key not in _INITS:
            _INITS[key] = jax.jit(jax.extend.core.jaxpr_as_fun(closed))
        return jax.tree.unflatten(jax.tree.structure(out_shape), _INITS[key](*jax.tree.leaves(params)))

    return run


def step_schedule(optimizer, when=True):
    """Advance the learning-rate schedule (inside a traced step), where ``when`` holds.

    A schedule may write a Python float (a weak type) where the last call left
    a float32 array; left as is, the next call would recompile.
    """
    states = optimizer_states(optimizer)
    before = [s.value for s in states]
    optimizer.lr.step()
    for state, old in zip(states, before):
        new = strong(state.value)
        state.value = jax.tree.map(lambda n, o: jnp.where(when, n, o).astype(jnp.result_type(n)), new, old) \
            if when is not True else new
