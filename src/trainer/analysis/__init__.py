"""Open a trained network: predictions, hidden trajectories, per-condition scores, fixed points.

The path most papers on trained RNNs start with (Mante et al. 2013; Sussillo
& Barak 2013; Yang et al. 2019), on any one-step brainstate model::

    from trainer import analysis
    prediction = trainer.predict(held_out, record=True)      # or analysis.predict(model, held_out, ...)
    prediction.outputs, prediction.choices                   # (N, T, O), (N,)
    prediction.states['cell.h']                              # (N, T, n_hidden)
    print(analysis.per_condition(prediction, held_out, by='coherence'))
    curve = analysis.psychometric(prediction, held_out, evidence='coherence')
    curve.plot().savefig('psychometric.png')
    starts = analysis.sample_states(prediction, 128)
    fps = analysis.fixed_points(model, held_out.inputs[0, 0], starts, dt=held_out.dt)
    fps.unique, fps.eigenvalues, fps.labels                  # where, how, 'stable' / 'unstable'
    analysis.plot_trajectories(prediction, held_out, color_by='coherence', fixed_points=fps)

Every array returned is numpy, trials first.
"""

from .attractors import FixedPoints, fixed_points, sample_states
from .conditions import Table, per_condition, trial_labels
from .prediction import Prediction, predict
from .psychometrics import Psychometric, logistic, psychometric
from .trajectories import pca, plot_trajectories

__all__ = sorted([
    'FixedPoints',
    'Prediction',
    'Psychometric',
    'Table',
    'fixed_points',
    'logistic',
    'pca',
    'per_condition',
    'plot_trajectories',
    'predict',
    'psychometric',
    'sample_states',
    'trial_labels',
])
