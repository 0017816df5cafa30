"""Psychometric curves: how often a network picks one choice, against signed evidence."""

import dataclasses

import numpy as np

from .conditions import check_pair, condition_values, trial_labels

__all__ = ['Psychometric', 'psychometric']


def logistic(x, slope, bias, lapse):
    """``lapse + (1 - 2 lapse) / (1 + exp(-slope (x - bias)))``: a symmetric-lapse logistic."""
    return lapse + (1 - 2 * lapse) / (1 + np.exp(-slope * (np.asarray(x, float) - bias)))


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Psychometric:
    """A psychometric curve and its logistic fit.

    Attributes
    ----------
    evidence : numpy.ndarray
        ``(k,)`` the distinct signed evidence levels, ascending.
    fraction : numpy.ndarray
        ``(k,)`` the fraction of trials at each level whose choice was ``choice``.
    n : numpy.ndarray
        ``(k,)`` trials per level.
    slope, bias, lapse : float
        The maximum-likelihood fit of :func:`logistic` to the trials:
        steepness (per unit of evidence), the evidence of indifference, and
        the rate of choices made regardless of the evidence (``< 0.5``).
    choice : int
        The label counted as "chose".
    name : str
        What the evidence is (for the axis label).

    Examples
    --------
    >>> import numpy as np
    >>> curve = Psychometric(np.array([-1.0, 0.0, 1.0]), np.array([0.1, 0.5, 0.9]),
    ...                      np.array([10, 10, 10]), 2.2, 0.0, 0.0, 1, 'evidence')
    >>> round(float(curve(1.0)), 3)
    0.9
    """

    evidence: np.ndarray
    fraction: np.ndarray
    n: np.ndarray
    slope: float
    bias: float
    lapse: float
    choice: int
    name: str = 'evidence'

    def __call__(self, x):
        """The fitted probability of ``choice`` at evidence ``x``."""
        return logistic(x, self.slope, self.bias, self.lapse)

    def __repr__(self):
        return (f'Psychometric({self.name}: {len(self.evidence)} levels, {int(self.n.sum())} trials, '
                f'slope={self.slope:.4g}, bias={self.bias:.4g}, lapse={self.lapse:.3g}, '
                f'choice={self.choice})')

    def plot(self, ax=None):
        """Draw the fractions (sized by trials) and the fitted curve; return the figure.

        Examples
        --------
        >>> import numpy as np
        >>> curve = Psychometric(np.array([-1.0, 1.0]), np.array([0.2, 0.8]), np.array([5, 5]),
        ...                      1.4, 0.0, 0.0, 1)
        >>> len(curve.plot().axes)
        1
        """
        if ax is None:
            from matplotlib.figure import Figure
            ax = Figure(figsize=(4.5, 3.5), layout='constrained').subplots()
        span = self.evidence.max() - self.evidence.min() or 1.0
        x = np.linspace(self.evidence.min() - 0.05 * span, self.evidence.max() + 0.05 * span, 200)
        ax.plot(x, self(x), color='tab:blue', lw=1.5,
                label=f'fit: slope {self.slope:.3g}, bias {self.bias:.3g}, lapse {self.lapse:.2g}')
        ax.scatter(self.evidence, self.fraction, s=12 + 60 * self.n / self.n.max(), color='k',
                   zorder=3, label='network')
        ax.axhline(0.5, color='0.7', lw=0.8, ls=':')
        ax.set(xlabel=f'signed {self.name}', ylabel=f'P(choice {self.choice})', ylim=(-0.03, 1.03))
        ax.legend(loc='upper left', fontsize='small')
        return ax.figure


def psychometric(prediction, dataset, *, evidence='coherence', sign='ground_truth', choice=None):
    """The fraction of trials choosing ``choice`` at each signed evidence level, with a logistic fit.

    Parameters
    ----------
    prediction : Prediction
        From :func:`predict` on ``dataset`` (a classifier: it has ``choices``).
    dataset : datasets.TaskDataset
        The trials.
    evidence : str or array_like, optional
        A condition name or an ``(n_trials,)`` array: the evidence strength.
    sign : str, array_like or None, optional
        A two-valued condition (or array) saying which way the evidence
        points: evidence counts positive on trials with its larger value
        (``ground_truth == 1``), negative on the others. ``None`` when
        ``evidence`` is already signed.
    choice : int, optional
        The label counted; default the label most trials with positive
        evidence ask for (:func:`trial_labels`).

    Returns
    -------
    Psychometric
        Levels, fractions, counts, the fit, and ``.plot()``.

    Examples
    --------
    >>> import numpy as np
    >>> import datasets
    >>> from trainer.analysis.prediction import Prediction
    >>> ds = datasets.from_arrays(np.zeros((6, 1, 1)), [1, 1, 1, 0, 0, 0],
    ...                           conditions={'coherence': [10., 5, 5, 5, 5, 10],
    ...                                       'ground_truth': [1, 1, 1, 0, 0, 0]})
    >>> choices = np.array([1, 1, 0, 1, 0, 0])
    >>> curve = psychometric(Prediction(np.eye(2)[choices], choices), ds)
    >>> curve.evidence, curve.fraction, curve.choice
    (array([-10.,  -5.,   5.,  10.]), array([0. , 0.5, 0.5, 1. ]), 1)
    """
    check_pair(prediction, dataset)
    if prediction.choices is None:
        raise ValueError('psychometric needs choices; the prediction has none (value targets).')
    name = evidence if isinstance(evidence, str) else 'evidence'
    signed = condition_values(dataset, evidence, 'evidence').astype(float)
    if sign is not None:
        side = condition_values(dataset, sign, 'sign')
        values = np.unique(side)
        if len(values) != 2:
            raise ValueError(
                f'sign must take exactly two values (which way the evidence points), got '
                f'{values.tolist()[:10]}; pass sign=None if evidence is already signed.')
        signed = np.where(side == values[1], 1.0, -1.0) * np.abs(signed)
    if not np.all(np.isfinite(signed)):
        bad = int(np.size(signed) - np.count_nonzero(np.isfinite(signed)))
        raise ValueError(f'evidence must be finite, got {bad} NaN or infinite value(s) among '
                         f'{len(signed)} trials; drop those trials or fix the condition.')
    if len(np.unique(signed)) < 2:
        raise ValueError(
            f'evidence must take at least 2 distinct levels to fit a slope and a bias, got '
            f'{np.unique(signed).tolist()}; pass trials of several evidence strengths.')
    if choice is None:
        labels = trial_labels(dataset)
        positive = signed > 0
        if labels is None or not positive.any():
            raise ValueError('choice could not be inferred (no label targets, or no trial with '
                             'positive evidence); pass choice=<label>.')
        choice = int(np.bincount(labels[positive]).argmax())
    chose = (prediction.choices == choice).astype(float)
    levels, where = np.unique(signed, return_inverse=True)
    n = np.bincount(where, minlength=len(levels))
    fraction = np.bincount(where, weights=chose, minlength=len(levels)) / n
    slope, bias, lapse = _fit(signed, chose, levels)
    return Psychometric(levels, fraction, n, slope, bias, lapse, int(choice), name)


def _fit(x, chose, levels):
    """Maximum-likelihood ``(slope, bias, lapse)`` over the single trials (scipy L-BFGS-B)."""
    from scipy.optimize import minimize
    gaps = np.diff(levels)
    span = float(levels[-1] - levels[0]) if len(levels) > 1 else 1.0
    # A perfect observer has no finite best slope; cap it at a near-step (logit 20) across the finest gap.
    max_slope = 20.0 / float(gaps.min()) if len(gaps) else 20.0

    def negative_log_likelihood(params):
        p = np.clip(logistic(x, *params), 1e-9, 1 - 1e-9)
        return -np.sum(chose * np.log(p) + (1 - chose) * np.log(1 - p))

    start = (4.0 / span, float(np.mean(levels)), 0.01)
    bounds = [(-max_slope, max_slope), (levels[0] - span, levels[-1] + span), (0.0, 0.49)]
    result = minimize(negative_log_likelihood, start, method='L-BFGS-B', bounds=bounds)
    return tuple(float(v) for v in result.x)
