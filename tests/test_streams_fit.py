"""Streams and multitask mixtures through ``Trainer.fit`` / ``Ensemble.fit`` (trainer/loop/sources.py)."""

import braintools
import numpy as np
import pytest

import datasets
from trainer import Ensemble, Trainer, metrics, objectives
from trainer.callbacks import StopAtThreshold
from trainer.models import RateRNN

B, STEPS = 8, 3


def tiny(seed=0, *, flip=False, weighted=False, held_out=32):
    """A small device stream (a JAX draw, as cogtask's): label = sign of the first input at step 0."""
    import brainunit as u
    import jax
    import jax.numpy as jnp

    def draw(key, batch_size):
        x = jax.random.normal(key, (batch_size, 4, 2))
        y = jnp.broadcast_to((x[:, :1, 0] > 0).astype(jnp.int32), (batch_size, 4))
        batch = {'inputs': x, 'targets': 1 - y if flip else y, 'mask': jnp.ones((batch_size, 4)).at[:, 0].set(0.0)}
        if weighted:
            batch['loss_weights'] = jnp.ones((batch_size, 4)).at[:, 0].set(0.3)
        return batch

    return datasets.Stream(draw=draw, n_features=2, n_steps=4, n_classes=2, dt=1.0 * u.ms, seed=seed,
                           held_out=held_out, name='flip' if flip else 'sign', has_loss_weights=weighted)


@pytest.fixture(scope='module')
def gng():
    return tiny()


def make_trainer(ds, hidden=8, seed=0, lr=1e-2):
    return Trainer(RateRNN(ds.n_features, hidden, ds.n_classes, seed=seed), braintools.optim.Adam(lr=lr),
                   objective=objectives.cross_entropy(), metrics={'acc': metrics.accuracy()}, progress=False)


def scores(history):
    return [{k: v for k, v in row.items() if k != 'time'} for row in history]


def stored_epochs(stream, epochs, n_steps, batch_size):
    """The trials a stream fit trains on, epoch after epoch, as one stored dataset (in order)."""
    batches = [stream.batch(e, s, batch_size) for e in epochs for s in range(n_steps)]
    return datasets.from_arrays(*(np.concatenate([b[k] for b in batches]) for k in ('inputs', 'targets', 'mask')),
                                dt=stream.dt, n_classes=stream.n_classes)


def host_stream():
    """A host stream (numpy draws, as neurogym's): two-step trials, label = sign of the input's sum."""
    def host_draw(seed, batch_size):
        x = np.random.default_rng(seed).normal(size=(batch_size, 4, 2)).astype(np.float32)
        y = np.broadcast_to((x.sum(axis=(1, 2)) > 0).astype(np.int32)[:, None], (batch_size, 4)).copy()
        return {'inputs': x, 'targets': y, 'mask': np.ones((batch_size, 4), np.float32)}

    import brainunit as u
    return datasets.Stream(host_draw=host_draw, n_features=2, n_steps=4, n_classes=2, dt=1.0 * u.ms,
                           seed=3, held_out=16, name='sign')


@pytest.mark.parametrize('compile_epoch', [False, True], ids=['per_step', 'scanned'])
def test_a_stream_fit_trains_on_the_batches_of_its_seed_epoch_and_step(gng, compile_epoch):
    result = make_trainer(gng).fit(gng, n_epochs=1, batch_size=B, steps_per_epoch=STEPS, compile_epoch=compile_epoch)
    stored = make_trainer(gng).fit(stored_epochs(gng, [1], STEPS, B), held_out=gng.held_out_set(), n_epochs=1,
                                   batch_size=B, shuffle=False)
    for key in ('loss', 'acc', 'held_out_loss', 'held_out_acc'):
        np.testing.assert_allclose(result.history[0][key], stored.history[0][key], rtol=1e-5, err_msg=key)
    assert result.n_compilations == {'train': 1, 'eval': 1}


def test_a_cogtask_stream_fit_trains_on_the_batches_of_its_seed_epoch_and_step():
    gng = datasets.stream('go_no_go', seed=0, held_out=8)
    result = make_trainer(gng, hidden=4).fit(gng, n_epochs=1, batch_size=4, steps_per_epoch=2, compile_epoch=True)
    stored = make_trainer(gng, hidden=4).fit(stored_epochs(gng, [1], 2, 4), held_out=gng.held_out_set(),
                                             n_epochs=1, batch_size=4, shuffle=False)
    np.testing.assert_allclose(result.history[0]['held_out_loss'], stored.history[0]['held_out_loss'], rtol=1e-5)
    assert result.n_compilations == {'train': 1, 'eval': 1}


def test_the_same_stream_seed_gives_the_same_fit_and_another_seed_another(gng):
    runs = [make_trainer(gng).fit(s, n_epochs=2, batch_size=B, steps_per_epoch=STEPS, compile_epoch=True)
            for s in (gng, tiny(0), tiny(1))]
    assert scores(runs[0].history) == scores(runs[1].history)
    assert runs[0].history[0]['loss'] != runs[2].history[0]['loss']
    assert runs[0].history[1]['loss'] != runs[0].history[0]['loss']  # epoch 2 draws fresh trials


def test_a_host_stream_fit_trains_on_the_batches_of_its_seed_epoch_and_step():
    s = host_stream()
    result = make_trainer(s).fit(s, n_epochs=2, batch_size=B, steps_per_epoch=STEPS, compile_epoch=True)
    stored = make_trainer(s).fit(stored_epochs(s, [1, 2], STEPS, B), held_out=s.held_out_set(), n_epochs=1,
                                 batch_size=B, shuffle=False)
    np.testing.assert_allclose(result.history[-1]['held_out_loss'], stored.history[0]['held_out_loss'], rtol=1e-5)
    assert result.n_compilations == {'train': 1, 'eval': 1}


@pytest.mark.parametrize('compile_epoch', [False, True], ids=['per_step', 'scanned'])
def test_resuming_a_stream_fit_is_bit_identical(gng, tmp_path, compile_epoch):
    kw = dict(batch_size=B, steps_per_epoch=STEPS, compile_epoch=compile_epoch)
    whole = make_trainer(gng).fit(gng, n_epochs=4, **kw)
    path = tmp_path / 'ck.msgpack'
    make_trainer(gng).fit(gng, n_epochs=2, checkpoint=path, **kw)
    resumed = make_trainer(gng).fit(gng, n_epochs=4, resume_from=path, **kw)
    assert scores(resumed.history) == scores(whole.history)
    with pytest.raises(ValueError, match='steps_per_epoch'):
        make_trainer(gng).fit(gng, n_epochs=4, resume_from=path, batch_size=B, steps_per_epoch=STEPS + 1)
    with pytest.raises(ValueError, match='source'):
        make_trainer(gng).fit(tiny(5), n_epochs=4, resume_from=path, **kw)


def test_steps_per_epoch_is_required_for_streams_and_refused_for_stored_trials(gng):
    with pytest.raises(ValueError, match='steps_per_epoch is required when training on a stream'):
        make_trainer(gng).fit(gng, n_epochs=1, batch_size=B)
    with pytest.raises(ValueError, match='steps_per_epoch must be a positive int, got 0'):
        make_trainer(gng).fit(gng, n_epochs=1, batch_size=B, steps_per_epoch=0)
    with pytest.raises(ValueError, match='steps_per_epoch=5 is for streams'):
        make_trainer(gng).fit(gng.held_out_set(), n_epochs=1, batch_size=B, steps_per_epoch=5)


@pytest.fixture(scope='module')
def mix():
    return datasets.Multitask({'sign': tiny(0, held_out=24), 'flip': tiny(0, flip=True, held_out=12)})


def test_a_mixture_fit_reports_each_task_and_the_worst_from_exact_sums(mix):
    trainer = make_trainer(mix)
    result = trainer.fit(mix, n_epochs=2, batch_size=B, steps_per_epoch=STEPS, compile_epoch=True,
                         restore_best=False, monitor='held_out_acc/worst')
    row, held = result.history[-1], mix.held_out_set()
    assert result.n_compilations == {'train': 1, 'eval': 1}
    for k, task in enumerate(mix.tasks):
        alone = trainer.evaluate(held.subset(np.flatnonzero(held.conditions['task'] == k)), batch_size=B)
        np.testing.assert_allclose(row[f'held_out_acc/{task}'], alone['acc'], rtol=1e-5)
        np.testing.assert_allclose(row[f'held_out_loss/{task}'], alone['loss'], rtol=1e-5)
        assert f'acc/{task}' in row and f'loss/{task}' in row
    assert row['held_out_acc/worst'] == min(row[f'held_out_acc/{t}'] for t in mix.tasks)
    assert row['held_out_loss/worst'] == max(row[f'held_out_loss/{t}'] for t in mix.tasks)
    assert result.monitor == 'held_out_acc/worst'


def test_a_stored_mixture_trains_on_its_train_set_and_holds_out_its_held_out_set():
    tasks = {n: s.host_batch(0, 40) for n, s in (('sign', tiny(0)), ('flip', tiny(1, flip=True)))}
    tasks = {n: datasets.from_arrays(b['inputs'], b['targets'], b['mask'], n_classes=2) for n, b in tasks.items()}
    stored = datasets.Multitask(tasks, held_out=0.2)
    result = make_trainer(stored).fit(stored, n_epochs=1, batch_size=B)
    direct = make_trainer(stored).fit(stored.train_set(), held_out=stored.held_out_set(), n_epochs=1, batch_size=B)
    assert result.history[0]['held_out_loss'] == direct.history[0]['held_out_loss']
    assert {'held_out_acc/sign', 'held_out_acc/flip', 'held_out_acc/worst'} <= set(result.history[0])
    assert 'held_out_acc/worst' not in direct.history[0]  # a plain dataset has no tasks


def contradicting(rule_input):
    """Two tasks on identical inputs whose labels contradict each other: only a rule input tells them apart."""
    x = np.random.default_rng(0).normal(size=(128, 3, 2)).astype(np.float32)
    y = np.broadcast_to((x[:, :, 0] > 0).astype(np.int32)[:, :1], (128, 3)).copy()
    a, b = datasets.from_arrays(x, y, n_classes=2), datasets.from_arrays(x, 1 - y, n_classes=2)
    return datasets.Multitask({'a': a, 'b': b}, rule_input=rule_input, held_out=0.25)


@pytest.mark.parametrize('rule_input', [True, False], ids=['rule', 'no_rule'])
def test_contradicting_tasks_are_learned_only_with_the_rule_input(rule_input):
    data = contradicting(rule_input)
    result = make_trainer(data, hidden=16, lr=3e-2).fit(data, n_epochs=12, batch_size=32, compile_epoch=True)
    best = max(row['held_out_acc'] for row in result.history)
    if rule_input:
        assert result.history[-1]['held_out_acc/worst'] >= 0.9
    else:
        assert best < 0.65  # one input, two labels: half the trials at best


def test_loss_weights_change_the_loss_but_not_the_metrics():
    s = tiny(weighted=True)
    weighted = s.held_out_set()
    plain = datasets.from_arrays(weighted.inputs, weighted.targets, weighted.mask, dt=weighted.dt,
                                 n_classes=weighted.n_classes)
    trainer = make_trainer(s)
    trainer.fit(s, n_epochs=1, batch_size=B, steps_per_epoch=2)
    a, b = trainer.evaluate(weighted, batch_size=B), trainer.evaluate(plain, batch_size=B)
    assert a['acc'] == b['acc']
    assert abs(a['loss'] - b['loss']) > 1e-4


def test_stop_at_threshold_ends_a_fit_when_the_worst_task_passes(mix):
    trainer = make_trainer(mix)
    result = trainer.fit(mix, n_epochs=5, batch_size=B, steps_per_epoch=2,
                         callbacks=[StopAtThreshold('held_out_acc/worst', 0.0)])
    assert len(result.history) == 1 and result.stopped_early
    with pytest.raises(ValueError, match="StopAtThreshold\\(monitor='held_out_acc/nope'\\)"):
        trainer.fit(mix, n_epochs=1, batch_size=B, steps_per_epoch=2,
                    callbacks=[StopAtThreshold('held_out_acc/nope', 0.9)])


def make_ensemble(ds, n=2):
    return Ensemble([RateRNN(ds.n_features, 8, ds.n_classes, seed=0) for _ in range(n)],
                    braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(),
                    metrics={'acc': metrics.accuracy()}, progress=False)


def test_ensemble_members_share_the_streams_trials_unless_given_seeds(gng):
    kw = dict(n_epochs=1, batch_size=B, steps_per_epoch=STEPS, compile_epoch=True)
    same = make_ensemble(gng).fit(gng, **kw)
    alone = make_trainer(gng).fit(gng, **kw)
    assert same.n_compilations == {'train': 1, 'eval': 1}
    for member in same.members:
        np.testing.assert_allclose([r['loss'] for r in member.history], [r['loss'] for r in alone.history],
                                   rtol=1e-5)
    apart = make_ensemble(gng).fit(gng, seeds=[0, 1], **kw)
    assert apart.members[0].history[0]['loss'] != apart.members[1].history[0]['loss']


def test_a_stream_fit_split_over_two_devices_matches_one_device(fork_server, tmp_path):
    import json
    import os
    script = os.path.join(os.path.dirname(__file__), 'scripts', 'stream_parallel_fit.py')
    flags = os.environ.get('XLA_FLAGS', '')
    env = {'XLA_FLAGS': f'{flags} --xla_force_host_platform_device_count=2'.strip()}
    job = {'path': script, 'argv': [str(tmp_path / 'out.json')], 'env': env, 'cwd': str(tmp_path)}
    for returncode, _, stderr in fork_server.run([job], tmp_path, timeout=240):
        assert returncode == 0, stderr[-3000:]
    runs = json.loads((tmp_path / 'out.json').read_text())
    assert runs[0]['n_devices'] == 2
    for one, split in ((runs[0], runs[2]), (runs[1], runs[3])):
        for a, b in zip(one['history'], split['history']):
            np.testing.assert_allclose([a['loss'], a['held_out_loss']], [b['loss'], b['held_out_loss']], rtol=1e-5)
        assert split['compilations'] == {'train': 1, 'eval': 1}


def test_an_ensemble_on_a_mixture_reports_each_members_tasks(mix):
    result = make_ensemble(mix).fit(mix, n_epochs=1, batch_size=B, steps_per_epoch=2, monitor='held_out_acc/worst')
    assert result.n_compilations == {'train': 1, 'eval': 1}
    for member in result.members:
        row = member.history[0]
        assert row['held_out_acc/worst'] == min(row['held_out_acc/sign'], row['held_out_acc/flip'])
