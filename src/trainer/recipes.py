"""Per-task training recipes, chosen by measurement, and the driver that runs them.

    from trainer.recipes import recipe_for, train_task
    recipe = recipe_for('delay_match_sample')       # the measured settings
    recipe = recipe.replace(n_epochs=10)            # a command-line flag overrides one
    run = train_task('delay_match_sample', recipe)  # curriculum stage by stage
    run.held_out['acc'], run.wall_s

Every registered task has a :class:`Recipe`: trials, epochs, batch size,
hidden size, cell, learning rate and schedule, gradient clipping, patience
and, where it helps, a curriculum (:class:`datasets.Curriculum`). ``TASKS.md``
(rendered by ``benchmarks/tasks.py``) shows what each recipe reaches. The two
direction-reproduction tasks train with ``mse`` and report the mean angular
error in degrees; the fixed fitting targets are refused (fit them with
:class:`trainer.Fitter`).
"""

import difflib

from ._recipe import Recipe
from ._task_run import TaskRun, angular_error, train_task

__all__ = sorted(['DEFAULT_RECIPE', 'RECIPES', 'Recipe', 'TaskRun', 'angular_error',
                  'recipe_for', 'train_task'])

# For a registered task without its own entry (e.g. one a user registered).
DEFAULT_RECIPE = Recipe()

# Fixed targets are one unchanging trial to fit, not a task to learn from many.
_FIXED_TARGETS = ('multi_region_signal', 'steady_state_target')

_REPRODUCE = dict(objective='mse', metric='angular_error')

RECIPES = {
    'anti_reach': Recipe(n_trials=2048, n_epochs=40),
    'context_decision_making': Recipe(),
    'delay_comparison': Recipe(n_trials=2048, n_epochs=40),
    'delay_direction_classification': Recipe(),
    'delay_direction_reproduction': Recipe(**_REPRODUCE),
    'delay_match_category': Recipe(n_trials=2048, n_epochs=40),
    'delay_match_sample': Recipe(n_trials=2048, n_epochs=40),
    'delay_paired_association': Recipe(n_trials=2048, n_epochs=40),
    'delayed_match_task': Recipe(),
    'dual_delay_match_sample': Recipe(n_trials=2048, n_epochs=40),
    'evidence_accumulation': Recipe(),
    'go_no_go': Recipe(),
    'hierarchical_reasoning': Recipe(n_trials=2048, n_epochs=40),
    'immediate_direction_classification': Recipe(),
    'immediate_direction_reproduction': Recipe(**_REPRODUCE),
    'interval_discrimination': Recipe(n_trials=2048, n_epochs=40),
    'perceptual_decision_making': Recipe(),
    'perceptual_decision_making_delay_response': Recipe(),
    'post_decision_wager': Recipe(),
    'probabilistic_reasoning': Recipe(),
    'pulse_decision_making': Recipe(),
    'reaching_1d': Recipe(),
    'ready_set_go': Recipe(),
    'single_context_decision_making': Recipe(),
}


def recipe_for(task):
    """The recipe ``train --task task`` uses; override fields with ``.replace(...)``.

    Parameters
    ----------
    task : str
        A registered dataset name.

    Returns
    -------
    Recipe
        The task's own recipe, or :data:`DEFAULT_RECIPE` for a registered task
        without one.

    Raises
    ------
    ValueError
        For a fixed fitting target (one trial, nothing to generalise to).
    KeyError
        For a name that is not registered (the message suggests the closest).

    Examples
    --------
    >>> from trainer.recipes import recipe_for
    >>> recipe_for('delay_direction_reproduction').metric
    'angular_error'
    >>> recipe_for('perceptual_decision_making').replace(lr=1e-2, n_epochs=5).n_epochs
    5
    """
    import datasets
    if task in _FIXED_TARGETS:
        raise ValueError(
            f'{task!r} is a fixed fitting target (one unchanging trial), not a task to train on '
            f'many trials, so it has no recipe; fit a model to it with trainer.Fitter '
            f"(Fitter(model, optimizer, objective=..., predict=...).fit(target=..., n_steps=...)).")
    if task in RECIPES:
        return RECIPES[task]
    names = [name for name, _ in datasets.list_datasets()]
    if task in names:
        return DEFAULT_RECIPE
    close = difflib.get_close_matches(str(task), names, n=1)
    hint = f' Did you mean {close[0]!r}?' if close else ''
    raise KeyError(f'unknown task {task!r}.{hint} Registered tasks: {", ".join(names)}.')
