"""neurogym environments as datasets: a fixed :class:`TaskDataset`, or a host :class:`Stream`.

neurogym (an optional extra, ``pip install 'brain-trainer[neurogym]'``) builds
a trial with ``env.new_trial()`` into ``env.ob`` (steps, features) and
``env.gt`` (steps,), its periods' steps in ``env.start_ind`` / ``env.end_ind``
and its variables in ``env.trial``. It is seeded through
``env.unwrapped.seed(seed)``: gymnasium's ``reset(seed=...)`` does not reach
the generator ``new_trial`` draws from.
"""

import math
import numbers

import numpy as np

from ._checks import as_dt, check_index_int, check_positive_int
from ._io import from_arrays
from ._stream import Stream

__all__ = ['from_neurogym', 'is_env', 'neurogym_stream']


def is_env(value):
    """Whether ``value`` looks like a neurogym environment (its unwrapped env has ``new_trial``)."""
    return callable(getattr(getattr(value, 'unwrapped', None), 'new_trial', None))


def _check_env(env):
    if not is_env(env):
        raise TypeError(
            f'env must be a neurogym environment (e.g. neurogym.make("PerceptualDecisionMaking-v0", dt=20)), '
            f'got {type(env).__name__}: {env!r:.60}.')
    return env.unwrapped


def _check_periods(score_periods, loss_weights):
    if isinstance(score_periods, str) or not all(isinstance(p, str) for p in score_periods) or not score_periods:
        raise TypeError(f"score_periods must be a non-empty tuple of period names, e.g. ('decision',), "
                        f'got {score_periods!r}.')
    if loss_weights is not None:
        if not isinstance(loss_weights, dict) or not all(
                isinstance(k, str) and isinstance(v, numbers.Real) and not isinstance(v, bool) and v >= 0
                for k, v in loss_weights.items()):
            raise TypeError(f"loss_weights must be a dict {{period: weight >= 0}}, e.g. "
                            f"{{'fixation': 0.2, 'decision': 1.0}}, got {loss_weights!r}.")


def _scalar_conditions(trial):
    out = {}
    for key, value in (trial or {}).items():
        if isinstance(value, (bool, numbers.Number, str, np.generic)) and np.ndim(value) == 0:
            out[key] = value
    return out


def _trials(env, n_trials, seed, score_periods, loss_weights, n_steps):
    """``n_trials`` trials from ``env`` seeded with ``seed``: a numpy batch padded to ``n_steps`` (or the longest)."""
    unwrapped = _check_env(env)
    unwrapped.seed(seed)
    trials = []
    for _ in range(n_trials):
        info = unwrapped.new_trial()
        periods = {name: (unwrapped.start_ind[name], unwrapped.end_ind[name]) for name in unwrapped.start_ind}
        trials.append((np.asarray(unwrapped.ob, np.float32), np.asarray(unwrapped.gt), periods,
                       _scalar_conditions(info)))
    longest = max(ob.shape[0] for ob, *_ in trials)
    steps = longest if n_steps is None else n_steps
    if longest > steps:
        raise ValueError(
            f'a trial of {longest} steps is longer than n_steps={steps}; pass a larger n_steps '
            f'(the env\'s timing has no finite maximum this could be read from).')
    gt = trials[0][1]
    # Filled in place, not np.pad per trial: padding costs more than neurogym's own trial here.
    batch = {'inputs': np.zeros((n_trials, steps) + trials[0][0].shape[1:], np.float32),
             'targets': np.zeros((n_trials, steps) + gt.shape[1:], np.int32 if gt.dtype.kind in 'iub' else np.float32),
             'mask': np.zeros((n_trials, steps), np.float32)}
    if loss_weights is not None:
        batch['loss_weights'] = np.zeros((n_trials, steps), np.float32)
    for row, (ob, targets, periods, _) in enumerate(trials):
        batch['inputs'][row, :ob.shape[0]] = ob
        batch['targets'][row, :targets.shape[0]] = targets
        for name in score_periods:
            if name in periods:
                batch['mask'][row, slice(*periods[name])] = 1.0
        for name, weight in (loss_weights or {}).items():
            if name in periods:
                batch['loss_weights'][row, slice(*periods[name])] += weight
    names = set().union(*(t[3] for t in trials))
    batch['conditions'] = {k: np.asarray([t[3][k] for t in trials]) for k in sorted(names)
                           if all(k in t[3] for t in trials)}
    return batch


def _n_classes(unwrapped):
    space = getattr(unwrapped, 'action_space', None)
    return int(space.n) if hasattr(space, 'n') else None


def _max_ms(spec):
    """The longest duration a neurogym period spec can draw, or ``None`` when it cannot be read."""
    if isinstance(spec, numbers.Real):
        return float(spec)
    if isinstance(spec, (list, tuple)) and spec and all(isinstance(v, numbers.Real) for v in spec):
        return float(max(spec))
    if isinstance(spec, (list, tuple)) and len(spec) == 2 and isinstance(spec[0], str):
        dist, args = spec
        if dist in ('uniform', 'choice'):
            return float(max(args))
        if dist == 'constant':
            return float(args)
        if dist == 'truncated_exponential' and len(args) >= 3:
            return float(args[2])
    return None


def max_steps(env):
    """An upper bound of the env's trial length in steps (every period at its longest), or ``None``."""
    unwrapped = _check_env(env)
    longest = [_max_ms(spec) for spec in getattr(unwrapped, 'timing', {}).values()]
    if not longest or any(v is None for v in longest):
        return None
    return sum(int(v // unwrapped.dt) for v in longest)


def from_neurogym(env, n_trials, *, seed, score_periods=('decision',), loss_weights=None, n_steps=None,
                  name='', description=''):
    """``n_trials`` trials of a neurogym environment as a :class:`TaskDataset`.

    Parameters
    ----------
    env : gymnasium.Env
        A neurogym env, e.g. ``neurogym.make('PerceptualDecisionMaking-v0', dt=20)``;
        trials come from its unwrapped env (wrappers are not applied).
    n_trials : int
        Number of trials.
    seed : int
        Seeds the env's generator (``env.unwrapped.seed(seed)``) before the first trial.
    score_periods : tuple of str, optional
        Periods whose steps the mask scores (default ``('decision',)``).
    loss_weights : dict, optional
        ``{period: weight}`` of the objective, apart from the mask (e.g.
        ``{'fixation': 0.2, 'stimulus': 0.2, 'decision': 1.0}``); periods not
        named weigh 0. Default ``None``: the objective scores the mask.
    n_steps : int, optional
        Pad every trial to this length (default: the longest trial drawn).
    name, description : str, optional

    Returns
    -------
    TaskDataset
        Per-step labels (``env.gt``) and ``n_classes`` from the action space;
        trials shorter than the longest are zero-padded at their end under a
        zero mask. ``conditions`` holds the scalar entries of ``env.trial``
        (``ground_truth``, ``coh``, ...).

    Examples
    --------
    >>> import neurogym, datasets  # doctest: +SKIP
    >>> env = neurogym.make('PerceptualDecisionMaking-v0', dt=20)  # doctest: +SKIP
    >>> datasets.from_neurogym(env, 16, seed=0).inputs.shape  # doctest: +SKIP
    (16, 110, 3)
    """
    unwrapped = _check_env(env)
    n_trials = check_positive_int('n_trials', n_trials)
    seed = check_index_int('seed', seed)
    _check_periods(score_periods, loss_weights)
    if n_steps is not None:
        n_steps = check_positive_int('n_steps', n_steps)
    batch = _trials(env, n_trials, seed, score_periods, loss_weights, n_steps)
    if not batch['mask'].any():
        raise ValueError(f'score_periods={score_periods!r} covers no step of any trial; the env\'s periods '
                         f'are {sorted(unwrapped.start_ind)}.')
    return from_arrays(batch['inputs'], batch['targets'], batch['mask'], dt=as_dt(float(unwrapped.dt)),
                       n_classes=_n_classes(unwrapped), seed=seed, name=name or type(unwrapped).__name__,
                       description=description or f'neurogym.{type(unwrapped).__name__}',
                       conditions=batch['conditions'], loss_weights=batch.get('loss_weights'))


def neurogym_stream(env, *, seed=0, held_out=512, score_periods=('decision',), loss_weights=None,
                    n_steps=None, name='', description=''):
    """A host :class:`Stream` of a neurogym env: batch ``(epoch, step)`` seeds the env afresh.

    ``n_steps`` defaults to the env's longest possible trial (every period at
    its longest), or when its timing cannot be read, the longest held-out trial.
    """
    unwrapped = _check_env(env)
    _check_periods(score_periods, loss_weights)
    if n_steps is None:
        n_steps = max_steps(env)
    if n_steps is None:
        probe = np.random.SeedSequence([check_index_int('seed', seed), 1]).generate_state(1)[0]
        n_steps = _trials(env, check_positive_int('held_out', held_out), int(probe), score_periods,
                          loss_weights, None)['inputs'].shape[1]
    n_steps = check_positive_int('n_steps', n_steps)

    def host_draw(batch_seed, batch_size):
        return _trials(env, batch_size, batch_seed, score_periods, loss_weights, n_steps)

    n_features = int(math.prod(unwrapped.observation_space.shape))
    return Stream(host_draw=host_draw, n_features=n_features, n_steps=n_steps,
                  n_classes=_n_classes(unwrapped), dt=as_dt(float(unwrapped.dt)), seed=seed,
                  held_out=held_out, name=name or type(unwrapped).__name__,
                  description=description or f'neurogym.{type(unwrapped).__name__} (host stream)',
                  has_loss_weights=loss_weights is not None)
