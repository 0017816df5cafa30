"""Fits of the data-parallel tests, in their own process (device count and runtime are per process).

usage: data_parallel_fit.py OUT_JSON CONFIGS_JSON [PROCESS_ID N_PROCESSES PORT CHECKPOINT]

CONFIGS_JSON is a list of [devices, compile_epoch, batch_size]; the output holds one
record per config (or the ValueError's message when the fit refused it).
"""

import json
import os
import sys

os.environ['JAX_PLATFORMS'] = 'cpu'
out, configs = sys.argv[1], json.loads(sys.argv[2])
checkpoint = None
if len(sys.argv) > 3:
    from trainer import distributed
    pid, n, port, checkpoint = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
    distributed.initialize(f'127.0.0.1:{port}', num_processes=n, process_id=pid)
    checkpoint = checkpoint.format(pid=pid)

import braintools  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

import datasets  # noqa: E402
from trainer import Trainer, objectives  # noqa: E402
from trainer.models import RateRNN  # noqa: E402

train, held_out = datasets.delayed_match_task(96, seq_len=6, n_symbols=2, seed=0).split(64, seed=0)


def fit(devices, compile_epoch, batch_size):
    trainer = Trainer(RateRNN(2, 8, 2, cell='vanilla'), braintools.optim.Adam(lr=1e-2), progress=False,
                      objective=objectives.cross_entropy(), metrics=['accuracy'], devices=devices)
    try:
        result = trainer.fit(train, held_out=held_out, n_epochs=3, batch_size=batch_size,
                             compile_epoch=compile_epoch, checkpoint=checkpoint)
    except ValueError as error:
        return {'error': str(error)}
    # The held-out program, compiled ahead of time: its HLO shows how the sums are reduced.
    hlo = next(iter(trainer.program._ahead.values())).result().as_text()
    return {'history': [{k: v for k, v in r.items() if k != 'time'} for r in result.history],
            'params': {'/'.join(map(str, k)): np.asarray(jax.device_get(s.value['weight'])).tolist()
                       for k, s in trainer.weights.items()},
            'n_devices': jax.device_count(), 'compilations': result.n_compilations,
            'all_reduce': 'all-reduce' in hlo}


with open(out, 'w') as f:
    json.dump([fit(*config) for config in configs], f)
