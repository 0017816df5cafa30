"""Objective builders: ``loss(prediction, target, mask=None) -> scalar``.

Every builder here takes its configuration by keyword (FCD's ``window_size``
and ``step_size`` may also be positional, as in brainmass) and returns a small
named function ``loss`` (or ``score``) that is jit / grad / vmap-safe and
unit-aware. Builders compose with :func:`combine`; the maths comes from
:mod:`braintools.metric` (the shared checks and compiled kernels live in
``trainer.objectives.reduce``, the FCD family in ``trainer.objectives.fc_dynamics``). Names, defaults and
numbers are brainmass 0.1.1's wherever brainmass has the name
(``timeseries_rmse``, ``fc_corr``, ``fc_rmse``, ``cosine_sim``, ``fcd``,
``fcd_distribution``, ``ks_distance``, ``wasserstein_1d``, ``fcd_ks``,
``fcd_wasserstein``, ``combine``).

    >>> import numpy as np
    >>> from trainer import objectives
    >>> loss = objectives.combine((1.0, objectives.mse()), (0.5, objectives.mae()))
    >>> float(loss(np.full(3, 2.0), np.zeros(3)))   # 1.0 * 4.0 + 0.5 * 2.0
    5.0

Conventions
-----------
Units
    Differences (``mse``, ``rmse``, ``mae``) are unit-checked: a prediction in
    mV against a target in seconds raises ``ValueError`` naming both units.
    The value comes back as a plain array expressed in the *prediction's*
    unit (``mse`` of mV traces is a number of mV**2), so ``loss +
    model.reg_loss()`` works and differentiates. Scale-invariant objectives
    (``fc_corr``, ``fc_rmse``, ``cosine_sim``, the FCD family) strip units first, as does
    ``steady_state`` (the seed's loss, kept exactly).
Masks
    ``mask`` holds float weights (0 = ignore) aligned with the *leading* axes
    of the per-element loss, so a ``(B, T)`` mask covers a ``(B, T, N)``
    output. Masked means are ``sum(l * m) / max(sum(m), tiny)``: a padded
    trial whose mask row is all zero contributes nothing. Objectives of
    whole series (FC, cosine, FCD) take a mask of whole trials only.
Scores
    ``fc_corr()``, ``cosine_sim()`` and ``fcd()`` return brainmass's *score*
    (1.0 for a perfect match, to maximise); ``as_loss=True`` gives the loss
    ``1 - score``. A score carries ``is_score``, and ``Fitter`` and ``Trainer``
    refuse to minimise one. As metrics, scores report the score.
"""

from .compose import accepts_mask, combine, is_score, per_trial
from .fc_dynamics import fcd, fcd_distribution, fcd_ks, fcd_wasserstein, ks_distance, wasserstein_1d
from .losses import cosine_sim, cross_entropy, fc_corr, fc_rmse, mae, mse, rmse, steady_state, timeseries_rmse

__all__ = sorted([
    'accepts_mask',
    'combine',
    'cosine_sim',
    'cross_entropy',
    'fc_corr',
    'fc_rmse',
    'fcd',
    'fcd_distribution',
    'fcd_ks',
    'fcd_wasserstein',
    'is_score',
    'ks_distance',
    'mae',
    'mse',
    'per_trial',
    'rmse',
    'steady_state',
    'timeseries_rmse',
    'wasserstein_1d',
])
