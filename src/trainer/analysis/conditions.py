"""Scores split by trial condition: accuracy per coherence, error per rule, as a printable table."""

import numpy as np

from .prediction import Prediction, scored_mean

__all__ = ['Table', 'condition_values', 'per_condition', 'trial_labels']


class Table(list):
    """A list of row dicts that prints as an aligned text table.

    Examples
    --------
    >>> print(Table([{'coherence': 0.0, 'n': 12, 'accuracy': 0.5},
    ...              {'coherence': 6.4, 'n': 9, 'accuracy': 0.8889}]))
    coherence   n  accuracy
            0  12       0.5
          6.4   9    0.8889
    """

    def __str__(self):
        if not self:
            return '(no rows)'
        keys = list(self[0])
        cells = [[_cell(row[k]) for k in keys] for row in self]
        widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
        lines = ['  '.join(k.rjust(w) for k, w in zip(keys, widths))]
        lines += ['  '.join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
        return '\n'.join(lines)


def _cell(value):
    if isinstance(value, float):
        return f'{value:.4g}'
    return str(value)


def condition_values(dataset, condition, name):
    """The ``(n_trials,)`` values of a condition given by name (in ``dataset.conditions``) or as an array."""
    if isinstance(condition, str):
        if condition not in dataset.conditions:
            raise ValueError(
                f'{name}={condition!r} is not a condition of the dataset; it has '
                f'{sorted(dataset.conditions) or "none"} (pass an (n_trials,) array instead, '
                f'or record it with datasets.from_arrays(..., conditions=...)).')
        return np.asarray(dataset.conditions[condition])
    values = np.asarray(condition)
    if values.shape != (len(dataset),):
        raise ValueError(
            f'{name} must be a condition name or an array of shape (n_trials,) = '
            f'({len(dataset)},), got shape {values.shape}.')
    return values


def trial_labels(dataset):
    """``(n_trials,)`` the label each trial asks for, or ``None`` for value targets.

    Per-step labels give the most frequent label on the steps the mask scores
    (the last step without a mask), the same steps a choice is read from.

    Examples
    --------
    >>> import numpy as np
    >>> import datasets
    >>> ds = datasets.from_arrays(np.zeros((2, 3, 1)), [[0, 0, 2], [0, 1, 1]],
    ...                           mask=[[0, 0, 1], [0, 1, 1]])
    >>> trial_labels(ds)
    array([2, 1])
    """
    targets = dataset.targets
    if dataset.n_classes is None:
        return None
    if targets.ndim == 1:
        return targets.astype(np.int64)
    one_hot = np.eye(dataset.n_classes, dtype=np.float32)[targets]
    return np.argmax(scored_mean(one_hot, dataset.mask), axis=-1)


def check_pair(prediction, dataset):
    if not isinstance(prediction, Prediction):
        raise TypeError(f'prediction must be a Prediction (from predict), got {type(prediction).__name__}.')
    if len(prediction) != len(dataset):
        raise ValueError(
            f'prediction has {len(prediction)} trials but dataset has {len(dataset)}; '
            f'predict on the same dataset you score.')


def per_condition(prediction, dataset, by='coherence', metric='accuracy'):
    """Score ``prediction`` separately for each value of a trial condition.

    Parameters
    ----------
    prediction : Prediction
        From :func:`predict` on ``dataset``.
    dataset : datasets.TaskDataset
        The trials, with ``conditions``.
    by : str or tuple of str, optional
        The condition(s) to group by; a tuple groups by their combinations.
    metric : str or callable, optional
        ``'accuracy'``: the fraction of trials whose choice
        (``prediction.choices``) is the trial's label (:func:`trial_labels`).
        Any other name of :func:`trainer.metrics.get` (``'mse'``,
        ``'cross_entropy'``, ...) or a callable ``metric(outputs, targets,
        mask)`` is computed on each group's outputs.

    Returns
    -------
    Table
        A list of rows ``{<by>: value, 'n': trials, <metric>: value}`` sorted
        by the condition; ``print`` shows it as a table.

    Examples
    --------
    >>> import numpy as np
    >>> import datasets
    >>> from trainer.analysis.prediction import Prediction
    >>> ds = datasets.from_arrays(np.zeros((4, 1, 1)), [0, 1, 1, 0],
    ...                           conditions={'coherence': [0.0, 0.0, 6.4, 6.4]})
    >>> outputs = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> print(per_condition(Prediction(outputs, outputs.argmax(-1)), ds))
    coherence  n  accuracy
            0  2       0.5
          6.4  2         1
    """
    check_pair(prediction, dataset)
    names = (by,) if isinstance(by, str) else tuple(by)
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f'by must be a condition name or a tuple of them, got {by!r}.')
    columns = [condition_values(dataset, name, 'by') for name in names]
    score, metric_name = _scorer(prediction, dataset, metric)
    keys = list(zip(*(c.tolist() for c in columns)))
    rows = Table()
    for key in sorted(set(keys)):
        members = np.flatnonzero([k == key for k in keys])
        rows.append({**dict(zip(names, key)), 'n': len(members), metric_name: score(members)})
    return rows


def _scorer(prediction, dataset, metric):
    if metric == 'accuracy':
        labels = trial_labels(dataset)
        if labels is None or prediction.choices is None:
            raise ValueError(
                "metric='accuracy' needs label targets and choices; this dataset has value "
                "targets. Use metric='mse' (or another trainer.metrics name).")
        return (lambda idx: float(np.mean(prediction.choices[idx] == labels[idx]))), 'accuracy'
    from ..objectives import metrics
    if isinstance(metric, str):
        name, fn = metric, metrics.get(metric)
    elif callable(metric):
        name, fn = getattr(metric, '__name__', 'metric'), metrics.get(metric)
    else:
        raise TypeError(f"metric must be 'accuracy', a trainer.metrics name or a callable, got {metric!r}.")

    def score(idx):
        mask = None if dataset.mask is None else dataset.mask[idx]
        return float(fn(prediction.outputs[idx], dataset.targets[idx], mask))

    return score, name
