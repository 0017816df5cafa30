"""Properties that must hold for any sizes: batching, split, npz round trips, held-out passes.

hypothesis draws the trial counts, batch sizes, seeds and shuffles; each
property is checked against a plain restatement of the promise (every trial
once per epoch, disjoint covering parts, bit-exact files, batch-size-free
held-out metrics), never against numbers copied from a run.
"""

import os
import tempfile

import brainstate
import braintools
import brainunit as u
import numpy as np
import pytest
from float32 import assert_close_f32
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import datasets
from trainer import Trainer, metrics, objectives, rollout
from trainer.models import RateRNN

FAST = settings(max_examples=60, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def _numbered(n_trials):
    """Trials whose inputs hold their own index, so a served batch names its trials."""
    inputs = np.broadcast_to(np.arange(n_trials, dtype=np.float32)[:, None, None], (n_trials, 2, 1))
    return datasets.from_arrays(inputs, np.arange(n_trials) % 3, n_classes=3)


@st.composite
def epochs(draw):
    n_trials = draw(st.integers(1, 300))
    return dict(n_trials=n_trials, batch_size=draw(st.integers(1, n_trials)), seed=draw(seeds),
                epoch=draw(st.integers(0, 10**6)), shuffle=draw(st.booleans()))


@FAST
@given(epochs(), st.booleans())
def test_batch_indices_serve_every_trial_once_per_epoch(args, drop_remainder):
    records = datasets.batch_indices(**args, drop_remainder=drop_remainder)
    n, b = args['n_trials'], args['batch_size']
    served = np.concatenate([records[k] for k in range(len(records))])
    assert all(len(records[k]) == b for k in range(n // b))
    assert len(served) == (n // b * b if drop_remainder else n)
    assert len(np.unique(served)) == len(served) and served.min() >= 0 and served.max() < n
    if not args['shuffle']:
        np.testing.assert_array_equal(served, np.arange(len(served)))


@FAST
@given(epochs())
def test_epoch_indices_stack_the_same_batches(args):
    stacked = datasets.epoch_indices(**args)
    records = datasets.batch_indices(**args)
    assert stacked.shape == (args['n_trials'] // args['batch_size'], args['batch_size'])
    np.testing.assert_array_equal(stacked, np.stack([records[k] for k in range(len(records))]))


@settings(max_examples=30, deadline=None)
@given(epochs(), st.booleans(), st.data())
def test_batches_serve_every_trial_once_and_resume_exactly(args, drop_remainder, data):
    ds = _numbered(args.pop('n_trials'))
    batch_size = args.pop('batch_size')
    served = [x[:, 0, 0] for x, _, _ in datasets.batches(ds, batch_size, **args,
                                                          drop_remainder=drop_remainder)]
    trials = np.concatenate(served).astype(int)
    n = len(ds)
    assert len(trials) == (n // batch_size * batch_size if drop_remainder else n)
    assert len(np.unique(trials)) == len(trials)
    start = data.draw(st.integers(0, len(served)))
    resumed = [x[:, 0, 0] for x, _, _ in datasets.batches(
        ds, batch_size, **args, drop_remainder=drop_remainder, start_step=start)]
    assert len(resumed) == len(served) - start
    for a, b in zip(resumed, served[start:]):
        np.testing.assert_array_equal(a, b)


@st.composite
def splits(draw):
    n_trials = draw(st.integers(2, 300))
    k = draw(st.integers(1, 4))
    if draw(st.booleans()):
        parts = draw(st.lists(st.integers(1, n_trials), min_size=k, max_size=k))
        assume(sum(parts) <= n_trials and parts != [n_trials])
    else:
        parts = draw(st.lists(st.floats(0.001, 0.999), min_size=k, max_size=k))
        assume(sum(parts) <= 1)
    return n_trials, parts


@FAST
@given(splits(), seeds)
def test_split_parts_are_disjoint_and_cover_the_set(n_and_parts, seed):
    n_trials, parts = n_and_parts
    ds = _numbered(n_trials)
    try:
        split = ds.split(*parts, seed=seed)
    except ValueError as error:  # a fraction too small for this many trials
        assert 'leaves a part empty' in str(error)
        assume(False)
    trials = [part.inputs[:, 0, 0].astype(int) for part in split]
    everything = np.concatenate(trials)
    assert sorted(everything.tolist()) == list(range(n_trials))  # disjoint and covering
    assert all(len(t) >= 1 and np.all(np.diff(t) > 0) for t in trials)  # original order kept
    wanted = [int(p) if isinstance(p, int) else int(round(p * n_trials)) for p in parts]
    assert [len(t) for t in trials[:len(parts) - 1]] == wanted[:-1]
    assert all(part.n_classes == 3 for part in split)


@st.composite
def recordings(draw):
    n_trials, n_steps, n_features = (draw(st.integers(1, 6)) for _ in range(3))
    rng = np.random.default_rng(draw(seeds))
    scale = draw(st.sampled_from([1e-30, 1.0, 1e30]))
    inputs = scale * rng.standard_normal((n_trials, n_steps, n_features))
    kind = draw(st.sampled_from(['trial_labels', 'step_labels', 'values']))
    if kind == 'values':
        targets = rng.standard_normal((n_trials, n_steps, draw(st.integers(1, 3)))).astype(np.float32)
        n_classes = None
    else:
        shape = (n_trials,) if kind == 'trial_labels' else (n_trials, n_steps)
        targets = rng.integers(0, 5, shape)
        n_classes = int(targets.max()) + 1 + draw(st.integers(0, 3))
    mask = None
    if draw(st.booleans()):
        mask = rng.random((n_trials, n_steps)).astype(np.float32)
        mask[0, 0] = 1.0
    text = st.text(st.characters(blacklist_characters='\x00'), max_size=20)  # numpy strips NULs
    return datasets.from_arrays(
        inputs, targets, mask, dt=draw(st.floats(1e-4, 1e4)), n_classes=n_classes,
        seed=draw(st.none() | seeds), name=draw(text), description=draw(text))


@FAST
@given(recordings())
def test_save_npz_then_from_npz_is_exact(ds):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, 'trials.npz')
        datasets.save_npz(ds, path)
        back = datasets.from_npz(path)
    for field in ('inputs', 'targets', 'mask'):
        a, b = getattr(ds, field), getattr(back, field)
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    assert back.dt.to_decimal(u.ms) == ds.dt.to_decimal(u.ms)
    assert (back.n_classes, back.seed, back.description) == (ds.n_classes, ds.seed, ds.description)
    assert back.name == (ds.name or 'trials')  # an unnamed dataset takes the file's stem


N_HELD_OUT = 7


@pytest.fixture(scope='module')
def scored():
    """A tiny RNN, a masked held-out set, and its loss and accuracy over the whole set at once."""
    rng = np.random.default_rng(0)
    mask = (rng.random((N_HELD_OUT, 4)) < 0.6).astype(np.float32)
    mask[:, -1] = rng.random(N_HELD_OUT)  # uneven mass per trial: weighting must follow it
    ds = datasets.from_arrays(rng.standard_normal((N_HELD_OUT, 4, 2)),
                              rng.integers(0, 2, (N_HELD_OUT, 4)), mask, dt=0.5)
    model = RateRNN(2, 4, 2, seed=0)
    trainer = Trainer(model, braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(),
                      metrics={'accuracy': metrics.accuracy()}, progress=False)
    with brainstate.environ.context(dt=ds.dt):
        brainstate.nn.init_all_states(model, batch_size=N_HELD_OUT)
        prediction = rollout(model, ds.inputs)
    whole = {'loss': float(objectives.cross_entropy()(prediction, ds.targets, ds.mask)),
             'accuracy': float(metrics.accuracy()(prediction, ds.targets, ds.mask))}
    return trainer, ds, whole


@settings(max_examples=15, deadline=None)
@given(batch_size=st.integers(1, N_HELD_OUT + 2))
def test_padded_held_out_pass_equals_the_metric_over_the_whole_set(scored, batch_size):
    trainer, ds, whole = scored
    scores = trainer.evaluate(ds, batch_size=batch_size)
    assert_close_f32(scores['loss'], whole['loss'])  # padded batches' program vs one eager pass
    assert scores['accuracy'] == pytest.approx(whole['accuracy'], rel=1e-5)
