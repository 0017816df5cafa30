"""Online learning: braintrace's eligibility-trace gradients through the Trainer's one loop.

``Trainer(model, opt, gradient='online', online={'algorithm': 'es_d_rtrl', 'decay_or_rank': 0.9})``
compiles ``model`` with ``braintrace.compile`` at each fit (the batch size is
known then) and trains it with :class:`OnlineEngine`: the chunk engine of
truncated BPTT (:mod:`trainer.loop.chunked`) whose gradient is
``learner.etrace_grad`` instead of a backward pass. Memory does not grow with
the trial length: ES-D-RTRL (``'es_d_rtrl'``, ``'pp_prop'``) keeps O(B (I+O))
traces per layer, D-RTRL (``'d_rtrl'``) O(B |theta|). The model's hidden
states and braintrace's traces are carried in ``TrainState.hidden`` (reset at
each trial), so checkpoints, held-out passes, metrics and callbacks are the
Trainer's.

braintrace learns only the weights its ETP primitives route straight into a
hidden state: build the model from ``braintrace.nn`` layers, e.g. an
``LSTMCell`` or ``ValinaRNNCell`` read out by a ``LeakyRateReadout``. A model
of plain ``brainstate.nn`` layers is refused, and so (unless
``online={..., 'allow_untrained': True}``) is one with weights braintrace
0.2.6 gives a zero gradient: a ``braintrace.nn.Linear`` readout (no hidden
state of its own), a ``GRUCell``'s reset gate. ``model.reg_loss()`` is not
part of the online gradient.
"""

import brainstate
import jax.numpy as jnp

from ..core.chunks import chunk_slice
from ..objectives.reduce import call_with_mask
from .chunked import ChunkedEngine, make_chunk_step

__all__ = ['OnlineEngine', 'check_online']

_DEFAULT = {'algorithm': 'es_d_rtrl', 'decay_or_rank': 0.9}


def _braintrace():
    try:
        import braintrace
    except ImportError:
        raise ImportError("gradient='online' runs braintrace's online learning; install it with "
                          "`pip install braintrace`.") from None
    return braintrace


def check_online(model, online):
    """``online`` completed with the defaults; raise if braintrace is missing or ``model`` has no braintrace layer."""
    _braintrace()  # installed, or a clear ImportError now rather than at the first fit
    if online is not None and not isinstance(online, dict):
        raise TypeError(f"online must be a dict such as {_DEFAULT}, got {online!r}.")
    # The defaults are ES-D-RTRL's options; another algorithm brings its own.
    online = dict(online or {})
    if 'algorithm' not in online:
        online = {**_DEFAULT, **online}
    layers = [m for _, m in model.nodes(brainstate.nn.Module).items()
              if type(m).__module__.startswith('braintrace')]
    if not layers:
        raise ValueError(
            f"gradient='online' needs a model built from braintrace.nn layers (braintrace.nn.ValinaRNNCell, "
            f"GRUCell, LSTMCell, LeakyRateReadout, Linear...); {type(model).__name__} has none, so braintrace "
            "has no weight to learn online. Rebuild it from braintrace.nn, or use gradient='tbptt' or 'remat'.")
    return online


class OnlineEngine(ChunkedEngine):
    """The chunk engine with braintrace's online gradient (see the module docstring).

    Parameters
    ----------
    learner : trainer.loop.learner.Learner
    chunk : int or None
        ``None``: one optimizer step per batch of trials (traces over the whole
        trial); ``k``: one per chunk of ``k`` steps, state and traces carried.
    online : dict
        ``{'algorithm': name or class, **braintrace.compile options}``; ``'allow_untrained': True``
        trains a model some of whose weights braintrace gives no online gradient (they stay).
    """

    def __init__(self, learner, chunk, online):
        super().__init__(learner, chunk, name='online')
        self.online, self.compiled, self.requested = dict(online), None, chunk

    def prepare(self, plan, state=None):
        self.chunk = self.requested or plan.train.n_steps  # whole trials: this stage's length
        return super().prepare(plan, state)

    def key(self):
        return (id(self.compiled),)

    def ready(self, plan):
        """``braintrace.compile`` the model for this batch size (it makes the hidden states anew)."""
        braintrace = _braintrace()
        options = dict(self.online)
        algorithm, allow_untrained = options.pop('algorithm'), options.pop('allow_untrained', False)
        example = jnp.zeros((plan.batch_size, plan.train.n_features), plan.train.inputs.dtype)
        model = self.learner.model
        try:
            with brainstate.environ.context(dt=plan.train.dt):
                self.compiled = braintrace.compile(model, algorithm, example, batch_size=plan.batch_size, **options)
        except braintrace.CompilationError as error:
            raise ValueError(f"braintrace cannot learn {type(model).__name__} online ({error}); build its "
                             "recurrent weights from braintrace.nn layers.") from None
        learned = {tuple(r.path) for r in self.compiled.graph.hidden_param_op_relations}
        untrained = ['.'.join(map(str, k)) for k in self.learner.weights if tuple(k) not in learned]
        if untrained and not allow_untrained:
            raise ValueError(
                f"braintrace {braintrace.__version__} gives no online gradient to {untrained}: they reach no hidden "
                "state through their own operation (a Linear readout, a GRU's reset gate), and would stay at "
                "their initial values. Read out with braintrace.nn.LeakyRateReadout and use "
                "braintrace.nn.ValinaRNNCell or LSTMCell, or pass online={..., 'allow_untrained': True} to "
                "train the other weights only.")
        own = {id(s) for s in model.states().values()}
        names = _var_names(self.compiled.graph.hidden_param_op_relations)
        self.program.extra_hidden = {('online', *_stable(path, names)): s for path, s in self.compiled.states().items()
                                     if id(s) not in own}

    def carried(self, template):
        return {**template, **{k: s.value for k, s in self.program.extra_hidden.items()}}

    def build(self, k, n_chunks):
        learner, compiled, weights = self.learner, self.compiled, self.learner.weights
        objective, metrics = learner.objective, learner.metrics

        def grad_fn(data, idx, j):
            x, y, mask = (chunk_slice(data, idx, j, k)[n] for n in ('inputs', 'targets', 'mask'))
            per_trial = y.ndim == 1
            last = (j == n_chunks - 1)
            steps = jnp.arange(k)
            if per_trial:  # one label per trial: its loss sits at the trial's last step
                w = jnp.where(last & (steps == k - 1), 1.0, 0.0)
            else:
                counts = jnp.full((k,), x.shape[0], jnp.float32) if mask is None else jnp.sum(mask, axis=0)
                w = counts / jnp.maximum(jnp.sum(counts), 1.0)

            def step_loss(x_t, y_t, m_t, w_t):
                p = compiled(x_t)
                target = y if per_trial else y_t[:, None]
                return _call(objective, p[:, None], target, None if mask is None else m_t[:, None]) * w_t, p

            seqs = (jnp.swapaxes(x, 0, 1), jnp.zeros(k) if per_trial else jnp.swapaxes(y, 0, 1),
                    jnp.ones(x.shape[1::-1]) if mask is None else jnp.swapaxes(mask, 0, 1), w)
            grads, _, preds = compiled.etrace_grad(*seqs, step_fn=step_loss, weights=weights, reduction='sum',
                                                   has_aux=True, return_value=True, loss_output='scalar')
            prediction = jnp.swapaxes(preds, 0, 1)
            # Reported like the other gradients: the chunk's objective and metrics on its predictions.
            loss = _call(objective, prediction, y, mask)
            values = {name: _call(m, prediction, y, mask) for name, m in metrics.items()}
            count = jnp.asarray(x.shape[0], jnp.float32) if mask is None else jnp.sum(mask)
            if per_trial:
                on = last.astype(jnp.float32)
                loss, values, count = loss * on, {n: v * on for n, v in values.items()}, count * on
            return grads, loss, (values, count)

        return make_chunk_step(learner, k, n_chunks, grad_fn=grad_fn)


def _call(fn, prediction, target, mask):
    return call_with_mask(fn, prediction, target, mask, 'objective')


def _var_names(relations):
    """``{id: weight name}`` of the jaxpr variables braintrace keys its traces by (ids change per process)."""
    names = {}
    for r in sorted(relations, key=lambda r: r.path):
        name = '.'.join(map(str, r.path))
        names.setdefault(id(r.x_var), name)
        names[id(r.y_var)] = name
    return names


def _stable(path, names):
    """``path`` with each object id replaced by its weight's name: a key that a checkpoint finds again."""
    out = []
    for part in path:
        if isinstance(part, tuple):
            out.extend(_stable(part, names))
        elif isinstance(part, int) and not isinstance(part, bool) and part not in names and part < 2 ** 16:
            out.append(str(part))  # an index (a hidden group's), not an object id
        elif isinstance(part, int) and not isinstance(part, bool):
            if part not in names:
                raise ValueError(f"braintrace state {path!r} is keyed by an object this engine cannot name; "
                                 "its checkpoints could not be resumed.")
            out.append(names[part])
        else:
            out.append(str(part))
    return tuple(out)
