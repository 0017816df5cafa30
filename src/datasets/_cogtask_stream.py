"""A ``braintools.cogtask`` task as a device :class:`Stream`: its trial function traced in the train step."""

import numbers

from ._cogtask import check_task, trial_function
from ._stream import Stream

__all__ = ['cogtask_stream']


def _batch_draw(one_trial, mask_kind, loss_weight):
    import jax
    import jax.numpy as jnp

    def draw(key, batch_size):
        # Trial i's key is fold_in(key, i), as cogtask's batch_sample derives it from its root key.
        index = jnp.arange(batch_size, dtype=jnp.int32)
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i.astype(jnp.uint32)))(index)
        inputs, targets, valid, response, conditions = jax.vmap(one_trial)(index, keys)
        scored = valid & response if mask_kind == 'response' else valid
        batch = {'inputs': inputs.astype(jnp.float32), 'targets': targets,
                 'mask': scored.astype(jnp.float32), 'conditions': conditions}
        if loss_weight is not None:
            response_steps = (valid & response).astype(jnp.float32)
            batch['loss_weights'] = response_steps + loss_weight * (valid.astype(jnp.float32) - response_steps)
        return batch

    return draw


def cogtask_stream(task, *, seed=0, held_out=512, dt, mask='response', response_phases=(),
                   loss_weights=None, n_classes=None, name='', description='', **task_params):
    """A device :class:`Stream` of ``task`` (a ``cogtask.Task`` subclass); see :func:`datasets.stream`.

    ``n_classes`` defaults to the task's declared label space
    (``task.num_classes``: fixation and every choice), which may exceed what
    ``from_cogtask`` counts from the labels its trials emit (GoNoGo declares
    3, emits 2). A task that emits more than it declares needs ``n_classes``
    given; its held-out draw says so.
    """
    dt = check_task(task, dt=dt, mask=mask, response_phases=response_phases, task_params=task_params)
    if loss_weights is not None and (isinstance(loss_weights, bool) or not isinstance(loss_weights, numbers.Real)
                                     or not 0 <= loss_weights):
        raise ValueError(
            f'loss_weights for a cogtask stream is the objective\'s weight of the steps outside the response '
            f'(a float >= 0, e.g. 0.2; response steps weigh 1), got {loss_weights!r}.')
    import jax
    instance, one_trial = trial_function(task, dt, task_params, response_phases)
    draw = _batch_draw(one_trial, mask, None if loss_weights is None else float(loss_weights))
    shapes = jax.eval_shape(lambda key: draw(key, 1), jax.random.PRNGKey(0))
    if instance.output_mode != 'categorical':
        n_classes = None
    elif n_classes is None:
        n_classes = int(instance.num_classes)
    elif isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
        raise ValueError(f'n_classes must be an int >= 2 (the label space, fixation included), got {n_classes!r}.')
    return Stream(draw=draw, n_features=shapes['inputs'].shape[2], n_steps=shapes['inputs'].shape[1],
                  n_classes=n_classes, dt=dt, seed=seed, held_out=held_out, name=name,
                  description=description or f'braintools.cogtask.{task.__name__} (stream)',
                  has_loss_weights=loss_weights is not None)
