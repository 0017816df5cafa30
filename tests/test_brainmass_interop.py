"""brainmass models train on the Trainer with no hand-written state handling (test extra)."""

import math

import brainstate
import braintools
import jax.numpy as jnp
import numpy as np
import pytest

import datasets
from trainer import Trainer, metrics, objectives
from trainer.core.state import batch_template

brainmass = pytest.importorskip('brainmass')


def horn():
    brainstate.random.seed(0)
    return brainmass.HORNSeqNetwork(n_input=2, n_hidden=64, n_output=2, alpha=0.2, omega=2 * math.pi / 28)


def test_unbatched_horn_states_are_broadcast():
    net = horn()
    # HORNStep.init_state ignores batch_size: brainstate alone leaves x, y unbatched.
    brainstate.nn.init_all_states(net, batch_size=32)
    assert net.layers[0].horn.x.value.shape == (64,)
    template = batch_template(net, 32)
    assert {v.shape for v in template.values()} == {(32, 64)}
    assert net.layers[0].horn.x.value.shape == (32, 64)


def test_horn_learns_delayed_match_to_sample():
    data = datasets.delayed_match_task(n_samples=320, seq_len=8, n_symbols=2, seed=0)
    train, held_out = data.subset(np.arange(256)), data.subset(np.arange(256, 320))
    trainer = Trainer(horn(), braintools.optim.Adam(lr=3e-2), objective=objectives.cross_entropy(),
                      metrics={'acc': metrics.accuracy()}, progress=False,
                      forward=lambda model, inputs: model(jnp.swapaxes(inputs, 0, 1)))
    result = trainer.fit(train, held_out=held_out, n_epochs=20, batch_size=32, monitor='held_out_acc')
    assert result.best_value >= 0.95
    assert result.n_compilations == {'train': 1, 'eval': 1}
    assert trainer.evaluate(held_out)['acc'] == pytest.approx(result.best_value)
