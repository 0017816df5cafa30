"""JAX's persistent compilation cache, switched on in one place (API, command line, tests)."""

import os

import jax

__all__ = ['enable_compile_cache']


def enable_compile_cache(path=None):
    """Turn on JAX's persistent compilation cache (a warm start skips recompiling).

    Parameters
    ----------
    path : str, optional
        The cache folder; default ``~/.cache/brain-trainer/jax``.

    Returns
    -------
    str
        The folder in use.
    """
    path = os.fspath(path or os.path.join(os.path.expanduser('~'), '.cache', 'brain-trainer', 'jax'))
    jax.config.update('jax_compilation_cache_dir', path)
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
    jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)
    return path
