"""Train or evaluate: brainstate's ``fit`` flag, and the Euler fraction ``dt / tau``.

brainstate's convention (``brainstate.nn.Dropout`` reads it) is
``brainstate.environ.get('fit')``: ``True`` while training. The Trainer's
training step traces under ``fit=True``, its held-out pass and ``predict``
under ``fit=False`` (``predict(noise=True)`` turns noise on). Stepping a
network by hand outside any context counts as evaluation: no noise.

    >>> import brainstate, brainunit as u
    >>> training()
    False
    >>> with brainstate.environ.context(fit=True, dt=20. * u.ms):
    ...     training(), step_fraction(100. * u.ms)
    (True, 0.2)
"""

import brainstate
import brainunit as u

__all__ = ['step_fraction', 'training']


def training():
    """Whether the current trace is a training step (``brainstate.environ`` ``fit``; default ``False``)."""
    return bool(brainstate.environ.get('fit', False))


def step_fraction(tau):
    """``dt / tau`` as a plain float, read when called (so a network needs no ``dt`` to be built).

    ``tau`` is a time quantity (``100 * u.ms``); a unitless ``dt`` counts as milliseconds.
    """
    dt = brainstate.environ.get_dt()
    if not isinstance(dt, u.Quantity):
        dt = dt * u.ms
    return float(u.get_magnitude(dt / tau))
