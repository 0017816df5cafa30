"""Train brain-dynamics models on tasks and fit them to recorded targets.

The whole loop, in brief::

    import braintools, datasets
    from trainer import Trainer, objectives, metrics
    from trainer.models import RateRNN

    data = datasets.load_dataset('perceptual_decision_making', n_trials=512, seed=0)
    train, held_out = data.split(0.8, seed=0)
    model = RateRNN(data.n_features, 64, data.n_classes)
    trainer = Trainer(model, braintools.optim.Adam(lr=1e-2),
                      objective=objectives.cross_entropy(), metrics={'acc': metrics.accuracy()})
    result = trainer.fit(train, held_out=held_out, n_epochs=10, batch_size=32)

``Fitter`` is the other front door: one fixed target, the seed's section-3b
loop. Both run the same section-3b step (``trainer._step``), compiled by one
owner (``trainer._program``) as a pure function of an explicit state.
"""

from . import analysis, metrics, models, objectives
from ._checkpoint import load_checkpoint
from ._ensemble import Ensemble
from ._ensemble_result import EnsembleResult
from ._errors import NonFiniteLossError
from ._fitter import FitResult, Fitter
from ._many_result import ManyFitResult
from ._params import rename_params
from ._result import TrainResult
from ._simulator import Simulator
from ._forward import rollout
from ._trainer import Trainer

__all__ = sorted([
    'Ensemble',
    'EnsembleResult',
    'FitResult',
    'Fitter',
    'ManyFitResult',
    'NonFiniteLossError',
    'Simulator',
    'TrainResult',
    'Trainer',
    'analysis',
    'load_checkpoint',
    'metrics',
    'models',
    'objectives',
    'load_checkpoint',
    'rename_params',
    'rollout',
])
