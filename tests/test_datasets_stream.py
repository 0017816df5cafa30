"""datasets.Stream: fresh trials per (seed, epoch, step), drawn on the device in the compiled step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import datasets
from datasets import _cogtask
from datasets._stream import train_key


@pytest.fixture(scope='module')
def gng():
    return datasets.stream('go_no_go', seed=0, held_out=48)


def same(a, b):
    return all(np.array_equal(a[k], b[k]) for k in ('inputs', 'targets', 'mask'))


def test_a_stream_has_a_datasets_shape(gng):
    ds = datasets.load_dataset('go_no_go', n_trials=8)
    assert (gng.kind, gng.n_features, gng.n_steps, gng.dt) == ('device', ds.n_features, ds.n_steps, ds.dt)
    assert gng.n_classes == 3  # the declared label space: fixation, no-go, go
    assert repr(gng).startswith("Stream(name='go_no_go', kind='device'")


def test_same_seed_epoch_and_step_give_the_same_trials(gng):
    again = datasets.stream('go_no_go', seed=0, held_out=48)
    assert same(gng.batch(3, 2, 16), again.batch(3, 2, 16))


@pytest.mark.parametrize('other', [dict(epoch=4, step=2), dict(epoch=3, step=1), dict(seed=1)],
                         ids=['epoch', 'step', 'seed'])
def test_other_epochs_steps_and_seeds_give_other_trials(gng, other):
    stream = datasets.stream('go_no_go', seed=other.get('seed', 0), held_out=48)
    a = gng.batch(3, 2, 16)
    b = stream.batch(other.get('epoch', 3), other.get('step', 2), 16)
    assert not np.array_equal(a['inputs'], b['inputs'])


def test_draw_traces_under_jit_and_vmap_and_equals_the_host_batch(gng):
    keys = gng.epoch_keys(5, 4)
    assert keys.shape == (4, 2) and keys.dtype == jnp.uint32
    stacked = jax.jit(jax.vmap(lambda k: gng.draw(k, 8)))(keys)
    for step in range(4):
        assert same(jax.tree.map(lambda x: np.asarray(x[step]), stacked), gng.batch(5, step, 8))


def test_a_scanned_epoch_draws_its_batches_inside_the_trace(gng):
    data, idx = gng.epoch(2, 3, 8)
    sample = gng.sampler(8)

    @jax.jit
    def epoch(idx):
        def step(total, key):
            batch = sample(data, key)
            return total + jnp.sum(batch['mask']), jnp.sum(batch['inputs'])
        return jax.lax.scan(step, 0.0, idx)

    total, per_step = epoch(idx)
    expected = gng.epoch_batches(2, 3, 8)
    np.testing.assert_allclose(per_step, expected['inputs'].sum(axis=(1, 2, 3)), rtol=1e-5)
    assert float(total) == expected['mask'].sum()


def test_resuming_mid_epoch_replays_the_remaining_steps(gng):
    whole = gng.epoch_batches(1, 5, 4)
    rest = gng.epoch_batches(1, 5, 4, start_step=3)
    assert all(np.array_equal(whole[k][3:], rest[k]) for k in rest)
    _, keys = gng.epoch(1, 5, 4, start_step=3)
    np.testing.assert_array_equal(keys, gng.epoch_keys(1, 5)[3:])


def test_the_held_out_set_is_fixed_and_from_its_own_seed_path(gng):
    held = gng.held_out_set()
    assert held is gng.held_out_set() and len(held) == 48
    again = datasets.stream('go_no_go', seed=0, held_out=48).held_out_set()
    assert np.array_equal(held.inputs, again.inputs) and np.array_equal(held.targets, again.targets)
    assert sorted(held.conditions) == ['ground_truth', 'ground_truth_label', 'is_go', 'stimulus_class']
    # No training batch of the first epochs shares a trial with it.
    trained = [gng.epoch_batches(e, 4, 16)['inputs'].reshape(-1, *held.inputs.shape[1:]) for e in range(3)]
    seen = {trial.tobytes() for epoch in trained for trial in epoch}
    assert not seen & {trial.tobytes() for trial in held.inputs}
    root = jax.random.fold_in(jax.random.PRNGKey(0), 1)
    assert not any(np.array_equal(root, train_key(0, e, s)) for e in range(8) for s in range(8))


def test_a_stream_draws_what_from_cogtask_generates_from_the_same_key(gng):
    stored = datasets.load_dataset('go_no_go', n_trials=16, seed=7)
    drawn = jax.device_get(jax.jit(lambda k: gng.draw(k, 16))(jax.random.PRNGKey(7)))
    np.testing.assert_array_equal(drawn['targets'], stored.targets)
    np.testing.assert_array_equal(drawn['mask'], stored.mask)
    np.testing.assert_allclose(drawn['inputs'], stored.inputs, atol=1e-5)


def test_loss_weights_weigh_the_other_valid_steps():
    s = datasets.stream('perceptual_decision_making', seed=0, held_out=8, loss_weights=0.2)
    b = s.batch(0, 0, 4)
    assert s.has_loss_weights
    np.testing.assert_allclose(b['loss_weights'][b['mask'] == 1], 1.0)
    np.testing.assert_allclose(b['loss_weights'][b['mask'] == 0], 0.2)
    assert s.held_out_set().loss_weights is not None


@pytest.mark.parametrize('name', _cogtask.registry_names())
def test_every_cogtask_task_traces_as_a_device_stream(name):
    s = datasets.stream(name, held_out=4)
    shapes = jax.eval_shape(jax.vmap(lambda k: s.draw(k, 2)), jnp.zeros((3, 2), jnp.uint32))
    assert shapes['inputs'].shape == (3, 2, s.n_steps, s.n_features)
    assert shapes['mask'].shape == (3, 2, s.n_steps)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='only the registry'):
        datasets.stream('delayed_match_task')
    with pytest.raises(TypeError, match='must be a registry name'):
        datasets.stream(42)
    with pytest.raises(ValueError, match='loss_weights for a cogtask stream'):
        datasets.stream('go_no_go', loss_weights=-1.0)
    with pytest.raises(TypeError, match='takes no parameter'):
        datasets.stream('go_no_go', t_stimlus=3)
    s = datasets.stream('go_no_go', held_out=4)
    with pytest.raises(ValueError, match='start_step=3 must be below n_steps=3'):
        s.epoch_keys(0, 3, start_step=3)
    with pytest.raises(ValueError, match='batch_size must be a positive int'):
        s.draw(s.key(0), 0)
    with pytest.raises(TypeError, match='exactly one source'):
        datasets.Stream(n_features=1, n_steps=1, n_classes=2, dt=s.dt)
    host = datasets.Stream(host_draw=lambda seed, n: {}, n_features=1, n_steps=1, n_classes=2, dt=s.dt)
    with pytest.raises(TypeError, match='draws its trials on the host'):
        host.draw(s.key(0), 4)


def test_an_epoch_generated_apart_holds_the_inline_draws(gng):
    data, idx = gng.epoch(2, 3, 8, start_step=1, inline=False)
    assert isinstance(data['inputs'], jax.Array) and data['inputs'].shape == (2, 8, 100, 3)
    np.testing.assert_array_equal(idx, [0, 1])
    sample = gng.sampler(8, inline=False)
    for step in (1, 2):
        inline = gng.batch(2, step, 8)
        apart = jax.device_get(sample(data, step - 1))
        np.testing.assert_array_equal(apart['targets'], inline['targets'])
        np.testing.assert_array_equal(apart['mask'], inline['mask'])
        np.testing.assert_allclose(apart['inputs'], inline['inputs'], atol=1e-5)  # another XLA level


def test_a_task_emitting_more_labels_than_it_declares_streams_with_its_label_space():
    # cogtask's ReadySetGo declares 2 classes (its output features) but labels hold 1 and go 2.
    from braintools import cogtask
    s = datasets.stream('ready_set_go', held_out=16)
    held = s.held_out_set()
    assert s.n_classes == held.n_classes == 3
    assert int(np.asarray(held.targets).max()) == 2  # the label the declaration misses is drawn
    bare = datasets.stream(cogtask.ReadySetGo, dt=20.0, held_out=16, response_phases=('production',))
    with pytest.raises(ValueError, match='declares n_classes=2 but its trials carry label 2; pass n_classes=3'):
        bare.held_out_set()
    with pytest.raises(ValueError, match='n_classes must be an int >= 2'):
        datasets.stream('go_no_go', n_classes=1)
