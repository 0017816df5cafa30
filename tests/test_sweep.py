"""trainer.sweep: K trials per program equal to solo trials, pruning, resume after a kill, two workers."""

import json
import time

import pytest

optuna = pytest.importorskip('optuna')

import trainer  # noqa: E402
from trainer import __main__ as cli  # noqa: E402
from trainer.recipes import Recipe  # noqa: E402
from trainer.sweeps import distributions, retrain  # noqa: E402

TASK = 'immediate_direction_reproduction'  # a continuous held-out score (mean angular error)
RECIPE = Recipe(n_trials=40, n_epochs=3, batch_size=16, hidden=8, cell='vanilla', objective='mse',
                metric='angular_error')
SPACE = {'lr': (1e-3, 1e-1, 'log'), 'weight_decay': (1e-6, 1e-2, 'log')}
States = optuna.trial.TrialState


def run(storage, **kw):
    settings = dict(n_trials=3, members=3, space=SPACE, recipe=RECIPE, pruner=None, n_epochs=3)
    return trainer.sweep(TASK, storage=storage, **{**settings, **kw})


def test_k_member_trials_equal_solo_trials_and_the_best_reproduces(tmp_path):
    result = run(f'sqlite:///{tmp_path}/study.db')
    trials = result.study.trials
    assert result.n_programs == 1 and [t.user_attrs['program'] for t in trials] == [[0, 1, 2]] * 3
    assert len({t.params['lr'] for t in trials}) == 3
    for trial in trials:
        alone = retrain(TASK, trial.params, recipe=RECIPE, n_epochs=3)
        assert alone.best_value == pytest.approx(trial.value, rel=1e-4)
        assert [row['held_out_angle_err'] for row in alone.history] == \
            pytest.approx(list(trial.intermediate_values.values()), rel=1e-4)
    assert result.best_value == min(t.value for t in trials)
    assert result.best_params == result.study.best_trial.params


def test_pruned_trials_are_recorded_as_pruned_and_stop_training(tmp_path):
    # Any angular error > 0 is over the threshold: every trial is pruned at its first
    # epoch past the warm-up, and its member stops there.
    pruner = optuna.pruners.ThresholdPruner(upper=0.0, n_warmup_steps=2)
    result = run(f'sqlite:///{tmp_path}/study.db', pruner=pruner, n_epochs=4)
    assert [t.state for t in result.study.trials] == [States.PRUNED] * 3
    assert [sorted(t.intermediate_values) for t in result.study.trials] == [[1, 2]] * 3
    assert result.best_value is None


def test_a_killed_sweep_resumes_without_retraining_a_finished_trial(tmp_path):
    url = f'sqlite:///{tmp_path}/study.db'
    first = run(url, heartbeat_interval=1, grace_period=1)
    assert first.trained == [0, 1, 2]
    # A worker killed while training trial 3: RUNNING, its heartbeat stopped.
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=1)
    dead = optuna.load_study(study_name=TASK, storage=storage)
    trial = dead.ask(distributions(SPACE)[0])
    storage.record_heartbeat(storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name(TASK), trial.number))
    time.sleep(2.2)  # past the grace period (the database's clock counts whole seconds)
    second = run(url, n_trials=5, heartbeat_interval=1, grace_period=1)
    states = [t.state for t in second.study.trials]
    assert states == [States.COMPLETE] * 3 + [States.FAIL] + [States.COMPLETE] * 2
    assert second.trained == [4, 5]  # the retry of trial 3 and one new trial; 0-2 not again
    assert second.study.trials[4].params == second.study.trials[3].params
    assert run(url, n_trials=5).trained == []  # nothing left to do


def test_a_sweep_stopped_by_an_error_gives_its_trials_back(tmp_path, monkeypatch):
    url = f'sqlite:///{tmp_path}/study.db'

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer.sweeps.study, 'train_group', interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(url, n_trials=2, members=2)
    study = optuna.load_study(study_name=TASK, storage=url)
    assert [t.state for t in study.trials] == [States.FAIL, States.FAIL, States.WAITING, States.WAITING]
    monkeypatch.undo()
    again = run(url, n_trials=2, members=2)
    assert again.trained == [2, 3]
    assert [t.params for t in again.study.trials[2:]] == [t.params for t in again.study.trials[:2]]


def test_structural_values_are_shared_within_a_program(tmp_path):
    space = {**SPACE, 'hidden': [4, 8]}
    result = run(f'sqlite:///{tmp_path}/study.db', space=space, n_trials=4, members=2, n_epochs=1)
    assert result.n_programs == 2
    for trial in result.study.trials:
        program = [result.study.trials[n] for n in trial.user_attrs['program']]
        assert len(program) == 2 and len({t.params['hidden'] for t in program}) == 1


def test_two_workers_on_one_storage_share_the_trials(tmp_path, fork_server):
    url = f'sqlite:///{tmp_path}/study.db'
    code = (
        "import json, optuna, trainer\n"
        "from trainer.recipes import Recipe\n"
        f"recipe = Recipe(n_trials=40, n_epochs=2, batch_size=16, hidden=8, cell='vanilla', objective='mse', "
        "metric='angular_error')\n"
        f"result = trainer.sweep({TASK!r}, n_trials=6, members=2, storage={url!r}, recipe=recipe, n_epochs=2, "
        f"space={SPACE!r}, pruner=None, sampler=optuna.samplers.RandomSampler(seed=SEED))\n"
        "print(json.dumps(result.trained))\n")
    (tmp_path / 'a').mkdir(), (tmp_path / 'b').mkdir()
    # One storage made first: two processes creating its tables at once would race.
    optuna.create_study(storage=url, study_name=TASK, direction='minimize')
    outs = fork_server.run([{'code': code.replace('SEED', str(i)), 'cwd': str(tmp_path / w)}
                            for i, w in enumerate('ab')], tmp_path, timeout=300)
    assert [code for code, _, _ in outs] == [0, 0], outs[0][2][-2000:] + outs[1][2][-2000:]
    trained = [json.loads(out.strip().splitlines()[-1]) for _, out, _ in outs]
    study = optuna.load_study(study_name=TASK, storage=url)
    done = [t.number for t in study.trials if t.state == States.COMPLETE]
    assert not set(trained[0]) & set(trained[1])  # no trial trained twice
    assert sorted(trained[0] + trained[1]) == done == list(range(len(study.trials)))
    assert 6 <= len(done) <= 7  # racing for the last trials passes n_trials by at most members - 1
    assert len({t.user_attrs['worker'] for t in study.trials}) == 2


def test_space_rejects_what_a_program_cannot_vary():
    with pytest.raises(ValueError, match="space has 'n_epochs'"):
        distributions({'n_epochs': [1, 2]})
    with pytest.raises(ValueError, match="third item may only be 'log'"):
        distributions({'lr': (1e-3, 1e-1, 'exp')})
    searched, fixed = distributions({'lr': (1e-3, 1e-1), 'seed': (0, 3), 'cell': 'gru'})
    assert type(searched['seed']).__name__ == 'IntDistribution' and fixed == {'cell': 'gru'}


def test_sweep_command_runs_a_study_and_reports_the_best(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('COLUMNS', '80')
    url = f'sqlite:///{tmp_path}/study.db'
    argv = ['sweep', '--task', 'delayed_match_task', '--trials', '2', '--members', '2', '--epochs', '1',
            '--n-trials', '40', '--space', 'lr,weight_decay', '--storage', url]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith('2 trials trained in 1 programs') for line in out)
    assert any(line.startswith('best: held_out_acc=') for line in out)
    assert all(len(line) <= 80 for line in out)
    with pytest.raises(SystemExit) as stop:
        cli.main([*argv, '--space', 'lr,momentum'])
    assert stop.value.code == 2
    assert "error: --space 'lr,momentum': choose among lr, weight_decay" in capsys.readouterr().err


def test_without_the_extra_the_error_names_it(monkeypatch):
    import sys
    for name in [m for m in sys.modules if m == 'optuna' or m.startswith('optuna.')]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r'trainer.sweep needs the `tracking` extra.*pip install -e "\.\[tracking\]"'):
        trainer.sweep(TASK, n_trials=1)


def test_import_trainer_loads_no_tracking_library(fork_server, tmp_path):
    code = ("import sys, trainer, trainer.callbacks, trainer.sweeps\n"
            "print(sorted(m for m in ('optuna', 'mlflow', 'tensorboardX', 'tensorboard') if m in sys.modules))\n")
    [(status, out, err)] = fork_server.run([{'code': code, 'cwd': str(tmp_path)}], tmp_path, timeout=120)
    assert status == 0, err[-2000:]
    assert out.strip().splitlines()[-1] == '[]'
