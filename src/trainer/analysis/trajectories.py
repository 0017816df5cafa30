"""Hidden-state trajectories in their top principal components, coloured by a trial condition."""

import numpy as np

from .conditions import check_pair, condition_values

__all__ = ['pca', 'plot_trajectories']

# At most this many distinct values get one discrete colour each; more get a colour map.
_MAX_DISCRETE = 10


def pca(points, n_components=2):
    """Principal axes of ``points`` ``(m, D)``.

    Returns ``(mean (D,), components (n_components, D), explained
    (n_components,))``, ``explained`` the fraction of the variance on each axis.

    Plain SVD of the centred points (numpy; no scikit-learn dependency for two axes).

    Examples
    --------
    >>> import numpy as np
    >>> points = np.array([[0.0, 0.0], [2.0, 0.1], [4.0, -0.1]])
    >>> mean, axes, explained = pca(points, 1)
    >>> np.round(np.abs(axes[0]), 1), round(float(explained[0]), 3)
    (array([1., 0.]), 0.998)
    """
    points = np.asarray(points, float)
    mean = points.mean(0)
    _, singular, vt = np.linalg.svd(points - mean, full_matrices=False)
    variance = singular ** 2
    return mean, vt[:n_components], variance[:n_components] / variance.sum()


def _flat_states(states, names):
    """Concatenate ``{name: (N, T, ...)}`` into ``(N, T, D)`` in the order of ``names``."""
    missing = [n for n in names if n not in states]
    if missing:
        raise ValueError(
            f'the prediction recorded {sorted(states)} but the fixed points are made of '
            f'{list(names)}; record them all (predict(..., record=True)).')
    first = states[names[0]]
    return np.concatenate([states[n].reshape(first.shape[:2] + (-1,)) for n in names], axis=-1)


def plot_trajectories(prediction, dataset, *, color_by='coherence', label=None, fixed_points=None,
                      states=None, n_trials=None, ax=None):
    """Plot each trial's hidden trajectory in the top two principal components.

    Parameters
    ----------
    prediction : Prediction
        From ``predict(..., record=True)`` on ``dataset``.
    dataset : datasets.TaskDataset
        The trials (their conditions colour the lines).
    color_by : str or array_like, optional
        A condition name or an ``(n_trials,)`` array. Numbers run along a
        colour map (blue-red when they change sign, as signed coherence does).
    label : str, optional
        What the colours mean, for the legend; default the condition's name.
    fixed_points : FixedPoints, optional
        Overlaid: filled circles for stable points, open for unstable ones.
    states : list of str, optional
        The recorded states to use; default the fixed points' states, else all.
    n_trials : int, optional
        Draw only the first this many trials (the PCA still uses all).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> import datasets
    >>> from trainer.analysis.prediction import predict
    >>> from trainer.models import RateRNN
    >>> ds = datasets.from_arrays(np.random.default_rng(0).normal(size=(6, 8, 2)), np.arange(6) % 2,
    ...                           conditions={'side': np.arange(6) % 2})
    >>> fig = plot_trajectories(predict(RateRNN(2, 5, 2), ds, record=True), ds, color_by='side')
    >>> len(fig.axes[0].lines)
    6
    """
    check_pair(prediction, dataset)
    if not prediction.states:
        raise ValueError('prediction has no recorded states; run predict(..., record=True).')
    names = states or ([n for n, _ in fixed_points.layout] if fixed_points is not None
                       else list(prediction.states))
    trajectories = _flat_states(prediction.states, list(names))
    values = condition_values(dataset, color_by, 'color_by')
    mean, axes, explained = pca(trajectories.reshape(-1, trajectories.shape[-1]))
    projected = (trajectories - mean) @ axes.T
    if ax is None:
        from matplotlib.figure import Figure
        ax = Figure(figsize=(5.5, 4.5), layout='constrained').subplots()
    label = label or (color_by if isinstance(color_by, str) else 'condition')
    colour, handles = _colours(ax, values, label)
    for trial in range(len(projected) if n_trials is None else min(n_trials, len(projected))):
        ax.plot(*projected[trial].T, lw=0.7, alpha=0.7, color=colour(values[trial]))
    ax.scatter(*projected[:, 0].T, s=6, color='0.4', zorder=2)  # where every trial starts
    if fixed_points is not None and len(fixed_points.unique):
        points = (fixed_points.unique - mean) @ axes.T
        stable = fixed_points.stable
        handles.append(ax.scatter(*points[stable].T, s=70, color='k', zorder=4,
                                  label='stable fixed point'))
        handles.append(ax.scatter(*points[~stable].T, s=70, facecolor='white', edgecolor='k',
                                  zorder=4, label='unstable fixed point'))
    ax.set(xlabel=f'PC1 ({explained[0]:.0%})', ylabel=f'PC2 ({explained[1]:.0%})'
           if len(explained) > 1 else 'PC2')
    if handles:
        ax.legend(handles=handles, title=label, loc='best', fontsize='small',
                  title_fontsize='small')
    return ax.figure


def _colours(ax, values, name):
    """``(value -> colour, legend handles)``: numbers along a colour map (diverging when they
    change sign), one legend entry per value when few, else a colour bar; labels from tab10."""
    import matplotlib
    from matplotlib.lines import Line2D
    distinct = np.unique(values)
    if values.dtype.kind in 'iuf':
        low, high = float(distinct[0]), float(distinct[-1])
        if low < 0 < high:
            cmap, bound = matplotlib.colormaps['coolwarm'], max(-low, high)
            norm = matplotlib.colors.Normalize(-bound, bound)
        else:
            cmap, norm = matplotlib.colormaps['viridis'], matplotlib.colors.Normalize(low, high)

        def colour(v):
            return cmap(norm(float(v)))
        if len(distinct) > _MAX_DISCRETE:
            ax.figure.colorbar(matplotlib.cm.ScalarMappable(norm, cmap), ax=ax, label=name)
            return colour, []
    else:
        palette, index = matplotlib.colormaps['tab10'], {v: i for i, v in enumerate(distinct.tolist())}

        def colour(v):
            return palette(index[v.item()] % 10)
    handles = [Line2D([], [], color=colour(v), label=f'{v:g}' if isinstance(v, float) else str(v))
               for v in distinct.tolist()]
    return colour, handles
