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

    Notes
    -----
    Every program is written, however fast it compiled: JAX's default keeps
    only those that took a second or more, which leaves out most of a small
    network's. With a folder somebody configured, the thresholds they set are
    kept too (an environment variable ``JAX_PERSISTENT_CACHE_MIN_*``, or a
    value other than JAX's default).
    """
    if path is None and jax.config.jax_compilation_cache_dir:
        _write_every_program(keep_set=True)  # somebody chose the folder: keep it, and their thresholds
        return jax.config.jax_compilation_cache_dir
    cache_home = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    path = os.fspath(path or os.path.join(cache_home, 'brain-trainer', 'jax'))
    jax.config.update('jax_compilation_cache_dir', path)
    _write_every_program(keep_set=False)
    return path


# JAX's defaults: a threshold at its default was not chosen by anybody.
_DEFAULTS = {'jax_persistent_cache_min_compile_time_secs': 1.0, 'jax_persistent_cache_min_entry_size_bytes': 0}


def _write_every_program(*, keep_set):
    for name, default in _DEFAULTS.items():
        chosen = name.upper() in os.environ or getattr(jax.config, name) != default
        if not (keep_set and chosen):
            jax.config.update(name, 0.0 if 'secs' in name else 0)
