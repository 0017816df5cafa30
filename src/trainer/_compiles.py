"""Count compilations, so a fit can report (and tests can pin) how often it compiled.

A Python-level trace counter misses recompilations that reuse a cached jaxpr
(a state whose dtype changed), so we listen to JAX's own compile event. It
fires for every executable a call needs, also when the persistent
compilation cache serves it from disk.
"""

import contextlib

from jax import monitoring

_EVENT = '/jax/core/compile/backend_compile_duration'
_count = [0]


def _listen(event, duration, **kwargs):
    if event == _EVENT:
        _count[0] += 1


monitoring.register_event_duration_secs_listener(_listen)


def total():
    """Compilations in this process so far.

    Examples
    --------
    >>> import jax, numpy as np
    >>> x = jax.device_put(np.arange(7.0, dtype=np.float32))
    >>> before = total()
    >>> _ = jax.jit(lambda v: v * 3 + 1)(x)
    >>> total() - before
    1
    """
    return _count[0]


@contextlib.contextmanager
def counting(counts, key):
    """Add the compilations that happen inside the block to ``counts[key]``."""
    before = _count[0]
    try:
        yield
    finally:
        counts[key] += _count[0] - before
