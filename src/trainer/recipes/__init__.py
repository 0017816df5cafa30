"""Per-task training recipes, chosen by measurement, and the driver that runs them.

    from trainer.recipes import recipe_for, train_task
    recipe = recipe_for('delay_match_sample')       # the measured settings
    recipe = recipe.replace(n_epochs=10)            # a command-line flag overrides one
    run = train_task('delay_match_sample', recipe)  # its curriculum, then the task, in one Trainer.fit
    run.held_out['acc'], run.wall_s

Every registered task has a :class:`Recipe`: trials, epochs, batch size,
hidden size, cell, learning rate and schedule, gradient clipping, patience
and, where it helps, a curriculum (:class:`datasets.Curriculum`). ``TASKS.md``
(rendered by ``benchmarks/tasks.py``) shows what each recipe reaches. The two
direction-reproduction tasks train with ``mse`` and report the mean angular
error in degrees; the fixed fitting targets are refused (fit them with
:class:`trainer.Fitter`). :func:`train_multitask` trains one network on many
tasks at once (``'yang8'``, Yang et al. 2019) from device streams.
"""

from .multitask import COLLECTIONS, MultitaskRecipe, MultitaskRun, multitask_recipe, parse_tasks, train_multitask
from .recipe import Recipe
from .table import DEFAULT_RECIPE, RECIPES, recipe_for
from .task_run import TaskRun, angular_error, train_task

__all__ = sorted(['COLLECTIONS', 'DEFAULT_RECIPE', 'MultitaskRecipe', 'MultitaskRun', 'RECIPES', 'Recipe',
                  'TaskRun', 'angular_error', 'multitask_recipe', 'parse_tasks', 'recipe_for', 'train_multitask',
                  'train_task'])
