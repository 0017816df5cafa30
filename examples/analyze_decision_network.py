"""Open a trained decision network: psychometric curve, accuracy per coherence, fixed points.

A GRU learns perceptual decision making (``braintools.cogtask``). We then ask
what it does (choices against signed coherence, accuracy per coherence) and
how (its hidden trajectories in two principal components, with the fixed
points of its dynamics under a zero-coherence stimulus: one attractor per
choice). Three PNGs are saved in the folder the script is run from.

Run: ``python examples/analyze_decision_network.py [--epochs N] [--out DIR]``
"""

import argparse
import os

import braintools
import matplotlib

matplotlib.use('Agg')
import numpy as np

import datasets
from trainer import Trainer, analysis, metrics, objectives
from trainer.models import RateRNN


def load(n_trials, seed):
    # cogtask's defaults: 2 s of stimulus at noise 1. A shorter or noisier stimulus grades the
    # psychometric curve more, but (we tried 0.4-2 s at noise 1-5, three seeds each) the trained
    # networks are then often biased, and at zero coherence keep one attractor, not two.
    return datasets.load_dataset('perceptual_decision_making', n_trials=n_trials, seed=seed)


def train(n_epochs=8, n_trials=768, n_hidden=32, seed=0):
    """A GRU trained on perceptual decision making; returns ``(trainer, held_out, result)``."""
    data = load(n_trials, seed)
    train_set, held_out = data.split(0.75, seed=seed)
    model = RateRNN(data.n_features, n_hidden, data.n_classes, cell='gru', seed=seed)
    trainer = Trainer(model, braintools.optim.Adam(lr=1e-2), objective=objectives.cross_entropy(),
                      metrics={'acc': metrics.accuracy()}, grad_clip_norm=1.0, progress=False)
    result = trainer.fit(train_set, held_out=held_out, n_epochs=n_epochs, batch_size=64,
                         compile_epoch=True)
    return trainer, held_out, result


def zero_coherence_input(dataset):
    """The mean input on stimulus steps (fixation on, stimulus shown) of zero-coherence trials."""
    trials = dataset.inputs[dataset.conditions['coherence'] == 0]
    stimulus = (trials[..., 0] > 0) & (np.abs(trials[..., 1:]).sum(-1) > 0)
    return trials[stimulus].mean(0)


def main(out='.', n_epochs=8, n_trials=768, n_hidden=32, n_test=1024):
    os.makedirs(out, exist_ok=True)
    trainer, _, result = train(n_epochs, n_trials, n_hidden)
    print(result)

    # Fresh trials (another seed), enough for ~100 per signed-coherence level.
    test = load(n_test, seed=1)
    prediction = trainer.predict(test, record=True)
    print(prediction)
    table = analysis.per_condition(prediction, test, by='coherence')
    print(table)

    curve = analysis.psychometric(prediction, test, evidence='coherence', sign='ground_truth')
    print(curve)
    curve.plot().savefig(os.path.join(out, 'decision_psychometric.png'), dpi=110)

    starts = analysis.sample_states(prediction, 128, seed=0)
    drive = zero_coherence_input(test)
    fixed = analysis.fixed_points(trainer.model, drive, starts, dt=test.dt)
    print(fixed)
    for k, (label, point_q) in enumerate(zip(fixed.labels, fixed.unique_q)):
        print(f'  point {k}: {label:8s} q={point_q:.1e}  max|eigenvalue|='
              f'{abs(fixed.eigenvalues[k, 0]):.4f}  readout favours choice '
              f'{int(np.argmax(fixed.outputs[k, 1:])) + 1}')

    signed = np.where(test.conditions['ground_truth'] == 1, 1, -1) * test.conditions['coherence']
    fig = analysis.plot_trajectories(prediction, test, color_by=signed, label='signed coherence',
                                     fixed_points=fixed, n_trials=300)
    fig.axes[0].set_title('GRU hidden states; fixed points under a zero-coherence stimulus',
                          fontsize='small')
    fig.savefig(os.path.join(out, 'decision_trajectories.png'), dpi=110)

    from matplotlib.figure import Figure
    fig = Figure(figsize=(4.5, 3.2), layout='constrained')
    ax = fig.subplots()
    ax.bar([f'{row["coherence"]:g}' for row in table], [row['accuracy'] for row in table],
           color='tab:blue')
    for k, row in enumerate(table):
        ax.text(k, row['accuracy'] + 0.01, f'n={row["n"]}', ha='center', fontsize='x-small')
    ax.axhline(0.5, color='0.6', ls=':', lw=0.8)
    ax.set(xlabel='coherence (%)', ylabel='accuracy (choice)', ylim=(0, 1.08))
    fig.savefig(os.path.join(out, 'decision_accuracy_by_coherence.png'), dpi=110)
    return {'result': result, 'prediction': prediction, 'table': table, 'curve': curve,
            'fixed_points': fixed, 'fixed_point_input': drive, 'test': test,
            'model': trainer.model}


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='.')
    parser.add_argument('--epochs', type=int, default=8)
    args = parser.parse_args()
    main(args.out, args.epochs)
