"""Every ``braintools.cogtask`` task, materialised once into batch-major numpy arrays."""

import collections
import contextlib
import contextvars
import functools
import inspect
import numbers

import brainunit as u
import numpy as np

from ._checks import as_dt, check_index_int, check_positive_int, dt_ms
from ._io import from_arrays
from ._registry import register_dataset

__all__ = ['from_cogtask']

# Set by shapes_only(): generate nothing, return placeholders of the trials' shapes and dtypes.
_SHAPES_ONLY = contextvars.ContextVar('shapes_only', default=False)


@contextlib.contextmanager
def shapes_only():
    """Within it, ``from_cogtask`` returns zero trials of the right shapes and dtypes.

    The task's parameters are checked and its trial function traced (so a
    bad value still raises), but nothing is compiled: a ``Curriculum``
    checks its stages in ~0.1 s each instead of ~0.7 s. Values are zeros
    and masks ones: use the result for its shapes only.
    """
    token = _SHAPES_ONLY.set(True)
    try:
        yield
    finally:
        _SHAPES_ONLY.reset(token)

# name -> (cogtask class, default dt in ms chosen for ~100-200 steps, extra response phases, what)
_TASKS = {
    'anti_reach': ('AntiReach', 20.0, (), 'Pro/anti reach: respond at, or opposite to, a cued location.'),
    'context_decision_making': ('ContextDecisionMaking', 10.0, (), 'Context-dependent decision: a cue says which of two noisy modalities to report.'),
    'delay_comparison': ('DelayComparison', 20.0, (), 'Delayed comparison (Romo): is the test value greater than the remembered sample?'),
    'delay_direction_classification': ('DelayDirectionClassification', 20.0, (), 'Classify a remembered direction into one of two half-circle categories.'),
    'delay_direction_reproduction': ('DelayDirectionReproduction', 20.0, (), 'Reproduce a remembered direction as (cos, sin) after a delay (regression).'),
    'delay_match_category': ('DelayMatchCategory', 20.0, (), 'Delayed match-to-category: does the test share the sample\'s category?'),
    'delay_match_sample': ('DelayMatchSample', 20.0, (), 'Delayed match-to-sample: does the test stimulus equal the remembered sample?'),
    'delay_paired_association': ('DelayPairedAssociation', 20.0, (), 'Delayed paired association: report the associate of a remembered item.'),
    'dual_delay_match_sample': ('DualDelayMatchSample', 20.0, (), 'Dual delayed match-to-sample: which of two remembered samples does the test match?'),
    'evidence_accumulation': ('EvidenceAccumulation', 20.0, (), 'Accumulate noisy population evidence, then report its direction.'),
    'go_no_go': ('GoNoGo', 20.0, (), 'Go/no-go: respond after a go cue, withhold after a no-go cue.'),
    'hierarchical_reasoning': ('HierarchicalReasoning', 10.0, (), 'A cued rule and a short/long delay decide toward or away from a flash.'),
    'immediate_direction_classification': ('ImmediateDirectionClassification', 5.0, (), 'Classify a shown direction into one of two half-circle categories.'),
    'immediate_direction_reproduction': ('ImmediateDirectionReproduction', 5.0, (), 'Report a shown direction as (cos, sin) (regression).'),
    'interval_discrimination': ('IntervalDiscrimination', 20.0, (), 'Interval discrimination: which of two timed intervals was longer?'),
    'perceptual_decision_making': ('PerceptualDecisionMaking', 20.0, (), 'Two-choice motion discrimination: report the direction of noisy evidence.'),
    'perceptual_decision_making_delay_response': ('PerceptualDecisionMakingDelayResponse', 20.0, (), 'Perceptual decision reported after a delay.'),
    'post_decision_wager': ('PostDecisionWager', 20.0, (), 'Perceptual decision, then a high/low confidence wager.'),
    'probabilistic_reasoning': ('ProbabilisticReasoning', 20.0, (), 'Sum the log-likelihood ratios of eight shapes, report the likelier choice.'),
    'pulse_decision_making': ('PulseDecisionMaking', 20.0, (), 'Report the sign of the summed evidence of seven pulses.'),
    'reaching_1d': ('Reaching1D', 20.0, (), 'Reach to a remembered target location after a delay.'),
    'ready_set_go': ('ReadySetGo', 20.0, ('production',), 'Ready-set-go: reproduce a measured interval (hold, then go).'),
    'single_context_decision_making': ('SingleContextDecisionMaking', 10.0, (), 'Two noisy modalities, always report the first.'),
}

_MASKS = ('response', 'valid')
# Task arguments that from_cogtask itself sets; a user must not pass them through.
_RESERVED = {'phases', 'input_features', 'output_features', 'trial_init', 'name',
             'output_mode', 'seed', 'num_classes', 'dt'}
_RESPONSE_KEY = '_datasets_response_steps'
# Context entries that are cogtask's bookkeeping, not a trial condition.
_NOT_CONDITIONS = {'trial_index', 'output_mode'}
# Trials per compiled call: a fixed size, so one compilation serves every n_trials and seed.
_CHUNK = 128
# XLA's lowest level compiles a cogtask generator ~2x faster (~1 s, not ~2-3 s) and runs it
# ~2-8x slower (<0.5 ms a trial); compiling dominates below ~10k trials. Floats may then
# differ from cogtask's own batch_sample in the last bit (labels do not).
_COMPILER_OPTIONS = {'xla_backend_optimization_level': 0}
_CACHE_SIZE = 32
# (task class, dt, params, response phases) -> jitted chunk generator.
_GENERATORS = collections.OrderedDict()


def _mark_response(on_enter, ctx):
    """Run the phase's own hook, then record this phase's steps as response steps."""
    import jax.numpy as jnp
    on_enter(ctx)
    steps = jnp.arange(ctx.inputs.shape[0])
    inside = (steps >= ctx.phase_start) & (steps < ctx.phase_end)
    ctx[_RESPONSE_KEY] = ctx.get(_RESPONSE_KEY, jnp.zeros_like(inside)) | inside


def _response_leaves(phase, names, response_cls):
    children = phase.children()
    if not children and (isinstance(phase, response_cls) or phase.name in names):
        yield phase
    for child in children:
        yield from _response_leaves(child, names, response_cls)


def _valid_params(task_cls, task_base):
    """Parameters a cogtask class takes: its named __init__ arguments and public class attributes.

    cogtask's Task.__init__ stores any other keyword as an attribute, so a typo would pass silently.
    """
    signature = inspect.signature(task_cls.__init__)
    named = {name for name, p in signature.parameters.items()
             if name != 'self' and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    attributes = {name for klass in task_cls.__mro__ if issubclass(klass, task_base)
                  and klass is not task_base for name, value in vars(klass).items()
                  if not name.startswith('_') and not callable(value)
                  and not isinstance(value, property)}
    return (named | attributes) - _RESERVED


def _is_time(value):
    return isinstance(value, u.Quantity) and u.get_dim(value) == u.get_dim(u.ms)


def _leaves(value):
    """A duration or a ``(low, high)`` range of them, as a list."""
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _check_task_params(task_cls, task_params):
    """Check durations and numbers against the task's defaults: cogtask fails deep in a trace.

    A duration given as a bare number, in another unit, or negative fails inside the compiled
    trial (saiunit: "only dimensionless scalar quantities ...") or silently shortens the trial.
    """
    defaults = {name: p.default for name, p in inspect.signature(task_cls.__init__).parameters.items()
                if p.default is not inspect.Parameter.empty}
    for name, value in task_params.items():
        default = defaults.get(name)
        if default is not None and all(_is_time(d) for d in _leaves(default)):
            if not all(_is_time(v) for v in _leaves(value)):
                raise TypeError(
                    f'{name} is a duration: it must be a brainunit time Quantity like its default '
                    f'{default!r}, e.g. {name}=500 * brainunit.ms; got {value!r}.'
                )
            ms = np.concatenate([np.ravel(v.to_decimal(u.ms)) for v in _leaves(value)])
            if not (np.all(np.isfinite(ms)) and np.all(ms >= 0)):
                raise ValueError(f'{name} must be a finite duration >= 0 ms, got {value!r}.')
        elif isinstance(default, numbers.Real) and not isinstance(default, bool):
            if isinstance(value, (bool, str)) or not (isinstance(value, numbers.Real)
                                                      or np.ndim(value) == 0 and hasattr(value, 'dtype')):
                raise TypeError(
                    f'{name} must be a number like its default {default!r}, got {value!r}.'
                )


def _freeze(value):
    """A hashable stand-in for a task parameter, for the generator cache key."""
    if hasattr(value, 'mantissa') and hasattr(value, 'unit'):
        return ('quantity', _freeze(np.asarray(value.mantissa)), str(value.unit))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if hasattr(value, 'shape') and hasattr(value, 'dtype'):
        array = np.asarray(value)
        return ('array', str(array.dtype), array.shape, array.tobytes())
    hash(value)
    return value


def _trial_conditions(state):
    """The scalar trial variables a task drew into its context (coherence, ground_truth, ...).

    Vector-valued ones (a reproduction target, seven pulses) are left out: a
    condition is one value per trial.
    """
    import brainunit as u
    import jax
    import jax.numpy as jnp
    out = {}
    for key, value in state.items():
        if key.startswith('_') or key in _NOT_CONDITIONS:
            continue
        if isinstance(value, u.Quantity):
            value = value.mantissa
        if isinstance(value, (bool, int, float, np.number, jax.Array)) and jnp.ndim(value) == 0:
            out[key] = jnp.asarray(value)
    return out


def trial_function(task_cls, dt, params, response_phases):
    """``(task, one_trial)``: ``one_trial(index, key) -> (inputs, targets, valid, response, conditions)``.

    A pure JAX function of one trial (time-major arrays), traceable under
    ``jit`` and ``vmap``; ``key`` is the trial's own PRNG key.
    """
    from braintools import cogtask

    task = task_cls(dt=dt, **params)
    leaves = list(_response_leaves(task.phases, set(response_phases), cogtask.Response))
    if not leaves:
        raise ValueError(
            f'{task_cls.__name__} has no response phase (a cogtask Response, or one named in '
            f'response_phases={tuple(response_phases)!r}); name the phase(s) the loss should score.'
        )
    for phase in leaves:
        # cogtask keeps no record of where a variable-length trial's response fell; this hook does.
        phase.on_enter = functools.partial(_mark_response, phase.on_enter)

    def one_trial(index, key):
        import jax.numpy as jnp
        inputs, targets, info = task.sample_trial(index, key=key)
        valid = jnp.ones(inputs.shape[0], bool) if info['mask'] is None else info['mask']
        state = info['trial_state']
        return inputs, targets, valid, state[_RESPONSE_KEY], _trial_conditions(state)

    return task, one_trial


def _build_generator(task_cls, dt, params, response_phases):
    import jax
    import jax.numpy as jnp

    _, trial = trial_function(task_cls, dt, params, response_phases)

    def one_trial(index, root_key):
        # The per-trial key cogtask's own batch_sample derives, passed in so one compile serves every seed.
        return trial(index, jax.random.fold_in(root_key, jnp.asarray(index, dtype=jnp.uint32)))

    offsets = jnp.arange(_CHUNK, dtype=jnp.int32)

    def chunk(root_key, start):
        return jax.vmap(one_trial, in_axes=(0, None))(start + offsets, root_key)

    return jax.jit(chunk, compiler_options=_COMPILER_OPTIONS)


def _generator(task_cls, dt, params, response_phases):
    try:
        key = (task_cls, dt_ms(dt), _freeze(sorted(params.items())), tuple(response_phases))
    except TypeError:  # an unhashable parameter: build afresh, uncached
        return _build_generator(task_cls, dt, params, response_phases)
    if key not in _GENERATORS:
        _GENERATORS[key] = _build_generator(task_cls, dt, params, response_phases)
        if len(_GENERATORS) > _CACHE_SIZE:
            _GENERATORS.popitem(last=False)
    _GENERATORS.move_to_end(key)
    return _GENERATORS[key]


def check_task(task, *, dt, mask, response_phases, task_params):
    """Check ``from_cogtask``'s arguments (a cogtask class, its parameters); return ``dt`` as a Quantity."""
    from braintools import cogtask
    if not (isinstance(task, type) and issubclass(task, cogtask.Task)):
        raise TypeError(
            f'task must be a braintools.cogtask.Task subclass (e.g. cogtask.GoNoGo), got {task!r}.'
        )
    if mask not in _MASKS:
        raise ValueError(f'mask must be one of {_MASKS}, got {mask!r}.')
    if isinstance(response_phases, str) or not all(isinstance(p, str) for p in response_phases):
        raise TypeError(
            f'response_phases must be a tuple of phase names, got {response_phases!r}; '
            f"write ('production',) for one name."
        )
    valid_params = _valid_params(task, cogtask.Task)
    unknown = sorted(set(task_params) - valid_params)
    if unknown:
        raise TypeError(
            f'{task.__name__} takes no parameter(s) {unknown}; valid task parameters are '
            f'{sorted(valid_params)}.'
        )
    _check_task_params(task, task_params)
    return as_dt(dt)


def from_cogtask(task, *, n_trials=1024, seed=0, dt, mask='response', response_phases=(),
                 name='', description='', **task_params):
    """Materialise a ``braintools.cogtask`` task into a :class:`TaskDataset`.

    Trials are generated by one compiled function in fixed-size chunks
    (cogtask's ``batch_sample`` recompiles per batch size and per seed) and
    returned batch-major as numpy (cogtask's are time-major JAX arrays).
    Trial ``i`` uses cogtask's key ``fold_in(PRNGKey(seed), i)``, so the
    arrays equal ``task(dt=dt, seed=seed, **task_params).batch_sample(
    n_trials, time_first=False)``: labels and masks exactly, inputs to
    float32 rounding (~1e-7; see ``_COMPILER_OPTIONS``). The compiled
    function is cached per (task, dt, parameters), so another seed or
    ``n_trials`` costs no compilation.

    Parameters
    ----------
    task : type
        A ``braintools.cogtask.Task`` subclass, e.g. ``cogtask.GoNoGo``.
    n_trials : int, optional
        Number of trials (default 1024).
    seed : int, optional
        Seed of the trials (default 0).
    dt : float or brainunit.Quantity
        The time step (a float is ms). cogtask trials last 0.8-3.8 s, so a
        coarse step (10-20 ms) keeps a trial to ~100-200 steps.
    mask : {'response', 'valid'}, optional
        ``'response'``: 1 on the steps of the response phase(s) only (the
        loss scores the answer); ``'valid'``: 1 on every real step of the
        trial (0 on the padding of variable-length tasks).
    response_phases : tuple of str, optional
        Names of leaf phases that count as response besides cogtask
        ``Response`` phases (``ReadySetGo`` needs ``('production',)``).
    name, description : str, optional
        Recorded on the dataset.
    **task_params
        Arguments of the task class, e.g. ``t_stimulus=1000 * u.ms``;
        unknown names raise instead of being silently stored.

    Returns
    -------
    TaskDataset
        Per-step labels (or values, for the reproduction tasks) and the mask;
        ``conditions`` holds every scalar trial variable the task drew
        (``coherence``, ``ground_truth``, ``rule``, ``sample_idx``, ...).
        ``n_classes`` counts the labels emitted, so with very few trials a
        rare class can be missing: generate enough and ``split`` them (the
        parts keep the parent's ``n_classes``).

    Examples
    --------
    >>> import datasets
    >>> from braintools import cogtask
    >>> ds = datasets.from_cogtask(cogtask.GoNoGo, n_trials=8, dt=20.0, seed=0)
    >>> ds.inputs.shape, ds.targets.shape, ds.n_classes
    ((8, 100, 3), (8, 100), 2)
    >>> sorted(ds.conditions)
    ['ground_truth', 'ground_truth_label', 'is_go', 'stimulus_class']
    """
    n_trials = check_positive_int('n_trials', n_trials)
    seed = check_index_int('seed', seed)
    dt = check_task(task, dt=dt, mask=mask, response_phases=response_phases, task_params=task_params)
    import jax
    generate = _generator(task, dt, task_params, response_phases)
    root_key = jax.random.PRNGKey(seed)
    if _SHAPES_ONLY.get():
        # Masks true (an all-zero mask is refused), values zero.
        chunks = [jax.tree.map(lambda x: (np.ones if x.dtype == bool else np.zeros)(x.shape, x.dtype),
                               jax.eval_shape(generate, root_key, np.int32(0)))]
        n_trials = min(n_trials, _CHUNK)
    else:
        chunks = [jax.device_get(generate(root_key, np.int32(start)))
                  for start in range(0, n_trials, _CHUNK)]
    arrays = [np.concatenate(parts)[:n_trials] for parts in zip(*[c[:4] for c in chunks])]
    inputs, targets, valid, response = arrays
    conditions = {key: np.concatenate([c[4][key] for c in chunks])[:n_trials]
                  for key in chunks[0][4]}
    loss_mask = valid & response if mask == 'response' else valid
    return from_arrays(inputs, targets, loss_mask, dt=dt, seed=seed, name=name,
                       description=description or f'braintools.cogtask.{task.__name__}',
                       conditions=conditions)


def registry_names():
    """The registry names of the cogtask tasks, sorted."""
    return sorted(_TASKS)


# Label spaces a registered task emits but does not declare: cogtask's ReadySetGo labels its production
# steps 1 (hold) and 2 (go) besides fixation 0, yet declares num_classes from its 2 output features.
LABEL_SPACES = {'ready_set_go': 3}


def registry_entry(name):
    """``(task class, default dt in ms, response phases)`` of a registered cogtask name, else ``None``."""
    if name not in _TASKS:
        return None
    from braintools import cogtask
    class_name, default_dt, response_phases, _ = _TASKS[name]
    return getattr(cogtask, class_name), default_dt, response_phases


def _loader(name, class_name, default_dt, response_phases, what):
    def load(*, n_trials=1024, seed=0, dt=default_dt, mask='response', **task_params):
        from braintools import cogtask
        return from_cogtask(getattr(cogtask, class_name), n_trials=n_trials, seed=seed, dt=dt,
                            mask=mask, response_phases=response_phases, name=name,
                            description=f'{what} (cogtask.{class_name})', **task_params)

    load.__name__ = load.__qualname__ = name
    load.__doc__ = (
        f'{what}\n\nLoads ``braintools.cogtask.{class_name}`` through :func:`from_cogtask`, '
        f'with ``dt={default_dt:g}`` ms by default; keyword arguments as there.'
    )
    return load


for _name, (_class_name, _dt, _phases, _what) in _TASKS.items():
    register_dataset(_name, _loader(_name, _class_name, _dt, _phases, _what),
                     description=f'{_what} (cogtask.{_class_name}, dt={_dt:g} ms)')
