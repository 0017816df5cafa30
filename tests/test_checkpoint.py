"""Checkpoints: never past n_epochs, never another model, never a half file, the model's own dtypes."""

import errno
import os

import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from braintools.file import msgpack_load, msgpack_save

import datasets
from trainer import Trainer, load_checkpoint, objectives
from trainer.core.checkpoint import save
from trainer.models import RateRNN


def make_data():
    return datasets.delayed_match_task(64, seq_len=6, n_symbols=2, seed=0)


def make_trainer(model=None):
    return Trainer(model or RateRNN(2, 8, 2, cell='vanilla'), braintools.optim.Adam(lr=1e-2),
                   objective=objectives.cross_entropy(), progress=False)


@pytest.fixture
def three_epochs(tmp_path):
    path = str(tmp_path / 'run.msgpack')
    make_trainer().fit(make_data(), n_epochs=3, batch_size=16, checkpoint=path)
    return path


def test_resume_past_n_epochs_is_refused(three_epochs):
    with pytest.raises(ValueError, match=r'already holds 3 epochs, past n_epochs=2.*n_epochs=3 or more'):
        make_trainer().fit(make_data(), n_epochs=2, batch_size=16, resume_from=three_epochs)


@pytest.mark.parametrize('other, match', [
    (lambda: RateRNN(2, 16, 2, cell='vanilla'), r"different model: parameter 'cell/W/weight' has shape"),
    (lambda: RateRNN(2, 8, 2, cell='gru'), r"different model: its parameters lack"),
], ids=['hidden-size', 'cell'])
def test_resume_into_another_model_names_the_parameter(three_epochs, other, match):
    with pytest.raises(ValueError, match=match):
        make_trainer(other()).fit(make_data(), n_epochs=4, batch_size=16, resume_from=three_epochs)


def test_resume_with_another_optimizer_is_named(three_epochs):
    trainer = Trainer(RateRNN(2, 8, 2, cell='vanilla'), braintools.optim.SGD(lr=1e-2),
                      objective=objectives.cross_entropy(), progress=False)
    with pytest.raises(ValueError, match='state of another optimizer'):
        trainer.fit(make_data(), n_epochs=4, batch_size=16, resume_from=three_epochs)


@pytest.mark.parametrize('content', [b'', b'\x93not a checkpoint', None], ids=['empty', 'garbage', 'truncated'])
def test_corrupt_checkpoint_names_the_file(three_epochs, tmp_path, content):
    bad = str(tmp_path / 'bad.msgpack')
    with open(bad, 'wb') as f:
        f.write(open(three_epochs, 'rb').read()[:200] if content is None else content)
    with pytest.raises(ValueError, match=r"resume_from='.*bad.msgpack' is not a"):
        make_trainer().fit(make_data(), n_epochs=4, batch_size=16, resume_from=bad)


def test_float16_checkpoint_restores_the_models_dtypes(three_epochs, tmp_path):
    raw = msgpack_load(three_epochs)
    raw['params'] = jax.tree.map(lambda x: np.asarray(x, np.float16), raw['params'])
    half = str(tmp_path / 'half.msgpack')
    msgpack_save(half, raw)
    trainer = make_trainer()
    trainer.fit(make_data(), n_epochs=4, batch_size=16, resume_from=half)
    assert {s.value['weight'].dtype for s in trainer.weights.values()} == {jnp.dtype('float32')}


def test_checkpoint_into_a_directory_fails_before_training(tmp_path):
    trainer = make_trainer()
    with pytest.raises(ValueError, match='is a directory; pass a file path'):
        trainer.fit(make_data(), n_epochs=1, batch_size=16, checkpoint=str(tmp_path))
    assert trainer.history == []


def test_stale_temporary_files_are_cleaned(three_epochs):
    for leftover in (three_epochs + '.partial', three_epochs + '.partial.tmp-1234', three_epochs + '.tmp-abcd'):
        with open(leftover, 'wb') as f:
            f.write(b'x' * 1000)
    make_trainer().fit(make_data(), n_epochs=4, batch_size=16, resume_from=three_epochs,
                       checkpoint=three_epochs)
    folder = os.path.dirname(three_epochs)
    assert sorted(os.listdir(folder)) == ['run.msgpack']


def test_load_checkpoint_for_inference(three_epochs):
    trained = make_trainer()  # the same run as the fixture's, which wrote the checkpoint
    trained.fit(make_data(), n_epochs=3, batch_size=16)
    params = lambda m, best: jax.tree.leaves({k: s.value for k, s in m.states(brainstate.ParamState).items()})
    fresh, last = RateRNN(2, 8, 2, cell='vanilla', seed=7), RateRNN(2, 8, 2, cell='vanilla', seed=7)
    assert load_checkpoint(three_epochs, fresh)['epoch'] == 3
    # The best epoch's parameters, as fit leaves them in the model.
    for x, y in zip(params(fresh, True), params(trained.model, True)):
        np.testing.assert_array_equal(x, y)
    load_checkpoint(three_epochs, last, best=False)
    assert any(not np.array_equal(x, y) for x, y in zip(params(last, False), params(fresh, True))) \
        or trained.history[-1]['loss'] == min(r['loss'] for r in trained.history)


def test_save_is_atomic_on_the_final_path(tmp_path):
    trainer = make_trainer()
    path = str(tmp_path / 'c.msgpack')
    state = trainer.program.read()
    save(path, state, state.params, {'epoch': 1})
    assert os.listdir(tmp_path) == ['c.msgpack']


def _fake_state(scale=1.0):
    from trainer.core.state import TrainState
    weights = {k: jax.tree.map(lambda x: np.asarray(x) * scale, s.value)
               for k, s in RateRNN(2, 8, 2, cell='vanilla').states(brainstate.ParamState).items()}
    return TrainState(params=weights, opt=(), hidden={}, rng=np.zeros(2, np.uint32))


def _progress(epoch):
    return {'epoch': epoch, 'seed': 0, 'batch_size': 16, 'history': [], 'best_epoch': None,
            'best_value': None, 'wait': 0}


def test_concurrent_writers_of_one_path_leave_a_loadable_checkpoint(tmp_path):
    import threading
    from trainer.core.checkpoint import read
    path, errors = str(tmp_path / 'shared.msgpack'), []

    def writer(k):
        state = _fake_state(k)
        try:
            for epoch in range(1, 16):
                save(path, state, state.params, _progress(epoch))
        except Exception as error:  # noqa: BLE001 -- any failure of either writer fails the test
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(k,)) for k in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert os.listdir(tmp_path) == ['shared.msgpack']  # each writer's temporary file is its own
    assert load_checkpoint(path, RateRNN(2, 8, 2, cell='vanilla'))['epoch'] == 15
    assert read(path)['progress']


def test_a_dead_writers_leftovers_go_and_a_live_writers_stay(tmp_path):
    path = str(tmp_path / 'c.msgpack')
    dead, live = f'{path}.partial-999999999-ab12', f'{path}.partial-{os.getppid()}-cd34'
    for leftover in (dead, live, path + '.partial'):
        open(leftover, 'wb').close()
    state = _fake_state()
    save(path, state, state.params, _progress(1))
    assert sorted(os.listdir(tmp_path)) == sorted(['c.msgpack', os.path.basename(live)])


@pytest.mark.parametrize('code, why', [(errno.ENOSPC, 'the disk is full'),
                                       (errno.EACCES, 'its folder is not writable')],
                         ids=['disk-full', 'read-only'])
def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, code, why):
    from trainer.core import checkpoint
    path = str(tmp_path / 'c.msgpack')
    state = _fake_state()
    save(path, state, state.params, _progress(1))

    def half_written(filename, target, **kwargs):  # the disk gives out after some bytes
        with open(filename, 'wb') as f:
            f.write(b'\x00' * 100)
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(checkpoint, 'msgpack_save', half_written)
    with pytest.raises(OSError, match=f"checkpoint='.*c.msgpack' could not be written: {why}") as info:
        save(path, state, state.params, _progress(2))
    assert info.value.errno == code
    assert os.listdir(tmp_path) == ['c.msgpack']
    assert load_checkpoint(path, RateRNN(2, 8, 2, cell='vanilla'))['epoch'] == 1


@pytest.mark.parametrize('record, n_members, match', [
    ({'n_members': 2}, None, r"'c.msgpack' is a 2-member ensemble checkpoint.*member=k"),
    ({}, 3, r"'c.msgpack' was written by a Trainer, not an Ensemble"),
    ({'n_members': 2}, 3, r'an ensemble of 2 members.*this one has 3'),
], ids=['trainer-resumes-ensemble', 'ensemble-resumes-trainer', 'other-member-count'])
def test_check_written_by_names_who_wrote_the_file(record, n_members, match):
    from trainer.core.checkpoint import check_written_by
    assert check_written_by({'n_members': n_members}, 'c.msgpack', n_members=n_members)
    with pytest.raises(ValueError, match=match):
        check_written_by(record, 'c.msgpack', n_members=n_members)
