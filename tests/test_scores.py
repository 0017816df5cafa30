"""trainer.objectives.scores: per-group (total, count) sums, loss weights apart from the mask, per-name counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainer import metrics, objectives
from trainer.objectives.scores import as_sums, make_score, mean_of, worst_of

B, T, C, GROUPS = 12, 5, 3, ('a', 'b', 'c')


def logits_forward(model, x):
    del model
    return x  # the inputs are the logits: the test fixes the predictions


def batch(seed=0, *, loss_weights=False, groups=True):
    rng = np.random.default_rng(seed)
    data = {'inputs': rng.normal(size=(B, T, C)).astype(np.float32),
            'targets': rng.integers(0, C, (B, T)).astype(np.int32),
            'mask': (rng.random((B, T)) < 0.6).astype(np.float32),
            'loss_weights': rng.random((B, T)).astype(np.float32) if loss_weights else None,
            'groups': rng.integers(0, len(GROUPS), B).astype(np.int32) if groups else None}
    data['mask'][:, -1] = 1.0
    return data


def score_of(**kwargs):
    return make_score(None, logits_forward, objectives.cross_entropy(), {'accuracy': metrics.accuracy()}, **kwargs)


def sums_of(score, data, idx=None, weight=None):
    loss, (values, count) = jax.jit(score)(data, idx, weight)
    return as_sums(loss, values, count)


@pytest.mark.parametrize('loss_weights', [False, True], ids=['mask', 'loss_weights'])
def test_per_group_sums_equal_a_per_group_evaluation(loss_weights):
    data = batch(1, loss_weights=loss_weights)
    sums = sums_of(score_of(groups=GROUPS), data)
    plain = score_of()
    for g, group in enumerate(GROUPS):
        rows = np.flatnonzero(data['groups'] == g)
        alone = sums_of(plain, {k: None if v is None else v[rows] for k, v in data.items()})
        for name in ('loss', 'accuracy'):
            np.testing.assert_allclose(sums[f'{name}/{group}'], alone[name], rtol=1e-5)
    # The groups' sums add up to the whole batch's.
    for name in ('loss', 'accuracy'):
        total = sum(np.asarray(sums[f'{name}/{g}'][0]) for g in GROUPS)
        np.testing.assert_allclose(total, sums[name][0], rtol=1e-5)


def test_per_group_sums_with_padded_trials_and_an_empty_group():
    data = batch(2)
    data['groups'] = np.where(data['groups'] == 2, 0, data['groups']).astype(np.int32)  # group 'c' absent
    weight = np.ones(B, np.float32)
    weight[-3:] = 0.0  # padded trials count nowhere
    sums = sums_of(score_of(groups=GROUPS), data, None, weight)
    assert float(sums['accuracy/c'][1]) == 0.0 and float(sums['accuracy/c'][0]) == 0.0
    kept = np.flatnonzero((data['groups'] == 0) & (weight > 0))
    alone = sums_of(score_of(), {k: None if v is None else v[kept] for k, v in data.items()})
    np.testing.assert_allclose(sums['accuracy/a'], alone['accuracy'], rtol=1e-6)
    means = worst_of(mean_of(sums), GROUPS)
    assert np.isnan(means['accuracy/c'])
    assert means['accuracy/worst'] == min(means['accuracy/a'], means['accuracy/b'])
    assert means['loss/worst'] == max(means['loss/a'], means['loss/b'])


def test_loss_weights_change_the_loss_not_the_metrics():
    data = batch(3, loss_weights=True, groups=False)
    with_weights = sums_of(score_of(), data)
    without = sums_of(score_of(), {**data, 'loss_weights': None})
    assert abs(float(with_weights['loss'][0] / with_weights['loss'][1])
               - float(without['loss'][0] / without['loss'][1])) > 1e-3
    np.testing.assert_allclose(with_weights['accuracy'], without['accuracy'])
    # Each mean carries its own mass: the loss the loss weights', the metric the mask's.
    np.testing.assert_allclose(with_weights['loss'][1], data['loss_weights'].sum(), rtol=1e-6)
    np.testing.assert_allclose(with_weights['accuracy'][1], data['mask'].sum())
    # The exact weighted mean of the per-step cross-entropy.
    logp = jax.nn.log_softmax(data['inputs'])
    nll = -np.take_along_axis(np.asarray(logp), data['targets'][..., None], -1)[..., 0]
    np.testing.assert_allclose(with_weights['loss'][0], (nll * data['loss_weights']).sum(), rtol=1e-5)


def test_a_batch_source_replaces_the_gather():
    data = batch(4, groups=False)
    drawn = score_of(batch=lambda _, key: {k: v for k, v in data.items()})
    by_index = score_of()
    a = sums_of(drawn, None, jax.random.PRNGKey(0))
    b = sums_of(by_index, data, np.arange(B))
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-6)


def test_groups_need_group_ids():
    with pytest.raises(ValueError, match="needs the batch's 'groups' ids"):
        score_of(groups=GROUPS)(batch(0, groups=False), None, None)


def test_as_sums_takes_one_count_or_one_per_name():
    assert as_sums(jnp.float32(2.0), {'acc': jnp.float32(0.5)}, 4.0) == {'loss': (8.0, 4.0), 'acc': (2.0, 4.0)}
    assert as_sums(2.0, {'acc': 0.5}, {'loss': 3.0, 'acc': 4.0}) == {'loss': (6.0, 3.0), 'acc': (2.0, 4.0)}


def test_the_trainer_evaluates_the_loss_on_loss_weights_and_the_metrics_on_the_mask():
    import braintools
    import datasets
    from trainer import Trainer
    from trainer.models import RateRNN
    base = datasets.delayed_match_task(48, seq_len=6, n_symbols=2, seed=0)
    mask = np.ones((48, base.n_steps), np.float32)
    weights = np.linspace(0.1, 1.0, base.n_steps, dtype=np.float32)[None].repeat(48, 0)
    plain = datasets.from_arrays(base.inputs, base.targets, mask)
    weighted = datasets.from_arrays(base.inputs, base.targets, mask, loss_weights=weights)
    trainer = Trainer(RateRNN(2, 8, 2, seed=0), braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(),
                      metrics={'acc': metrics.accuracy()}, progress=False)
    a, b = trainer.evaluate(plain, batch_size=16), trainer.evaluate(weighted, batch_size=16)
    assert a['acc'] == b['acc']
    assert abs(a['loss'] - b['loss']) > 1e-4
