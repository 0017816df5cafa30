"""Train one group of trials that share their structure: K members of one Ensemble, or one Trainer.

Member ``k`` of the ensemble is trained as ``Trainer`` would train trial ``k``
alone (the Ensemble's contract), so a trial's value does not depend on how
many trials shared its program; :func:`retrain` is that Trainer.
"""

import dataclasses

from ..loop.callbacks import Callback

__all__ = ['Report', 'TrialSettings', 'retrain', 'settings_for', 'train_group']


@dataclasses.dataclass(frozen=True)
class TrialSettings:
    """What one trial trains with: the recipe (its structure applied) and its vmappable values."""

    recipe: object
    lr: float
    weight_decay: float
    seed: int


def settings_for(recipe, params, seed):
    """A trial's :class:`TrialSettings` from its ``params`` (searched and fixed values together)."""
    structure = {k: params[k] for k in ('hidden', 'batch_size', 'grad_clip_norm', 'cell') if k in params}
    recipe = recipe.replace(lr_schedule='constant', **structure)  # a cosine floor is absolute, not per lr
    return TrialSettings(recipe, float(params.get('lr', recipe.lr)), float(params.get('weight_decay', 0.0)),
                         int(params.get('seed', seed)))


def load_data(task, recipe, seed):
    """The sweep's trials, ``(train, held_out)``: the recipe's final task (no curriculum), seeded by ``seed``."""
    import datasets
    data = datasets.load_dataset(task, n_trials=recipe.n_trials, seed=seed, **recipe.stages()[-1])
    return data.split(1 - recipe.held_out, seed=seed)


class Report(Callback):
    """Report each member's monitored value to its Optuna trial every epoch; stop the ones the pruner prunes.

    ``pruned`` holds the members stopped this way (their trials are told
    ``TrialPruned``); ``beat`` is called once an epoch (the heartbeat).
    """

    changes_model = False

    def __init__(self, trials, monitor, beat=None):
        self.trials, self.monitor, self.beat, self.pruned = trials, monitor, beat, set()

    def on_fit_start(self, fit):
        """Keep the fit (to stop members)."""
        self.fit = fit

    def on_epoch_end(self, epoch, logs):
        """``trial.report(value, epoch)``; ``fit.stop_member(k)`` where ``trial.should_prune()``."""
        values = logs[self.monitor] if self.fit.n_members is not None else [logs[self.monitor]]
        for k, (trial, value) in enumerate(zip(self.trials, values)):
            if value is None or k in self.pruned or not self.fit.trained[k]:
                continue
            trial.report(float(value), epoch)
            if trial.should_prune():
                self.pruned.add(k)
                self.fit.stop_member(k)
        if self.beat is not None:
            self.beat()


def _model(data, recipe, seed):
    from ..models import RateRNN
    n_output = data.n_classes if data.n_classes is not None else data.targets.shape[-1]
    return RateRNN(data.n_features, recipe.hidden, n_output, cell=recipe.cell, seed=seed)


def train_group(data, group, *, n_epochs, seed, callbacks=(), member_batch=None):
    """Train trials of one structure (``group``, a list of :class:`TrialSettings`) in one program.

    Returns one ``(best_value, error)`` per trial: an Ensemble for two or more
    trials (per-member ``lr`` and ``weight_decay`` as ``hparams``, each
    member's seed its initial weights and shuffles), a Trainer for one.
    """
    import braintools
    from .._ensemble import Ensemble
    from .._trainer import Trainer
    from ..core.errors import NonFiniteLossError
    from ..recipes.task_run import scoring_for
    train, held_out = data
    recipe = group[0].recipe
    objective, metrics, monitor = scoring_for(recipe)
    settings = dict(held_out=held_out, n_epochs=n_epochs, batch_size=recipe.batch_size, monitor=monitor,
                    patience=recipe.patience, compile_epoch=recipe.compile_epoch, callbacks=list(callbacks))
    common = dict(objective=objective, metrics=metrics, grad_clip_norm=recipe.grad_clip_norm, progress=False)
    if len(group) == 1:
        s = group[0]
        trainer = Trainer(_model(train, recipe, s.seed), braintools.optim.Adam(lr=s.lr, weight_decay=s.weight_decay),
                          **common)
        try:
            result = trainer.fit(train, seed=s.seed, **settings)
        except NonFiniteLossError as error:
            return [(None, str(error))]
        return [(result.best_value, None)]
    ensemble = Ensemble([_model(train, recipe, s.seed) for s in group], braintools.optim.Adam(lr=group[0].lr),
                        hparams={'lr': [s.lr for s in group], 'weight_decay': [s.weight_decay for s in group]},
                        member_batch=member_batch, **common)
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message=r'models\[\d+\]:', category=RuntimeWarning)  # told as FAIL
        result = ensemble.fit(train, seed=seed, seeds=[s.seed for s in group], **settings)
    return [(m.best_value, result.errors.get(k)) for k, m in enumerate(result.members)]


def retrain(task, params, *, n_epochs=None, seed=0, recipe=None):
    """Train one trial's ``params`` alone with a :class:`trainer.Trainer`, as the sweep trained it.

    Returns the ``TrainResult``; its ``best_value`` is the value the sweep
    reported for the trial (to float rounding, whether the trial shared a
    program with others or not).

    Parameters
    ----------
    task : str
        The sweep's task.
    params : dict
        The trial's parameters (``study.best_trial.params``; the sweep's
        fixed values are in ``trial.user_attrs['fixed']``: merge them in).
    n_epochs, seed, recipe
        As given to :func:`trainer.sweep`.
    """
    import braintools
    from .._trainer import Trainer
    from ..recipes import recipe_for
    from ..recipes.task_run import scoring_for
    base = recipe_for(task) if recipe is None else recipe
    s = settings_for(base, params, seed)
    data = load_data(task, s.recipe, seed)
    train, held_out = data
    objective, metrics, monitor = scoring_for(s.recipe)
    trainer = Trainer(_model(train, s.recipe, s.seed), braintools.optim.Adam(lr=s.lr, weight_decay=s.weight_decay),
                      objective=objective, metrics=metrics, grad_clip_norm=s.recipe.grad_clip_norm, progress=False)
    return trainer.fit(train, held_out=held_out, n_epochs=n_epochs or base.n_epochs, batch_size=s.recipe.batch_size,
                       seed=s.seed, monitor=monitor, patience=s.recipe.patience, compile_epoch=s.recipe.compile_epoch)
