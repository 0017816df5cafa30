"""Regularisers: each term equals its formula, is added to the loss and reported by name."""

import braintools
import datasets
import numpy as np
import pytest

from trainer import Trainer, objectives, regularizers
from trainer.models import LeakyRNN, RateRNN
from trainer.objectives import penalties


def _data(n=12, t=6, f=2, mask=False, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, t, f)).astype(np.float32)
    y = np.repeat(rng.integers(0, 2, n)[:, None], t, 1)
    m = None
    if mask:
        m = np.zeros((n, t), np.float32)
        m[:, -2:] = 1
    return datasets.from_arrays(x, y, m)


def _trainer(terms, net=None, **kwargs):
    net = net or LeakyRNN(2, 5, 2, activation='softplus', sigma_rec=0.0, seed=3)
    return Trainer(net, braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(),
                   metrics=['accuracy'], progress=False, regularizers=terms, **kwargs)


def test_rate_l2_is_lam_times_mean_square_rate():
    data = _data()
    trainer = _trainer([regularizers.rate_l2(1e-2, state='r'), regularizers.rate_l1(1e-3, state='r')])
    scores = trainer.evaluate(data, batch_size=5)  # padded last batch: padding must not count
    r = trainer.predict(data, record=['r']).states['r']
    assert scores['reg_rate_l2'] == pytest.approx(1e-2 * np.mean(r ** 2), rel=1e-5)
    assert scores['reg_rate_l1'] == pytest.approx(1e-3 * np.mean(np.abs(r)), rel=1e-5)


def test_rate_term_over_scored_steps_follows_the_mask():
    data = _data(mask=True)
    trainer = _trainer([regularizers.rate_l2(1.0, steps='scored')])
    scores = trainer.evaluate(data, batch_size=12)
    r = trainer.predict(data, record=['r']).states['r']
    assert scores['reg_rate_l2'] == pytest.approx(np.mean(r[:, -2:] ** 2), rel=1e-5)


def test_weight_terms_and_the_loss_is_objective_plus_terms():
    data = _data()
    net = LeakyRNN(2, 5, 2, sigma_rec=0.0, seed=3)
    plain = _trainer(None, net=net).evaluate(data, batch_size=6)
    terms = [regularizers.weight_l2(1e-2, 'w_rec'), regularizers.weight_l1(1e-3, 'w_in', 'w_out'),
             regularizers.weight_l2_init(1.0, 'w_rec')]
    scores = _trainer(terms, net=net).evaluate(data, batch_size=6)
    w_rec, w_in, w_out = (np.asarray(p.value()) for p in (net.w_rec, net.w_in, net.w_out))
    assert scores['reg_weight_l2'] == pytest.approx(1e-2 * np.mean(w_rec ** 2), rel=1e-5)
    assert scores['reg_weight_l1'] == pytest.approx(1e-3 * (np.mean(abs(w_in)) + np.mean(abs(w_out))), rel=1e-5)
    assert scores['reg_weight_l2_init'] == 0.0  # the weights are still the initial ones
    added = scores['reg_weight_l2'] + scores['reg_weight_l1']
    assert scores['loss'] == pytest.approx(plain['loss'] + added, rel=1e-5)


def test_terms_are_history_keys_and_pull_toward_init_grows_with_training():
    trainer = _trainer([regularizers.weight_l2_init(1.0, 'w_rec'), regularizers.rate_l2(1e-3)])
    data = _data(n=16)
    history = trainer.fit(data, held_out=data, n_epochs=2, batch_size=8).history
    assert {'reg_weight_l2_init', 'reg_rate_l2', 'held_out_reg_rate_l2'} <= set(history[-1])
    assert history[-1]['held_out_reg_weight_l2_init'] > 0.0


def test_a_recurrent_weight_of_a_brainstate_cell_by_dotted_name():
    net = RateRNN(2, 4, 2, cell='vanilla')
    trainer = _trainer([regularizers.weight_l2(1.0, 'readout.weight')], net=net)
    w = net.readout.weight.value
    expected = np.mean(np.asarray(w['weight']) ** 2) + np.mean(np.asarray(w['bias']) ** 2)
    assert trainer.evaluate(_data(), batch_size=6)['reg_weight_l2'] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize('terms, kwargs, match', [
    ([regularizers.weight_l2(1.0, 'w_nope')], {}, r"'w_nope' is not a weight of the model; it has \["),
    ([regularizers.rate_l2(1.0, state='h')], {}, r"state 'h' is not a hidden state of the model; it has \['r', 'x'\]"),
    ([regularizers.weight_l2(1.0, 'w_in'), regularizers.weight_l2(1.0, 'w_rec')], {}, 'two terms are named'),
    ([regularizers.rate_l2(1.0)], dict(forward=lambda m, x: x), 'needs the default forward'),
    (regularizers.rate_l2(1.0), {}, 'wrap a single one in a list'),
], ids=['weight-name', 'state-name', 'duplicate', 'custom-forward', 'not-a-list'])
def test_bad_regularizers_are_refused(terms, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _trainer(terms, **kwargs)


@pytest.mark.parametrize('build, match', [
    (lambda: regularizers.rate_l2(-1.0), 'lam must be a non-negative number'),
    (lambda: regularizers.weight_l2(1.0), 'needs the names of the matrices'),
    (lambda: regularizers.rate_l1(1.0, state=''), 'state must name a hidden state'),
], ids=['lam', 'no-names', 'state'])
def test_bad_builder_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_activity_mean_weights_steps():
    import jax.numpy as jnp
    x = jnp.arange(8.0).reshape(1, 4, 2)
    weight = jnp.asarray([[0.0, 0.0, 1.0, 1.0]])
    assert float(penalties._activity_mean(x, 1, weight)) == pytest.approx(np.mean([4, 5, 6, 7]))
