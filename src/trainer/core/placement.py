"""Where arrays live: one device (the default), or a ``Mesh`` whose ``'batch'`` axis splits each batch.

Placement is decided here and nowhere else. With a mesh, the state (parameters,
optimizer, schedule, RNG) and the datasets are replicated on every device, the
hidden-state template and each batch's trial indices are sharded over
``'batch'``; every device gathers its share of a batch from its own copy of the
data, so no trial crosses from the host per step, and XLA's collectives (GSPMD)
reduce the gradients and the ``(total, count)`` sums. With several processes
(:func:`trainer.distributed.initialize`) every process builds the same seeded
dataset and holds it whole; each feeds the devices it can address.
"""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

__all__ = ['Placement']


def _mesh(devices):
    if isinstance(devices, Mesh):
        if 'batch' not in devices.axis_names:
            raise ValueError(f"devices: a Mesh must have an axis named 'batch' to carry the data, "
                             f"got axes {devices.axis_names}; build it as Mesh(devices, ('batch',)).")
        return devices
    available = jax.devices()
    if devices == 'all':
        chosen = available
    elif isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        if not 1 <= devices <= len(available):
            raise ValueError(f"devices={devices} must be between 1 and jax.device_count()="
                             f"{len(available)}; pass 'all' for every device.")
        chosen = available[:devices]
    elif isinstance(devices, (list, tuple)) and devices and all(isinstance(d, jax.Device) for d in devices):
        chosen = list(devices)
        seen = [d for i, d in enumerate(chosen) if d in chosen[:i]]
        if seen:
            raise ValueError(f"devices lists {seen[0]} more than once ({list(chosen)}); each device "
                             f"holds one share of a batch, so list each once, e.g. "
                             f"devices=jax.devices()[:{len(set(chosen))}].")
    else:
        raise ValueError(f"devices must be None, 'all', a positive int, a list of jax.Device or a "
                         f"jax.sharding.Mesh with a 'batch' axis; got {devices!r:.60}.")
    return Mesh(np.asarray(chosen), ('batch',))


class Placement:
    """Shardings for a fit's state and data.

    Parameters
    ----------
    devices : None, 'all', int, list of jax.Device or jax.sharding.Mesh
        ``None``: the default device, arrays placed as JAX places them.

    Examples
    --------
    >>> Placement(None).n_devices
    1
    >>> Placement(0)
    Traceback (most recent call last):
    ...
    ValueError: devices=0 must be between 1 and jax.device_count()=1; pass 'all' for every device.
    """

    def __init__(self, devices=None):
        self.mesh = None if devices is None else _mesh(devices)

    @property
    def n_devices(self):
        return 1 if self.mesh is None else self.mesh.shape['batch']

    @property
    def key(self):
        """What a compiled program built for this placement depends on."""
        return None if self.mesh is None else (tuple(d.id for d in self.mesh.devices.flat), self.mesh.axis_names)

    def check_batch(self, batch_size):
        if batch_size % self.n_devices:
            raise ValueError(
                f"batch_size={batch_size} does not divide over {self.n_devices} devices; use a "
                f"multiple of {self.n_devices} (batch_size is the global batch, split over the devices).")

    def _put(self, tree, spec_of):
        if self.mesh is None:
            return jax.device_put(tree)

        def put(x):
            if hasattr(x, 'dtype') and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
                # A typed PRNG key travels as its integer data.
                return jax.random.wrap_key_data(put(jax.random.key_data(x)), impl=jax.random.key_impl(x))
            x = np.asarray(x)
            sharding = NamedSharding(self.mesh, spec_of(x))
            return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

        return jax.tree.map(put, tree)

    def replicated(self, tree):
        """``tree`` on every device (the state, the datasets)."""
        if self.mesh is None:
            return jax.device_put(tree)
        return self._put(tree, lambda x: P())

    def batched(self, tree, axis=0):
        """``tree`` split over ``'batch'`` along ``axis`` (indices, weights, the hidden template)."""
        if self.mesh is None:
            return tree
        return self._put(tree, lambda x: P(*([None] * axis), 'batch') if x.ndim > axis else P())

    def state(self, state, batch_axis=0):
        """A ``TrainState`` placed: everything replicated but the batch-shaped hidden template.

        ``batch_axis=1`` for states stacked on a leading member axis (an ensemble's).
        """
        if self.mesh is None:
            return state
        return state._replace(params=self.replicated(state.params), opt=self.replicated(state.opt),
                              rng=self.replicated(state.rng), hidden=self.batched(state.hidden, batch_axis))

    def constrain(self, state):
        """Inside a program: keep the state replicated (XLA may otherwise leave it sharded)."""
        if self.mesh is None:
            return state
        replicated = NamedSharding(self.mesh, P())
        template = NamedSharding(self.mesh, P('batch'))
        return state._replace(
            params=jax.lax.with_sharding_constraint(state.params, replicated),
            opt=jax.lax.with_sharding_constraint(state.opt, replicated),
            hidden=jax.tree.map(lambda x: jax.lax.with_sharding_constraint(
                x, template if np.ndim(x) else replicated), state.hidden))

    @staticmethod
    def to_host(tree):
        """numpy copies of ``tree``: a replicated array is read from this process's first shard.

        A typed PRNG key comes back as its integer data.
        """
        def get(x):
            if hasattr(x, 'dtype') and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
                x = jax.random.key_data(x)
            return np.asarray(Placement.local(x))

        return jax.tree.map(get, tree)

    @staticmethod
    def local(x):
        """``x`` usable by eager code in this process: a replicated global array's local copy.

        Returns ``None`` for an array sharded over several processes (a hidden
        template), which no single process holds whole.
        """
        if not isinstance(x, jax.Array) or x.is_fully_addressable:
            return x
        return x.addressable_data(0) if x.sharding.is_fully_replicated else None
