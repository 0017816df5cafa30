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
    try:
        jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    except (AttributeError, ValueError):  # an older JAX without the option: its default applies
        pass
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, local_device_ids=local_device_ids)
    _initialized[0] = True


def is_main_process():
    """Whether this is process 0 (the one that writes files and shows progress)."""
    return jax.process_index() == 0
