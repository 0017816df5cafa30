"""Checkpoints: everything an exact resume needs, in one ``braintools.file`` msgpack file.

``msgpack_save`` writes to a temporary file and renames it, so an interrupted
save never leaves a half-written checkpoint behind.
"""

import json
import os

import brainstate
import jax
import jax.numpy as jnp
from braintools.file import msgpack_from_state_dict, msgpack_load, msgpack_save

from ._step import canonicalize_states, optimizer_states


def _is_typed_key(x):
    return jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _rng_data(x):
    # msgpack stores plain integers; a typed PRNG key is unwrapped to its data.
    return jax.random.key_data(x) if _is_typed_key(x) else x


def _key(path):
    return '/'.join(map(str, path))


def _contents(weights, optimizer, progress):
    return {
        'params': {_key(k): s.value for k, s in weights.items()},
        'optimizer': optimizer.state_dict(),
        'scheduler': optimizer.lr.state_dict(),
        # A model that draws noise or dropout in its forward pass resumes the same stream.
        'rng': _rng_data(brainstate.random.DEFAULT.value),
        'progress': json.dumps(progress),
    }


def save(path, weights, optimizer, progress, best_snapshot):
    """Write parameters, optimizer and schedule state, and ``progress`` (a JSON-able dict).

    ``best_snapshot`` (``{path: value}`` of the best epoch) is saved too, so
    a resumed run restores the same best parameters.
    """
    state = _contents(weights, optimizer, progress)
    state['best'] = {_key(k): v for k, v in best_snapshot.items()}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    msgpack_save(path, state, verbose=False)


def load(path, weights, optimizer):
    """Restore parameters and optimizer state from ``path``; return ``(progress, best_snapshot)``."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"resume_from={path!r} does not exist; pass a checkpoint written by fit(checkpoint=...).")
    target = _contents(weights, optimizer, {})
    target['best'] = dict(target['params'])
    state = msgpack_load(path, target=target)
    as_jax = lambda tree: jax.tree.map(jnp.asarray, tree)
    for key, s in weights.items():
        s.value = as_jax(state['params'][_key(key)])
    optimizer.load_state_dict(as_jax(state['optimizer']))
    optimizer.lr.load_state_dict(as_jax(state['scheduler']))
    rng = brainstate.random.DEFAULT
    rng.value = (jax.random.wrap_key_data(as_jax(state['rng'])) if _is_typed_key(rng.value)
                 else as_jax(state['rng']))
    canonicalize_states([*weights.values(), *optimizer_states(optimizer)])  # as before the save
    best = {k: as_jax(state['best'][_key(k)]) for k in weights}
    return json.loads(state['progress']), best


def load_checkpoint(path, model, *, best=False):
    """Load the parameters of a ``fit(checkpoint=...)`` file into ``model``; return its progress.

    For inference after training: build the model as it was built for the
    fit (same class, sizes and cell), then load. The optimizer and schedule
    state in the file are left alone (``fit(resume_from=...)`` restores those).

    Parameters
    ----------
    path : str or os.PathLike
        A checkpoint written by :meth:`trainer.Trainer.fit` (``checkpoint=``).
    model : brainstate.nn.Module
        A model with the same trainable parameters as the trained one.
    best : bool, optional
        ``False`` (default): the parameters after the last completed epoch.
        ``True``: those of the best epoch so far (what ``fit`` leaves in its
        model with ``restore_best=True``).

    Returns
    -------
    dict
        The checkpoint's progress: ``epoch`` (the last completed one),
        ``history``, ``best_epoch``, ``best_value``, ``seed``, ``batch_size``.

    Examples
    --------
    >>> import os, tempfile, braintools, datasets
    >>> from trainer import Trainer, objectives, load_checkpoint
    >>> from trainer.models import RateRNN
    >>> data = datasets.load_dataset('delayed_match_task', n_trials=32)
    >>> path = os.path.join(tempfile.mkdtemp(), 'run.msgpack')
    >>> trainer = Trainer(RateRNN(data.n_features, 8, data.n_classes), braintools.optim.Adam(lr=1e-2),
    ...                   objective=objectives.cross_entropy(), progress=False)
    >>> _ = trainer.fit(data, n_epochs=2, batch_size=16, checkpoint=path)
    >>> fresh = RateRNN(data.n_features, 8, data.n_classes, seed=1)
    >>> load_checkpoint(path, fresh)['epoch']
    2
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_checkpoint: {path!r} is not a file; pass a checkpoint "
                                "written by Trainer.fit(checkpoint=...).")
    weights = model.states(brainstate.ParamState)
    saved = msgpack_load(path)
    part = 'best' if best else 'params'
    if not isinstance(saved, dict) or part not in saved or 'progress' not in saved:
        raise ValueError(f"load_checkpoint: {path!r} is not a Trainer checkpoint (no {part!r}).")
    expected = {_key(k): s for k, s in weights.items()}
    if set(expected) != set(saved[part]):
        missing = sorted(set(expected) - set(saved[part]))
        extra = sorted(set(saved[part]) - set(expected))
        raise ValueError(
            f"load_checkpoint: {path!r} was written for a different model: the model has "
            f"parameters {missing} that the file lacks, the file has {extra} that the model lacks. "
            "Build the model as it was built for the fit.")
    for key, state in expected.items():
        try:
            value = msgpack_from_state_dict(state.value, saved[part][key], name=key)
        except ValueError as error:
            raise ValueError(f"load_checkpoint: {path!r} was written for a different model: "
                             f"{error}. Build the model as it was built for the fit.") from None
        # The model's own dtypes win over the file's.
        state.value = jax.tree.map(lambda old, new: jnp.asarray(new, dtype=jnp.result_type(old)),
                                   state.value, value)
    return json.loads(saved['progress'])
