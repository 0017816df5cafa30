"""``FitResult``: what one fit returns (brainmass's fields), below the Fitter so other fit drivers build it."""

import dataclasses
from typing import Any

__all__ = ['FitResult']


@dataclasses.dataclass(frozen=True, repr=False)
class FitResult:
    """What :meth:`Fitter.fit` returns; brainmass's fields, constructible as brainmass's.

    Attributes
    ----------
    backend : str
        ``'grad'``, ``'scipy'`` or ``'evosax'``.
    best_loss : float
        The lowest loss seen.
    best_params : dict
        ``{dotted_name: value}`` at the best-seen point (constrained values,
        units kept): the parameters at which ``best_loss`` was measured.
    history : list of float
        The loss of every step (``'grad'``); the final loss (``'scipy'``).
    n_steps : int
        Steps actually run (fewer when a callback stopped the fit).
    prediction : Any, optional
        The auxiliary output (the prediction) at the best-seen point.
    model : brainstate.nn.Module, optional
        The fitted model, holding ``best_params``.
    optimizer : Any, optional
        The optimizer that ran (a ``braintools.optim`` optimizer).
    raw : Any, optional
        The backend's own result: SciPy's ``OptimizeResult`` for ``'scipy'``;
        for ``'evosax'`` and for ``fit(..., n_starts=K)``, the
        :class:`ManyFitResult` of the whole search (every start).

    Examples
    --------
    >>> FitResult(backend='grad', best_loss=0.5, best_params={'g': 1.0}, history=[0.5], n_steps=1)
    FitResult(backend='grad', best_loss=0.5, n_steps=1, params=[g])
    """

    backend: str
    best_loss: float
    best_params: dict
    history: list
    n_steps: int
    prediction: Any = None
    model: Any = None
    optimizer: Any = None
    raw: Any = None

    def __repr__(self):
        return (f"FitResult(backend={self.backend!r}, best_loss={self.best_loss:.6g}, "
                f"n_steps={self.n_steps}, params=[{', '.join(self.best_params)}])")
