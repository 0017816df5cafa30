"""The engine of K structurally identical members trained as one compiled program.

Member 0's :class:`~trainer.loop.learner.Learner` traces the steps once; the
other members only supply values (their parameters, optimizer moments,
hidden templates), stacked along a leading member axis. Per-member
hyper-parameters (the base learning rate, the weight decay) are traced
arguments of that one trace (see :mod:`trainer.loop.members`).
"""

import warnings

import brainstate
import jax
import numpy as np

from ..core.params import param_values
from ..core.placement import Placement
from ..core.program import Members, Program
from ..core.state import batch_template
from ..core.step import register
from .engine import run_steps
from .members import check_same_structure, from_host, member_of, set_member, stack, to_host, traced_hparams

__all__ = ['MemberEngine']


class MemberEngine:
    """K models stepped by one vmapped program (an :class:`trainer.Ensemble`'s engine).

    Parameters
    ----------
    lead : trainer.loop.learner.Learner
        Member 0: its model, optimizer, objective, forward and metrics are traced for all.
    models, optimizers : list
        Every member's model and its own (cloned, registered here) optimizer; index 0 is the lead's.
    hparams : dict
        ``{name: float32 array (K,)}`` per-member hyper-parameters.
    member_batch : int, optional
        See :class:`trainer.core.program.Members`.
    seeds : tuple of int, optional
        One shuffle seed per member (else every member sees the plan's order).
    """

    divergence = 'freeze'

    def __init__(self, lead, models, optimizers, hparams, member_batch=None):
        self.learner, self.models, self.hparams = lead, list(models), hparams
        self.member_batch, self.seeds = member_batch, None
        self.placement = lead.placement
        for model, optimizer in zip(models[1:], optimizers[1:]):
            register(optimizer, model.states(brainstate.ParamState))
        self.programs = [lead.program] + [Program(m, o, self.placement) for m, o in zip(models[1:], optimizers[1:])]
        check_same_structure(self.models, [p.read({}) for p in self.programs])
        # The reported learning rate's slot in the state: the default param group's `lr` State.
        groups = lead.optimizer.param_groups
        self._lr = lead.program.opt_index(groups[0]['lr']) if groups else None
        self._builds = {}  # one object per source: the compiled program's key
        self.plan = self.train_fn = self.evaluate_fn = None
        self.best_params = None  # {path: (K, ...)} on the host

    @property
    def n_members(self):
        return len(self.models)

    @property
    def names(self):
        return self.learner.names

    def _members(self, per_member_idx):
        # (state, active, hparams, data, idx, advance): idx per member with seeds.
        return Members((0, None, 0 if per_member_idx else None, None), self.member_batch)

    def eval_members(self):
        """The held-out pass over members: ``(state, active, fixed, stacked)``."""
        return Members((None, None), self.member_batch)

    def read_stacked(self, ds, batch_size):
        """Every member's state with its own hidden template, stacked (and placed)."""
        states = []
        for program, model in zip(self.programs, self.models):
            with brainstate.environ.context(dt=ds.dt):
                template = batch_template(model, batch_size)
            states.append(program.read(template))
        check_same_structure(self.models, states)
        stacked = stack(states)
        self.learner.template(ds, batch_size)  # the lead holds the template shapes a first trace sees
        return self.placement.state(stacked, batch_axis=1)

    # -- a plan's programs ----------------------------------------------------------
    def prepare(self, plan, state=None):
        learner, batch = self.learner, plan.batch_size
        fresh = self.read_stacked(plan.train, batch)
        learner.check_plan(plan)
        state = fresh if state is None else state._replace(hidden=fresh.hidden)
        self.plan, self.stage_dt = plan, plan.train.dt
        self.evaluate_fn = None if plan.held_out is None else \
            learner.evaluator(plan.held_out, batch, state, members=self.eval_members(), groups=plan.groups)
        feed = plan.source.program_key(batch)
        if feed not in self._builds:
            self._builds[feed] = _with_hparams(learner, plan.source.sampler(batch), plan.groups)
        self.train_fn = learner.train_program(plan.train, plan.compile_epoch, members=self._members(
            self.seeds is not None), build=self._builds[feed], source=plan.source, batch_size=batch)
        plan.source.prepare(plan, self.placement, self.seeds)
        self._hparams = self.placement.replicated(self.hparams)
        if self.best_params is None:
            self.best_params = to_host(state.params)
        return state

    def train_epoch(self, state, epoch, active):
        plan = self.plan
        data, idx = plan.source.epoch(plan, epoch, self.seeds)  # with seeds (n_steps, K, ...): each member's own
        fixed = (self.placement.replicated(np.asarray(active)), self._hparams, data)
        state, (sums, finite) = run_steps(self.train_fn, state, fixed, idx, plan.compile_epoch, self.placement,
                                          batch_axis=0 if self.seeds is None else 1,
                                          shard_idx=plan.source.shards_idx)
        return state, sums, np.asarray(finite)

    def evaluate(self, state, active):
        state, sums = self.evaluate_fn(state, self.placement.replicated(np.asarray(active)))
        return state, [jax.tree.map(lambda x: x[k], sums) for k in range(self.n_members)]

    def lrs(self, state):
        if self._lr is None:
            return [None] * self.n_members
        return [float(v) for v in np.asarray(jax.device_get(state.opt[self._lr]), np.float32)]

    # -- best parameters and divergence -----------------------------------------------
    def reset(self, seeds=None):
        """A new fit: forget the last one's best parameters; ``seeds`` orders each member's batches."""
        self.best_params, self.seeds = None, seeds

    def reset_best(self, state):
        self.best_params = to_host(state.params)

    def set_best(self, best):
        self.best_params = to_host(best)

    def keep_best(self, state, members):
        if members:
            params = to_host(state.params)
            for k in members:
                set_member(self.best_params, k, member_of(params, k))

    def restore(self, before, after, members, has_best):
        host_before, host_after = to_host(before), to_host(after)
        for k in members:
            restored = member_of(host_before, k)
            if has_best[k]:
                restored = restored._replace(params=member_of(self.best_params, k))
            set_member(host_after, k, restored)
        return self.placed(from_host(host_after))

    # -- the models' side -----------------------------------------------------------------
    def read(self, state):
        """The members' current values, each with the hidden template ``state`` holds for it."""
        host = to_host(state)
        states = [program.read(member_of(host.hidden, k)) for k, program in enumerate(self.programs)]
        return self.placed(stack(states))

    def sync(self, state):
        """Members write their models at the end only (K host copies per epoch cost more than a step)."""

    def write(self, state):
        host = to_host(state)
        for k, program in enumerate(self.programs):
            program.write(from_host(member_of(host, k)))

    def to_host(self, tree):
        return Placement.to_host(tree)

    def placed(self, state):
        return self.placement.state(state, batch_axis=1)

    def finish(self, state, restore_best, errors):
        host, best = to_host(state), []
        for k, program in enumerate(self.programs):
            final = member_of(host, k)
            program.write(from_host(final._replace(params=member_of(self.best_params, k))))
            best.append(jax.tree.map(lambda x: x, param_values(self.models[k])))  # own containers
            if not restore_best or errors[k] is not None:
                program.write(from_host(final))
        return best

    def warn(self, message):
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def _with_hparams(learner, sampler=None, groups=None):
    """The lead's train step taking the members' hyper-parameters as its first, traced, argument."""
    def build():
        batch, optimizer = learner.train_step(sampler, groups), learner.optimizer

        def step(hparams, data, idx, advance):
            with traced_hparams(optimizer, hparams):
                return batch(data, idx, advance)

        return step

    return build
