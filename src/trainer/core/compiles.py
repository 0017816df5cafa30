"""Count compilations, so a fit can report (and tests can pin) how often it compiled.

A Python-level trace counter misses recompilations that reuse a cached jaxpr
(a state whose dtype changed), so we listen to JAX's own compile event. It
fires for every executable a call needs, also when the persistent
compilation cache serves it from disk. Counts are kept per thread, so a
program compiled in the background is charged to the block that asked for it.
"""

import collections
import contextlib
import threading

from jax import monitoring

_EVENT = '/jax/core/compile/backend_compile_duration'
_per_thread = collections.Counter()


def _listen(event, duration, **kwargs):
    if event == _EVENT:
        _per_thread[threading.get_ident()] += 1


monitoring.register_event_duration_secs_listener(_listen)


def total():
    """Compilations in this process so far (all threads).

    Examples
    --------
    >>> import jax, numpy as np
    >>> x = jax.device_put(np.arange(7.0, dtype=np.float32))
    >>> before = total()
    >>> _ = jax.jit(lambda v: v * 3 + 1)(x)
    >>> total() - before
    1
    """
    return sum(_per_thread.values())


@contextlib.contextmanager
def counting(counts, key):
    """Add the compilations this thread does inside the block to ``counts[key]``."""
    me = threading.get_ident()
    before = _per_thread[me]
    try:
        yield
    finally:
        counts[key] += _per_thread[me] - before
