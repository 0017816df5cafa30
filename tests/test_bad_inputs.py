"""Every bad input a careful user might try: one row each, one table.

A row is ``pytest.param(call, error, patterns, id=...)``: ``call(tmp_path)``
makes the bad call, ``error`` is the exception type it must raise, and every
regex in ``patterns`` must match the message -- the argument's name, and the
rule or the fix. The raise must come from our own code (``datasets`` or
``trainer``), never from inside numpy, JAX, grain or braintools.

Rows are grouped in one list per area; add an area by adding a list to ``ROWS``.
"""

import os
import re

import brainunit as u
import numpy as np
import pytest

import datasets

OUR_PACKAGES = (os.sep + 'datasets' + os.sep, os.sep + 'trainer' + os.sep)


def _labelled(n_trials=10):
    return datasets.from_arrays(np.zeros((n_trials, 5, 2)), np.arange(n_trials) % 2)


def _file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def _npz(tmp_path, name, **arrays):
    path = str(tmp_path / name)
    np.savez(path, **arrays)
    return path


def _truncated(tmp_path):
    path = str(tmp_path / 'trials.npz')
    datasets.save_npz(_labelled(), path)
    with open(path, 'rb') as f:
        data = f.read()
    return _file(tmp_path, 'truncated.npz', data[:len(data) // 2])


def _register_and_load(name, loader, **kwargs):
    datasets.register_dataset(name, loader, overwrite=True)
    return datasets.load_dataset(name, **kwargs)


X = np.zeros((2, 3, 1))  # two trials, three steps, one feature
SPLIT_RULE = [r'fractions in \(0, 1\) summing to at most 1', r'positive trial counts']

FROM_ARRAYS = [
    pytest.param(lambda tmp: datasets.from_arrays(np.zeros((4, 0, 2)), np.zeros(4)),
                 ValueError, [r'\binputs\b', 'at least one time step', r'\(4, 0, 2\)'],
                 id='from_arrays-zero-steps'),
    pytest.param(lambda tmp: datasets.from_arrays(np.zeros((4, 5, 0)), np.zeros(4)),
                 ValueError, [r'\binputs\b', 'at least one feature', r'\(4, 5, 0\)'],
                 id='from_arrays-zero-features'),
    pytest.param(lambda tmp: datasets.from_arrays(np.zeros((0, 5, 2)), np.zeros(0)),
                 ValueError, [r'\binputs\b', 'at least one trial'], id='from_arrays-zero-trials'),
    pytest.param(lambda tmp: datasets.from_arrays(np.zeros((4, 5, 2)), np.zeros((4, 5, 0))),
                 ValueError, ['targets', r'n_outputs >= 1'], id='from_arrays-zero-outputs'),
    pytest.param(lambda tmp: datasets.from_arrays(np.zeros((4, 5)), np.zeros(4)),
                 ValueError, [r'inputs must have shape \(n_trials, n_steps, n_features\)',
                              r'inputs\[\.\.\., None\]'], id='from_arrays-rank-2-inputs'),
    pytest.param(lambda tmp: datasets.from_arrays([[[1.0]], [[1.0], [2.0]]], [0, 1]),
                 ValueError, ['inputs must be a rectangular array'], id='from_arrays-ragged'),
    pytest.param(lambda tmp: datasets.from_arrays(X * u.mV, [0, 1]),
                 TypeError, ['inputs must be plain numbers', 'mV', 'to_decimal'],
                 id='from_arrays-quantity-inputs'),
    pytest.param(lambda tmp: datasets.from_arrays(np.full((2, 3, 1), 'a'), [0, 1]),
                 TypeError, ['inputs must hold real numbers'], id='from_arrays-str-inputs'),
    pytest.param(lambda tmp: datasets.from_arrays(np.full((2, 3, 1), np.nan), [0, 1]),
                 ValueError, ['inputs must be finite', '6 NaN'], id='from_arrays-nan-inputs'),
    pytest.param(lambda tmp: datasets.from_arrays(X, np.full((2, 3, 1), np.inf)),
                 ValueError, ['targets must be finite'], id='from_arrays-inf-value-targets'),
    pytest.param(lambda tmp: datasets.from_arrays(X, [0.5, 1.0]),
                 ValueError, ['targets', 'integer-valued', r'targets\[\.\.\., None\]'],
                 id='from_arrays-fractional-labels'),
    pytest.param(lambda tmp: datasets.from_arrays(X, [-1, 1]),
                 ValueError, ['labels in targets', r'\[0, 2\*\*31\)'], id='from_arrays-negative-label'),
    pytest.param(lambda tmp: datasets.from_arrays(X, [0, 1, 1]),
                 ValueError, ['inputs has 2 trials but targets has 3', 'axis 0'],
                 id='from_arrays-trial-count-mismatch'),
    pytest.param(lambda tmp: datasets.from_arrays(X, [0, 1], mask=np.zeros((2, 3))),
                 ValueError, ['mask is zero on every step', 'mask=None'], id='from_arrays-all-zero-mask'),
    pytest.param(lambda tmp: datasets.from_arrays(X, [0, 1], mask=-np.ones((2, 3))),
                 ValueError, ['mask must be >= 0'], id='from_arrays-negative-mask'),
    pytest.param(lambda tmp: datasets.from_arrays(X, [0, 1], mask=np.ones((2, 4))),
                 ValueError, [r'mask must have shape \(n_trials, n_steps\) = \(2, 3\)'],
                 id='from_arrays-mask-shape'),
    pytest.param(lambda tmp: datasets.from_arrays(X, [0, 1], dt=0),
                 ValueError, ['dt must be a positive finite scalar'], id='from_arrays-dt-zero'),
    pytest.param(lambda tmp: datasets.from_arrays(X, [0, 1], dt='1ms'),
                 TypeError, ['dt must be a float', 'brainunit time Quantity'], id='from_arrays-dt-str'),
    pytest.param(lambda tmp: datasets.from_arrays(X, [0, 1], dt=1 * u.mV),
                 ValueError, ['dt must be a time', r'1 \* brainunit\.ms'], id='from_arrays-dt-volts'),
    pytest.param(lambda tmp: datasets.from_arrays(X, [0, 1], n_classes=1),
                 ValueError, ['n_classes must be an int greater than the largest label',
                              'max label \\+ 1'], id='from_arrays-n-classes-too-small'),
    pytest.param(lambda tmp: datasets.from_arrays(X, [0, 1], seed=-1),
                 ValueError, ['seed must be a non-negative int'], id='from_arrays-negative-seed'),
]

RECORD = [
    pytest.param(lambda tmp: _labelled().split(1.0), ValueError, SPLIT_RULE + ['1.0'], id='split-1.0'),
    pytest.param(lambda tmp: _labelled().split(1.5), ValueError, SPLIT_RULE + ['1.5'], id='split-1.5'),
    pytest.param(lambda tmp: _labelled().split(-0.2), ValueError, SPLIT_RULE + ['-0.2'],
                 id='split-negative'),
    pytest.param(lambda tmp: _labelled().split(float('nan')), ValueError, SPLIT_RULE + ['nan'],
                 id='split-nan'),
    pytest.param(lambda tmp: _labelled().split(8.0), ValueError, SPLIT_RULE + [r'split\(8\)'],
                 id='split-integral-float'),
    pytest.param(lambda tmp: _labelled().split(0.8, 2), ValueError, SPLIT_RULE + ['not a mix'],
                 id='split-mixed'),
    pytest.param(lambda tmp: _labelled().split([0.8, 0.2]), TypeError,
                 SPLIT_RULE + [r'separate arguments'], id='split-list'),
    pytest.param(lambda tmp: _labelled().split('0.8'), TypeError, SPLIT_RULE + ["str '0.8'"],
                 id='split-str'),
    pytest.param(lambda tmp: _labelled().split(11), ValueError,
                 ['positive ints summing to at most n_trials=10'], id='split-more-than-n'),
    pytest.param(lambda tmp: _labelled().split(10), ValueError, ['gives one part, the whole set'],
                 id='split-whole-set'),
    pytest.param(lambda tmp: _labelled().split(0.6, 0.6), ValueError, ['sum to at most 1'],
                 id='split-fractions-over-one'),
    pytest.param(lambda tmp: _labelled().split(0.5, seed=-1), ValueError,
                 ['seed must be a non-negative int'], id='split-negative-seed'),
    pytest.param(lambda tmp: _labelled()['a'], IndexError, ['trial index must be an int'],
                 id='getitem-str'),
    pytest.param(lambda tmp: _labelled()[10], IndexError, ['trial index 10 is out of range'],
                 id='getitem-past-end'),
]

BATCHING = [
    pytest.param(lambda tmp: datasets.batch_indices(10, 0), ValueError,
                 ['batch_size must be a positive int, got 0'], id='batch_indices-zero-batch'),
    pytest.param(lambda tmp: datasets.batch_indices(10, 4.0), ValueError,
                 ['batch_size must be a positive int, got 4.0'], id='batch_indices-float-batch'),
    pytest.param(lambda tmp: datasets.batch_indices(10, 20), ValueError,
                 ['batch_size=20 is larger than the 10 trials', 'drop_remainder=False'],
                 id='batch_indices-batch-over-n'),
    pytest.param(lambda tmp: datasets.batch_indices(_labelled(), 4), TypeError,
                 ['n_trials must be an int', r'len\(dataset\)'], id='batch_indices-dataset-as-n'),
    pytest.param(lambda tmp: datasets.batch_indices(10, 4, shuffle='no'), TypeError,
                 ['shuffle must be True or False'], id='batch_indices-shuffle-str'),
    pytest.param(lambda tmp: datasets.epoch_indices(10, 4, drop_remainder='no'), TypeError,
                 ['drop_remainder must be True or False'], id='epoch_indices-drop-str'),
    pytest.param(lambda tmp: datasets.batch_indices(10, 4, epoch=1.5), ValueError,
                 ['epoch must be a non-negative int'], id='batch_indices-float-epoch'),
    pytest.param(lambda tmp: datasets.batch_indices(10, 4)['a'], TypeError,
                 ['batch index must be an int'], id='batch_indices-record-str'),
    pytest.param(lambda tmp: datasets.epoch_indices(10, 4, drop_remainder=False), ValueError,
                 ['drop_remainder=False leaves a last batch of 2', 'drop_remainder=True'],
                 id='epoch_indices-ragged'),
    pytest.param(lambda tmp: list(datasets.batches(X, 1)), TypeError,
                 ['dataset must be a TaskDataset'], id='batches-array'),
    pytest.param(lambda tmp: list(datasets.batches(_labelled(), 4, start_step=9)), ValueError,
                 ['start_step=9 is past the 2 batches', '0 <= start_step <= 2'],
                 id='batches-start-past-end'),
    pytest.param(lambda tmp: datasets.plot_trial(_labelled(), 10), IndexError,
                 [r'index must be an int in \[0, 10\)'], id='plot_trial-index'),
]

REGISTRY = [
    pytest.param(lambda tmp: datasets.load_dataset('delayed_match_tsk'), KeyError,
                 ["unknown dataset 'delayed_match_tsk'", "Did you mean 'delayed_match_task'"],
                 id='load_dataset-typo'),
    pytest.param(lambda tmp: datasets.load_dataset('delayed_match_task', n_trail=8), TypeError,
                 [r"takes no argument\(s\) \['n_trail'\]", "Did you mean 'n_trials'"],
                 id='load_dataset-kwarg-typo'),
    pytest.param(lambda tmp: datasets.load_dataset('steady_state_target', n_trials=8), TypeError,
                 [r"'steady_state_target' takes no argument\(s\) \['n_trials'\]", "'g', 'n_steps'"],
                 id='load_dataset-fixed-target-n-trials'),
    pytest.param(lambda tmp: datasets.load_dataset('delayed_match_task', n_trials=0), ValueError,
                 ['n_trials must be a positive int, got 0'], id='load_dataset-zero-trials'),
    pytest.param(lambda tmp: datasets.load_dataset('go_no_go', n_trials=2, t_fixation=500),
                 TypeError, ['t_fixation is a duration', r't_fixation=500 \* brainunit\.ms'],
                 id='cogtask-duration-without-unit'),
    pytest.param(lambda tmp: datasets.load_dataset('go_no_go', n_trials=2, t_fixation=-100 * u.ms),
                 ValueError, ['t_fixation must be a finite duration >= 0 ms'],
                 id='cogtask-negative-duration'),
    pytest.param(lambda tmp: datasets.load_dataset('go_no_go', n_trials=2, go_prob='a'),
                 TypeError, ['go_prob must be a number'], id='cogtask-str-number'),
    pytest.param(lambda tmp: datasets.load_dataset('go_no_go', n_trials=2, t_stimuls=1 * u.ms),
                 TypeError, [r"takes no parameter\(s\) \['t_stimuls'\]", 't_stimulus'],
                 id='cogtask-param-typo'),
    pytest.param(lambda tmp: datasets.load_dataset('go_no_go', n_trials=2, mask='all'),
                 ValueError, ["mask must be one of \\('response', 'valid'\\)"], id='cogtask-mask'),
    pytest.param(lambda tmp: _register_and_load('returns_int', lambda: 3), TypeError,
                 ["registered as 'returns_int' returned int, not a TaskDataset"],
                 id='register-loader-returns-int'),
    pytest.param(lambda tmp: datasets.register_dataset('go_no_go', _labelled), ValueError,
                 ['already registered', 'overwrite=True'], id='register-taken-name'),
    pytest.param(lambda tmp: datasets.register_dataset('x', _labelled()), TypeError,
                 ['loader for dataset .x. must be callable'], id='register-not-callable'),
    pytest.param(lambda tmp: datasets.fc_matrix(np.full((5, 2), np.nan)), ValueError,
                 ['signal must be finite'], id='fc_matrix-nan'),
]

NPZ = [
    pytest.param(lambda tmp: datasets.from_npz(str(tmp / 'missing.npz')), FileNotFoundError,
                 [r"path='.*missing\.npz'", 'no such file'], id='from_npz-missing'),
    pytest.param(lambda tmp: datasets.from_npz(str(tmp)), IsADirectoryError,
                 ['path=', 'is a directory'], id='from_npz-directory'),
    pytest.param(lambda tmp: datasets.from_npz(_file(tmp, 'junk.npz', b'not a zip')), ValueError,
                 [r"path='.*junk\.npz'", r'not an \.npz file', 'save_npz'], id='from_npz-corrupt'),
    pytest.param(lambda tmp: datasets.from_npz(_file(tmp, 'empty.npz', b'')), ValueError,
                 [r"path='.*empty\.npz'", r'not an \.npz file'], id='from_npz-empty'),
    pytest.param(lambda tmp: datasets.from_npz(_truncated(tmp)), ValueError,
                 [r"path='.*truncated\.npz'", r'not an \.npz file'], id='from_npz-truncated'),
    pytest.param(lambda tmp: datasets.from_npz(_npz(tmp, 'obj.npz', inputs=X,
                                                    targets=np.array([{}, {}], dtype=object))),
                 ValueError, [r"path='.*obj\.npz'", 'object arrays are refused'],
                 id='from_npz-object-arrays'),
    pytest.param(lambda tmp: datasets.from_npz(_npz(tmp, 'keys.npz', x=X)), ValueError,
                 [r"path='.*keys\.npz' lacks \['inputs', 'targets'\]"], id='from_npz-missing-keys'),
    pytest.param(lambda tmp: datasets.from_npz(_npz(tmp, 'dt.npz', inputs=X, targets=[0, 1], dt='x')),
                 ValueError, ['stores dt=', 'a number of milliseconds'], id='from_npz-stored-dt-str'),
    pytest.param(lambda tmp: datasets.from_npz(_npz(tmp, 'nc.npz', inputs=X, targets=[0, 1],
                                                    n_classes=2.5)),
                 ValueError, ['stores n_classes=', 'must be an int'], id='from_npz-stored-n-classes'),
    pytest.param(lambda tmp: datasets.from_npz(None), TypeError,
                 ['path must be a str or os.PathLike'], id='from_npz-none'),
    pytest.param(lambda tmp: datasets.save_npz(_labelled(), str(tmp)), IsADirectoryError,
                 ['path=', r'is a directory; give a file name in it'], id='save_npz-directory'),
    pytest.param(lambda tmp: datasets.save_npz(_labelled(), str(tmp / 'no' / 'x.npz')),
                 FileNotFoundError, ['does not exist', 'os.makedirs'], id='save_npz-missing-folder'),
]

def _trainer(model=None, **kwargs):
    import braintools
    from trainer import Trainer, objectives
    from trainer.models import RateRNN
    kwargs.setdefault('objective', objectives.cross_entropy())
    return Trainer(model or RateRNN(2, 4, 2, cell='vanilla'), kwargs.pop('optimizer', None) or
                   braintools.optim.Adam(lr=1e-2), progress=False, **kwargs)


def _task():
    return datasets.delayed_match_task(32, seq_len=4, n_symbols=2, seed=0)


def _fit(trainer=None, data=None, **kwargs):
    kwargs = {'n_epochs': 1, 'batch_size': 16, **kwargs}
    return (trainer or _trainer()).fit(_task() if data is None else data, **kwargs)


def _objectives():
    from trainer import objectives
    return objectives


def _checkpointed(tmp, n_epochs=2, model=None):
    path = str(tmp / 'run.msgpack')
    _fit(_trainer(model), n_epochs=n_epochs, checkpoint=path)
    return path


def _fitter(**kwargs):
    import braintools
    from trainer import Fitter
    from trainer.models import GainPopulation
    return Fitter(GainPopulation(1), braintools.optim.Adam(lr=0.1), **kwargs)


def _shared_optimizer():
    import braintools
    optimizer = braintools.optim.Adam(lr=1e-2)
    _trainer(optimizer=optimizer)
    return _trainer(optimizer=optimizer)


TRAINER = [
    pytest.param(lambda tmp: _trainer(metrics='accuracy'), TypeError,
                 ['metrics must be a dict', r"metrics=\['accuracy'\]"], id='trainer-metrics-string'),
    pytest.param(lambda tmp: _trainer(callbacks=print), TypeError,
                 ['callbacks must be a list', r'callbacks=\[fn\]'], id='trainer-callbacks-not-list'),
    pytest.param(lambda tmp: _trainer(objective=_objectives().mse), TypeError,
                 ['objective=mse takes 0 positional', r'call it: objective=mse\(\)'], id='trainer-unbuilt-objective'),
    pytest.param(lambda tmp: _trainer(grad_clip_norm='a'), ValueError,
                 ['grad_clip_norm must be a positive finite number', 'None for no clipping'],
                 id='trainer-grad-clip-string'),
    pytest.param(lambda tmp: _trainer(grad_clip_norm=-1.0), ValueError,
                 ['grad_clip_norm must be a positive finite number'], id='trainer-grad-clip-negative'),
    pytest.param(lambda tmp: _trainer(lr_schedule='batch'), ValueError,
                 ["lr_schedule must be 'epoch' or 'step'"], id='trainer-lr-schedule'),
    pytest.param(lambda tmp: _trainer(optimizer=object()), TypeError,
                 ['optimizer must be a braintools.optim optimizer', r'Adam\(lr=1e-2\)'], id='trainer-optimizer-type'),
    pytest.param(lambda tmp: _shared_optimizer(), ValueError,
                 ['optimizer is already registered with another model', 'its own optimizer'],
                 id='trainer-shared-optimizer'),
    pytest.param(lambda tmp: _trainer(devices=0), ValueError, ['devices=0 must be between 1'],
                 id='trainer-devices-zero'),
    pytest.param(lambda tmp: _fit(_trainer(forward=lambda m, x: (x, x))), TypeError,
                 ['forward must return one array', 'return only the prediction'], id='fit-forward-tuple'),
    pytest.param(lambda tmp: _fit(_trainer(objective=lambda p, t, mask=None: 'loss')), TypeError,
                 ['objective must return a numeric scalar', 'got str'], id='fit-objective-string'),
    pytest.param(lambda tmp: _fit(_trainer(objective=lambda p, t, mask=None: p)), ValueError,
                 ['objective must return a scalar', r'shape \(16, 4, 2\)'], id='fit-objective-array'),
    pytest.param(lambda tmp: _fit(data=datasets.from_arrays(np.zeros((32, 4, 2)), np.arange(32) % 3)),
                 ValueError, ['labels up to 2 but the model outputs 2', 'build the model with 3 outputs'],
                 id='fit-labels-too-wide'),
    pytest.param(lambda tmp: _trainer().evaluate(datasets.from_arrays(np.zeros((32, 4, 2)), np.arange(32) % 3)),
                 ValueError, ['labels up to 2', 'build the model with 3 outputs'], id='evaluate-labels-too-wide'),
    pytest.param(lambda tmp: _fit(data=datasets.from_arrays(np.zeros((32, 4, 3)), np.arange(32) % 2)),
                 ValueError, ['inputs have 3 features per step but the model expects 2', 'n_input=3'],
                 id='fit-features'),
    pytest.param(lambda tmp: _trainer().evaluate(_task(), batch_size=0), ValueError,
                 ['batch_size must be a positive int, got 0', 'None for the default'], id='evaluate-batch-zero'),
    pytest.param(lambda tmp: _fit(batch_size=64), ValueError,
                 ['batch_size must be at most 32', 'between 1 and 32'], id='fit-batch-too-large'),
    pytest.param(lambda tmp: _fit(n_epochs=0), ValueError, ['n_epochs must be a positive int'],
                 id='fit-epochs-zero'),
    pytest.param(lambda tmp: _fit(monitor='held_out_acc'), ValueError,
                 ["monitor='held_out_acc' is not a history key", 'choose one of'], id='fit-monitor'),
    pytest.param(lambda tmp: _fit(mode='best'), ValueError, ["mode must be 'auto', 'min' or 'max'"],
                 id='fit-mode'),
    pytest.param(lambda tmp: _fit(data=np.zeros(3)), TypeError,
                 ['train must be a datasets.TaskDataset', 'from_arrays'], id='fit-train-type'),
]

CHECKPOINT = [
    pytest.param(lambda tmp: _fit(checkpoint=str(tmp)), ValueError,
                 ['checkpoint=', 'is a directory; pass a file path'], id='checkpoint-directory'),
    pytest.param(lambda tmp: _fit(resume_from=str(tmp / 'none.msgpack')), FileNotFoundError,
                 ["resume_from='.*none.msgpack' does not exist", r'fit\(checkpoint=...\)'], id='resume-missing'),
    pytest.param(lambda tmp: _fit(resume_from=_file(tmp, 'empty.msgpack', b'')), ValueError,
                 ["resume_from='.*empty.msgpack' is not a readable checkpoint"], id='resume-empty'),
    pytest.param(lambda tmp: _fit(n_epochs=1, resume_from=_checkpointed(tmp)), ValueError,
                 ['already holds 2 epochs, past n_epochs=1', 'n_epochs=2 or more'], id='resume-past-n-epochs'),
    pytest.param(lambda tmp: _fit(_trainer(__import__('trainer').models.RateRNN(2, 6, 2, cell='vanilla')),
                                  n_epochs=3, resume_from=_checkpointed(tmp)), ValueError,
                 ['resume_from=', "written for a different model: parameter 'cell/W/weight'"],
                 id='resume-other-model'),
    pytest.param(lambda tmp: _fit(n_epochs=3, seed=5, resume_from=_checkpointed(tmp)), ValueError,
                 ["resume_from='.*' was written with seed=0", 'pass the same values'], id='resume-other-seed'),
]

FITTER = [
    pytest.param(lambda tmp: _fitter(loss_fn=lambda m: (m.g.value() - 2.0) ** 2).fit(n_steps=2), TypeError,
                 [r'loss_fn must return a pair \(loss, aux\)', r'\(loss, None\)'], id='fitter-bare-scalar'),
    pytest.param(lambda tmp: _fitter(predict=lambda m: m.g.value() * np.ones(5)).fit(
        target=np.array([1.0, np.nan, 1.0, 1.0, 1.0]), n_steps=2), ValueError,
                 ['target contains NaN', 'Clean the target'], id='fitter-nan-target'),
    pytest.param(lambda tmp: _fitter(predict=lambda m: m.g.value() * np.ones(5), transient=5).fit(
        target=np.ones(0), n_steps=2), ValueError,
                 ['transient=5 drops every step of the prediction, which has 5'], id='fitter-transient-too-long'),
    pytest.param(lambda tmp: _fitter(loss_fn=lambda m: (m.g.value() ** 2, None)).fit(n_steps=0), ValueError,
                 ['n_steps must be >= 1', 'Pass n_steps=100'], id='fitter-steps-zero'),
    pytest.param(lambda tmp: _fitter(predict=lambda m: m.g.value(), loss_fn=lambda m: (0.0, None)), ValueError,
                 ['pass loss_fn or predict, not both'], id='fitter-both'),
]

def _curriculum(n_stages=2, **kwargs):
    return datasets.Curriculum([{'seq_len': 3 + i} for i in range(n_stages)], task='delayed_match_task',
                               **kwargs)


CURRICULUM = [
    pytest.param(lambda tmp: _curriculum(threshold=1.5), ValueError,
                 [r'threshold must be in \[0, 1\]', "accuracy monitor 'held_out_acc'", '1.5',
                  'threshold=0.9'], id='curriculum-accuracy-threshold-above-1'),
    pytest.param(lambda tmp: _curriculum(threshold=-0.5), ValueError,
                 [r'threshold must be in \[0, 1\]', '-0.5'], id='curriculum-accuracy-threshold-negative'),
    pytest.param(lambda tmp: _curriculum().position([{'stage': 9, 'held_out_acc': 0.5}]), ValueError,
                 ['history holds stage 9', 'this curriculum has 2 stages', 'curriculum it was written with'],
                 id='curriculum-position-stage-past-end'),
    pytest.param(lambda tmp: _curriculum().position([{'stage': 1}, {'stage': 0}]), ValueError,
                 [r'stages \[1, 0\] out of order', 'this curriculum has 2 stages'],
                 id='curriculum-position-stages-out-of-order'),
    pytest.param(lambda tmp: _curriculum().stage_dataset(2, n_trials=4, seed=0), ValueError,
                 [r'stage must be an int in \[0, 2\), got 2', 'this curriculum has 2 stages'],
                 id='curriculum-stage-index-past-end'),
    pytest.param(lambda tmp: datasets.from_arrays(X, [np.nan, 1.0]), ValueError,
                 ['targets must be finite', '1 NaN or infinite labels', 'labels are integers'],
                 id='from_arrays-nan-labels'),
]


def _weights(members=None):
    import brainstate
    import jax
    from trainer.models import RateRNN
    weights = {k: s.value for k, s in RateRNN(2, 4, 2, cell='vanilla').states(brainstate.ParamState).items()}
    if members:  # an ensemble file: a leading member axis, member k's values shifted by k
        weights = jax.tree.map(lambda x: np.stack([np.asarray(x) + k for k in range(members)]), weights)
    return weights


def _saved(tmp, members=None, name='run.msgpack'):
    """A checkpoint as Trainer.fit (or, with ``members``, Ensemble.fit) writes it, without training."""
    from trainer.core import checkpoint
    from trainer.core.state import TrainState
    weights = _weights(members)
    record = {'epoch': 1, 'seed': 0, 'batch_size': 16}
    member = {'history': [], 'best_epoch': None, 'best_value': None, 'wait': 0}
    if members:
        record.update(seeds=None, n_members=members,
                      members=[dict(member, stopped=False, error=None) for _ in range(members)])
    else:
        record.update(member)
    path = str(tmp / name)
    checkpoint.save(path, TrainState(params=weights, opt=(), hidden={}, rng=np.zeros(2, np.uint32)),
                    weights, record)
    return path


def _edited(tmp, edit):
    """A Trainer checkpoint whose raw contents ``edit(raw)`` changed."""
    from braintools.file import msgpack_load, msgpack_save
    raw = msgpack_load(_saved(tmp), verbose=False)
    edit(raw)
    path = str(tmp / 'edited.msgpack')
    msgpack_save(path, raw, verbose=False)
    return path


def _set_weight(value_of):
    def edit(raw):
        readout = raw['best']['readout/weight']
        readout['weight'] = value_of(readout['weight'])
    return edit


def _load(path, **kwargs):
    from trainer import load_checkpoint
    from trainer.models import RateRNN
    return load_checkpoint(path, RateRNN(2, 4, 2, cell='vanilla'), **kwargs)


def _swapped(tmp):
    from trainer import load_checkpoint
    from trainer.models import RateRNN
    return load_checkpoint(RateRNN(2, 4, 2, cell='vanilla'), _saved(tmp))


def _fit_with_failing_disk(tmp, code):
    import errno
    from unittest import mock
    from trainer.core import checkpoint
    failure = OSError(code, os.strerror(code))
    with mock.patch.object(checkpoint, 'msgpack_save', side_effect=failure):
        _fit(checkpoint=str(tmp / 'run.msgpack'))


CHECKPOINT_FILES = [
    pytest.param(lambda tmp: _load(_edited(tmp, _set_weight(lambda w: w.astype(np.complex64) + 1j))),
                 ValueError, ["path='.*edited.msgpack'", "parameter 'readout/weight' is complex",
                              'imaginary part'], id='load_checkpoint-complex-weights'),
    pytest.param(lambda tmp: _load(_edited(tmp, _set_weight(lambda w: np.full(w.shape, 1e300)))),
                 ValueError, ["parameter 'readout/weight'", 'too large for the model.s float32',
                              'load as inf', 'float64 model'], id='load_checkpoint-float64-overflow'),
    pytest.param(lambda tmp: _load(_edited(tmp, lambda raw: raw.update(progress='[' * 100000 + ']' * 100000))),
                 ValueError, ["path='.*edited.msgpack' is not a readable checkpoint", 'nested too deeply'],
                 id='load_checkpoint-progress-depth-bomb'),
    pytest.param(lambda tmp: _load(_edited(tmp, lambda raw: raw.update(progress=5))), ValueError,
                 ['is not a readable checkpoint', 'holds int data, not JSON text'],
                 id='load_checkpoint-progress-not-a-string'),
    pytest.param(lambda tmp: _load(_edited(tmp, lambda raw: raw.update(progress='{"epoch": 1}'))),
                 ValueError, ['is not a readable checkpoint', r"lacks \['seed', 'batch_size'"],
                 id='load_checkpoint-progress-lacks-keys'),
    pytest.param(lambda tmp: _fit(resume_from=_edited(tmp, lambda raw: raw.update(progress='[]'))),
                 ValueError, ["resume_from='.*edited.msgpack' is not a readable checkpoint",
                              'a JSON list, not an object'], id='resume-progress-a-list'),
    pytest.param(_swapped, TypeError, [r'load_checkpoint\(path, model\)', 'Swap them'],
                 id='load_checkpoint-arguments-swapped'),
    pytest.param(lambda tmp: _load(_saved(tmp, members=2)), ValueError,
                 ['is a 2-member ensemble checkpoint', 'pass member=k with 0 <= k < 2'],
                 id='load_checkpoint-ensemble-without-member'),
    pytest.param(lambda tmp: _load(_saved(tmp, members=2), member=2), ValueError,
                 [r'member must be an int in \[0, 2\)', 'got 2'], id='load_checkpoint-member-out-of-range'),
    pytest.param(lambda tmp: _load(_saved(tmp), member=0), ValueError,
                 ['member=0 picks a member of an ensemble checkpoint', 'written by a Trainer',
                  'drop member='], id='load_checkpoint-member-of-a-trainer-file'),
    pytest.param(lambda tmp: _fit_with_failing_disk(tmp, __import__('errno').ENOSPC), OSError,
                 ["checkpoint='.*run.msgpack' could not be written", 'the disk is full',
                  'previous checkpoint'], id='checkpoint-disk-full-mid-save'),
    pytest.param(lambda tmp: _fit_with_failing_disk(tmp, __import__('errno').EROFS), OSError,
                 ["checkpoint='.*run.msgpack' could not be written", 'not writable',
                  'writable disk'], id='checkpoint-read-only-mid-save'),
]


def _fixed_points(initial_states, inputs=0.5):
    from trainer.analysis import fixed_points
    from trainer.models import GainPopulation
    return fixed_points(GainPopulation(1, g=2.0), inputs, initial_states, dt=1.0)


def _prediction():
    from trainer.analysis import predict
    from trainer.models import RateRNN
    return predict(RateRNN(2, 6, 2), datasets.from_arrays(np.ones((3, 5, 2)), np.array([0, 1, 0])),
                   record=True)


def _psychometric(coherence):
    from trainer.analysis import Prediction, psychometric
    choices = np.array([1, 1, 0, 1, 0, 0])
    ds = datasets.from_arrays(np.zeros((6, 1, 1)), [1, 1, 1, 0, 0, 0], conditions={'coherence': coherence})
    return psychometric(Prediction(np.eye(2)[choices], choices), ds, sign=None)


def _sample_states(scored_only):
    from trainer.analysis import sample_states
    return sample_states(_prediction(), 4, scored_only=scored_only)


ANALYSIS = [
    pytest.param(lambda tmp: _fixed_points('abc'), TypeError,
                 [r"initial_states\['r'\] must be an array of real numbers", 'sample_states'],
                 id='fixed_points-text-starts'),
    pytest.param(lambda tmp: _fixed_points(np.zeros((0, 1))), ValueError,
                 [r"initial_states\['r'\] holds no starts", 'at least one'], id='fixed_points-zero-starts'),
    pytest.param(lambda tmp: _fixed_points(np.full((3, 1), np.nan)), ValueError,
                 ['initial_states must hold finite starts', '3 start'], id='fixed_points-all-nan-starts'),
    pytest.param(lambda tmp: _fixed_points(np.zeros((2, 1)), inputs=np.nan), ValueError,
                 ['inputs must be finite', 'nan'], id='fixed_points-nan-input'),
    pytest.param(lambda tmp: _fixed_points(np.zeros((2, 1)), inputs='a'), TypeError,
                 ['inputs must be a number or an array of numbers'], id='fixed_points-text-input'),
    pytest.param(lambda tmp: _sample_states(np.zeros((3, 5))), ValueError,
                 ['scored_only is zero everywhere', 'scored_only=None'], id='sample_states-all-zero-mask'),
    pytest.param(lambda tmp: _sample_states(np.ones((3, 4))), ValueError,
                 [r'scored_only must have shape \(n_trials, n_steps\) = \(3, 5\)', r'\(3, 4\)'],
                 id='sample_states-mask-shape'),
    pytest.param(lambda tmp: _psychometric([5.0] * 6), ValueError,
                 ['evidence must take at least 2 distinct levels', r'\[5\.0\]'],
                 id='psychometric-one-level'),
    pytest.param(lambda tmp: _psychometric([1.0, 2.0, np.nan, -1.0, -2.0, 3.0]), ValueError,
                 ['evidence must be finite', '1 NaN or infinite'], id='psychometric-nan-evidence'),
]


def _recipe(**overrides):
    from trainer.recipes import Recipe
    return Recipe().replace(**overrides)


def _duplicate_devices():
    import jax
    return _trainer(devices=[jax.devices()[0], jax.devices()[0]])


def _initialize(*args, **kwargs):
    from trainer import distributed
    return distributed.initialize(*args, **kwargs)


def _initialize_after_computing():
    import jax.numpy as jnp
    float(jnp.ones(1).sum())  # JAX has computed: its runtime cannot be joined any more
    return _initialize('localhost:12345', num_processes=1, process_id=0)


SETTINGS = [
    pytest.param(lambda tmp: _recipe(compile_epoch='no'), TypeError,
                 ['Recipe.compile_epoch must be True or False', "str: 'no'"], id='recipe-compile-epoch-str'),
    pytest.param(lambda tmp: _recipe(curriculum_threshold=float('nan')), ValueError,
                 ['Recipe.curriculum_threshold must be a finite number', 'nan'],
                 id='recipe-curriculum-threshold-nan'),
    pytest.param(lambda tmp: _recipe(curriculum_threshold=1.5), ValueError,
                 ["Recipe.curriculum_threshold is an accuracy", r'\[0, 1\]', '1.5'],
                 id='recipe-accuracy-threshold-above-1'),
    pytest.param(lambda tmp: _recipe(held_out='a'), ValueError,
                 [r'Recipe.held_out must be a fraction in \(0, 1\)'], id='recipe-held-out-str'),
    pytest.param(lambda tmp: _duplicate_devices(), ValueError,
                 ['devices lists', 'more than once', r'devices=jax.devices\(\)\[:1\]'],
                 id='trainer-duplicate-devices'),
    pytest.param(lambda tmp: _initialize('localhost'), ValueError,
                 ["coordinator_address must be 'host:port'", "'localhost:1234'"],
                 id='distributed-coordinator-without-port'),
    pytest.param(lambda tmp: _initialize(('10.0.0.1', 1234)), TypeError,
                 ["coordinator_address must be a 'host:port' str", 'tuple'], id='distributed-coordinator-tuple'),
    pytest.param(lambda tmp: _initialize('localhost:1234', num_processes=2, process_id=2), ValueError,
                 [r'process_id must be an int in \[0, num_processes=2\), got 2'],
                 id='distributed-process-id-out-of-range'),
    pytest.param(lambda tmp: _initialize('localhost:1234', num_processes=0, process_id=0), ValueError,
                 ['num_processes must be a positive int', 'got 0'], id='distributed-zero-processes'),
    pytest.param(lambda tmp: _initialize_after_computing(), RuntimeError,
                 ['initialize must run before JAX computes anything', 'call it first'],
                 id='distributed-after-jax-computed'),
    pytest.param(lambda tmp: _objectives().combine(_objectives().mse), TypeError,
                 ['combine argument 0 must be a .weight, objective. pair', r'combine\(\(1.0, objectives.mse\(\)\)\)'],
                 id='combine-bare-builder'),
    pytest.param(lambda tmp: _objectives().combine((1.0, _objectives().mse)), TypeError,
                 ['combine argument 0: objectives.mse is an objective builder',
                  r'call it: \(1.0, objectives.mse\(\)\)'], id='combine-unbuilt-objective'),
    pytest.param(lambda tmp: _objectives().per_trial(_objectives().steady_state), TypeError,
                 ['per_trial: objective=objectives.steady_state is an objective builder',
                  r'per_trial\(objectives.steady_state\(\)\)'], id='per_trial-unbuilt-objective'),
    pytest.param(lambda tmp: _fit(data=[_task(), _task()]), TypeError,
                 ['train must be one datasets.TaskDataset, got a list holding datasets',
                  r'held_out=: fit\(train, held_out=held_out'], id='fit-list-of-datasets'),
    pytest.param(lambda tmp: _trainer().evaluate((_task(), _task())), TypeError,
                 ['dataset must be one datasets.TaskDataset', 'call once per dataset'],
                 id='evaluate-tuple-of-datasets'),
]

ROWS = (FROM_ARRAYS + RECORD + BATCHING + REGISTRY + NPZ + TRAINER + CHECKPOINT + FITTER + CURRICULUM
        + CHECKPOINT_FILES + ANALYSIS + SETTINGS)


@pytest.fixture(autouse=True)
def _scratch_registry(monkeypatch):
    from datasets import _registry
    monkeypatch.setattr(_registry, '_REGISTRY', dict(_registry._REGISTRY))


@pytest.mark.parametrize('call, error, patterns', ROWS)
def test_bad_input_gets_a_clear_error_of_ours(call, error, patterns, tmp_path):
    with pytest.raises(error) as info:
        call(tmp_path)
    message = str(info.value)
    missing = [pattern for pattern in patterns if not re.search(pattern, message)]
    assert not missing, f'{message!r} does not match {missing}'
    raised_in = str(info.traceback[-1].path)
    assert any(package in raised_in for package in OUR_PACKAGES), \
        f'raised inside {raised_in}, not by datasets or trainer'
