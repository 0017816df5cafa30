"""Data parallel: one fit split over forced host devices, and over two processes (no accelerator)."""

import fcntl
import json
import os
import socket

import braintools
import numpy as np
import pytest
from float32 import assert_close_f32
from jax.sharding import Mesh

import datasets
from trainer import Trainer, distributed, objectives
from trainer.models import RateRNN

SCRIPT = os.path.join(os.path.dirname(__file__), 'scripts', 'data_parallel_fit.py')

pytestmark = pytest.mark.xdist_group('distributed')  # one worker: the module fixtures are built once


def fit_jobs(fork_server, tmp_path, n_host_devices, *argvs):
    """Run the script once per argv, all at once, each in its own process with that many
    host devices (forked, see conftest.ForkServer: the device count is read when JAX starts)."""
    # Added to the caller's XLA_FLAGS (a run under --xla_cpu_max_isa=... keeps it in the jobs).
    flags = os.environ.get('XLA_FLAGS', '')
    env = {'XLA_FLAGS': f'{flags} --xla_force_host_platform_device_count={n_host_devices}'.strip()}
    jobs = [{'path': SCRIPT, 'argv': argv, 'env': env, 'cwd': str(tmp_path)} for argv in argvs]
    for returncode, _, stderr in fork_server.run(jobs, tmp_path, timeout=240):
        assert returncode == 0, stderr[-3000:]


def run(fork_server, tmp_path, configs, n_host_devices):
    out = str(tmp_path / 'out.json')
    fit_jobs(fork_server, tmp_path, n_host_devices, [out, json.dumps(configs)])
    return json.load(open(out))


STEPS = 3 * 4  # the script's fits: 3 epochs of 64 trials in batches of 16


def assert_same_fit(a, b):
    # Sharded over devices or processes vs one device: other XLA programs (partial sums per shard,
    # then an all-reduce), so float32 apart by the steps taken (tests/float32.py).
    for ra, rb in zip(a['history'], b['history'], strict=True):
        assert ra.keys() == rb.keys()
        for k in ra:
            if k.endswith('accuracy'):  # a count of trials: equal
                assert rb[k] == pytest.approx(ra[k], abs=1e-6), k
            elif k != 'epoch':
                assert_close_f32(rb[k], ra[k], steps=4 * ra['epoch'], err_msg=k)
    assert_close_f32(b['params'], a['params'], steps=STEPS)


@pytest.fixture(scope='module')
def four_devices(tmp_path_factory, fork_server):
    """One process with 4 host devices: one-device references, sharded fits, a bad batch size."""
    configs = [[None, 0, 16], [None, 1, 16], [4, 0, 16], [2, 1, 16], [4, 0, 10]]
    # pytest-xdist may run these tests on both workers: the first to take the lock runs the
    # process, the other reads its result from the session's scratch folder (shared by workers).
    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if shared.name.startswith('popen-gw') else shared
    saved = os.path.join(shared, 'four_devices.json')
    with open(saved + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(saved):
            result = run(fork_server, tmp_path_factory.mktemp('dp'), configs, 4)
            with open(saved, 'w') as f:
                json.dump(result, f)
    return dict(zip(map(tuple, configs), json.load(open(saved))))


@pytest.mark.parametrize('devices, compile_epoch', [(4, 0), (2, 1)], ids=['4-per-step', '2-epoch'])
def test_sharded_fit_equals_one_device(four_devices, devices, compile_epoch):
    reference, sharded = four_devices[(None, compile_epoch, 16)], four_devices[(devices, compile_epoch, 16)]
    assert sharded['n_devices'] == 4
    assert_same_fit(reference, sharded)
    assert sharded['compilations'] == {'train': 1, 'eval': 1}
    assert sharded['all_reduce']  # the held-out sums are reduced by XLA's collectives
    assert not reference['all_reduce']


def test_batch_must_divide_over_devices(four_devices):
    assert four_devices[(4, 0, 10)]['error'].startswith(
        'batch_size=10 does not divide over 4 devices; use a multiple of 4')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_processes_equal_one(tmp_path, four_devices, fork_server):
    port, ckpt = _free_port(), str(tmp_path / 'ckpt-{pid}.msgpack')
    fit_jobs(fork_server, tmp_path, 1, *[[str(tmp_path / f'p{pid}.json'), '[["all", 0, 16]]',
                                          str(pid), '2', str(port), ckpt] for pid in (0, 1)])
    outs = [json.load(open(tmp_path / f'p{pid}.json'))[0] for pid in (0, 1)]
    assert outs[0]['n_devices'] == 2
    for out in outs:
        assert_same_fit(four_devices[(None, 0, 16)], out)
    # Only process 0 wrote its checkpoint, and it resumes in one process to the same end.
    assert os.path.exists(ckpt.format(pid=0)) and not os.path.exists(ckpt.format(pid=1))
    train, held_out = datasets.delayed_match_task(96, seq_len=6, n_symbols=2, seed=0).split(64, seed=0)

    def trainer():
        return Trainer(RateRNN(2, 8, 2, cell='vanilla'), braintools.optim.Adam(lr=1e-2), progress=False,
                       objective=objectives.cross_entropy(), metrics=['accuracy'])

    fit = dict(held_out=held_out, n_epochs=4, batch_size=16)
    straight = trainer().fit(train, **fit)
    resumed = trainer().fit(train, resume_from=ckpt.format(pid=0), **fit)
    for a, b in zip(straight.history, resumed.history):  # 3 epochs on two processes, then one here
        assert_close_f32(b['loss'], a['loss'], steps=4 * a['epoch'])
        assert_close_f32(b['held_out_loss'], a['held_out_loss'], steps=4 * a['epoch'])


@pytest.mark.parametrize('devices, match', [
    (0, r'devices=0 must be between 1 and jax.device_count\(\)=1'),
    (5, r'devices=5 must be between 1 and jax.device_count\(\)=1'),
    ('gpu', "devices must be None, 'all', a positive int"),
    (Mesh(np.asarray(__import__('jax').devices()), ('data',)), "must have an axis named 'batch'"),
], ids=['zero', 'too-many', 'string', 'mesh-without-batch'])
def test_bad_devices(devices, match):
    with pytest.raises(ValueError, match=match):
        Trainer(RateRNN(2, 8, 2), braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(),
                devices=devices)


def test_initialize_twice_is_refused(monkeypatch):
    monkeypatch.setattr(distributed, '_initialized', [True])
    with pytest.raises(RuntimeError, match='already called'):
        distributed.initialize('127.0.0.1:1', num_processes=1, process_id=0)


def test_an_ensemble_over_two_devices_equals_one_device(fork_server, tmp_path):
    """Each member's batch split over 2 forced host devices, per step and as a compiled epoch."""
    out = str(tmp_path / 'ensemble.json')
    flags = os.environ.get('XLA_FLAGS', '')
    env = {'XLA_FLAGS': f'{flags} --xla_force_host_platform_device_count=2'.strip()}
    job = {'path': os.path.join(os.path.dirname(__file__), 'scripts', 'ensemble_devices.py'), 'argv': [out],
           'env': env, 'cwd': str(tmp_path)}
    for returncode, _, stderr in fork_server.run([job], tmp_path, timeout=240):
        assert returncode == 0, stderr[-3000:]
    got = json.load(open(out))
    for compile_epoch in ('False', 'True'):
        assert got[f'2-{compile_epoch}-compiles'] == {'train': 1, 'eval': 1}
        for one, two in zip(got[f'None-{compile_epoch}'], got[f'2-{compile_epoch}'], strict=True):
            untimed = [[{k: v for k, v in row.items() if k != 'time'} for row in rows] for rows in (one, two)]
            assert_same_fit({'history': untimed[0], 'params': {}}, {'history': untimed[1], 'params': {}})
    assert got['curriculum'] == [[0, 1, 1], [0, 1, 1]]
