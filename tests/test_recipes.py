"""trainer.recipes: the recipe table, overrides, the angular-error metric, the driver."""

import brainunit as u
import numpy as np
import pytest

import datasets
from trainer import recipes
from trainer.recipes import Recipe, angular_error, recipe_for, train_task

FIXED = ('multi_region_signal', 'steady_state_target')
TINY = dict(n_trials=64, batch_size=16, hidden=8, task_params={'seq_len': 4, 'n_symbols': 2})


def test_every_shipped_task_has_its_own_recipe():
    from datasets._cogtask import _TASKS
    names = set(_TASKS) | {'delayed_match_task'}  # what the package registers, fixed targets aside
    assert set(recipes.RECIPES) == names
    assert names <= {name for name, _ in datasets.list_datasets()}
    for name in names:
        assert isinstance(recipe_for(name), Recipe)


@pytest.mark.parametrize('task', FIXED)
def test_fixed_targets_are_refused_with_the_fix(task):
    with pytest.raises(ValueError, match=f"{task!r} is a fixed fitting target.*trainer.Fitter"):
        recipe_for(task)


def test_an_unknown_task_names_the_closest():
    with pytest.raises(KeyError, match="unknown task 'go_nogo'. Did you mean 'go_no_go'"):
        recipe_for('go_nogo')


def test_a_registered_task_without_a_recipe_gets_the_default(monkeypatch):
    from datasets import _registry
    monkeypatch.setattr(_registry, '_REGISTRY', dict(_registry._REGISTRY))  # leave no trace
    datasets.register_dataset('recipes_test_task', datasets.delayed_match_task)
    assert recipe_for('recipes_test_task') is recipes.DEFAULT_RECIPE


@pytest.mark.parametrize('task', ['delay_direction_reproduction', 'immediate_direction_reproduction'])
def test_reproduction_tasks_fit_values_and_report_degrees(task):
    recipe = recipe_for(task)
    assert (recipe.objective, recipe.metric) == ('mse', 'angular_error')


def test_overrides_change_only_what_they_name():
    base = recipe_for('delay_match_sample')
    new = base.replace(n_epochs=3, lr=1e-2, cell='lstm', patience=None)
    assert (new.n_epochs, new.lr, new.cell, new.patience) == (3, 1e-2, 'lstm', None)
    for field in ('n_trials', 'batch_size', 'hidden', 'grad_clip_norm', 'curriculum', 'lr_schedule'):
        assert getattr(new, field) == getattr(base, field)
    assert base.n_epochs != 3  # the table's recipe is untouched


@pytest.mark.parametrize('overrides, error, match', [
    ({'epochs': 3}, TypeError, "no field 'epochs'; did you mean 'n_epochs'"),
    ({'batch_size': 0}, ValueError, 'batch_size must be a positive int, got 0'),
    ({'cell': 'rnn'}, ValueError, "cell must be one of .*got 'rnn'"),
    ({'lr': -1.0}, ValueError, 'lr must be a positive finite number'),
    ({'held_out': 1.5}, ValueError, 'held_out must be a fraction'),
    ({'n_trials': 16, 'batch_size': 32}, ValueError, 'exceeds the 13 training trials'),
    ({'curriculum': {'t_delay': 100.0}}, TypeError, 'tuple of dict stages'),
], ids=['unknown', 'batch', 'cell', 'lr', 'held-out', 'batch-vs-trials', 'curriculum'])
def test_bad_overrides_are_refused(overrides, error, match):
    with pytest.raises(error, match=match):
        Recipe().replace(**overrides)


def test_stages_put_durations_in_ms_and_end_with_the_task():
    recipe = Recipe(task_params={'t_response': 300.0, 'num_stimuli': 4},
                    curriculum=({'t_delay': 100.0}, {'t_delay': (100.0, 400.0)}))
    first, second, last = recipe.stages()
    assert first['t_delay'] == 100.0 * u.ms and first['t_response'] == 300.0 * u.ms
    assert second['t_delay'] == (100.0 * u.ms, 400.0 * u.ms)
    assert last == {'t_response': 300.0 * u.ms, 'num_stimuli': 4}
    assert recipe.describe().endswith('curriculum t_delay=100 -> t_delay=(100.0, 400.0) -> task')


def test_angular_error_in_degrees_wraps_and_is_masked():
    degrees = np.array([[350.0, 10.0, 90.0]])
    target_deg = np.array([[10.0, 350.0, 270.0]])

    def report(deg, length):
        rad = np.radians(deg)
        return np.stack([np.zeros_like(rad), length * np.cos(rad), length * np.sin(rad)], -1)

    prediction, target = report(degrees, 3.0), report(target_deg, 1.0)
    assert float(angular_error()(prediction, target)) == pytest.approx((20 + 20 + 180) / 3, abs=1e-3)
    mask = np.array([[1.0, 1.0, 0.0]])
    assert float(angular_error()(prediction, target, mask)) == pytest.approx(20.0, abs=1e-3)


def test_the_driver_counts_updates_and_numbers_epochs_across_stages(tmp_path):
    recipe = Recipe(n_epochs=4, curriculum=({'seq_len': 3},), curriculum_threshold=0.0, **TINY)
    run = train_task('delayed_match_task', recipe, seed=1)
    final_rows = run.history[1:]
    best = max(final_rows, key=lambda row: row['held_out_acc'])  # the first of the best, as the Trainer
    assert (run.best_epoch, run.best_value) == (best['epoch'], best['held_out_acc'])
    assert run.held_out['acc'] == pytest.approx(run.best_value)  # the model was left there
    run.to_json(tmp_path / 'history.json')
    import json
    saved = json.loads((tmp_path / 'history.json').read_text())
    assert saved['history'] == run.history and saved['recipe']['n_epochs'] == 4
    # Threshold 0 is met after one epoch; the final task takes the rest of the budget.
    assert [row['stage'] for row in run.history] == [0, 1, 1, 1]
    assert [row['epoch'] for row in run.history] == [1, 2, 3, 4]
    assert run.stage_epochs == (1, 3)
    assert run.n_compilations == {'train': 2, 'eval': 2}  # one per trial length: 3 and 4 steps
    assert run.n_updates == recipe.n_updates == 4 * (51 // 16)
    assert set(run.held_out) == {'loss', 'acc'} and run.monitor == 'held_out_acc'


def test_a_stage_that_never_crosses_moves_on_at_max_epochs_per_stage():
    recipe = Recipe(n_epochs=5, curriculum=({'seq_len': 3}, {'seq_len': 5}), curriculum_threshold=1.0,
                    max_epochs_per_stage=2, **TINY)
    run = train_task('delayed_match_task', recipe, pad_stages=True)
    assert [row['stage'] for row in run.history] == [0, 0, 1, 1, 2]
    # Padded to the longest stage (5 steps), the final task (4 steps) included.
    assert run.held_out_data.n_steps == 5 and run.best_value is not None
    assert run.n_compilations == {'train': 1, 'eval': 1}  # three stages, one shape


def test_a_curriculum_that_never_finishes_reports_no_best_value():
    recipe = Recipe(n_epochs=2, curriculum=({'seq_len': 3},), curriculum_threshold=1.0, **TINY)
    run = train_task('delayed_match_task', recipe)
    assert run.stage_epochs == (2,) and run.best_value is None
    assert 0.0 <= run.held_out['acc'] <= 1.0  # still scored on the final task


def test_a_cosine_schedule_anneals_per_step_to_the_final_fraction():
    recipe = Recipe(n_epochs=3, lr=1e-2, lr_schedule='cosine', lr_final=0.1, **TINY)
    lrs = [row['lr'] for row in train_task('delayed_match_task', recipe).history]
    assert lrs[0] == pytest.approx(1e-2) and lrs[0] > lrs[1] > lrs[2] > 1e-3


def test_every_curriculum_in_the_table_is_valid():
    for task, recipe in recipes.RECIPES.items():
        if recipe.curriculum:
            c = datasets.Curriculum(recipe.stages(), task=task)
            assert len(c) == len(recipe.curriculum) + 1


@pytest.mark.slow
@pytest.mark.parametrize('task', ['dual_delay_match_sample', 'delay_match_sample'])
def test_the_hardest_tasks_learn_at_their_recipes(task):
    run = train_task(task)
    assert run.held_out['acc'] >= 0.85, run
