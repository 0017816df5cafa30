"""The command line's sweep pieces: ``python -m trainer sweep`` and ``train --tensorboard/--mlflow``."""

import os

__all__ = ['add_sweep_command', 'add_tracking_flags', 'sweep_command', 'tracking_callbacks']


def add_tracking_flags(add):
    """``--tensorboard DIR`` and ``--mlflow URI`` for ``train`` (``add`` is its ``add_argument``)."""
    add('--tensorboard', metavar='DIR', help='log the metrics, learning rate and curves to TensorBoard in DIR '
                                              '(needs the tracking extra)')
    add('--mlflow', metavar='URI', help='log params, metrics, checkpoint and curves to an MLflow run at this '
                                        'tracking URI, e.g. sqlite:///mlflow.db (needs the tracking extra)')
    add('--mlflow-experiment', metavar='NAME', help='the MLflow experiment (default: the task)')


def tracking_callbacks(args, recipe, out):
    """The callbacks ``train``'s tracking flags ask for (none on processes other than 0's folder-less ones)."""
    from ..callbacks import MLflow, TensorBoard
    callbacks = []
    if args.tensorboard is not None:
        callbacks.append(TensorBoard(args.tensorboard))
    if args.mlflow is not None:
        callbacks.append(MLflow(args.mlflow_experiment or args.task, tracking_uri=args.mlflow, recipe=recipe,
                                run_name=None if out is None else os.path.basename(os.path.normpath(out))))
    return callbacks


def add_sweep_command(commands, formatter, positive_int, seed_int):
    """The ``sweep`` sub-command's parser."""
    sweep = commands.add_parser(
        'sweep', help='search hyper-parameters with Optuna, K trials per compiled program',
        formatter_class=formatter, allow_abbrev=False,
        description='Search learning rate, weight decay, hidden size, batch size and clipping of a task\'s '
                    'recipe with an Optuna study in an RDB storage: trials that differ only in lr and weight '
                    'decay train K at a time as one compiled ensemble; unpromising ones are pruned on the '
                    'held-out score. Run it again (or on several machines with one storage) to continue the '
                    'study: finished trials are never trained again.')
    add = sweep.add_argument
    add('--task', metavar='NAME', required=True, help='dataset name (see `python -m trainer list`)')
    add('--trials', metavar='N', type=positive_int, required=True, help='finished trials the study should reach')
    add('--storage', metavar='URL', default='sqlite:///study.db', help='Optuna RDB storage')
    add('--study-name', metavar='NAME', help='default: the task')
    add('--members', metavar='K', type=positive_int, default=8, help='trials per compiled program')
    add('--epochs', metavar='N', type=positive_int, help='epochs per trial (default: the recipe\'s)')
    add('--seed', metavar='SEED', type=seed_int, default=0, help='seed of the data, weights and shuffles')
    add('--n-trials', metavar='N', type=positive_int,
        help="task trials to generate (default: the task's recipe)")
    add('--space', metavar='NAMES', default=None,
        help='comma-separated subset of lr,weight_decay,hidden,batch_size,grad_clip_norm to search '
             '(default: all)')
    add('--no-prune', action='store_true', help='train every trial to the end')
    return sweep


def sweep_command(args, say):
    """Run ``sweep``; prints one line per program and the best trial."""
    from ..recipes import recipe_for
    from .space import DEFAULT_SPACE
    from .study import sweep
    recipe = recipe_for(args.task)
    if args.n_trials is not None:
        recipe = recipe.replace(n_trials=args.n_trials, batch_size=min(recipe.batch_size, int(
            round((1 - recipe.held_out) * args.n_trials))))
    space = None
    if args.space is not None:
        names = [n.strip() for n in args.space.split(',') if n.strip()]
        unknown = [n for n in names if n not in DEFAULT_SPACE]
        if unknown or not names:
            raise ValueError(f"--space {args.space!r}: choose among {', '.join(DEFAULT_SPACE)}")
        space = {n: DEFAULT_SPACE[n] for n in names}
    result = sweep(args.task, n_trials=args.trials, storage=args.storage, study_name=args.study_name,
                   members=args.members, n_epochs=args.epochs, seed=args.seed, space=space,
                   pruner=None if args.no_prune else 'median', recipe=recipe, log=say)
    best = 'none' if result.best_value is None else f'{result.best_value:.4g}'
    say(f'{len(result.trained)} trials trained in {result.n_programs} programs, {result.wall_s:.1f} s; '
        f'the study has {len(result.study.trials)} trials')
    say(f'best: {result.monitor}={best} with {result.best_params}')
    return result
