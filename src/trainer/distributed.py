"""Several processes, one fit: a thin layer over JAX's multi-controller runtime.

Every process runs the same script; after :func:`initialize`,
``jax.devices()`` lists the devices of all processes and
``Trainer(..., devices='all')`` splits each global batch over all of them.
Every process builds the same seeded dataset; only process 0 writes
checkpoints and shows the progress bar; every process returns the same
``TrainResult``.

    # one line per process (or srun on SLURM, which JAX detects itself)
    from trainer import distributed
    distributed.initialize('10.0.0.1:1234', num_processes=2, process_id=RANK)
"""

import numbers

import jax

__all__ = ['initialize', 'is_main_process']

_initialized = [False]


def initialize(coordinator_address=None, num_processes=None, process_id=None, local_device_ids=None):
    """Join a multi-process run (``jax.distributed.initialize``), CPU collectives included.

    Parameters
    ----------
    coordinator_address : str, optional
        ``'host:port'`` of process 0; ``None`` lets JAX detect it (SLURM,
        cloud TPU/GPU clusters).
    num_processes, process_id : int, optional
        The run's size and this process's rank (detected where JAX can).
    local_device_ids : list of int, optional
        The local devices this process drives.

    Notes
    -----
    On the CPU backend this also selects gloo collectives
    (``jax_cpu_collectives_implementation='gloo'``), so the whole path runs
    without accelerators. Call it before anything touches a JAX device.

    Examples
    --------
    >>> from trainer import distributed
    >>> distributed.is_main_process()
    True
    """
    if _initialized[0]:
        raise RuntimeError("trainer.distributed.initialize was already called in this process; "
                           "call it once, at the start of the script.")
    _check_arguments(coordinator_address, num_processes, process_id)
    if _backends_started():
        raise RuntimeError(
            "trainer.distributed.initialize must run before JAX computes anything (this process "
            "has already used a device, e.g. jax.devices() or an array operation); call it first, "
            "at the start of the script.")
    try:
        jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    except (AttributeError, ValueError):  # an older JAX without the option: its default applies
        pass
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, local_device_ids=local_device_ids)
    _initialized[0] = True


def _backends_started():
    try:
        from jax._src import xla_bridge
        return xla_bridge.backends_are_initialized()
    except (ImportError, AttributeError):  # a JAX without the query: let it raise its own error
        return False


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_arguments(coordinator_address, num_processes, process_id):
    """Raise naming the argument unless the three describe a possible run (before JAX starts).

    Examples
    --------
    >>> _check_arguments('10.0.0.1:1234', 2, 2)
    Traceback (most recent call last):
    ...
    ValueError: process_id must be an int in [0, num_processes=2), got 2; ranks count from 0.
    """
    if coordinator_address is not None:
        if not isinstance(coordinator_address, str):
            raise TypeError(f"coordinator_address must be a 'host:port' str such as "
                            f"'10.0.0.1:1234', got {type(coordinator_address).__name__}: "
                            f"{coordinator_address!r:.60}.")
        host, _, port = coordinator_address.rpartition(':')
        if not host or host.endswith(':') or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"coordinator_address must be 'host:port' with a port in [1, 65535], "
                             f"got {coordinator_address!r}; e.g. '{host or coordinator_address}:1234'.")
    if num_processes is not None and (not _is_int(num_processes) or num_processes < 1):
        raise ValueError(f"num_processes must be a positive int (the processes of the run), got "
                         f"{num_processes!r}.")
    if process_id is not None:
        if not _is_int(process_id) or process_id < 0:
            raise ValueError(f"process_id must be a non-negative int (this process's rank), got "
                             f"{process_id!r}.")
        if num_processes is not None and process_id >= num_processes:
            raise ValueError(f"process_id must be an int in [0, num_processes={num_processes}), got "
                             f"{process_id}; ranks count from 0.")


def is_main_process():
    """Whether this is process 0 (the one that writes files and shows progress)."""
    return jax.process_index() == 0
