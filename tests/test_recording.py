"""datasets.from_recording: a long recording as consecutive windows for carried-state training."""

import importlib.util
import os

import braintools
import datasets
import numpy as np
import optax
import pytest

from trainer import Trainer, objectives
from trainer.models import RateRNN


def _recording(n_steps=1000, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_steps, 3)).astype(np.float32), rng.normal(size=(n_steps, 2)).astype(np.float32)


def test_segments_are_contiguous_whole_windows():
    x, y = _recording(1030)
    ds = datasets.from_recording(x, y, window=100, dt=0.5, n_streams=4)
    assert ds.inputs.shape == (4, 200, 3) and ds.targets.shape == (4, 200, 2)
    assert list(ds.conditions['start']) == [0, 257, 514, 771] and set(ds.conditions['window']) == {100}
    np.testing.assert_array_equal(ds.inputs[2], x[514:714])
    np.testing.assert_array_equal(ds.targets[3], y[771:971])
    assert float(ds.dt.mantissa) == 0.5 and ds.mask is None


def test_one_stream_keeps_the_recording_in_order_and_1d_series_become_columns():
    x, y = _recording(500)
    ds = datasets.from_recording(x[:, 0], y[:, 0], window=50, dt=1.0, mask=np.ones(500))
    assert ds.inputs.shape == (1, 500, 1) and ds.targets.shape == (1, 500, 1) and ds.mask.shape == (1, 500)
    np.testing.assert_array_equal(ds.inputs[0, :, 0], x[:, 0])


@pytest.mark.parametrize('kwargs, message', [
    ({'targets': np.zeros((999, 2))}, "`inputs` has 1000 steps but `targets` has 999"),
    ({'window': 0}, "window must be a positive int, got 0"),
    ({'window': 300, 'n_streams': 4}, "window must be at most 250, got 300. Each of the 4 segments has 250 steps"),
    ({'n_streams': 0}, "n_streams must be a positive int"),
    ({'inputs': np.zeros((1000, 3, 1))}, r"inputs must be a \(T, features\) recording"),
    ({'mask': np.ones(10)}, r"mask must be \(1000,\)"),
], ids=['length', 'window-0', 'window-long', 'streams-0', 'inputs-3d', 'mask-shape'])
def test_bad_recordings(kwargs, message):
    x, y = _recording()
    args = {'inputs': x, 'targets': y, 'window': 100, 'dt': 1.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        datasets.from_recording(args.pop('inputs'), args.pop('targets'), **args)


def test_windows_carry_the_state_of_the_stream():
    # lr=0: the windowed epoch scores the streams exactly as one whole pass does iff the state
    # carries from window to window (a window restarted from rest scores otherwise).
    x, _ = _recording(1200)
    x, y = x + 1.0, np.zeros((1200, 2), np.float32)  # a drive the state integrates: a restart shows
    ds = datasets.from_recording(x, y, window=50, dt=1.0, n_streams=4)
    scores = {}
    for gradient, chunk in (('bptt', None), ('tbptt', 50)):
        trainer = Trainer(RateRNN(3, 16, 2, seed=0), optax.sgd(0.0), objective=objectives.mse(), progress=False,
                          gradient=gradient, chunk=chunk)
        scores[gradient] = trainer.fit(ds, n_epochs=1, batch_size=4, shuffle=False).history[0]['loss']
    np.testing.assert_allclose(scores['tbptt'], scores['bptt'], rtol=1e-6)
    windows = datasets.from_arrays(ds.inputs.reshape(-1, 50, 3), ds.targets.reshape(-1, 50, 2))
    restarted = Trainer(RateRNN(3, 16, 2, seed=0), optax.sgd(0.0), objective=objectives.mse(), progress=False)
    reset = restarted.fit(windows, n_epochs=1, batch_size=4, shuffle=False).history[0]['loss']
    assert abs(reset - scores['bptt']) > 1e-3 * scores['bptt'], (reset, scores)


def test_fit_recording_example_recovers_the_teachers_activity():
    path = os.path.join(os.path.dirname(__file__), '..', 'examples', 'fit_recording.py')
    spec = importlib.util.spec_from_file_location('fit_recording', path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result, scores = example.main(n_steps=4000, n_epochs=6, window=50, n_streams=8, n_hidden=32)
    assert len(result.history) == 6 and result.history[-1]['loss'] < result.history[0]['loss']
    assert scores['held_out_r2'] > 0.5
