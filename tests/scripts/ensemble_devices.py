"""An Ensemble over forced host devices vs one device, and through a curriculum (tests/test_distributed.py).

argv: the output path. Writes {'<devices>-<compile_epoch>': [each member's history]}.
"""

import json
import sys

import braintools
import datasets
from trainer import Ensemble, metrics, objectives
from trainer.models import RateRNN

data = datasets.load_dataset('delayed_match_task', n_trials=64, seq_len=6, n_symbols=2)
train, held_out = data.split(48, seed=0)
kw = dict(objective=objectives.cross_entropy(), metrics={'acc': metrics.accuracy()}, progress=False)
out = {}
for devices in (None, 2):
    for compile_epoch in (False, True):
        ensemble = Ensemble([RateRNN(2, 8, 2, seed=s) for s in range(3)], braintools.optim.Adam(lr=1e-2),
                            devices=devices, **kw)
        result = ensemble.fit(train, held_out=held_out, n_epochs=3, batch_size=16, seeds=[0, 1, 2],
                              compile_epoch=compile_epoch)
        out[f'{devices}-{compile_epoch}'] = [m.history for m in result.members]
        out[f'{devices}-{compile_epoch}-compiles'] = result.n_compilations
curriculum = datasets.Curriculum([{'seq_len': 4, 'n_symbols': 2}, {'seq_len': 6, 'n_symbols': 2}],
                                 task='delayed_match_task', n_trials=48, monitor='held_out_loss', threshold=0.0,
                                 max_epochs_per_stage=1)
ensemble = Ensemble([RateRNN(2, 8, 2, seed=s) for s in range(2)], braintools.optim.Adam(lr=1e-2), devices=2, **kw)
out['curriculum'] = [[row['stage'] for row in m.history] for m in ensemble.fit(curriculum, n_epochs=3,
                                                                               batch_size=16).members]
json.dump(out, open(sys.argv[1], 'w'))
