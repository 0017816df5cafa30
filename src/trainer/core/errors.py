"""Errors shared by the ``Fitter`` and the ``Trainer`` (neither imports the other)."""

__all__ = ['NonFiniteLossError']


class NonFiniteLossError(FloatingPointError):
    """A loss or an updated parameter became NaN or infinite.

    The model is left at its best-seen parameters, and the optimizer as it was
    before the failed step (``Fitter``) or epoch (``Trainer``). The ``Trainer``
    also attaches ``history``: the epochs completed before it.

    Examples
    --------
    >>> import braintools, jax.numpy as jnp
    >>> from trainer import Fitter
    >>> from trainer.models import GainPopulation
    >>> fitter = Fitter(GainPopulation(1), braintools.optim.SGD(lr=0.1),
    ...                 loss_fn=lambda m: (jnp.log(m.g.value() - 1.0), None))
    >>> try:
    ...     fitter.fit(n_steps=5)
    ... except NonFiniteLossError as error:
    ...     print(str(error).split(';')[0])
    the loss became -inf at step 0
    """
