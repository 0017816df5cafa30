"""An ensemble's compiled programs: member 0's pure step, ``jax.vmap``-ed over the member axis.

The lead member's :class:`~trainer.core.program.Program` turns its stateful step
into ``pure(state, *args) -> (state, out)``; here that function is vmapped
over a ``TrainState`` stacked along a leading member axis, so K members
cost one trace and one compilation. A member whose ``active`` flag is false
keeps its state (``jnp.where`` inside the program): a stopped or diverged
member freezes while the others train on.
"""

import brainstate
import jax
import jax.numpy as jnp

from ..core.compiles import counting
from ..core.data import eval_indices, to_device
from ..core.program import _COMPILER, _abstract, _scanned_all, environ_key
from .members import traced_hparams
from ..objectives.scores import mean_of

__all__ = ['EnsemblePrograms', 'over_members']


def over_members(fn, in_axes, member_batch):
    """``fn`` over the member axis: ``jax.vmap``, or with ``member_batch`` a ``jax.lax.map`` over chunks.

    A chunk of ``member_batch`` members is vmapped; ``1`` steps the members one
    after another inside the one program (what a CPU runs fastest: its small
    batched matrix products cost no less than K separate ones).
    """
    if member_batch is None:
        return jax.vmap(fn, in_axes=in_axes)
    mapped = [i for i, axis in enumerate(in_axes) if axis == 0]

    def each(*args):
        def one(xs):
            full = list(args)
            for i, x in zip(mapped, xs):
                full[i] = x
            return fn(*full)

        return jax.lax.map(one, tuple(args[i] for i in mapped), batch_size=member_batch)

    return each


def _keep(active, new, old):
    # Per member (inside vmap): the new state where active, else the old one, leaf by leaf.
    return jax.tree.map(lambda n, o: jnp.where(active, n, o), new, old)


class EnsemblePrograms:
    """The vmapped train and held-out programs of an ensemble, cached per key.

    Parameters
    ----------
    lead : trainer.Trainer
        Member 0's Trainer: its model, optimizer, objective, forward and
        metrics are traced once for all members.
    member_batch : int, optional
        See :func:`over_members`; ``None`` vmaps all members at once.
    """

    def __init__(self, lead, member_batch=None):
        self.lead, self.member_batch = lead, member_batch
        self._jitted, self._ahead = {}, {}
        self.compiles = {'train': 0, 'eval': 0}

    def train_fn(self, compile_epoch, per_member_idx):
        """Compiled ``(state, hparams, active, data, idx, advance) -> (state, (sums, finite))``.

        Every argument but ``data`` (and ``idx`` unless ``per_member_idx``)
        has a leading member axis; with ``compile_epoch`` the step is scanned
        over ``idx`` and ``advance`` stacked along a leading step axis.
        """
        key = ('train', compile_epoch, per_member_idx, self.member_batch, *self.lead._key(), environ_key())
        if key not in self._jitted:
            batch, optimizer = self.lead._train_build(), self.lead.optimizer

            def with_hparams(hparams, data, idx, advance):
                with traced_hparams(optimizer, hparams):
                    return batch(data, idx, advance)

            pure = self.lead.program.pure(with_hparams)

            def step(state, hparams, active, data, idx, advance):
                new, out = pure(state, hparams, data, idx, advance)
                return _keep(active, new, state), out

            members = over_members(step, (0, 0, 0, None, 0 if per_member_idx else None, None),
                                   self.member_batch)
            if compile_epoch:
                def epoch(state, hparams, active, data, idx, advance):
                    return jax.lax.scan(lambda s, xs: members(s, hparams, active, data, *xs),
                                        state, (idx, advance))
                self._jitted[key] = jax.jit(epoch)
            else:
                self._jitted[key] = jax.jit(members)
        return self._jitted[key]

    def evaluator(self, ds, batch_size, state, active):
        """``evaluate(state, active) -> (state, [means of each member])`` over ``ds``, compiled ahead now.

        The padded held-out pass of :meth:`trainer.Trainer.evaluate`, vmapped;
        XLA compiles it in the background while the caller goes on.
        """
        data = to_device(ds)
        idx, weights = jax.device_put(eval_indices(len(ds), batch_size))
        args = (state, active, (data,), (idx, weights))
        with brainstate.environ.context(dt=ds.dt):
            key = ('eval', self.member_batch, *self.lead._key(), environ_key(), _abstract(args))
            if key not in self._ahead:
                scanned = _scanned_all(self.lead.program.pure(self.lead._eval_build()))

                def member(state, active, fixed, stacked):
                    new, sums = scanned(state, fixed, stacked)
                    return _keep(active, new, state), sums

                lowered = jax.jit(over_members(member, (0, 0, None, None), self.member_batch)).lower(*args)

                def compile_():
                    with counting(self.compiles, 'eval'):
                        return lowered.compile()

                self._ahead[key] = _COMPILER.submit(compile_)
        future = self._ahead[key]

        def evaluate(state, active):
            state, sums = future.result()(state, active, (data,), (idx, weights))
            sums = jax.device_get(sums)
            n_members = len(active)
            return state, [mean_of(jax.tree.map(lambda x: x[k], sums), axis=0) for k in range(n_members)]

        return evaluate
