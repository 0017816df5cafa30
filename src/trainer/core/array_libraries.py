"""Keep brainunit from importing PyTorch (or CuPy, Dask, ndonnx) to ask whether an array is theirs.

brainunit >= 0.5.2 sends every unit-aware op (``u.math.dot`` inside
``brainstate.nn.Linear``, for one) through ``saiunit._backend.get_backend``,
whose detectors *import* torch, cupy, dask.array and ndonnx to run one
``isinstance``. Where torch is installed, as it is for most of our users, the
first trace of a model paid torch's whole import: 1.3 s of the 1.6 s setup of a
small fit, measured (benchmarks/pytorch.py W2). An object of a library nobody
imported cannot exist, so looking in ``sys.modules`` gives the same answers;
array_api_compat's public detectors (a saiunit dependency) do exactly that, and
saiunit's are pointed at them. A brainunit without these detectors is left as
it is.
"""

import importlib

__all__ = ['detect_arrays_without_importing']

_DETECTORS = ('is_cupy_array', 'is_torch_array', 'is_dask_array', 'is_ndonnx_array')


def detect_arrays_without_importing():
    """Point saiunit's array-library detectors at array_api_compat's ``sys.modules`` checks.

    Returns
    -------
    tuple of str
        The detectors replaced (empty where this brainunit has none).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import saiunit._backend as backend
    >>> 'is_torch_array' in detect_arrays_without_importing()  # idempotent: import trainer did it already
    True
    >>> backend.is_torch_array(jnp.ones(2))
    False
    """
    try:
        backend = importlib.import_module('saiunit._backend')
        compat = importlib.import_module('array_api_compat')
    except ImportError:
        return ()
    replaced = []
    for name in _DETECTORS:
        if hasattr(backend, name) and hasattr(compat, name):
            setattr(backend, name, getattr(compat, name))
            replaced.append(name)
    return tuple(replaced)
