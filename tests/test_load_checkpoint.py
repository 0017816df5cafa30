"""``load_checkpoint`` puts a fit's parameters into a fresh model for inference."""

import braintools
import brainstate
import jax
import numpy as np
import pytest

import datasets
from trainer import Trainer, load_checkpoint, objectives, rollout
from trainer.core.params import param_values
from trainer.models import RateRNN


@pytest.fixture(scope='module')
def fitted(tmp_path_factory):
    data = datasets.delayed_match_task(64, seq_len=6, n_symbols=2, seed=0)
    path = tmp_path_factory.mktemp('ckpt') / 'run.msgpack'
    model = RateRNN(2, 8, 2, cell='gru', seed=0)
    trainer = Trainer(model, braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(),
                      progress=False)
    # mode='max' on a falling loss makes epoch 1 the "best", so best and last differ.
    result = trainer.fit(data, n_epochs=3, batch_size=16, checkpoint=str(path), restore_best=False,
                         monitor='loss', mode='max')
    return data, path, model, result


def predict(model, data):
    with brainstate.environ.context(dt=data.dt):
        brainstate.nn.init_all_states(model, batch_size=len(data))
        return np.asarray(rollout(model, data.inputs))


def test_fresh_model_predicts_like_the_trained_one(fitted):
    data, path, trained, _ = fitted
    fresh = RateRNN(2, 8, 2, cell='gru', seed=123)
    assert not np.allclose(predict(fresh, data), predict(trained, data))
    progress = load_checkpoint(path, fresh, best=False)  # the last epoch's, which the trained model holds
    assert progress['epoch'] == 3 and [row['epoch'] for row in progress['history']] == [1, 2, 3]
    jax.tree.map(np.testing.assert_array_equal, param_values(fresh), param_values(trained))
    np.testing.assert_array_equal(predict(fresh, data), predict(trained, data))


def test_best_loads_the_best_epoch(fitted):
    _, path, _, result = fitted
    fresh = RateRNN(2, 8, 2, cell='gru', seed=5)
    assert result.best_epoch == 1
    load_checkpoint(path, fresh)  # the default: the best epoch's parameters
    jax.tree.map(np.testing.assert_array_equal, param_values(fresh), result.best_params)
    assert not np.array_equal(param_values(fresh)['readout.weight']['weight'],
                              param_values(result.model)['readout.weight']['weight'])


@pytest.mark.parametrize('model, match', [
    (lambda: RateRNN(2, 16, 2, cell='gru'), r'different model.*shape'),
    (lambda: RateRNN(2, 8, 2, cell='vanilla'), r'different model.*its parameters lack'),
], ids=['hidden-size', 'cell'])
def test_another_model_is_refused_naming_the_file(fitted, model, match):
    _, path, _, _ = fitted
    with pytest.raises(ValueError, match=match) as error:
        load_checkpoint(path, model())
    assert str(path) in str(error.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.msgpack'):
        load_checkpoint(tmp_path / 'nope.msgpack', RateRNN(2, 8, 2))


def test_member_k_of_an_ensemble_checkpoint_loads_that_member(tmp_path):
    from trainer import Ensemble
    data = datasets.delayed_match_task(32, seq_len=4, n_symbols=2, seed=0)
    path = str(tmp_path / 'ensemble.msgpack')
    ensemble = Ensemble([RateRNN(2, 4, 2, cell='vanilla', seed=s) for s in range(2)],
                        braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(), progress=False)
    result = ensemble.fit(data, n_epochs=2, batch_size=16, checkpoint=path, restore_best=False)
    with pytest.raises(ValueError, match='is a 2-member ensemble checkpoint; pass member=k|'
                                         r'is a 2-member ensemble checkpoint \(Ensemble.fit\); pass member=k'):
        load_checkpoint(path, RateRNN(2, 4, 2, cell='vanilla'))
    for k, member in enumerate(result.members):
        fresh = RateRNN(2, 4, 2, cell='vanilla', seed=9)
        progress = load_checkpoint(path, fresh, best=False, member=k)
        assert progress['member'] == k and progress['epoch'] == 2
        assert [row['epoch'] for row in progress['history']] == [1, 2]
        assert progress['history'] == member.history
        jax.tree.map(np.testing.assert_array_equal, param_values(fresh), param_values(member.model))
