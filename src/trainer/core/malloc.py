"""Keep freed memory in the process: a per-step call then reuses its buffers instead of faulting them in.

XLA on a CPU allocates a program's temporaries afresh at every call (about
40 MB per training step of a GRU 128 over 110 steps). glibc serves blocks
that large with ``mmap`` and returns them with ``munmap``, so each call
touches fresh, zeroed pages: ~10,000 minor page faults per step, which made
one-call-per-batch epochs 1.3-3x slower than one compiled epoch. With
``mmap`` off, one arena and no trimming, the blocks stay mapped and are
reused; the cost is that the process does not hand freed memory back to
the system. Set ``TRAINER_MALLOC=system`` to leave glibc as it is.
"""

import ctypes
import os
import platform

_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8
_done = False


def retain_freed_memory():
    """Tune glibc's malloc once per process (a no-op elsewhere, or when the user chose for it)."""
    global _done
    if _done:
        return
    _done = True
    if os.environ.get('TRAINER_MALLOC') == 'system' or platform.system() != 'Linux' \
            or platform.libc_ver()[0] != 'glibc' or any(k.startswith('MALLOC_') for k in os.environ) \
            or 'LD_PRELOAD' in os.environ:  # the user set malloc up (tuned glibc, jemalloc, tcmalloc)
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_MAX, 0)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1)  # an int: 2 GiB of free top before trimming
        libc.mallopt(_M_ARENA_MAX, 1)  # threads' arenas would trim and map on their own
    except (OSError, AttributeError):
        pass
