"""Reference models: the seed's ``GainPopulation``, a task ``RateRNN``, and brain-constrained networks.

``LeakyRNN`` (leaky E/I rate network, Song et al. 2016) and ``SpikingRNN`` (LIF,
surrogate gradients) are built in ``trainer.nets`` (connectivity, wiring, mode).
"""

import brainstate
import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
from brainstate.nn import Param

from .nets.leaky import LeakyRNN
from .nets.spiking import SpikingRNN

__all__ = ['GainPopulation', 'LeakyRNN', 'RateRNN', 'SpikingRNN']


class GainPopulation(brainstate.nn.Dynamics):
    """Leaky firing-rate population with a trainable input gain ``g`` (the seed's model).

    ``dr/dt = (-r + g * tanh(input)) / tau``

    Parameters
    ----------
    in_size : int
        Number of units.
    g : float, default 1.0
        Initial gain (trainable, dimensionless).
    tau : brainunit.Quantity, default 10 ms
        Time constant.

    Examples
    --------
    >>> import brainstate
    >>> m = GainPopulation(1, g=0.5)
    >>> _ = brainstate.nn.init_all_states(m)
    >>> list(m.states(brainstate.ParamState).keys())
    [('g', 'val')]
    """

    def __init__(self, in_size, g=1.0, tau=10. * u.ms):
        super().__init__(in_size)
        self.tau = tau
        self.g = Param(g, fit=True)

    def init_state(self, batch_size=None):
        """Start the rate ``r`` at zero, ``(batch_size, in_size)`` or ``(in_size,)``."""
        self.r = brainstate.HiddenState(
            braintools.init.param(braintools.init.Constant(0.0), self.varshape, batch_size)
        )

    def update(self, inp=0.0):
        """Advance one Euler step of ``dt`` driven by ``inp``; return the new rate."""
        r = self.r.value
        dr = (-r + self.g.value() * jnp.tanh(inp)) / self.tau
        self.r.value = r + dr * brainstate.environ.get_dt()
        return self.r.value


class _NumpyInit:
    """Draw initial weights with numpy, seeded: no JAX op runs, so nothing compiles.

    brainstate's initialisers run op by op on the device, and each new shape
    costs one XLA compilation (about 40, seconds in all, for a GRU network),
    which dominates a short run's start-up.
    """

    def __init__(self, rng, kind):
        self.rng, self.kind = rng, kind

    def __call__(self, shape, **kwargs):
        shape = tuple(shape)
        if self.kind == 'zeros':
            return jax.device_put(np.zeros(shape, np.float32))
        fan_in, fan_out = shape[0], int(np.prod(shape[1:]))
        w = self.rng.standard_normal((max(fan_in, fan_out), min(fan_in, fan_out)))
        if self.kind == 'orthogonal':
            q, r = np.linalg.qr(w)
            w = q * np.sign(np.diag(r))
        else:  # Glorot (Xavier) normal
            w = w * np.sqrt(2.0 / (fan_in + fan_out))
        w = w if fan_in >= fan_out else w.T
        # device_put, not jnp.asarray: the latter compiles a copy kernel per shape.
        return jax.device_put(w.reshape(shape).astype(np.float32))


class RateRNN(brainstate.nn.Module):
    """A recurrent rate network for tasks: an RNN cell plus a linear readout.

    One call advances one time step: ``update(x_t) -> y_t`` with ``x_t`` of
    shape ``(batch, n_input)`` and ``y_t`` of shape ``(batch, n_output)``; the
    Trainer's default forward rolls it over time. Weights follow brainstate's
    choice per cell (orthogonal for GRU, Glorot normal for the vanilla and
    LSTM cells and the readout), biases start at zero, all drawn with numpy
    from ``seed`` so construction compiles nothing.

    Parameters
    ----------
    n_input, n_hidden, n_output : int
        Layer sizes.
    cell : {'vanilla', 'gru', 'lstm'}, default 'gru'
        Which ``brainstate.nn`` RNN cell to use.
    seed : int, default 0
        Seeds the initial weights.

    Examples
    --------
    >>> import brainstate, jax.numpy as jnp
    >>> net = RateRNN(3, 16, 2)
    >>> _ = brainstate.nn.init_all_states(net, batch_size=4)
    >>> net(jnp.ones((4, 3))).shape
    (4, 2)
    """

    # The cell and its recurrent-weight initialiser, as brainstate chooses them.
    _CELLS = {'vanilla': (brainstate.nn.ValinaRNNCell, 'glorot'),
              'gru': (brainstate.nn.GRUCell, 'orthogonal'),
              'lstm': (brainstate.nn.LSTMCell, 'glorot')}

    def __init__(self, n_input, n_hidden, n_output, *, cell='gru', seed=0):
        super().__init__()
        if cell not in self._CELLS:
            raise ValueError(f"cell must be one of {sorted(self._CELLS)}, got {cell!r}.")
        rng = np.random.default_rng(seed)
        zeros = _NumpyInit(rng, 'zeros')
        self.n_input = n_input
        cell_class, w_kind = self._CELLS[cell]
        self.cell = cell_class(n_input, n_hidden, w_init=_NumpyInit(rng, w_kind),
                               b_init=zeros, state_init=zeros)
        self.readout = brainstate.nn.Linear(n_hidden, n_output, w_init=_NumpyInit(rng, 'glorot'),
                                            b_init=zeros)

    def update(self, x):
        """One time step: ``x_t`` ``(batch, n_input)`` -> ``y_t`` ``(batch, n_output)``."""
        return self.readout(self.cell(x))
