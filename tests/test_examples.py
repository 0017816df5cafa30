"""The training examples run end to end and save their figures (short runs)."""

import importlib.util
import os

import pytest

HERE = os.path.join(os.path.dirname(__file__), '..', 'examples')


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_cognitive_task(tmp_path):
    result = load('train_cognitive_task').main(str(tmp_path), n_epochs=2, n_trials=256)
    assert len(result.history) == 2 and result.history[-1]['held_out_acc'] > 0.4
    for name in ('decision_trial.png', 'decision_curves.png', 'decision_output.png'):
        assert (tmp_path / name).stat().st_size > 5000


def test_train_delayed_match_writes_into_the_folder_it_runs_from(tmp_path, monkeypatch):
    pytest.importorskip('brainmass')
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(HERE))
    result = load('train_delayed_match').cli(['--epochs', '2'])
    assert result.n_compilations == {'train': 1, 'eval': 1}
    for name in ('delayed_match_trial.png', 'delayed_match_curves.png', 'delayed_match_history.csv'):
        assert (tmp_path / name).stat().st_size > 100
    assert sorted(os.listdir(HERE)) == before  # nothing written into the source tree


def test_seed_ensemble(tmp_path):
    result = load('seed_ensemble').main(str(tmp_path), n_members=3, n_epochs=2, n_trials=160)
    assert len(result.members) == 3 and result.n_compilations == {'train': 1, 'eval': 1}
    assert result.summary()['best_held_out_acc']['n'] == 3
    for name in ('seed_ensemble_spread.png', 'seed_ensemble_curves.png'):
        assert (tmp_path / name).stat().st_size > 5000


def test_train_ei_network(tmp_path):
    result, signs_held = load('train_ei_network').main(str(tmp_path), n_epochs=2, n_trials=128, n_hidden=20)
    assert signs_held and len(result.history) == 2 and 'reg_rate_l2' in result.history[-1]
    for name in ('ei_weights.png', 'ei_rates.png', 'ei_spectrum.png'):
        assert (tmp_path / name).stat().st_size > 5000
