"""A device-stream fit on one device and split over two (its keys replicated): usage stream_parallel_fit.py OUT_JSON."""

import json
import os
import sys

os.environ['JAX_PLATFORMS'] = 'cpu'

import braintools  # noqa: E402
import brainunit as u  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import datasets  # noqa: E402
from trainer import Trainer, metrics, objectives  # noqa: E402
from trainer.models import RateRNN  # noqa: E402


def draw(key, batch_size):
    x = jax.random.normal(key, (batch_size, 4, 2))
    y = jnp.broadcast_to((x[:, :1, 0] > 0).astype(jnp.int32), (batch_size, 4))
    return {'inputs': x, 'targets': y, 'mask': jnp.ones((batch_size, 4))}


stream = datasets.Stream(draw=draw, n_features=2, n_steps=4, n_classes=2, dt=1.0 * u.ms, seed=0, held_out=16)


def fit(devices, compile_epoch):
    trainer = Trainer(RateRNN(2, 8, 2, seed=0), braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(),
                      metrics={'acc': metrics.accuracy()}, progress=False, devices=devices)
    result = trainer.fit(stream, n_epochs=2, batch_size=8, steps_per_epoch=3, compile_epoch=compile_epoch)
    return {'history': [{k: v for k, v in r.items() if k != 'time'} for r in result.history],
            'compilations': result.n_compilations, 'n_devices': jax.device_count()}


with open(sys.argv[1], 'w') as f:
    json.dump([fit(d, c) for d in (None, 2) for c in (False, True)], f)
