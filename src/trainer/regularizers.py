"""Regulariser builders: named loss terms a Trainer adds to its objective and reports per epoch.

    >>> import braintools, datasets
    >>> from trainer import Trainer, objectives, regularizers
    >>> from trainer.models import LeakyRNN
    >>> data = datasets.load_dataset('go_no_go', n_trials=32, seed=0)
    >>> trainer = Trainer(LeakyRNN(data.n_features, 8, data.n_classes), braintools.optim.Adam(lr=1e-2),
    ...                   objective=objectives.cross_entropy(), progress=False,
    ...                   regularizers=[regularizers.rate_l2(1e-3, state='r'),
    ...                                 regularizers.weight_l2(1e-4, 'w_rec')])
    >>> row = trainer.fit(data, n_epochs=1, batch_size=16).history[-1]
    >>> sorted(k for k in row if k.startswith('reg_'))
    ['reg_rate_l2', 'reg_weight_l2']

Each term's formula: ``weight_l1`` ``lam * mean(|W|)``, ``weight_l2`` ``lam * mean(W ** 2)``,
``weight_l2_init`` ``lam * mean((W - W_0) ** 2)``, ``rate_l1`` ``lam * mean(|r|)``, ``rate_l2``
``lam * mean(r ** 2)`` (means over a matrix's entries, or over trials, steps and units).
"""

from .objectives.penalties import (
    Regularizer,
    rate_l1,
    rate_l2,
    weight_l1,
    weight_l2,
    weight_l2_init,
)

__all__ = sorted([
    'Regularizer',
    'rate_l1',
    'rate_l2',
    'weight_l1',
    'weight_l2',
    'weight_l2_init',
])
