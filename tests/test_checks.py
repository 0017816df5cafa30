"""A plain optax transform is accepted wherever a braintools optimizer is, and steps the same."""


import braintools
import brainunit as u
import numpy as np
import optax
import pytest
from float32 import assert_close_f32

import datasets
from trainer import Fitter, Simulator, Trainer, objectives
from trainer.core.checks import optax_optimizer
from trainer.models import GainPopulation, RateRNN


def predict(m):
    return Simulator(m, dt=0.1 * u.ms).run(6. * u.ms, inputs=lambda i, t: 1.0, monitors=['r'])['r']


def test_braintools_optimizer_passes_through_unchanged():
    adam = braintools.optim.Adam(lr=0.1)
    assert optax_optimizer(adam) is adam


@pytest.mark.parametrize('bad', ['adam', optax.adam, object()], ids=['string', 'factory', 'object'])
def test_anything_else_is_refused_with_both_fixes(bad):
    with pytest.raises(TypeError, match=r'braintools\.optim\.Adam\(lr=1e-2\).*optax\.adam\(1e-2\)'):
        optax_optimizer(bad)


def test_fitter_with_optax_adam_matches_braintools_adam():
    histories = []
    for optimizer in (optax.adam(0.1), braintools.optim.Adam(lr=0.1)):
        fitter = Fitter(GainPopulation(1, g=0.5), optimizer,
                        objective=objectives.steady_state(n_tail=20), predict=predict)
        histories.append(fitter.fit(target=0.3, n_steps=15).history)
    assert_close_f32(histories[0], histories[1], steps=15)  # optax's program vs braintools': 15 Adam steps
    assert histories[0][-1] < histories[0][0]


def test_trainer_with_optax_transform_trains_and_reports_unknown_lr():
    data = datasets.delayed_match_task(64, seq_len=6, n_symbols=2, seed=0)
    results = []
    for optimizer in (optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2)),
                      braintools.optim.Adam(lr=1e-2, grad_clip_norm=1.0)):
        trainer = Trainer(RateRNN(2, 8, 2, seed=0), optimizer,
                          objective=objectives.cross_entropy(), progress=False)
        results.append(trainer.fit(data, n_epochs=2, batch_size=16))
    assert_close_f32(results[0].curve('loss'), results[1].curve('loss'), steps=8)  # optax vs braintools: 8 steps
    assert results[0].curve('lr') == [None, None]  # inside optax, not readable (JSON has no NaN)


def test_scores_something_refuses_a_set_whose_mask_is_zero_everywhere():
    from trainer.core.checks import scores_something
    masked = datasets.from_arrays(np.zeros((4, 3, 1)), np.arange(4) % 2,
                                  mask=np.array([[1.0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]]))
    assert scores_something(masked, 'held_out') is masked
    assert scores_something(datasets.from_arrays(np.zeros((2, 3, 1)), [0, 1]), 'dataset') is not None
    unscored = masked[2:]  # the trials whose mask rows are all zero
    with pytest.raises(ValueError, match='held_out has a mask that is zero on every step.*mask=None'):
        scores_something(unscored, 'held_out')
