"""``SpikingRNN``: a recurrent LIF network trained with surrogate gradients, read out by a leaky unit.

One step of ``dt`` (exponential Euler; ``d_k = exp(-dt / tau_k)``; ``Theta``
the Heaviside step, whose gradient is a ``braintools.surrogate`` function)::

    I <- d_syn I + s @ W_rec + u @ W_in + b                   (synaptic drive, in units of the threshold gap)
    V <- V_rest + d_mem (V - V_rest) + (1 - d_mem) (V_th - V_rest) I + noise
    s  = Theta((V - V_th) / (V_th - V_rest))                  (spikes, 0 or 1 per step)
    V <- V - s (V_th - V_reset)                               (reset, no gradient through s)
    y <- d_out y + s @ W_out;   output y + b_out

``V`` is in mV; a constant ``I = 1`` holds ``V`` at threshold. The rate of a
unit is ``s / dt``: record ``'spike'`` and divide by ``dt`` for Hz
(:meth:`SpikingRNN.rates_hz`), or keep rates physiological with
``trainer.regularizers.rate_l2(..., state='spike', target=...)``.
"""

import brainstate
import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

from .mode import step_fraction, training
from .wiring import wiring

__all__ = ['SpikingRNN']


def _zeros(shape):
    return jax.device_put(np.zeros(shape, np.float32))


class SpikingRNN(brainstate.nn.Module):
    """A recurrent LIF network with a leaky readout (see the module for the equations).

    Parameters
    ----------
    n_input, n_hidden, n_output : int
        Layer sizes.
    tau_mem, tau_syn, tau_out : brainunit.Quantity, default 20, 10 and 100 ms
        Membrane, synaptic and readout time constants (read with ``dt`` at
        each call: the network can be built outside ``environ.context(dt=...)``).
    v_rest, v_th, v_reset : brainunit.Quantity, default -65, -50 and -65 mV
    surrogate : braintools.surrogate.Surrogate, optional
        The spike's pseudo-derivative; default ``braintools.surrogate.Sigmoid(alpha=4.)``.
    sigma_rec : float, default 0.0
        Membrane noise (in units of the threshold gap, scaled by ``sqrt(2 dt / tau_mem)``),
        drawn in training steps only.
    input_scale : float, default 2.0
        Multiplies the initial input weights (so the first trials spike).
    dale, readout, input_mask, rec_mask, output_mask, fixed, init, radius, bias, seed
        As for :class:`trainer.models.LeakyRNN`.

    Attributes
    ----------
    V : brainstate.HiddenState
        Membrane potentials in mV.
    I, spike, y : brainstate.HiddenState
        Synaptic drive, spikes (0/1) and the readout's state.

    Examples
    --------
    >>> import brainstate, brainunit as u, jax.numpy as jnp
    >>> net = SpikingRNN(3, 10, 2)
    >>> _ = brainstate.nn.init_all_states(net, batch_size=4)
    >>> with brainstate.environ.context(dt=1. * u.ms):
    ...     y = net(jnp.ones((4, 3)))
    >>> y.shape, str(u.get_unit(net.V.value))
    ((4, 2), 'mV')
    """

    def __init__(self, n_input, n_hidden, n_output, *, tau_mem=20. * u.ms, tau_syn=10. * u.ms,
                 tau_out=100. * u.ms, v_rest=-65. * u.mV, v_th=-50. * u.mV, v_reset=-65. * u.mV,
                 surrogate=None, sigma_rec=0.0, input_scale=2.0, dale=None, readout='all',
                 input_mask=None, rec_mask=None, output_mask=None, fixed=(), init=None, radius=None,
                 bias=True, seed=0):
        super().__init__()
        for name, value, unit in (('tau_mem', tau_mem, u.ms), ('tau_syn', tau_syn, u.ms),
                                  ('tau_out', tau_out, u.ms), ('v_rest', v_rest, u.mV),
                                  ('v_th', v_th, u.mV), ('v_reset', v_reset, u.mV)):
            if not (isinstance(value, u.Quantity) and u.get_unit(value).dim == unit.dim):
                raise ValueError(f'{name} must be a quantity in {unit} (e.g. 20 * brainunit.{unit}), '
                                 f'got {value!r}.')
        if not v_th > v_rest:
            raise ValueError(f'v_th must lie above v_rest, got v_th={v_th} and v_rest={v_rest}.')
        if not float(sigma_rec) >= 0.0:
            raise ValueError(f'sigma_rec must be a non-negative number, got {sigma_rec!r}.')
        self.n_input, self.n_hidden, self.n_output = n_input, n_hidden, n_output
        self.tau_mem, self.tau_syn, self.tau_out = tau_mem, tau_syn, tau_out
        self.v_rest, self.v_th, self.v_reset = v_rest, v_th, v_reset
        self.surrogate = braintools.surrogate.Sigmoid(alpha=4.0) if surrogate is None else surrogate
        self.sigma_rec = float(sigma_rec)
        params, self.signs = wiring(
            np.random.default_rng(seed), n_input, n_hidden, n_output, dale=dale, input_mask=input_mask,
            rec_mask=rec_mask, output_mask=output_mask, readout=readout, fixed=fixed, init=init,
            radius=radius, bias=bias, input_scale=input_scale)
        self.w_in, self.w_rec, self.w_out = params['w_in'], params['w_rec'], params['w_out']
        self.b, self.b_out = params['b'], params['b_out']

    def compile_key(self):
        """What a compiled step bakes in besides the parameters: constants, noise and the surrogate."""
        return ('SpikingRNN', self.sigma_rec, repr(self.surrogate),
                *(str(q) for q in (self.tau_mem, self.tau_syn, self.tau_out, self.v_rest, self.v_th,
                                   self.v_reset)))

    def init_state(self, batch_size=None, **kwargs):
        """``V = v_rest``, no drive, no spikes, readout at zero."""
        shape = (self.n_hidden,) if batch_size is None else (batch_size, self.n_hidden)
        out = (self.n_output,) if batch_size is None else (batch_size, self.n_output)
        self.V = brainstate.HiddenState(u.Quantity(_zeros(shape) + float(self.v_rest.to_decimal(u.mV)), unit=u.mV))
        self.I = brainstate.HiddenState(_zeros(shape))
        self.spike = brainstate.HiddenState(_zeros(shape))
        self.y = brainstate.HiddenState(_zeros(out))

    def update(self, inp):
        """One step of ``dt``: ``u_t`` ``(batch, n_input)`` -> readout ``(batch, n_output)``."""
        d_mem, d_syn, d_out = (float(np.exp(-step_fraction(t))) for t in (self.tau_mem, self.tau_syn,
                                                                          self.tau_out))
        gap = self.v_th - self.v_rest
        s = self.spike.value
        current = d_syn * self.I.value + s @ self.w_rec.value() + inp @ self.w_in.value() + self.b.value()
        v = self.v_rest + d_mem * (self.V.value - self.v_rest) + (1.0 - d_mem) * gap * current
        if training() and self.sigma_rec > 0:
            v = v + np.sqrt(2.0 * step_fraction(self.tau_mem)) * self.sigma_rec * gap * \
                brainstate.random.randn(*jnp.shape(current))
        spike = self.surrogate(u.get_magnitude((v - self.v_th) / gap))
        v = v - jax.lax.stop_gradient(spike) * (self.v_th - self.v_reset)
        y = d_out * self.y.value + spike @ self.w_out.value()
        self.I.value, self.V.value, self.spike.value, self.y.value = current, v, spike, y
        return y + self.b_out.value()

    @staticmethod
    def rates_hz(spikes, dt):
        """Mean firing rate in Hz of recorded ``spikes`` (0/1 per step of ``dt``).

        Examples
        --------
        >>> import brainunit as u, numpy as np
        >>> SpikingRNN.rates_hz(np.array([0., 1., 0., 1.]), 20. * u.ms)
        25.0
        """
        return float(np.mean(spikes) / u.get_magnitude(dt / u.second))
