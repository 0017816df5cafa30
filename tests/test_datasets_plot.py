"""plot_trial: one figure per trial, headless, drawing that trial's arrays."""

import numpy as np
import pytest

import datasets


def test_plots_inputs_and_per_step_labels_with_the_mask():
    from matplotlib.figure import Figure
    rng = np.random.default_rng(0)
    labels = np.zeros((3, 20), int)
    labels[:, 15:] = [[1], [2], [1]]
    ds = datasets.from_arrays(rng.random((3, 20, 2)), labels, labels > 0, dt=20.0, name='toy')
    fig = datasets.plot_trial(ds, 1)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    ax_in, ax_out = fig.axes
    np.testing.assert_array_equal(ax_in.lines[1].get_ydata(), ds.inputs[1, :, 1])
    np.testing.assert_array_equal(ax_in.lines[0].get_xdata(), np.arange(20) * 20.0)
    np.testing.assert_array_equal(ax_out.lines[0].get_ydata(), labels[1])
    assert len(ax_out.collections) == 1  # the shaded mask
    assert 'toy [1]' in ax_in.get_title(loc='left')
    fig.savefig(__import__('io').BytesIO(), format='png')  # renders without a display


def test_plots_many_features_as_a_heat_map_and_values_as_lines():
    ds = datasets.from_arrays(np.random.default_rng(1).random((2, 10, 12)), np.ones((2, 10, 3)))
    fig = datasets.plot_trial(ds, -1)
    ax_in, ax_out = fig.axes[:2]
    np.testing.assert_array_equal(ax_in.images[0].get_array(), ds.inputs[1].T)
    assert len(ax_out.lines) == 3


def test_plots_a_per_trial_label_as_a_level():
    ds = datasets.delayed_match_task(4, seed=0)
    ax_out = datasets.plot_trial(ds, 2).axes[1]
    assert ax_out.lines[0].get_ydata()[0] == ds.targets[2]


@pytest.mark.parametrize('dataset, index, error',
                         [(np.zeros((2, 3, 1)), 0, TypeError), (None, 4, IndexError),
                          (None, 1.0, IndexError)],
                         ids=['not_a_dataset', 'out_of_range', 'float_index'])
def test_bad_arguments(dataset, index, error):
    with pytest.raises(error):
        datasets.plot_trial(datasets.delayed_match_task(4) if dataset is None else dataset, index)
