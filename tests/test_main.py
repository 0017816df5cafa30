"""The command line: per-run folders, 80-column output, one-line errors that name the flag."""

import errno
import json
import os

import numpy as np
import pytest

import datasets
from trainer import NonFiniteLossError, Trainer, TrainResult
from trainer import __main__ as cli

TINY = ['train', '--task', 'delayed_match_task', '--n-trials', '40', '--epochs', '2', '--batch-size', '16',
        '--hidden', '8', '--no-compile-cache']


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch):
    monkeypatch.setenv('COLUMNS', '80')


def printed_lines(capsys):
    captured = capsys.readouterr()
    return captured.out.splitlines(), captured.err.splitlines()


def assert_fits(lines):
    too_wide = [line for line in lines if len(line) > 80]
    assert not too_wide, too_wide


def test_list_puts_tasks_before_fixed_targets(capsys):
    assert cli.main(['list']) == 0
    out, _ = printed_lines(capsys)
    assert_fits(out)
    names = [line.strip() for line in out if line.startswith('  ') and not line.startswith('   ')]
    assert sorted(names) == [name for name, _ in datasets.list_datasets()]
    fixed = next(i for i, line in enumerate(out) if line.startswith('Fixed targets'))
    for name in ('steady_state_target', 'multi_region_signal'):
        assert out.index(f'  {name}') > fixed
    for name in ('perceptual_decision_making', 'delayed_match_task', 'delay_direction_reproduction'):
        assert out.index(f'  {name}') < fixed


def test_train_writes_a_new_run_folder_and_points_latest_at_it(tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(cli, 'enable_compile_cache', lambda: calls.append(True))
    monkeypatch.chdir(tmp_path)  # the default --runs-dir is ./runs
    runs = tmp_path / 'runs'
    args = [a for a in TINY if a != '--no-compile-cache']
    assert cli.main(args) == 0
    assert calls == [True]  # the persistent compilation cache is on by default
    out, err = printed_lines(capsys)
    first = runs / os.readlink(runs / 'latest')
    assert first.name.startswith('delayed_match_task-')
    history = json.load(open(first / 'history.json'))['history']
    assert [row['epoch'] for row in history] == [1, 2]
    assert {'loss', 'acc', 'held_out_loss', 'held_out_acc'} <= set(history[0])
    assert open(first / 'history.csv').read().startswith('epoch,stage,loss,acc')
    assert os.path.getsize(first / 'curves.png') > 5000
    assert os.path.getsize(first / 'checkpoint.msgpack') > 0
    assert_fits(out + err)
    assert out[0].startswith('delayed_match_task: gru 8, 40 trials x 2 ep, batch 16')  # the recipe, flags applied
    progress = [line.split()[:2] for line in err if not line.startswith(' ')]
    assert progress == [['epoch', '1/2'], ['epoch', '2/2']]
    table = out.index(next(line for line in out if line.split()[:2] == ['epoch', 'loss']))
    assert [line.split()[0].rstrip('*') for line in out[table + 1:table + 3]] == ['1', '2']
    assert out[-1] == f'to runs/{first.name}/ (also runs/latest/)'

    assert cli.main(args + ['--no-progress']) == 0  # a second run never overwrites the first
    out, err = printed_lines(capsys)
    second = runs / os.readlink(runs / 'latest')
    assert second != first and (first / 'history.json').exists() and err == []
    assert out[-1].startswith(f'to runs/{second.name}/')


def test_out_folder_is_refused_when_it_holds_files_unless_overwrite(tmp_path, capsys):
    out = tmp_path / 'mine'
    out.mkdir()
    (out / 'notes.txt').write_text('keep me')
    with pytest.raises(SystemExit) as stop:
        cli.main(TINY + ['--out', str(out)])
    assert stop.value.code == 2
    _, err = printed_lines(capsys)
    assert err == [f'error: --out {out} already holds files; pass --overwrite or a new --out']
    assert cli.main(TINY + ['--out', str(out), '--overwrite', '--no-progress']) == 0
    assert (out / 'notes.txt').read_text() == 'keep me' and (out / 'history.csv').exists()
    assert printed_lines(capsys)[0][-1] == f'to {out}{os.sep}'


BAD = {
    'epochs-zero': (['--epochs', '0'], "argument --epochs: must be a positive integer, got '0'"),
    'epochs-word': (['--epochs', 'ten'], "argument --epochs: must be a positive integer, got 'ten'"),
    'batch-zero': (['--batch-size', '0'], 'argument --batch-size: must be a positive integer'),
    'hidden-zero': (['--hidden', '0'], 'argument --hidden: must be a positive integer'),
    'hidden-negative': (['--hidden', '-3'], "argument --hidden: must be a positive integer, got '-3'"),
    'lr-nan': (['--lr', 'nan'], "argument --lr: must be a positive finite number, got 'nan'"),
    'lr-negative': (['--lr', '-0.1'], 'argument --lr: must be a positive finite number'),
    'held-out-big': (['--held-out', '1.5'], "argument --held-out: must be a fraction in (0, 1), got '1.5'"),
    'held-out-zero': (['--held-out', '0'], 'argument --held-out: must be a fraction'),
    'seed-negative': (['--seed', '-1'], 'argument --seed: must be a non-negative integer'),
    'patience-zero': (['--patience', '0'], 'argument --patience: must be a positive integer'),
    'cell': (['--cell', 'rnn'], "argument --cell: must be one of vanilla, gru, lstm, got 'rnn'"),
    'unknown-flag': (['--epoch', '3'], 'unrecognized arguments: --epoch 3'),
    'task-typo': (['--task', 'perceptul_decision_making'],
                  "--task 'perceptul_decision_making' is unknown; "
                  "did you mean 'perceptual_decision_making'?"),
    'task-unknown': (['--task', 'zzz'], "--task 'zzz' is unknown; see `python -m trainer list`"),
    'fixed-target': (['--task', 'steady_state_target'],
                     '--task steady_state_target is a fixed target; fit it with trainer.Fitter'),
    'too-few-trials': (['--task', 'delayed_match_task', '--n-trials', '2'],
                       '--n-trials 2 x --held-out 0.2 leaves 0 held-out trials; raise --n-trials'),
    'resume-missing': (['--resume', 'nowhere.msgpack'],
                       "--resume nowhere.msgpack: no such file; pass a run's checkpoint.msgpack"),
    'resume-ensemble': (['--resume', 'nowhere.msgpack', '--ensemble', '2'],
                        "--resume continues one network's run; drop --ensemble"),
    'devices-past-count': (['--devices', '999'], '--devices 999: only 1 device is available; '
                           'pass --devices 1 or all'),
    'process-id-out-of-range': (['--coordinator', 'localhost:1234', '--num-processes', '2',
                                 '--process-id', '2'],
                                '--process-id 2 is out of range for --num-processes 2; ranks are 0 to 1'),
    'coordinator-without-port': (['--coordinator', 'localhost', '--num-processes', '2', '--process-id', '0'],
                                 '--coordinator localhost must be HOST:PORT, e.g. localhost:1234'),
    'out-not-creatable': (['--out', '/dev/null/run'],
                          '--out /dev/null/run: not writable (Not a directory); pass another folder'),
}


@pytest.mark.parametrize('argv, message', BAD.values(), ids=BAD.keys())
def test_bad_flag_is_one_error_line_and_status_2(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(['train', *argv, '--runs-dir', str(tmp_path), '--no-compile-cache'])
    assert stop.value.code == 2
    out, err = printed_lines(capsys)
    assert out == [] and len(err) == 1 and err[0].startswith('error: ' + message), err
    if 'did you mean' not in message:  # two long task names may not fit together
        assert_fits(err)
    assert os.listdir(tmp_path) == []  # nothing written before the flags are known to be good


def _one_error_line(argv, capsys, status=2, printed=0):
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == status
    out, err = printed_lines(capsys)
    assert len(out) == printed and len(err) == 1, (out, err)
    return err[0]


def _checkpoint_file(path, progress):
    from trainer.core.checkpoint import save
    from trainer.core.state import TrainState
    weights = {('w',): np.zeros((2, 3), np.float32)}
    save(str(path), TrainState(params=weights, opt=(), hidden={}, rng=np.zeros(2, np.uint32)), weights,
         progress)
    return str(path)


def test_resume_of_an_ensemble_checkpoint_says_so(tmp_path, capsys):
    member = {'history': [], 'best_epoch': None, 'best_value': None, 'wait': 0, 'stopped': False, 'error': None}
    path = _checkpoint_file(tmp_path / 'ensemble.msgpack', {
        'epoch': 1, 'seed': 0, 'seeds': None, 'batch_size': 16, 'n_members': 3, 'members': [member] * 3})
    runs = tmp_path / 'runs'
    line = _one_error_line(TINY + ['--resume', path, '--runs-dir', str(runs)], capsys)
    assert line == (f'error: --resume {path}: a 3-member ensemble checkpoint (--ensemble 3); '
                    '--resume continues one network; resume it with Ensemble.fit(resume_from=...)')
    assert not runs.exists()  # refused before any folder is made


def test_resume_of_an_unreadable_progress_record_is_one_line(tmp_path, capsys):
    path = _checkpoint_file(tmp_path / 'odd.msgpack', {'epoch': 1})
    line = _one_error_line(TINY + ['--resume', path, '--runs-dir', str(tmp_path / 'runs')], capsys)
    assert line.startswith(f"error: --resume: '{path}' is not a readable checkpoint: its progress record "
                           "lacks ['seed', 'batch_size'")


def test_unwritable_out_folder_is_one_error_line(tmp_path, capsys, monkeypatch):
    # We may run as root, whom chmod does not stop: the refusal the disk would give, simulated.
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    monkeypatch.setattr(cli.os, 'makedirs', refuse)
    out = tmp_path / 'locked'
    line = _one_error_line(TINY + ['--out', str(out)], capsys)
    assert line == f'error: --out {out}: not writable (Permission denied); pass another folder'


def test_a_disk_that_fills_mid_run_is_one_error_line_and_keeps_the_checkpoint(tmp_path, capsys, monkeypatch):
    from trainer.core import checkpoint
    out = tmp_path / 'run'
    real_save, saves = checkpoint.msgpack_save, []

    def full_after_one(*args, **kwargs):
        saves.append(1)
        if len(saves) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(*args, **kwargs)
    monkeypatch.setattr(checkpoint, 'msgpack_save', full_after_one)
    line = _one_error_line(TINY + ['--out', str(out), '--no-progress'], capsys, status=1, printed=1)
    assert line == 'error: checkpoint not written: the disk is full; the last one saved is kept'
    assert_fits([line])
    assert checkpoint.progress(checkpoint.read(str(out / 'checkpoint.msgpack')))['epoch'] == 1
    assert sorted(os.listdir(out)) == ['checkpoint.msgpack']  # no temporary file left behind


def test_resume_continues_a_run_from_its_checkpoint(tmp_path, capsys):
    first, second = tmp_path / 'first', tmp_path / 'second'
    assert cli.main(TINY + ['--out', str(first), '--no-progress']) == 0
    checkpoint = str(first / 'checkpoint.msgpack')
    assert cli.main([*TINY[:TINY.index('--epochs')], '--epochs', '3', *TINY[TINY.index('--epochs') + 2:],
                     '--out', str(second), '--no-progress', '--resume', checkpoint]) == 0
    before = json.load(open(first / 'history.json'))['history']
    after = json.load(open(second / 'history.json'))['history']
    drop_time = lambda rows: [{k: v for k, v in row.items() if k != 'time'} for row in rows]  # noqa: E731
    assert [row['epoch'] for row in after] == [1, 2, 3]
    assert drop_time(after[:2]) == drop_time(before)  # the resumed run carries the first's epochs on
    printed_lines(capsys)
    with pytest.raises(SystemExit) as stop:  # another seed cannot continue it exactly
        cli.main(TINY + ['--seed', '1', '--out', str(tmp_path / 'third'), '--resume', checkpoint])
    assert stop.value.code == 2
    _, err = printed_lines(capsys)
    assert err[-1].startswith('error: --resume: ') and 'seed=0' in err[-1]


def test_bad_flag_from_a_shell_has_no_traceback(fork_server, tmp_path):
    # `python -m trainer train --lr nan` in a fresh process (forked from one that has
    # imported the third-party libraries, not trainer: see conftest.ForkServer).
    [(returncode, out, err)] = fork_server.run(
        [{'module': 'trainer', 'argv': ['train', '--lr', 'nan'], 'cwd': str(tmp_path)}], tmp_path, timeout=120)
    assert returncode == 2 and out == ''
    assert err.splitlines() == [
        "error: argument --lr: must be a positive finite number, got 'nan'"]


def test_divergence_is_one_error_line_naming_lr(tmp_path, capsys, monkeypatch):
    def diverge(self, *args, **kwargs):
        error = NonFiniteLossError('loss is nan at epoch 2, step 1; ...')
        error.history = [{'epoch': 1}]
        raise error
    monkeypatch.setattr(Trainer, 'fit', diverge)
    with pytest.raises(SystemExit) as stop:
        cli.main([*TINY, '--lr', '5', '--runs-dir', str(tmp_path)])
    assert stop.value.code == 1
    assert printed_lines(capsys)[1] == [
        'error: the loss became NaN or infinite in epoch 2; lower --lr (was 5)']


def test_a_regression_task_trains_with_mse(tmp_path, capsys):
    assert cli.main(['train', '--task', 'immediate_direction_reproduction', '--n-trials', '20',
                     '--epochs', '1', '--hidden', '4', '--out', str(tmp_path), '--no-progress',
                     '--no-compile-cache']) == 0
    history = json.load(open(tmp_path / 'history.json'))['history']
    assert set(history[0]) == {'epoch', 'loss', 'angle_err', 'held_out_loss', 'held_out_angle_err', 'stage', 'lr',
                               'time'}  # mse, and the mean angular error in degrees
    assert_fits(printed_lines(capsys)[0])


def test_help_shows_every_default_within_80_columns(capsys):
    parser = cli._parser()
    train = parser._subparsers._group_actions[0].choices['train']
    with pytest.raises(SystemExit):
        train.parse_args(['--help'])
    text = capsys.readouterr().out
    assert_fits(text.splitlines())
    flat = ' '.join(text[text.index('options:'):].split())
    for action in train._actions:
        assert action.help, action.option_strings  # every flag explains itself
    for flag, default in [('seed', 0), ('task', 'perceptual_decision_making')]:
        assert cli.DEFAULTS[flag.replace('-', '_')] == default
        section = flat[flat.index(f'--{flag} '):]
        assert f'(default: {default})' in section[:section.index('--', 3)]
    for flag in ('epochs', 'batch-size', 'lr', 'held-out', 'hidden', 'cell', 'n-trials'):
        section = flat[flat.index(f'--{flag} '):]
        assert "(default: the task's recipe)" in section[:section.index('--', 3)]
    assert '(default: None)' not in flat


def test_defaults_come_from_the_one_dict(monkeypatch):
    monkeypatch.setitem(cli.DEFAULTS, 'seed', 7)
    assert cli._parser().parse_args(['train']).seed == 7


def test_flags_override_the_recipe_and_the_rest_keep_it():
    from trainer.recipes import recipe_for
    args = cli._parser().parse_args(['train', '--task', 'delay_match_sample', '--epochs', '3', '--lr', '0.01'])
    recipe, base = cli.recipe_of(args), recipe_for('delay_match_sample')
    assert (recipe.n_epochs, recipe.lr) == (3, 0.01)
    assert (recipe.n_trials, recipe.batch_size, recipe.curriculum) == (base.n_trials, base.batch_size, base.curriculum)


def test_history_table_fits_80_columns_however_many_metrics():
    row = {'epoch': 1, 'loss': 0.123456, 'acc': 0.5}
    row.update({f'held_out_metric_{k}': 1.5e-7 for k in range(6)}, lr=0.01, time=1.25)
    result = TrainResult([row, dict(row, epoch=2)], 'loss', 2, 0.1, {}, False, {}, None)
    lines = cli.history_table(result).splitlines()
    assert_fits(lines)
    assert lines[0].split()[:3] == ['epoch', 'loss', 'acc'] and lines[0].split()[-1] == 'time'
    assert lines[2].split()[0] == '2*'  # the best epoch is marked


def test_history_table_shows_the_stage_only_when_a_curriculum_moved_on():
    rows = [{'epoch': e, 'stage': s, 'loss': 0.5, 'lr': 0.01, 'time': 1.0} for e, s in ((1, 0), (2, 1))]
    table = cli.history_table(TrainResult(rows, 'loss', 2, 0.5, {}, False, {}, None)).splitlines()
    assert table[0].split()[:3] == ['epoch', 'stage', 'loss'] and table[2].split()[1] == '1'
    single = [dict(row, stage=0) for row in rows]
    table = cli.history_table(TrainResult(single, 'loss', 2, 0.5, {}, False, {}, None)).splitlines()
    assert table[0].split()[:2] == ['epoch', 'loss']


def test_no_compile_cache_flag(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cli, 'enable_compile_cache', lambda: calls.append(True))
    cli.main([*TINY, '--epochs', '1', '--out', str(tmp_path), '--no-progress'])
    assert calls == []


def test_ensemble_trains_k_seeds_and_writes_their_summary(tmp_path, capsys):
    assert cli.main(['train', '--task', 'delayed_match_task', '--ensemble', '3', '--n-trials', '40',
                     '--epochs', '2', '--hidden', '4', '--out', str(tmp_path), '--no-progress',
                     '--no-compile-cache']) == 0
    summary = json.load(open(tmp_path / 'summary.json'))
    assert summary['final_held_out_acc']['n'] == 3  # one value per seed
    assert summary['final_held_out_acc']['min'] <= summary['final_held_out_acc']['mean'] \
        <= summary['final_held_out_acc']['max']
    out = printed_lines(capsys)[0]
    assert any(line.startswith('best member:') for line in out)
    assert_fits(out)


def test_multitask_trains_one_network_on_many_tasks_and_reports_each(tmp_path, capsys):
    out = tmp_path / 'run'
    assert cli.main(['train', '--task', 'multitask:go_no_go,reaching_1d', '--hidden', '4', '--epochs', '1',
                 '--steps-per-epoch', '1', '--batch-size', '4', '--out', str(out), '--no-progress',
                 '--no-compile-cache']) == 0
    text = capsys.readouterr().out
    assert 'held-out accuracy per task: go_no_go' in text and 'reaching_1d' in text
    import csv
    with open(out / 'history.csv') as f:
        row = next(csv.DictReader(f))
    assert {'held_out_acc/go_no_go', 'held_out_acc/reaching_1d', 'held_out_acc/worst'} <= set(row)


@pytest.mark.parametrize('argv, message', [
    (['--task', 'yang8', '--n-trials', '64'], '--n-trials does not apply to a multitask run'),
    (['--task', 'multitask:go_no_go,nope'], "--task: 'nope' is unknown"),
    (['--task', 'multitask:'], "--task: 'multitask:' names no task"),
], ids=['n_trials', 'unknown_task', 'no_task'])
def test_multitask_bad_flags_are_one_error_line(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(['train', *argv, '--out', str(tmp_path / 'run')])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
