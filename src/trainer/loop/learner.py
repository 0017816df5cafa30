"""One model with its optimizer, objective, forward and metrics: the steps a fit compiles.

A :class:`Learner` is what a front door hands the loop: it validates its
arguments once, registers the optimizer, owns the model's
:class:`~trainer.core.program.Program`, builds the uncompiled train and
held-out steps, and checks a dataset against the model from shapes before
anything compiles. The Trainer holds one; an Ensemble holds its lead
member's (the one traced for all K), so every check runs once.
"""

import brainstate
import jax

from ..core import checks
from ..core.data import eval_indices, to_device
from ..core.forward import rollout
from ..core.placement import Placement
from ..core.program import Program, environ_key
from ..core.state import batch_template, hidden_states, load_template, strong
from ..core.step import make_loss, make_train_step, register
from ..objectives.compose import accepts_mask
from ..objectives.penalties import bind as bind_regularizers
from ..objectives.reduce import refuse_score
from ..objectives.scores import as_sums, grouped_names, make_score, mean_of, resolve_metrics

__all__ = ['Learner', 'TRAINING', 'EVALUATING']

# brainstate's convention (brainstate.nn.Dropout reads it): noise and other stochastic
# layers are on in training steps and off in held-out passes and predictions.
TRAINING, EVALUATING = {'fit': True}, {'fit': False}


class Learner:
    """The compiled-step recipe of one model (see the module docstring).

    Parameters
    ----------
    model, optimizer, objective, forward, metrics, grad_clip_norm, lr_schedule
        As for :class:`trainer.Trainer`.
    placement : trainer.core.placement.Placement, optional
        Where the state and the data live.
    who : str
        The front door's name, for error messages (``'Trainer'``, ``'Ensemble'``).
    """

    def __init__(self, model, optimizer, *, objective, forward=None, metrics=None, grad_clip_norm=None,
                 lr_schedule='epoch', placement=None, who='Trainer', regularizers=None):
        self.who = who
        self.set_objective(objective)
        if forward is not None and not callable(forward):
            raise TypeError(f"forward must be callable(model, inputs) -> prediction, got {forward!r}.")
        if lr_schedule not in ('epoch', 'step'):
            raise ValueError(f"lr_schedule must be 'epoch' or 'step', got {lr_schedule!r}.")
        if grad_clip_norm is not None:
            grad_clip_norm = checks.positive_float(
                'grad_clip_norm', grad_clip_norm, fix='Pass e.g. 1.0, or None for no clipping.')
        self.model, self.optimizer = model, checks.optax_optimizer(optimizer)
        self.forward, self.metrics = forward or rollout, resolve_metrics(metrics)
        self.grad_clip_norm, self.lr_schedule = grad_clip_norm, lr_schedule
        self.penalty = bind_regularizers(model, regularizers, self.forward)
        if set(self.penalty.names) & set(self.metrics):
            raise ValueError(f"regularizers and metrics share the name "
                             f"{sorted(set(self.penalty.names) & set(self.metrics))[0]!r}; rename one.")
        self.weights = model.states(brainstate.ParamState)
        checks.has_trainable(self.weights, who)
        checks.unshared(self.optimizer, self.weights)
        register(self.optimizer, self.weights)
        self.placement = placement or Placement(None)
        self.program = Program.of(model, self.optimizer, self.placement)
        self.last_batch_size = None
        self._shapes, self._templates = {}, {}

    def set_objective(self, objective):
        """Check and use ``objective`` (it is part of every program's key: the next fit retraces)."""
        self.objective = refuse_score(checks.objective_callable(objective, 'objective'), self.who)

    @property
    def names(self):
        """``'loss'``, the metric names and the regularisation terms, in the order history rows show them."""
        return ('loss', *self.metrics, *self.penalty.names)

    def names_for(self, groups=None):
        """:attr:`names`, then with trial ``groups`` (a mixture's tasks) each group's loss and metrics and the worst group's."""
        return self.names if not groups else (*self.names, *grouped_names(('loss', *self.metrics), groups))

    # -- the steps (uncompiled) ------------------------------------------------
    def key(self):
        """Everything the steps' traces close over besides their arguments and ``brainstate.environ``."""
        return (self.objective, self.forward, tuple(self.metrics.items()), self.grad_clip_norm,
                self.lr_schedule, self.placement.key, self.penalty.key)

    def _score(self, fit, sampler=None, groups=None):
        # fit: noise and dropout on in training steps, off in held-out passes (inside the trace).
        return make_score(self.model, self.forward, self.objective, self.metrics, penalty=self.penalty, fit=fit,
                          batch=sampler, groups=groups)

    def train_step(self, sampler=None, groups=None):
        """``batch(data, idx, advance) -> (sums, finite)``: the 3b step on the trials at ``idx``.

        ``sampler(data, idx) -> batch`` (a stream's, traced in the step) replaces the gather of
        stored trials; ``groups`` adds each group's sums (see :func:`make_score`).
        """
        score = self._score(fit=True, sampler=sampler, groups=groups)
        step = make_train_step(self.model, self.optimizer, self.weights,
                               lambda data, idx: score(data, idx, None),
                               clip_norm=self.grad_clip_norm, schedule=self.lr_schedule)

        def batch(data, idx, advance):
            loss, (values, count), finite = step(data, idx, advance)
            return as_sums(loss, values, count), finite

        return batch

    def eval_step(self, groups=None):
        """``batch(data, idx, weight) -> sums``: the loss (with ``reg_loss``) and metrics of one padded batch."""
        loss_of = make_loss(self.model, self._score(fit=False, groups=groups))

        def batch(data, idx, weight):
            loss, (values, count) = loss_of(data, idx, weight)
            return as_sums(loss, values, count)

        return batch

    # -- the compiled programs ----------------------------------------------------
    def train_program(self, ds, compile_epoch, members=None, build=None, source=None, batch_size=None):
        """The compiled train step (or scanned epoch) for ``ds``'s ``dt``, in training mode.

        ``source`` (:mod:`trainer.loop.sources`) gives the step its sampler and groups; ``build``
        (an ensemble's) already closes over them.
        """
        feed = None if source is None else source.program_key(batch_size)
        if build is None and source is not None:
            sampler, groups = source.sampler(batch_size), source.groups
            build = _Build(lambda: self.train_step(sampler, groups), feed)
        return self.program.jit('train', (compile_epoch, build, feed, *self.key()), build or self.train_step,
                                env={'dt': ds.dt, **TRAINING}, scan=compile_epoch, members=members)

    def evaluator(self, ds, batch_size, state, members=None, groups=None):
        """``evaluate(state[, active]) -> (state, sums)`` over ``ds``, compiled ahead now (in the background).

        Sums come back on the host, ``(n_batches, ...)`` per name (with members,
        ``(K, n_batches)``).
        """
        data = to_device(ds, self.placement)
        idx, weights = self.placement.batched(jax.device_put(eval_indices(len(ds), batch_size)), axis=1)
        lead = () if members is None else (jax.device_put(jax.numpy.ones(state_members(state), bool)),)
        args = (state, *lead, (data,), (idx, weights))
        future = self.program.ahead('eval', (groups, *self.key()), lambda: self.eval_step(groups), *args,
                                    env={'dt': ds.dt, **EVALUATING}, members=members)

        def evaluate(state, *active):
            with brainstate.environ.context(dt=ds.dt, **EVALUATING):
                state, sums = future.result()(state, *active, (data,), (idx, weights))
            return state, Placement.to_host(sums)

        return evaluate

    def evaluate(self, state, ds, batch_size):
        """``(state, {name: mean})`` of the model held in ``state`` on ``ds``."""
        state, sums = self.evaluator(ds, batch_size, state)(state)
        return state, mean_of(sums, axis=0)

    # -- hidden-state templates and checks before anything compiles --------------------
    def template(self, ds, batch_size):
        """The hidden-state template for ``batch_size`` under ``ds.dt``, loaded into the model.

        Built once per (batch size, dt) with ``init_all_states`` (eager work), then reused;
        the states ``init_all_states`` leaves alone (fixed ones) are read from the model
        at each call, so a fit or evaluation sees their current values.
        """
        with brainstate.environ.context(dt=ds.dt):
            key = (batch_size, environ_key())
            if key not in self._templates:
                self._templates[key] = batch_template(self.model, batch_size, with_fixed=True)
            template, fixed = self._templates[key]
            if fixed:  # their current values, not those of the first fit
                states = hidden_states(self.model)
                template = {**template, **{k: strong(states[k].value) for k in fixed}}
            load_template(self.model, template)  # a first trace sees these shapes
        return template

    def check_plan(self, plan):
        """Check a plan's training and held-out sets (see :meth:`check_data`); remember its batch size."""
        self.check_data(plan.train, plan.batch_size, padded=False, name='train')
        if plan.held_out is not None:
            self.check_data(plan.held_out, plan.batch_size, padded=True, name='held-out')
        self.last_batch_size = plan.batch_size

    def check_data(self, ds, batch_size, *, padded, name='train'):
        """Raise, naming ``name``, if ``ds`` does not fit the model, the objective or the metrics."""
        callables = {'objective': self.objective, **{f'metric {k!r}': m for k, m in self.metrics.items()}}
        for what, fn in callables.items():
            if accepts_mask(fn):
                continue
            if ds.mask is not None:
                raise ValueError(
                    f"the {name} set has a loss mask but the {what} takes no mask argument; "
                    "give it a third parameter `mask=None` (trainer.objectives all take one).")
            if padded and len(ds) % batch_size:
                raise ValueError(
                    f"{len(ds)} trials do not fill batches of {batch_size}: the padded last "
                    f"batch needs a mask, and the {what} takes none. Give it a `mask=None` "
                    "parameter, or choose a batch_size that divides the dataset.")
        expected = getattr(self.model, 'n_input', None)
        if expected is not None and expected != ds.n_features:
            raise ValueError(
                f"the {name} set's inputs have {ds.n_features} features per step but the model "
                f"expects {expected} (model.n_input); build the model with n_input={ds.n_features}.")
        checks.output_width(self._output_shape(ds, batch_size), ds)

    def _output_shape(self, ds, batch_size):
        """The forward's output shape on one abstract batch (the model holds the template).

        Cached per forward, input shape and ``dt``: an evaluation loop traces it once.
        """
        inputs = jax.ShapeDtypeStruct((batch_size, ds.n_steps, ds.n_features), ds.inputs.dtype)
        with brainstate.environ.context(dt=ds.dt):
            key = (self.forward, inputs.shape, inputs.dtype, environ_key())
        if key not in self._shapes:
            self._shapes[key] = self._trace_output_shape(ds, inputs)
        return self._shapes[key]

    def _trace_output_shape(self, ds, inputs):
        try:
            with brainstate.environ.context(dt=ds.dt, **TRAINING):
                out = brainstate.transform.eval_shape(lambda x: self.forward(self.model, x), inputs)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"the model could not take a batch of inputs shaped (batch, n_steps, n_features) = "
                f"{inputs.shape}: {type(error).__name__}: {error} Build the model for "
                f"{ds.n_features} input features, or pass forward=callable(model, inputs) if it "
                "expects another layout.") from error
        if not hasattr(out, 'shape'):
            raise TypeError(f"forward must return one array (batch, n_steps, n_outputs) or "
                            f"(batch, n_outputs), got {type(out).__name__}: {out!r:.80}; return "
                            "only the prediction (record other values with trainer.predict).")
        return out.shape


class _Build:
    """A step builder keyed by what it feeds on (two fits of one stream share their program)."""

    def __init__(self, build, key):
        self.build, self.key = build, key

    def __call__(self):
        return self.build()

    def __eq__(self, other):
        return isinstance(other, _Build) and other.key == self.key

    def __hash__(self):
        return hash(self.key)


def state_members(state):
    """The member count of a stacked ``TrainState`` (the leading axis of its parameters)."""
    return jax.tree.leaves(state.params)[0].shape[0]
