"""TensorBoard and MLflow callbacks, read back with the tools' own readers and compared with the history."""

import functools
import json
import sys

import braintools
import datasets
import pytest

pytest.importorskip('tensorboardX')
pytest.importorskip('mlflow')

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from trainer import Ensemble, Trainer, metrics, objectives  # noqa: E402
from trainer.callbacks import MLflow, ModelCheckpoint, TensorBoard  # noqa: E402
from trainer.models import RateRNN  # noqa: E402
from trainer.tracking import epoch_scalars  # noqa: E402

KW = dict(objective=objectives.cross_entropy(), metrics={'acc': metrics.accuracy()}, progress=False)


@functools.lru_cache(maxsize=None)
def data():
    ds = datasets.load_dataset('delayed_match_task', n_trials=64, seq_len=6, n_symbols=2)
    return ds.split(48, seed=0)


def read_board(log_dir):
    board = EventAccumulator(str(log_dir), size_guidance={'scalars': 0, 'images': 0})
    board.Reload()
    return board


@pytest.fixture(scope='module')
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp('mlflow')
    return f'sqlite:///{folder}/mlflow.db', f'file://{folder}/artifacts'


@pytest.fixture(scope='module')
def resumed(tmp_path_factory, store):
    """Two epochs with a checkpoint, then resumed to four with new callback objects on the same log dir and run."""
    folder = tmp_path_factory.mktemp('resumed')
    uri, artifacts = store
    train, held_out = data()
    path = str(folder / 'ck.msgpack')
    runs = []
    for n_epochs, resume in ((2, None), (4, path)):
        board = TensorBoard(folder / 'tb')
        flow = MLflow('tracking-test', tracking_uri=uri, artifact_location=artifacts, run_name='resumed',
                      tags={'kind': 'test'})
        trainer = Trainer(RateRNN(2, 8, 2, seed=0), braintools.optim.Adam(lr=1e-2), **KW)
        result = trainer.fit(train, held_out=held_out, n_epochs=n_epochs, batch_size=16, checkpoint=path,
                             resume_from=resume, callbacks=[board, flow])
        runs.append(flow.run_id)
    return result, folder, runs


def test_tensorboard_holds_every_metric_and_the_lr_once_per_epoch(resumed):
    result, folder, _ = resumed
    board = read_board(folder / 'tb')
    keys = ['loss', 'acc', 'held_out_loss', 'held_out_acc', 'lr']
    assert sorted(board.Tags()['scalars']) == sorted(keys)
    for key in keys:
        events = board.Scalars(key)
        assert [e.step for e in events] == [1, 2, 3, 4]  # the resumed fit continued without repeating a step
        assert [e.value for e in events] == pytest.approx([row[key] for row in result.history], rel=1e-6)
    assert board.Tags()['images'] == ['curves']
    assert board.Images('curves')[-1].width > 100


def test_tensorboard_resume_purges_steps_logged_past_the_checkpoint(tmp_path):
    # A run killed after logging epoch 3 but whose checkpoint holds epoch 2: the resumed
    # writer hides the stale step 3 and logs the new one.
    train, held_out = data()
    board = TensorBoard(tmp_path / 'tb')
    trainer = Trainer(RateRNN(2, 8, 2, seed=0), braintools.optim.Adam(lr=1e-2), **KW)
    trainer.fit(train, n_epochs=3, batch_size=16, callbacks=[board])  # "killed" after epoch 3...
    again = TensorBoard(tmp_path / 'tb')
    again.load_state_dict({'last_step': 2})  # ...its checkpoint's state from epoch 2
    trainer = Trainer(RateRNN(2, 8, 2, seed=1), braintools.optim.Adam(lr=1e-2), **KW)
    result = trainer.fit(train, n_epochs=3, batch_size=16, callbacks=[again])
    events = read_board(tmp_path / 'tb').Scalars('loss')
    assert [e.step for e in events] == [1, 2, 3]
    assert events[-1].value == pytest.approx(result.history[-1]['loss'], rel=1e-6)


def test_mlflow_run_holds_params_metrics_and_artifacts(resumed, store):
    result, folder, runs = resumed
    assert runs[0] == runs[1]  # the resumed fit continued the same run
    client = MlflowClient(tracking_uri=store[0])
    run = client.get_run(runs[0])
    assert run.info.status == 'FINISHED' and run.info.run_name == 'resumed' and run.data.tags['kind'] == 'test'
    params = run.data.params
    assert (params['n_epochs'], params['batch_size'], params['seed']) == ('2', '16', '0')  # as first logged
    assert (params['monitor'], params['optimizer'], params['model']) == ('held_out_loss', 'Adam', 'RateRNN')
    assert float(params['lr']) == pytest.approx(1e-2)
    for key in ('loss', 'acc', 'held_out_loss', 'held_out_acc', 'lr'):
        history = client.get_metric_history(runs[0], key)
        assert [m.step for m in history] == [1, 2, 3, 4]
        assert [m.value for m in history] == pytest.approx([row[key] for row in result.history], rel=1e-12)
    assert sorted(a.path for a in client.list_artifacts(runs[0])) == ['ck.msgpack', 'curves.png']


def test_an_ensemble_logs_each_member_and_the_mean(tmp_path, store):
    train, held_out = data()
    ensemble = Ensemble([RateRNN(2, 8, 2, seed=s) for s in range(2)], braintools.optim.Adam(lr=1e-2),
                        hparams={'lr': [1e-2, 3e-2]}, **KW)
    flow = MLflow('tracking-test', tracking_uri=store[0], artifact_location=store[1])
    result = ensemble.fit(train, held_out=held_out, n_epochs=2, batch_size=16,
                          callbacks=[TensorBoard(tmp_path / 'tb'), flow, ModelCheckpoint(tmp_path / 'e.msgpack')])
    board, client = read_board(tmp_path / 'tb'), MlflowClient(tracking_uri=store[0])
    for k, member in enumerate(result.members):
        for key in ('loss', 'held_out_acc', 'lr'):
            assert [e.value for e in board.Scalars(f'member_{k}/{key}')] == pytest.approx(member.curve(key), rel=1e-6)
            assert [m.value for m in client.get_metric_history(flow.run_id, f'member_{k}/{key}')] == \
                pytest.approx(member.curve(key))
    mean = [(a + b) / 2 for a, b in zip(*(m.curve('held_out_loss') for m in result.members))]
    assert [e.value for e in board.Scalars('mean/held_out_loss')] == pytest.approx(mean, rel=1e-6)
    params = client.get_run(flow.run_id).data.params
    assert params['n_members'] == '2' and params['hparams.lr'].startswith('[0.00999')
    assert 'e.msgpack' in [a.path for a in client.list_artifacts(flow.run_id)]  # found among the callbacks


def test_only_process_0_writes(tmp_path, store, monkeypatch):
    import trainer.loop.run as run
    monkeypatch.setattr(run, 'is_main', lambda: False)
    train, _ = data()
    flow = MLflow('not-main', tracking_uri=store[0])
    Trainer(RateRNN(2, 8, 2), braintools.optim.Adam(lr=1e-2), **KW).fit(
        train, n_epochs=1, batch_size=16, callbacks=[TensorBoard(tmp_path / 'tb'), flow])
    assert not (tmp_path / 'tb').exists() and flow.run_id is None
    assert MlflowClient(tracking_uri=store[0]).get_experiment_by_name('not-main') is None


def test_epoch_scalars_skip_missing_values_and_average_members():
    rows = [{'member': 0, 'epoch': 2, 'loss': 1.0, 'held_out_loss': None, 'lr': 0.1, 'time': 1.0},
            {'member': 2, 'epoch': 2, 'loss': 3.0, 'held_out_loss': None, 'lr': 0.2, 'time': 1.0}]
    assert epoch_scalars(rows, 3) == {'member_0/loss': 1.0, 'member_0/lr': 0.1, 'member_2/loss': 3.0,
                                      'member_2/lr': 0.2, 'mean/loss': 2.0}


@pytest.mark.parametrize('cls, module, args', [(TensorBoard, 'tensorboardX', ('tb',)),
                                               (MLflow, 'mlflow', ('exp',))])
def test_without_the_extra_the_error_names_it(cls, module, args, monkeypatch):
    for name in [m for m in sys.modules if m == module or m.startswith(module + '.')]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[tracking\]"'):
        cls(*args)


def test_train_command_tracking_flags(tmp_path, store, monkeypatch):
    from trainer import __main__ as cli
    monkeypatch.setenv('COLUMNS', '80')
    monkeypatch.chdir(tmp_path)  # a new experiment's artifacts go to MLflow's default, ./mlruns
    argv = ['train', '--task', 'delayed_match_task', '--n-trials', '40', '--epochs', '2', '--batch-size', '16',
            '--hidden', '8', '--no-compile-cache', '--no-progress', '--out', str(tmp_path / 'run'),
            '--tensorboard', str(tmp_path / 'tb'), '--mlflow', store[0], '--mlflow-experiment', 'cli']
    assert cli.main(argv) == 0
    history = json.load(open(tmp_path / 'run' / 'history.json'))['history']
    assert [e.value for e in read_board(tmp_path / 'tb').Scalars('held_out_acc')] == \
        pytest.approx([row['held_out_acc'] for row in history], rel=1e-6)
    client = MlflowClient(tracking_uri=store[0])
    [run] = client.search_runs([client.get_experiment_by_name('cli').experiment_id])
    assert run.info.run_name == 'run' and run.data.params['recipe.hidden'] == '8'
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == ['checkpoint.msgpack', 'curves.png']
