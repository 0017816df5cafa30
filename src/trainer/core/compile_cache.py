"""JAX's persistent compilation cache, switched on in one place (API, command line, tests)."""

import os

import jax

__all__ = ['enable_compile_cache']


def enable_compile_cache(path=None):
    """Turn on JAX's persistent compilation cache (a warm start skips recompiling).

    Parameters
    ----------
    path : str, optional
        The cache folder; default: the one already configured
        (``jax_compilation_cache_dir``, e.g. by the user or the tests), else
        ``$XDG_CACHE_HOME/brain-trainer/jax`` (``~/.cache/brain-trainer/jax``).

    Returns
    -------
    str
        The folder in use.
    """
    if path is None and jax.config.jax_compilation_cache_dir:
        return jax.config.jax_compilation_cache_dir  # somebody chose one: keep it
    cache_home = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    path = os.fspath(path or os.path.join(cache_home, 'brain-trainer', 'jax'))
    jax.config.update('jax_compilation_cache_dir', path)
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
    jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)
    return path
