"""A compact run loop for ``predict(model)`` closures, with brainmass's ``Simulator.run`` options."""

import math
import numbers

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ['Simulator']


class Simulator:
    """Run a ``brainstate`` model for a duration and record its states.

    ``run`` sets ``dt``, initialises the states (optionally batched), steps the
    model with :func:`brainstate.transform.for_loop` and stacks the monitored
    values, as brainmass's ``Simulator`` does (same arguments, same result).
    It is a pure function of the model's parameters, so it is safe inside
    ``jit``, ``grad`` and ``vmap`` (build a fresh model inside the mapped
    function, as the seed's section 4 does).

    Parameters
    ----------
    model : brainstate.nn.Module
        The model to drive; ``model.update(*inputs)`` advances it one step.
    dt : brainunit.Quantity, optional
        The integration step. Defaults to ``brainstate.environ``'s ``dt`` at
        run time; ``run`` raises ``ValueError`` when neither is set.

    Examples
    --------
    >>> import brainunit as u
    >>> from trainer.models import GainPopulation
    >>> sim = Simulator(GainPopulation(1, g=2.0), dt=0.1 * u.ms)
    >>> res = sim.run(60. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])
    >>> res['r'].shape, res['ts'].shape
    ((600, 1), (600,))
    >>> res = sim.run(60. * u.ms, inputs=lambda i, t: 1.0, monitors={'rate': 'r', 'double': lambda m: 2 * m.r.value},
    ...               transient=10. * u.ms, sample_every=10)
    >>> res['rate'].shape, res['double'].shape, res['ts'][0]
    ((50, 1), (50, 1), Quantity(10.1, "ms"))
    """

    def __init__(self, model, dt=None):
        self.model = model
        self.dt = dt

    def _dt(self):
        dt = self.dt if self.dt is not None else brainstate.environ.get('dt', None)
        if dt is None:
            raise ValueError(
                "dt is not set: pass Simulator(model, dt=...) or call "
                "brainstate.environ.set(dt=...) before run()."
            )
        return dt

    @staticmethod
    def _steps(name, duration, dt):
        ratio = float(u.get_magnitude(duration / dt))
        n_steps = int(round(ratio))
        if not math.isclose(ratio, n_steps, rel_tol=0, abs_tol=1e-6):
            raise ValueError(
                f"{name} must be a whole number of dt steps; got {name}={duration} with dt={dt} "
                f"({ratio:g} steps). Round it to a multiple of dt (brainmass would floor it silently)."
            )
        return n_steps

    def _n_steps(self, duration, dt):
        n_steps = self._steps('duration', duration, dt)
        if n_steps < 1:
            raise ValueError(f"duration must be >= 1 dt; got duration={duration} with dt={dt}.")
        return n_steps

    def _transient(self, transient, dt, n_steps):
        if transient is None:
            return 0
        if isinstance(transient, u.Quantity):
            n = self._steps('transient', transient, dt)
        elif isinstance(transient, numbers.Integral) and not isinstance(transient, bool):
            n = int(transient)
        else:
            raise ValueError(f"transient must be a duration (Quantity) or a step count (int), got {transient!r}.")
        if n < 0:
            raise ValueError(f"transient must be >= 0, got {transient!r}.")
        if n >= n_steps:
            raise ValueError(
                f"transient ({n} steps) must be shorter than the run ({n_steps} steps); nothing would be recorded."
            )
        return n

    @staticmethod
    def _sample_every(sample_every):
        if sample_every is None:
            return 1
        if isinstance(sample_every, bool) or not isinstance(sample_every, numbers.Integral) or sample_every < 1:
            raise ValueError(f"sample_every must be an int >= 1, got {sample_every!r}.")
        return int(sample_every)

    def _read(self, name, spec):
        """``read(model) -> value`` for a monitor given as a state name or a callable."""
        if callable(spec):
            return spec
        if not isinstance(spec, str):
            raise ValueError(
                f"monitor {name!r} must be a state name (str) or a callable(model), got {spec!r}."
            )
        try:
            state = self.model
            for part in spec.split('.'):  # a dotted name reaches into a network ('node.r')
                state = getattr(state, part)
        except AttributeError:
            raise ValueError(
                f"monitor {name!r} -> {spec!r} is not an attribute of {type(self.model).__name__}; "
                "monitor one of its states, or pass a callable(model)."
            ) from None
        if not isinstance(state, brainstate.State):
            raise ValueError(
                f"monitor {name!r} -> {spec!r} is a {type(state).__name__}, not a state; "
                f"record it with a callable instead, e.g. {{{name!r}: lambda m: m.{spec}.value()}}."
            )
        return lambda model: state.value

    def _monitor(self, monitors):
        """``measure(update_output) -> {name: value}`` for brainmass's monitor forms."""
        if monitors is None:
            return lambda out: {'output': out}
        if callable(monitors):
            return lambda out: {'output': monitors(self.model)}
        if isinstance(monitors, str):
            monitors = [monitors]
        pairs = monitors.items() if isinstance(monitors, dict) else ((name, name) for name in monitors)
        readers = {}
        for name, spec in pairs:
            if name == 'ts':
                raise ValueError("'ts' is the time axis of the result; name the monitor something else.")
            readers[name] = self._read(name, spec)
        return lambda out: {name: read(self.model) for name, read in readers.items()}

    @staticmethod
    def _input_fn(inputs, n_steps):
        if inputs is None:
            return lambda i, t: ()
        if callable(inputs):
            return lambda i, t: (lambda r: r if isinstance(r, tuple) else (r,))(inputs(i, t))
        array = inputs if isinstance(inputs, u.Quantity) else jnp.asarray(inputs)
        if array.shape[0] != n_steps:
            raise ValueError(
                f"inputs has length {array.shape[0]} along axis 0 but the run has {n_steps} steps; "
                "pass one row per step (or a callable(i, t))."
            )
        return lambda i, t: (array[i],)

    def run(self, duration, *, inputs=None, monitors=None, transient=None, sample_every=None,
            batch_size=None, init_states=True, jit=True):
        """Simulate for ``duration``; return each monitor's trajectory and the time axis ``'ts'``.

        Parameters
        ----------
        duration : brainunit.Quantity
            Simulated time; must be a whole number of ``dt`` steps.
        inputs : callable or array, optional
            ``inputs(i, t)`` returning the argument(s) of ``model.update``, or an
            array with one row per step.
        monitors : list, dict or callable, optional
            What to record each step: ``None`` records ``update``'s return
            value under ``'output'``; a list of state names (``['r']``, dotted
            for nested modules: ``['node.r']``) records each state's value; a
            ``callable(model)`` records its value under ``'output'``; a dict
            ``{output name: state name or callable(model)}`` names each record.
        transient : brainunit.Quantity or int, optional
            Leading time (a whole number of steps) or step count to drop.
        sample_every : int, optional
            Keep every ``sample_every``-th step after the transient.
        batch_size : int, optional
            Initialise the states with this batch size.
        init_states : bool, default True
            Initialise the states first; ``False`` continues from the current ones.
        jit : bool, default True
            Compile the whole run with ``brainstate.transform.jit``; ``False``
            runs the loop as traced (the states still advance under
            ``for_loop``).

        Returns
        -------
        dict
            Each monitor's stacked trajectory, time first, with ``(n_steps -
            transient) // sample_every`` rounded up entries; ``'ts'``, the time
            at the *end* of each kept step (``dt``, ``2 dt``, ...).

        Raises
        ------
        ValueError
            When ``dt`` is not set, ``duration`` or ``transient`` is not a
            whole number of steps, a monitor is not a state, or ``inputs`` has
            the wrong length.
        """
        dt = self._dt()
        n_steps = self._n_steps(duration, dt)
        keep = slice(self._transient(transient, dt, n_steps), None, self._sample_every(sample_every))
        get_inputs = self._input_fn(inputs, n_steps)
        with brainstate.environ.context(dt=dt):
            if init_states:
                brainstate.nn.init_all_states(self.model, batch_size)
            measure = self._monitor(monitors)  # after init: the states exist now

            def step(i):
                t = i * dt
                with brainstate.environ.context(i=i, t=t):
                    out = self.model.update(*get_inputs(i, t))
                return measure(out)

            def loop():
                return brainstate.transform.for_loop(step, np.arange(n_steps))

            records = brainstate.transform.jit(loop)() if jit else loop()
        records = jax.tree.map(lambda a: a[keep], records)
        records['ts'] = ((np.arange(n_steps) + 1) * dt)[keep]
        return records
