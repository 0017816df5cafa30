"""``LeakyRNN``: the leaky firing-rate network of Song, Yang & Wang (2016) and Yang et al. (2019).

One step of ``dt`` (``a = dt / tau``, ``xi`` standard normal, fresh each step)::

    u' = u + sqrt(2 / a) * sigma_in * xi_in                       (input noise)
    x <- (1 - a) x + a (r @ W_rec + u' @ W_in + b) + sqrt(2 a) * sigma_rec * xi
    r  = f(x)
    y  = r @ W_out + b_out

Noise is drawn only in training steps (``brainstate.environ`` ``fit=True``,
see :mod:`trainer.nets.mode`). Under Dale's law every presynaptic unit has
one sign (``W_rec = mask * |W| * sign``); masks are fixed; any matrix may be
untrained.
"""

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

from .connectivity import leading_eigenvalue, spectral_radius
from .mode import step_fraction, training
from .wiring import wiring

__all__ = ['ACTIVATIONS', 'LeakyRNN']

ACTIVATIONS = {'relu': jax.nn.relu, 'softplus': jax.nn.softplus, 'tanh': jnp.tanh}
_AT_ZERO = {'relu': 0.0, 'softplus': float(np.log(2.0)), 'tanh': 0.0}  # f(0), without a JAX op


def _sigma(name, value):
    value = float(value)
    if not value >= 0.0:
        raise ValueError(f'{name} must be a non-negative number (a noise standard deviation), got {value}.')
    return value


def _zeros(shape):
    return jax.device_put(np.zeros(shape, np.float32))  # no JAX op: nothing compiles


class LeakyRNN(brainstate.nn.Module):
    """A leaky rate network (see the module for the equation), optionally excitatory/inhibitory.

    Parameters
    ----------
    n_input, n_hidden, n_output : int
        Layer sizes.
    tau : brainunit.Quantity, default 100 ms
        Unit time constant; ``a = dt / tau`` is read at every call, so the
        network can be built outside ``brainstate.environ.context(dt=...)``.
    activation : {'relu', 'softplus', 'tanh'}, default 'relu'
    sigma_in, sigma_rec : float, default 0.01 and 0.05
        Input and recurrent noise (Yang et al. 2019's values).
        Changing them after a compile takes effect: they are part of every
        compiled program's key (:meth:`compile_key`).
    dale : float or array_like, optional
        Excitatory fraction (``0.8``) or a ``+1``/``-1`` vector: Dale's law.
    readout : {'all', 'excitatory'}, default 'all'
        Read out from every unit, or from excitatory ones only (Song 2016).
    input_mask, rec_mask, output_mask : array_like, optional
        Fixed 0/1 connectivity ``(pre, post)``; with ``dale`` the default
        recurrent mask drops self-connections.
    fixed : sequence of str, default ()
        Untrained matrices among ``'w_in', 'w_rec', 'w_out'``.
    init : {'balanced', 'gaussian'}, optional
        Recurrent initialisation (default ``'balanced'`` with ``dale``).
    radius : float, optional
        Initial spectral radius of the effective ``W_rec`` (1.5 balanced, 1.0 gaussian).
    bias : bool, default True
        Train the hidden bias ``b``.
    seed : int, default 0

    Attributes
    ----------
    x, r : brainstate.HiddenState
        The unit input and the rate ``f(x)`` (record ``'r'`` for activity).
    signs : numpy.ndarray or None
        The Dale sign of each unit.

    Examples
    --------
    >>> import brainstate, brainunit as u, jax.numpy as jnp
    >>> net = LeakyRNN(3, 10, 2, dale=0.8, readout='excitatory')
    >>> _ = brainstate.nn.init_all_states(net, batch_size=4)
    >>> with brainstate.environ.context(dt=20. * u.ms):
    ...     net(jnp.ones((4, 3))).shape
    (4, 2)
    >>> round(net.spectral_radius(), 3), int(net.signs.sum())
    (1.5, 6)
    """

    def __init__(self, n_input, n_hidden, n_output, *, tau=100. * u.ms, activation='relu',
                 sigma_in=0.01, sigma_rec=0.05, dale=None, readout='all', input_mask=None,
                 rec_mask=None, output_mask=None, fixed=(), init=None, radius=None, bias=True, seed=0):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f'activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}.')
        if not (isinstance(tau, u.Quantity) and u.get_unit(tau).dim == u.ms.dim):
            raise ValueError(f'tau must be a time quantity such as 100 * brainunit.ms, got {tau!r}.')
        self.n_input, self.n_hidden, self.n_output = n_input, n_hidden, n_output
        self.tau, self.activation = tau, activation
        self.sigma_in, self.sigma_rec = _sigma('sigma_in', sigma_in), _sigma('sigma_rec', sigma_rec)
        params, self.signs = wiring(
            np.random.default_rng(seed), n_input, n_hidden, n_output, dale=dale, input_mask=input_mask,
            rec_mask=rec_mask, output_mask=output_mask, readout=readout, fixed=fixed, init=init,
            radius=radius, bias=bias)
        self.w_in, self.w_rec, self.w_out = params['w_in'], params['w_rec'], params['w_out']
        self.b, self.b_out = params['b'], params['b_out']

    def compile_key(self):
        """What a compiled step bakes in besides the parameters: the noise levels, ``tau`` and ``f``."""
        return ('LeakyRNN', self.sigma_in, self.sigma_rec, str(self.tau), self.activation)

    def init_state(self, batch_size=None, **kwargs):
        """``x = 0`` and ``r = f(0)``, ``(batch_size, n_hidden)`` or ``(n_hidden,)``."""
        shape = (self.n_hidden,) if batch_size is None else (batch_size, self.n_hidden)
        x = _zeros(shape)
        self.x = brainstate.HiddenState(x)
        self.r = brainstate.HiddenState(jax.device_put(np.full(shape, _AT_ZERO[self.activation], np.float32)))

    def update(self, inp):
        """One step of ``dt``: ``u_t`` ``(batch, n_input)`` -> ``y_t`` ``(batch, n_output)``."""
        a = step_fraction(self.tau)
        noisy = training()
        if noisy and self.sigma_in > 0:
            inp = inp + np.sqrt(2.0 / a) * self.sigma_in * brainstate.random.randn(*jnp.shape(inp))
        x = self.x.value
        drive = self.r.value @ self.w_rec.value() + inp @ self.w_in.value() + self.b.value()
        x = (1.0 - a) * x + a * drive
        if noisy and self.sigma_rec > 0:
            x = x + np.sqrt(2.0 * a) * self.sigma_rec * brainstate.random.randn(*jnp.shape(x))
        r = ACTIVATIONS[self.activation](x)
        self.x.value, self.r.value = x, r
        return r @ self.w_out.value() + self.b_out.value()

    def spectral_radius(self):
        """The spectral radius of the current effective ``W_rec``."""
        return spectral_radius(np.asarray(self.w_rec.value()))

    def leading_eigenvalue(self):
        """The eigenvalue of largest real part of the current effective ``W_rec`` (a complex)."""
        return leading_eigenvalue(np.asarray(self.w_rec.value()))
