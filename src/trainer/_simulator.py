"""A compact run loop for ``predict(model)`` closures."""

import math

import brainstate
import brainunit as u
import jax.numpy as jnp
import numpy as np

__all__ = ['Simulator']


class Simulator:
    """Run a ``brainstate`` model for a duration and record its states.

    ``run`` sets ``dt``, initialises the states (optionally batched), steps the
    model with :func:`brainstate.transform.for_loop` and stacks the monitored
    values. It is a pure function of the model's parameters, so it is safe
    inside ``jit``, ``grad`` and ``vmap`` (build a fresh model inside the
    mapped function, as the seed's section 4 does).

    Parameters
    ----------
    model : brainstate.nn.Module
        The model to drive; ``model.update(*inputs)`` advances it one step.
    dt : brainunit.Quantity, optional
        The integration step. Defaults to ``brainstate.environ.get_dt()`` at
        run time.

    Examples
    --------
    >>> import brainstate, brainunit as u
    >>> from trainer.models import GainPopulation
    >>> sim = Simulator(GainPopulation(1, g=2.0), dt=0.1 * u.ms)
    >>> res = sim.run(60. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])
    >>> res['r'].shape
    (600, 1)
    """

    def __init__(self, model, dt=None):
        self.model = model
        self.dt = dt

    def _n_steps(self, duration, dt):
        ratio = float(u.get_magnitude(duration / dt))
        n_steps = int(round(ratio))
        if n_steps < 1 or not math.isclose(ratio, n_steps, rel_tol=0, abs_tol=1e-6):
            raise ValueError(
                f"duration must be a positive whole number of dt steps; got "
                f"duration={duration} with dt={dt} ({ratio:g} steps)."
            )
        return n_steps

    def _monitor(self, monitors):
        if monitors is None:
            return lambda out: {'output': out}
        names = list(monitors)
        missing = [n for n in names if not hasattr(self.model, n)]
        if missing:
            raise ValueError(
                f"monitors names {missing}, which are not states of "
                f"{type(self.model).__name__}; monitor one of its state attributes."
            )
        return lambda out: {n: getattr(self.model, n).value for n in names}

    @staticmethod
    def _input_fn(inputs, n_steps):
        if inputs is None:
            return lambda i, t: ()
        if callable(inputs):
            return lambda i, t: (lambda r: r if isinstance(r, tuple) else (r,))(inputs(i, t))
        array = inputs if isinstance(inputs, u.Quantity) else jnp.asarray(inputs)
        if array.shape[0] != n_steps:
            raise ValueError(
                f"inputs has {array.shape[0]} rows but the run has {n_steps} steps; "
                "pass one row per step (or a callable(i, t))."
            )
        return lambda i, t: (array[i],)

    def run(self, duration, *, inputs=None, monitors=None, batch_size=None, init_states=True):
        """Simulate for ``duration`` and return ``{name: (n_steps, ...) trajectory}``.

        Parameters
        ----------
        duration : brainunit.Quantity
            Simulated time; must be a whole number of ``dt`` steps.
        inputs : callable or array, optional
            ``inputs(i, t)`` returning the argument(s) of ``model.update``, or an
            array with one row per step.
        monitors : list of str, optional
            State attributes to record; ``None`` records ``update``'s return
            value under ``'output'``.
        batch_size : int, optional
            Initialise the states with this batch size.
        init_states : bool, default True
            Initialise the states first; ``False`` continues from the current ones.

        Returns
        -------
        dict
            Each monitor's stacked trajectory, time first.
        """
        dt = self.dt if self.dt is not None else brainstate.environ.get_dt()
        n_steps = self._n_steps(duration, dt)
        get_inputs = self._input_fn(inputs, n_steps)
        with brainstate.environ.context(dt=dt):
            if init_states:
                brainstate.nn.init_all_states(self.model, batch_size)
            measure = self._monitor(monitors)

            def step(i):
                t = i * dt
                with brainstate.environ.context(i=i, t=t):
                    out = self.model.update(*get_inputs(i, t))
                return measure(out)

            return brainstate.transform.for_loop(step, np.arange(n_steps))
