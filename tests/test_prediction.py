"""predict / Prediction / Trainer.predict: outputs, choices, recorded states, padding, dt, errors."""

import brainstate
import braintools
import jax.numpy as jnp
import numpy as np
import pytest
from float32 import assert_close_f32

import datasets
from trainer import Trainer, objectives, rollout
from trainer.core.compiles import total as total_compilations
from trainer.analysis import Prediction, predict
from trainer.models import GainPopulation, RateRNN


def labelled(n_trials=10, n_steps=6, n_features=3, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    return datasets.from_arrays(rng.normal(size=(n_trials, n_steps, n_features)),
                                rng.integers(0, 2, n_trials), **kwargs)


def identity(model, inputs):
    """A forward whose outputs are its inputs, so choices can be checked by hand."""
    return inputs


@pytest.mark.parametrize('batch_size', [10, 4, 3, 1], ids=['one_batch', 'padded', 'padded_3', 'single'])
def test_outputs_equal_one_rollout_over_all_trials(batch_size):
    data = labelled()
    model = RateRNN(3, 8, 2, seed=1)
    prediction = predict(model, data, batch_size=batch_size)
    with brainstate.environ.context(dt=data.dt):
        brainstate.nn.init_all_states(model, batch_size=len(data))
        expected = np.asarray(rollout(model, jnp.asarray(data.inputs)))
    assert isinstance(prediction.outputs, np.ndarray) and prediction.outputs.shape == (10, 6, 2)
    assert_close_f32(prediction.outputs, expected)  # batched programs vs one rollout of all trials
    np.testing.assert_array_equal(prediction.choices, expected[:, -1].argmax(-1))


def test_recorded_states_are_the_states_after_each_step():
    data = labelled(n_trials=7)
    model = RateRNN(3, 8, 2, cell='lstm', seed=2)
    prediction = predict(model, data, batch_size=3, record=True)
    assert sorted(prediction.states) == ['cell.c', 'cell.h']
    h = prediction.states['cell.h']
    assert h.shape == (7, 6, 8) and isinstance(h, np.ndarray)
    weight = {k: np.asarray(v) for k, v in model.readout.weight.value.items()}
    # The readout of the recorded h at step t is the output at step t.
    # numpy's float32 matmul vs XLA's: an output near 0 is accurate to its terms' magnitude, |h| |W|.
    assert_close_f32(h @ weight['weight'] + weight['bias'], prediction.outputs,
                     scale=float(np.abs(h).max() * np.abs(weight['weight']).sum(0).max()))
    only_c = predict(model, data, batch_size=3, record=['cell.c'])
    assert list(only_c.states) == ['cell.c']
    np.testing.assert_array_equal(only_c.states['cell.c'], prediction.states['cell.c'])
    assert predict(model, data, record='cell.h').states.keys() == {'cell.h'}
    assert predict(model, data).states is None


@pytest.mark.parametrize('dt', [0.5, 2.0], ids=['dt_0.5', 'dt_2'])
def test_dt_comes_from_the_dataset_and_every_batch_starts_afresh(dt):
    # GainPopulation: r_t = g tanh(I) (1 - (1 - dt/tau)^t) from r_0 = 0, tau = 10 ms.
    levels = np.array([0.2, 0.5, 1.0, -0.4, 2.0])
    data = datasets.from_arrays(np.broadcast_to(levels[:, None, None], (5, 12, 1)),
                                np.zeros((5, 12, 1)), dt=dt)
    prediction = predict(GainPopulation(1, g=1.5), data, batch_size=2, record=True)
    steps = np.arange(1, 13)
    expected = 1.5 * np.tanh(levels)[:, None] * (1 - (1 - dt / 10.0) ** steps)
    assert_close_f32(prediction.outputs[..., 0], expected)  # float32 steps vs the float64 closed form
    np.testing.assert_array_equal(prediction.states['r'], prediction.outputs)
    assert prediction.choices is None  # value targets


def test_choices_average_the_scored_steps_else_take_the_last():
    inputs = np.zeros((3, 4, 2))
    inputs[:, :2, 0] = 5.0            # early steps favour class 0
    inputs[:, 2:, 1] = 1.0            # scored steps favour class 1
    inputs[2, 3] = [9.0, 0.0]         # ...but trial 2's last step says 0
    mask = np.array([[0, 0, 1, 1], [0, 0, 1, 0], [0, 0, 0, 0]])
    masked = datasets.from_arrays(inputs, np.ones((3, 4)), mask)
    # trials 0, 1: mean over the scored steps -> 1; trial 2 scores nothing -> its last step -> 0.
    np.testing.assert_array_equal(predict(RateRNN(2, 4, 2), masked, forward=identity).choices, [1, 1, 0])
    unmasked = datasets.from_arrays(inputs, np.ones(3, int))
    np.testing.assert_array_equal(predict(RateRNN(2, 4, 2), unmasked, forward=identity).choices, [1, 1, 0])
    per_trial = predict(RateRNN(2, 4, 2), unmasked, forward=lambda m, x: x[:, 0])
    assert per_trial.outputs.shape == (3, 2)
    np.testing.assert_array_equal(per_trial.choices, [0, 0, 0])


def test_compiles_once_per_shape_and_leaves_the_model_states_alone():
    data = labelled(n_trials=9)
    model = RateRNN(3, 8, 2)
    brainstate.nn.init_all_states(model, batch_size=5)
    model.cell.h.value = jnp.full((5, 8), 0.25)
    first = predict(model, data, batch_size=4, record=True)
    before = total_compilations()
    again = predict(model, data, batch_size=4, record=True)
    assert total_compilations() == before
    np.testing.assert_array_equal(again.outputs, first.outputs)
    np.testing.assert_array_equal(np.asarray(model.cell.h.value), np.full((5, 8), 0.25, np.float32))
    # The weights are read at each call, not baked into the compiled program.
    weight = model.readout.weight.value
    model.readout.weight.value = {**weight, 'bias': weight['bias'] + 1.0}
    np.testing.assert_allclose(predict(model, data, batch_size=4).outputs, first.outputs + 1.0, atol=1e-5)


def test_trainer_predict_matches_predict_and_keeps_fitting_without_recompiling():
    data = datasets.delayed_match_task(48, seq_len=5, n_symbols=2, seed=0)
    trainer = Trainer(RateRNN(2, 8, 2), braintools.optim.Adam(lr=1e-2),
                      objective=objectives.cross_entropy(), progress=False)
    trainer.fit(data, n_epochs=1, batch_size=16)
    prediction = trainer.predict(data, batch_size=7, record=True)
    assert isinstance(prediction, Prediction) and prediction.states['cell.h'].shape == (48, 5, 8)
    np.testing.assert_array_equal(prediction.outputs, predict(trainer.model, data, batch_size=7).outputs)
    # The predict at another batch size does not disturb the trainer's compiled step.
    assert trainer.fit(data, n_epochs=1, batch_size=16).n_compilations['train'] == 0


def test_record_budget_names_the_size():
    data = labelled(n_trials=10, n_steps=6)
    model = RateRNN(3, 8, 2)
    # 10 trials x 6 steps x 8 float32 = 1920 bytes = 1.875 KiB.
    with pytest.raises(ValueError, match=r"recording \['cell.h'\] over 10 trials x 6 steps needs "
                                         r"1.875 KiB .*max_bytes=1000"):
        predict(model, data, record=True, max_bytes=1000)
    assert predict(model, data, record=True, max_bytes=1920).states['cell.h'].nbytes == 1920


@pytest.mark.parametrize(
    'kwargs, error, match',
    [(dict(record=['cell.x']), ValueError, r"\['cell.x'\] are not hidden states.*\['cell.h'\]"),
     (dict(record=[]), ValueError, 'is empty'),
     (dict(record=True, forward=identity), ValueError, 'record needs the default forward'),
     (dict(batch_size=0), ValueError, 'batch_size must be a positive int, got 0'),
     (dict(max_bytes=-1), ValueError, 'max_bytes must be a positive int'),
     (dict(forward='rollout'), TypeError, 'forward must be callable')],
    ids=['unknown_state', 'empty_list', 'custom_forward', 'batch_size', 'max_bytes', 'forward'])
def test_bad_arguments_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        predict(RateRNN(3, 8, 2), labelled(), **kwargs)


def test_prediction_repr_and_len():
    prediction = Prediction(np.zeros((4, 3, 2)), np.zeros(4, int), {'cell.h': np.zeros((4, 3, 5))})
    assert repr(prediction) == "Prediction(outputs=(4, 3, 2), choices=(4,), states={'cell.h': (4, 3, 5)})"
    assert len(prediction) == 4

