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
loop. Both run the same section-3b step (``trainer.core.step``), compiled by one
owner (``trainer.core.program``) as a pure function of an explicit state.
"""

from .core.array_libraries import detect_arrays_without_importing

detect_arrays_without_importing()  # before any trace: brainunit would import torch to check each array

from . import callbacks, metrics, models, objectives, regularizers
from .core.checkpoint import load_checkpoint
from ._ensemble import Ensemble
from .loop.ensemble_result import EnsembleResult
from .core.errors import NonFiniteLossError
from .fitting import FitResult, Fitter, ManyFitResult, Simulator
from .core.params import rename_params
from .loop.result import TrainResult
from .core.forward import rollout
from ._trainer import Trainer
from . import sweeps
from .sweeps import sweep

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
    'callbacks',
    'load_checkpoint',
    'metrics',
    'models',
    'objectives',
    'regularizers',
    'rename_params',
    'rollout',
    'sweep',
    'sweeps',
])


def __getattr__(name):
    # trainer.analysis (fixed points, FCD, psychometrics) loads on first use, not with the Trainer.
    if name == 'analysis':
        import importlib
        return importlib.import_module('.analysis', __name__)
    raise AttributeError(f"module 'trainer' has no attribute {name!r}")
