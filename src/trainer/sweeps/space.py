"""A sweep's search space: which hyper-parameters vary, which of them one compiled program can vary per trial."""

import numbers

__all__ = ['DEFAULT_SPACE', 'STRUCTURAL', 'VMAPPED', 'distributions']

VMAPPED = ('lr', 'weight_decay', 'seed')
"""Hyper-parameters K trials can differ in inside one vmapped program (the Ensemble's per-member
``hparams`` and each member's initial weights and shuffle seed).

Examples
--------
>>> from trainer.sweeps import VMAPPED
>>> 'lr' in VMAPPED, 'hidden' in VMAPPED
(True, False)
"""

STRUCTURAL = ('hidden', 'batch_size', 'grad_clip_norm', 'cell')
"""Recipe fields that change the program (shapes, the clip, the cell): one value per program.

Examples
--------
>>> from trainer.sweeps import STRUCTURAL
>>> STRUCTURAL
('hidden', 'batch_size', 'grad_clip_norm', 'cell')
"""

DEFAULT_SPACE = {
    'lr': (1e-4, 3e-2, 'log'),
    'weight_decay': (1e-6, 1e-2, 'log'),
    'hidden': [32, 64, 128],
    'batch_size': [16, 32, 64],
    'grad_clip_norm': [0.5, 1.0, 5.0],
}
"""What ``sweep(space=None)`` searches: learning rate and weight decay (log-uniform), hidden size,
batch size and gradient clipping.

Examples
--------
>>> from trainer.sweeps import DEFAULT_SPACE
>>> DEFAULT_SPACE['lr'], DEFAULT_SPACE['hidden']
((0.0001, 0.03, 'log'), [32, 64, 128])
"""


def distributions(space):
    """``space`` as ``({name: optuna distribution}, {name: fixed value})``.

    A value may be an optuna distribution; ``(low, high)`` (uniform; ints give
    an ``IntDistribution``) or ``(low, high, 'log')``; a list of choices; or a
    single value, fixed for every trial (not searched).

    Examples
    --------
    >>> searched, fixed = distributions({'lr': (1e-4, 1e-1, 'log'), 'hidden': [16, 32], 'cell': 'gru'})
    >>> sorted(searched), fixed
    (['hidden', 'lr'], {'cell': 'gru'})
    >>> distributions({'epochs': [1, 2]})
    Traceback (most recent call last):
    ...
    ValueError: space has 'epochs', which a sweep cannot vary; its keys must be among lr, weight_decay, seed, hidden, batch_size, grad_clip_norm, cell (n_epochs is sweep(n_epochs=...)).
    """
    from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
    if not isinstance(space, dict) or not space:
        raise TypeError(f"space must be a non-empty dict such as {{'lr': (1e-4, 1e-1, 'log')}}, got {space!r:.80}.")
    searched, fixed = {}, {}
    for name, spec in space.items():
        if name not in VMAPPED + STRUCTURAL:
            raise ValueError(f"space has {name!r}, which a sweep cannot vary; its keys must be among "
                             f"{', '.join(VMAPPED + STRUCTURAL)} (n_epochs is sweep(n_epochs=...)).")
        if isinstance(spec, BaseDistribution):
            searched[name] = spec
        elif isinstance(spec, list):
            searched[name] = CategoricalDistribution(spec)
        elif isinstance(spec, tuple) and len(spec) in (2, 3) and all(isinstance(v, numbers.Real) for v in spec[:2]):
            if len(spec) == 3 and spec[2] != 'log':
                raise ValueError(f"space[{name!r}] = {spec!r}: the third item may only be 'log'.")
            log, (low, high) = len(spec) == 3, spec[:2]
            ints = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (low, high))
            searched[name] = IntDistribution(low, high, log=log) if ints else FloatDistribution(low, high, log=log)
        elif isinstance(spec, tuple):
            raise ValueError(f"space[{name!r}] = {spec!r}: a range is (low, high) or (low, high, 'log').")
        else:
            fixed[name] = spec
    return searched, fixed
