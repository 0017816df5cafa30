import json
import os

import pytest

import datasets
from trainer import __main__ as cli


def test_list_prints_every_dataset(capsys):
    assert cli.main(['list']) == 0
    out = capsys.readouterr().out
    for name, _ in datasets.list_datasets():
        assert name in out


def test_train_writes_history_curves_and_checkpoint(tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(cli, 'enable_compile_cache', lambda: calls.append(True))
    out = tmp_path / 'run'
    assert cli.main(['train', '--task', 'delayed_match_task', '--n-trials', '80', '--epochs', '2',
                     '--batch-size', '16', '--hidden', '8', '--out', str(out), '--no-progress']) == 0
    assert calls == [True]  # the persistent compilation cache is on by default
    history = json.load(open(out / 'history.json'))['history']
    assert [row['epoch'] for row in history] == [1, 2]
    assert {'loss', 'acc', 'held_out_loss', 'held_out_acc'} <= set(history[0])
    assert open(out / 'history.csv').read().startswith('epoch,loss,acc')
    assert os.path.getsize(out / 'curves.png') > 5000 and os.path.getsize(out / 'checkpoint.msgpack') > 0
    printed = capsys.readouterr().out
    assert '64 train / 16 held-out trials' in printed and 'epoch=2' in printed


def test_no_compile_cache_flag(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cli, 'enable_compile_cache', lambda: calls.append(True))
    cli.main(['train', '--task', 'delayed_match_task', '--n-trials', '40', '--epochs', '1',
              '--batch-size', '8', '--hidden', '4', '--out', str(tmp_path), '--no-progress',
              '--no-compile-cache'])
    assert calls == []


def test_unknown_task_lists_names(tmp_path):
    with pytest.raises(KeyError, match='perceptual_decision_making'):
        cli.main(['train', '--task', 'nope', '--out', str(tmp_path), '--no-compile-cache'])
