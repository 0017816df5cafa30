"""``TrainResult.plot``: whole-epoch ticks, no pyplot state left behind."""

import matplotlib.pyplot as plt
import pytest

from trainer import TrainResult


def result(n_epochs):
    history = [{'epoch': e, 'loss': 1.0 / e, 'acc': 0.5, 'held_out_loss': 1.2 / e,
                'held_out_acc': 0.4, 'lr': 0.01, 'time': 0.1} for e in range(1, n_epochs + 1)]
    return TrainResult(history, 'held_out_loss', n_epochs, 1.2 / n_epochs, {}, False, {}, None)


@pytest.mark.parametrize('n_epochs', [2, 3, 7, 20, 150])
def test_epoch_ticks_are_whole_numbers(n_epochs, tmp_path):
    fig = result(n_epochs).plot(tmp_path / 'curves.png')
    assert (tmp_path / 'curves.png').stat().st_size > 5000
    assert [ax.get_title() for ax in fig.axes] == ['loss', 'acc']
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        shown = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert len(shown) >= 2 and all(float(t).is_integer() for t in shown), shown


def test_plot_leaves_no_pyplot_figure_open():
    plt.close('all')
    result(3).plot()
    assert plt.get_fignums() == []
