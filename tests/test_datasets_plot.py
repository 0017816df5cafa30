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
    # Inputs are stairs: each step's value held over its whole step, centred on its time.
    values, edges, _ = ax_in.patches[1].get_data()
    np.testing.assert_array_equal(values, ds.inputs[1, :, 1])
    np.testing.assert_allclose(edges, np.arange(21) * 20.0 - 10.0)
    label, mask = ax_out.patches  # the label's stairs, then the shaded mask
    np.testing.assert_array_equal(label.get_data().values, labels[1])
    np.testing.assert_array_equal(mask.get_data().values, labels[1] > 0)
    assert ax_out.get_ylim() == (-0.5, 2.5)  # label 0 sits inside the panel, not on its border
    assert 'toy [1]' in ax_in.get_title(loc='left')
    fig.savefig(__import__('io').BytesIO(), format='png')  # renders without a display


def test_plots_many_features_as_a_heat_map_and_values_as_lines():
    ds = datasets.from_arrays(np.random.default_rng(1).random((2, 10, 12)), np.ones((2, 10, 3)))
    fig = datasets.plot_trial(ds, -1)
    ax_in, ax_out = fig.axes[:2]
    np.testing.assert_array_equal(ax_in.images[0].get_array(), ds.inputs[1].T)
    assert len(ax_out.lines) == 3


@pytest.mark.parametrize('index', [0, 1, 2, 3])
def test_plots_a_per_trial_label_as_a_level_marked_where_scored(index):
    ds = datasets.delayed_match_task(4, seed=0)
    ax_out = datasets.plot_trial(ds, index).axes[1]
    (level,) = ax_out.collections[0].get_segments()
    assert set(level[:, 1]) == {ds.targets[index]}  # across the whole trial
    scored = ax_out.lines[0]  # no mask: a per-trial label is scored at the last step
    assert list(scored.get_xdata()) == [ds.n_steps - 1] and list(scored.get_ydata()) == [ds.targets[index]]
    low, high = ax_out.get_ylim()
    assert low + 0.25 < ds.targets[index] < high - 0.25  # visible, not on the panel's border


def test_long_title_is_wrapped_inside_the_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    ds = datasets.load_dataset('perceptual_decision_making', n_trials=2)
    fig = datasets.plot_trial(ds, 0)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    ax = fig.axes[0]
    (title,) = [t for t in ax.get_children() if getattr(t, 'get_text', None)
                and t.get_text() == ax.get_title(loc='left')]
    box = title.get_window_extent(canvas.get_renderer())
    assert len(ds.description) > 60 and '\n' in title.get_text()
    assert 0 <= box.x0 and box.x1 <= fig.bbox.x1, (box, fig.bbox)


@pytest.mark.parametrize('dataset, index, error',
                         [(np.zeros((2, 3, 1)), 0, TypeError), (None, 4, IndexError),
                          (None, 1.0, IndexError)],
                         ids=['not_a_dataset', 'out_of_range', 'float_index'])
def test_bad_arguments(dataset, index, error):
    with pytest.raises(error):
        datasets.plot_trial(datasets.delayed_match_task(4) if dataset is None else dataset, index)
