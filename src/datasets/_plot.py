"""Draw one trial: a person would rather look at a trial than read its arrays."""

import numbers
import textwrap

import numpy as np

from ._checks import dt_ms
from ._record import TaskDataset

__all__ = ['plot_trial']


def _shade_mask(ax, edges, mask):
    """Shade the steps the loss scores, so the mask reads against the target."""
    top = float(mask.max()) if mask.max() > 0 else 1.0
    ax.stairs(mask / top, edges, fill=True, alpha=0.2, color='tab:green',
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
        Top: inputs (steps for up to 8 features, else a heat map). Bottom:
        targets (labels as a step line, values as lines) with the mask
        shaded; a per-trial label is drawn across the trial and marked where
        it is scored (the masked steps, else the last step).

    In a script, save the figure (``fig.savefig('trial.png')``); in a
    notebook it shows as the cell's value.

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
    edges = (np.arange(dataset.n_steps + 1) - 0.5) * step  # step k holds over time[k] +- step/2

    fig = Figure(figsize=(8, 5), layout='constrained')
    ax_in, ax_out = fig.subplots(2, 1, sharex=True)
    inputs = trial.inputs[0]
    if dataset.n_features <= 8:
        for k in range(dataset.n_features):  # an input holds for its whole step: draw stairs
            ax_in.stairs(inputs[:, k], edges, baseline=None, lw=1, label=f'input {k}')
        ax_in.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize='small')
    else:
        image = ax_in.imshow(inputs.T, aspect='auto', origin='lower', interpolation='nearest',
                             extent=(edges[0], edges[-1], -0.5, dataset.n_features - 0.5))
        fig.colorbar(image, ax=ax_in, label='input')
        ax_in.set_ylabel('feature')
    title = f'{dataset.name or "trial"} [{int(index) % len(dataset)}]: {dataset.description}'
    # Wrapped to the figure's width: one long line would be clipped on the right.
    ax_in.set_title(textwrap.fill(title, 90), fontsize='small', loc='left')

    targets = trial.targets[0]
    if targets.ndim == 0:
        label = int(targets)
        ax_out.hlines(label, edges[0], edges[-1], color='k', lw=1.5, ls='--',
                      label=f'label {label} (one per trial)')
        scored = time[trial.mask[0] > 0] if trial.mask is not None else time[-1:]
        ax_out.plot(scored, np.full_like(scored, label, dtype=float), 'o', color='k', ms=5,
                    label='scored here' + ('' if trial.mask is not None else ' (last step)'))
        n_classes = dataset.n_classes or label + 1
        ax_out.set_yticks(range(n_classes))
        ax_out.set_ylim(-0.5, n_classes - 0.5)  # the label sits inside the panel, not on its border
    elif targets.ndim == 1:
        ax_out.stairs(targets, edges, baseline=None, color='k', lw=1.5, label='label')
        n_classes = dataset.n_classes or int(targets.max()) + 1
        ax_out.set_yticks(range(n_classes))
        ax_out.set_ylim(-0.5, n_classes - 0.5)
    else:
        for k in range(targets.shape[1]):
            ax_out.plot(time, targets[:, k], lw=1.5, label=f'target {k}')
    if trial.mask is not None:
        _shade_mask(ax_out, edges, trial.mask[0])
    ax_out.set_ylabel('label' if dataset.n_classes is not None else 'target')
    ax_out.set_xlabel('time (ms)')
    ax_out.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize='small')
    return fig
