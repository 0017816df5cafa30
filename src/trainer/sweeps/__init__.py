"""Hyper-parameter sweeps on Optuna, K trials trained per compiled program.

    import trainer
    result = trainer.sweep('go_no_go', n_trials=32, storage='sqlite:///study.db',
                           space={'lr': (1e-4, 1e-1, 'log'), 'weight_decay': (1e-6, 1e-2, 'log')},
                           members=8, n_epochs=5)
    result.best_params, result.best_value
    trainer.sweeps.retrain('go_no_go', result.best_params, n_epochs=5).best_value   # the same value, alone

Trials that differ only in ``lr``, ``weight_decay`` and ``seed`` (the
vmappable hyper-parameters) train together as one :class:`trainer.Ensemble`;
structural ones (hidden size, batch size, clip, cell) are sampled once per
program (see :func:`sweep`). ``optuna`` is imported when a
sweep starts (the ``tracking`` extra).
"""

from .programs import Report, retrain
from .space import DEFAULT_SPACE, STRUCTURAL, VMAPPED, distributions
from .study import SweepResult, sweep

__all__ = sorted(['DEFAULT_SPACE', 'Report', 'STRUCTURAL', 'SweepResult', 'VMAPPED', 'distributions', 'retrain',
                  'sweep'])
