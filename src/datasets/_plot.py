"""Draw one trial: a person would rather look at a trial than read its arrays."""

import numbers

import numpy as np

from ._checks import dt_ms
from ._record import TaskDataset

__all__ = ['plot_trial']


def _shade_mask(ax, time, mask):
    """Shade the steps the loss scores, so the mask reads against the target."""
    top = float(mask.max()) if mask.max() > 0 else 1.0
    ax.fill_between(time, 0, mask / top, step='mid', alpha=0.2, color='tab:green',
                    transform=ax.get_xaxis_transform(), label='mask')


def plot_trial(dataset, index=0):
    """Plot trial ``index``: its inputs, its targets, and the loss mask.

    matplotlib is imported only here, and the figure is built without
    ``pyplot``, so this works headless (Agg) and leaves no global figure.

    Parameters
    ----------
    dataset : TaskDataset
        The trials.
    index : int, optional
        Which trial (default 0).

    Returns
    -------
    matplotlib.figure.Figure
        Top: inputs (lines for up to 8 features, else a heat map). Bottom:
        targets (labels as a step line, values as lines) with the mask shaded.

    Examples
    --------
    >>> import datasets
    >>> ds = datasets.load_dataset('delayed_match_task', n_trials=4)
    >>> fig = datasets.plot_trial(ds, 0)
    >>> len(fig.axes)
    2
    """
    from matplotlib.figure import Figure
    if not isinstance(dataset, TaskDataset):
        raise TypeError(f'dataset must be a TaskDataset, got {type(dataset).__name__}.')
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) \
            or not -len(dataset) <= index < len(dataset):
        raise IndexError(f'index must be an int in [0, {len(dataset)}), got {index!r}.')
    trial = dataset[index]
    step = dt_ms(dataset.dt)
    time = np.arange(dataset.n_steps) * step

    fig = Figure(figsize=(8, 5), layout='constrained')
    ax_in, ax_out = fig.subplots(2, 1, sharex=True)
    inputs = trial.inputs[0]
    if dataset.n_features <= 8:
        for k in range(dataset.n_features):
            ax_in.plot(time, inputs[:, k], lw=1, label=f'input {k}')
        ax_in.legend(loc='upper right', fontsize='small', ncols=min(4, dataset.n_features))
    else:
        image = ax_in.imshow(inputs.T, aspect='auto', origin='lower', interpolation='nearest',
                             extent=(time[0] - step / 2, time[-1] + step / 2,
                                     -0.5, dataset.n_features - 0.5))
        fig.colorbar(image, ax=ax_in, label='input')
        ax_in.set_ylabel('feature')
    ax_in.set_title(f'{dataset.name or "trial"} [{int(index) % len(dataset)}]: '
                    f'{dataset.description}', fontsize='small', loc='left')

    targets = trial.targets[0]
    if targets.ndim == 0:
        ax_out.axhline(int(targets), color='k', lw=1.5, label=f'label {int(targets)} (whole trial)')
    elif targets.ndim == 1:
        ax_out.step(time, targets, where='mid', color='k', lw=1.5, label='label')
        ax_out.set_yticks(range(dataset.n_classes or int(targets.max()) + 1))
    else:
        for k in range(targets.shape[1]):
            ax_out.plot(time, targets[:, k], lw=1.5, label=f'target {k}')
    if trial.mask is not None:
        _shade_mask(ax_out, time, trial.mask[0])
    ax_out.set_ylabel('label' if dataset.n_classes is not None else 'target')
    ax_out.set_xlabel('time (ms)')
    ax_out.legend(loc='upper left', fontsize='small')
    return fig
