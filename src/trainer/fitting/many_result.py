"""``ManyFitResult``: what a fit over many targets and many starts returns, one ``FitResult`` per fit."""

import dataclasses
from typing import Any

import numpy as np

from .result import FitResult

__all__ = ['ManyFitResult']


@dataclasses.dataclass(frozen=True, repr=False)
class ManyFitResult:
    """The fits of :meth:`Fitter.fit_many`: ``n_targets * n_starts`` members, target-major.

    Attributes
    ----------
    backend : str
        ``'grad'`` or ``'evosax'``.
    n_targets, n_starts : int
    best_loss : numpy.ndarray
        ``(n_targets, n_starts)``: each fit's lowest loss.
    best_params : dict
        ``{dotted_name: (n_targets, n_starts, ...)}`` constrained values at each fit's best point.
    history : numpy.ndarray
        ``(n_steps, n_targets, n_starts)`` losses (a generation's best for
        ``'evosax'``); NaN after a fit diverged.
    diverged_at : numpy.ndarray
        ``(n_targets, n_starts)`` int: the step whose loss or update was not
        finite (that fit froze there), ``-1`` for a fit that never diverged.
    prediction : Any
        The auxiliary output at each fit's best point, leading axes ``(n_targets, n_starts)``.
    model : brainstate.nn.Module
        Holds the overall best fit's parameters (``best``).

    Examples
    --------
    >>> import numpy as np
    >>> r = ManyFitResult('grad', 1, 2, np.array([[0.5, 0.1]]), {'g': np.array([[1.0, 2.0]])},
    ...                   np.array([[[0.5, 0.1]]]), np.array([[-1, -1]]))
    >>> float(r.per_target[0].best_params['g']), r.starts[1].best_loss
    (2.0, 0.1)
    >>> r
    ManyFitResult(backend='grad', n_targets=1, n_starts=2, best_loss=0.1, diverged=0, params=[g])
    """

    backend: str
    n_targets: int
    n_starts: int
    best_loss: np.ndarray
    best_params: dict
    history: np.ndarray
    diverged_at: np.ndarray
    prediction: Any = None
    model: Any = None
    optimizer: Any = None

    def member(self, target, start=0):
        """The :class:`FitResult` of ``target``'s ``start``."""
        steps = self.history[:, target, start]
        stop = int(self.diverged_at[target, start]) + 1 or len(steps)
        prediction = None if self.prediction is None else _index(self.prediction, target, start)
        return FitResult(self.backend, float(self.best_loss[target, start]),
                         {k: v[target, start] for k, v in self.best_params.items()},
                         [float(x) for x in steps[:stop]], stop, prediction, self.model, self.optimizer)

    @property
    def per_target(self):
        """Each target's best start, as a list of :class:`FitResult`."""
        return [self.member(t, int(np.nanargmin(self.best_loss[t]))) for t in range(self.n_targets)]

    @property
    def starts(self):
        """Every fit of target 0 (all of them with one target), as a list of :class:`FitResult`."""
        return [self.member(0, s) for s in range(self.n_starts)]

    @property
    def best(self):
        """The fit with the lowest loss of all (the one the model holds)."""
        t, s = np.unravel_index(int(np.nanargmin(self.best_loss)), self.best_loss.shape)
        return self.member(int(t), int(s))

    def __repr__(self):
        return (f"ManyFitResult(backend={self.backend!r}, n_targets={self.n_targets}, n_starts={self.n_starts}, "
                f"best_loss={np.nanmin(self.best_loss):.6g}, diverged={int((self.diverged_at >= 0).sum())}, "
                f"params=[{', '.join(self.best_params)}])")


def _index(tree, target, start):
    import jax
    return jax.tree.map(lambda x: np.asarray(x)[target, start], tree)
