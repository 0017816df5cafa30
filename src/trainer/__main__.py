"""Command line: ``python -m trainer train|list``.

``train`` fits the built-in rate RNN (:class:`trainer.models.RateRNN`) to a
registered task and writes ``history.csv``, ``history.json``, ``curves.png``
and ``checkpoint.msgpack`` to ``--out``.
"""

import argparse
import os
import sys

DEFAULT_TASK = 'perceptual_decision_making'


def _parser():
    parser = argparse.ArgumentParser(prog='python -m trainer', description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('list', help='list the registered datasets')
    train = commands.add_parser('train', help='train a rate RNN on a registered task')
    train.add_argument('--task', default=DEFAULT_TASK, help=f'dataset name (default {DEFAULT_TASK})')
    train.add_argument('--n-trials', type=int, default=512, help='trials to generate (default 512)')
    train.add_argument('--held-out', type=float, default=0.2, help='held-out fraction (default 0.2)')
    train.add_argument('--epochs', type=int, default=20)
    train.add_argument('--batch-size', type=int, default=32)
    train.add_argument('--hidden', type=int, default=64, help='hidden units (default 64)')
    train.add_argument('--cell', default='gru', choices=['vanilla', 'gru', 'lstm'])
    train.add_argument('--lr', type=float, default=1e-2)
    train.add_argument('--seed', type=int, default=0)
    train.add_argument('--patience', type=int, default=None)
    train.add_argument('--compile-epoch', action='store_true', help='run each epoch as one compiled loop')
    train.add_argument('--out', default='runs/latest', help='output directory (default runs/latest)')
    train.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    train.add_argument('--no-compile-cache', action='store_true',
                       help="don't use JAX's persistent compilation cache")
    return parser


def enable_compile_cache(path=None):
    """Turn on JAX's persistent compilation cache (a warm start skips recompiling)."""
    import jax
    path = path or os.path.join(os.path.expanduser('~'), '.cache', 'brain-trainer', 'jax')
    jax.config.update('jax_compilation_cache_dir', path)
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
    jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)


def train(args):
    """Run the ``train`` command; returns the ``TrainResult``."""
    if not args.no_compile_cache:
        enable_compile_cache()
    import braintools
    import datasets
    from trainer import Trainer, metrics, objectives
    from trainer.models import RateRNN

    data = datasets.load_dataset(args.task, n_trials=args.n_trials, seed=args.seed)
    train_set, held_out = data.split(1.0 - args.held_out, seed=args.seed)
    classify = data.n_classes is not None
    n_output = data.n_classes if classify else data.targets.shape[-1]
    model = RateRNN(data.n_features, args.hidden, n_output, cell=args.cell, seed=args.seed)
    trainer = Trainer(
        model, braintools.optim.Adam(lr=args.lr),
        objective=objectives.cross_entropy() if classify else objectives.mse(),
        metrics={'acc': metrics.accuracy()} if classify else None,
        progress=not args.no_progress)
    print(f'{args.task}: {len(train_set)} train / {len(held_out)} held-out trials of '
          f'{data.n_steps} steps x {data.n_features} inputs, dt={data.dt}', flush=True)
    os.makedirs(args.out, exist_ok=True)
    result = trainer.fit(train_set, held_out=held_out, n_epochs=args.epochs,
                         batch_size=min(args.batch_size, len(train_set)), seed=args.seed,
                         patience=args.patience, compile_epoch=args.compile_epoch,
                         checkpoint=os.path.join(args.out, 'checkpoint.msgpack'))
    for row in result.history:
        print('  '.join(f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}'
                        for k, v in row.items() if v is not None))
    result.to_csv(os.path.join(args.out, 'history.csv'))
    result.to_json(os.path.join(args.out, 'history.json'))
    result.plot(os.path.join(args.out, 'curves.png'))
    print(f'best epoch {result.best_epoch}: {result.monitor}={result.best_value:.4g}; '
          f'wrote history, curves.png and checkpoint.msgpack to {args.out}')
    return result


def main(argv=None):
    """Entry point of ``python -m trainer``."""
    args = _parser().parse_args(argv)
    if args.command == 'list':
        import datasets
        for name, description in datasets.list_datasets():
            print(f'{name:40s} {description}')
        return 0
    train(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
