"""A whole-brain Hopf network on brainmass's ``HopfStep``, for the population and empirical benchmarks.

Deco et al.'s (2017) model: one Stuart-Landau oscillator per region, near its
Hopf bifurcation, diffusively coupled through the subject's structural
connectome, driven by noise; its ``x`` sampled once per repetition time is
the BOLD proxy whose FC is compared with the recording's. Time is in
seconds (brainmass's unit label says ms; only the numbers matter). The
connectome and each region's intrinsic frequency are non-trainable states,
so ``Fitter.fit_many(..., per_target=...)`` gives every subject its own.
"""

import brainmass
import brainstate
import braintools
import brainunit as u
import jax.numpy as jnp
import numpy as np

DT = 0.1  # the longest integration step, s: each TR is split into whole steps of at most this
TRANSIENT = 20  # frames simulated and dropped before the recording starts


class HopfBrain(brainstate.nn.Module):
    """Coupled Hopf oscillators; trainable global coupling ``g``, bifurcation ``node.a`` and noise ``sigma``."""

    def __init__(self, weights, omega, *, g=0.5, a=-0.02, sigma=0.02, tr=2.0, n_frames=355):
        super().__init__()
        n = weights.shape[-1]
        self.conn = brainstate.State(jnp.asarray(weights, jnp.float32))
        self.omega = brainstate.State(jnp.asarray(omega, jnp.float32))
        self.g = brainstate.nn.Param(g, t=brainstate.nn.SigmoidT(0.0, 3.0), fit=True)
        self.sigma = brainstate.nn.Param(sigma, t=brainstate.nn.SigmoidT(0.002, 0.3), fit=True)
        self.node = brainmass.HopfStep(n, a=brainstate.nn.Param(a, t=brainstate.nn.SigmoidT(-0.3, 0.1), fit=True),
                                       w=0.0, beta=1.0)
        self.tr_steps = int(np.ceil(tr / DT - 1e-9))
        self.dt, self.n_frames = tr / self.tr_steps, n_frames

    def step(self, _):
        x, y = self.node.x.value, self.node.y.value
        conn, omega, g = self.conn.value, self.omega.value, self.g.value()
        # Diffusive coupling g * sum_j C_ij (x_j - x_i); the rotation omega enters as an input (HopfStep's w = 0).
        strength = conn.sum(axis=1)
        cx, cy = g * (conn @ x - strength * x), g * (conn @ y - strength * y)
        scale = self.sigma.value() / np.sqrt(self.dt)  # an Euler step then adds sigma * sqrt(dt) * N(0, 1)
        noise = brainstate.random.normal(size=(2,) + x.shape)
        self.node.update(cx - omega * y + scale * noise[0], cy + omega * x + scale * noise[1])

    def frame(self, _):
        brainstate.transform.for_loop(self.step, jnp.arange(self.tr_steps))
        return self.node.x.value

    def __call__(self):
        """Simulate ``n_frames`` repetition times from a fixed small initial state; ``(n_frames, n)``."""
        with brainstate.environ.context(dt=self.dt * u.ms):
            n = self.conn.value.shape[-1]
            self.node.x.value = jnp.full((n,), 0.1, jnp.float32)
            self.node.y.value = jnp.zeros((n,), jnp.float32)
            return brainstate.transform.for_loop(self.frame, jnp.arange(self.n_frames))


def peak_frequency(bold, tr, band=(0.04, 0.07)):
    """Each region's intrinsic angular frequency (rad/s): the power peak of its BOLD in ``band`` Hz.

    Deco et al. (2017) take it from the narrow-band-filtered recording; the
    periodogram's peak inside the band is the same estimate without a filter.
    """
    freqs = np.fft.rfftfreq(bold.shape[0], d=tr)
    power = np.abs(np.fft.rfft(bold - bold.mean(0), axis=0)) ** 2
    inside = (freqs >= band[0]) & (freqs <= band[1])
    return 2 * np.pi * freqs[inside][np.argmax(power[inside], axis=0)]


def build(subjects, **kwargs):
    """A ``HopfBrain`` shaped for ``subjects`` (an ``EmpiricalSubjects``) and its per-target states."""
    tr = float(subjects.dt.to_decimal(u.second))
    omegas = np.stack([peak_frequency(b, tr) for b in subjects.targets]).astype(np.float32)
    model = HopfBrain(subjects.weights[0], omegas[0], tr=tr, n_frames=subjects.n_steps + TRANSIENT, **kwargs)
    brainstate.nn.init_all_states(model)
    return model, {'conn': subjects.weights, 'omega': omegas}


def predict(model):
    """The simulated BOLD proxy after the transient, ``(n_frames, n_regions)``."""
    return model()[TRANSIENT:]


def fc_loss(prediction, fc_target):
    """``1 - corr(FC_sim, FC_emp)`` over the upper triangles (braintools' FC and matrix correlation)."""
    fc = braintools.metric.functional_connectivity(prediction)
    return 1.0 - braintools.metric.matrix_correlation(fc, fc_target)
