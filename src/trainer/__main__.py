"""Command line: ``python -m trainer train|sweep|list``.

``train`` fits the built-in rate RNN (:class:`trainer.models.RateRNN`) to a
registered task and writes ``history.csv``, ``history.json``, ``curves.png``
and ``checkpoint.msgpack`` into a new folder ``runs/<task>-<timestamp>``
(``runs/latest`` points at the newest), or into ``--out``. ``list`` shows
the registered datasets, tasks apart from fixed targets. ``sweep`` runs an
Optuna study over a task's hyper-parameters (:func:`trainer.sweep`).
"""

import argparse
import difflib
import inspect
import math
import os
import sys
import textwrap
import time

from trainer.core.compile_cache import enable_compile_cache  # noqa: F401  (conftest uses it from here)
from trainer.loop.result import BOOKKEEPING, headline
from trainer.sweeps.cli import add_sweep_command, add_tracking_flags, sweep_command, tracking_callbacks

WIDTH = 80  # every line the command prints fits a default terminal

DEFAULTS = {'task': 'perceptual_decision_making', 'seed': 0}
"""The defaults of ``train`` that no recipe sets; every other flag defaults to the task's
recipe (:func:`trainer.recipes.recipe_for`), and a flag given overrides it."""

# flag (argparse dest) -> Recipe field
RECIPE_FLAGS = {'n_trials': 'n_trials', 'held_out': 'held_out', 'epochs': 'n_epochs',
                'batch_size': 'batch_size', 'hidden': 'hidden', 'cell': 'cell', 'lr': 'lr',
                'patience': 'patience', 'compile_epoch': 'compile_epoch', 'clip': 'grad_clip_norm'}
FILES = ('history.csv', 'history.json', 'curves.png', 'checkpoint.msgpack')


class UsageError(Exception):
    """A bad flag: printed as one ``error: ...`` line, exit status 2."""


class TrainingFailed(Exception):
    """Training stopped on a NaN or infinite loss: one ``error: ...`` line, exit status 1."""


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action):
        # A None default is "not given"; the help text says what that means.
        return action.help if action.default is None else super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        hint = f' (see `{self.prog} --help`)'
        raise UsageError(message + hint if len(message + hint) <= WIDTH - 7 else message)


def _number(kind, rule, accept):
    """An argparse type: ``kind(text)`` that ``accept`` passes, else a message with ``rule``."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f'must be {rule}, got {text!r}')
        return value
    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


positive_int = _number(int, 'a positive integer', lambda v: v >= 1)
seed_int = _number(int, 'a non-negative integer', lambda v: v >= 0)
fraction = _number(float, 'a fraction in (0, 1)', lambda v: 0 < v < 1)
cell_name = _number(str, 'one of vanilla, gru, lstm', lambda v: v in ('vanilla', 'gru', 'lstm'))
positive_float = _number(float, 'a positive finite number', lambda v: math.isfinite(v) and v > 0)
_device_count = _number(int, "'all' or a positive integer", lambda v: v >= 1)


def devices_arg(text):
    """``--devices``: ``'all'`` or a positive int."""
    return 'all' if text == 'all' else _device_count(text)


def _parser():
    formatter = _Formatter
    parser = _Parser(prog='python -m trainer', formatter_class=formatter, allow_abbrev=False,
                     description=(
        'Train brain-dynamics models on registered tasks. `train` fits a rate RNN and '
        'writes its history, curves and checkpoint to runs/<task>-<timestamp> '
        '(runs/latest points at the newest); `list` shows the datasets.'))
    commands = parser.add_subparsers(dest='command', required=True, metavar='{train,sweep,list}')
    commands.add_parser('list', help='list the registered datasets', formatter_class=formatter,
                        allow_abbrev=False,
                        description='List the registered datasets: tasks `train` can fit, '
                                    'then fixed targets (fit those with trainer.Fitter).')
    train = commands.add_parser(
        'train', help='train a rate RNN on a registered task', formatter_class=formatter,
        allow_abbrev=False,
        description='Train a rate RNN (GRU, LSTM or vanilla cell, linear readout) on a '
                    'registered task at its recipe (trials, epochs, batch, hidden size, cell, '
                    'learning rate and schedule, clipping, and a curriculum where it needs one; '
                    '`list` shows each), with held-out evaluation every epoch. Any flag given '
                    'overrides the recipe. Classification tasks use cross-entropy and accuracy; '
                    'direction reproduction mean squared error and the angular error.')
    add = train.add_argument
    add('--task', metavar='NAME', help='dataset name (see `python -m trainer list`), or many tasks in one '
        'network: a collection (yang8) or multitask:<task>,<task>,...')
    recipe = ' (default: the task\'s recipe)'
    add('--n-trials', metavar='N', type=positive_int, help='trials to generate' + recipe)
    add('--held-out', metavar='FRACTION', type=fraction,
        help='share of the trials held out for evaluation' + recipe)
    add('--epochs', metavar='N', type=positive_int,
        help='epochs in all, curriculum stages included' + recipe)
    add('--batch-size', metavar='N', type=positive_int,
        help='trials per step (at most the training trials)' + recipe)
    add('--hidden', metavar='N', type=positive_int, help='hidden units of the RNN' + recipe)
    add('--cell', metavar='{vanilla,gru,lstm}', type=cell_name, help='recurrent cell' + recipe)
    add('--lr', metavar='LR', type=positive_float, help='(peak) learning rate of Adam' + recipe)
    add('--clip', metavar='NORM', type=positive_float,
        help='clip the gradients to this global norm' + recipe)
    add('--seed', metavar='SEED', type=seed_int,
        help='seed of the trials, the split, the shuffle and the weights')
    add('--patience', metavar='N', type=positive_int,
        help='stop after this many epochs without a better held-out value' + recipe)
    add('--compile-epoch', action='store_const', const=True, default=None,
        help='run each epoch as one compiled loop' + recipe)
    add('--steps-per-epoch', metavar='N', type=positive_int,
        help='multitask: batches of fresh trials per epoch (default: the recipe\'s)')
    add('--no-rule-input', action='store_true',
        help='multitask: train without the one-hot input naming the task')
    add('--ensemble', metavar='K', type=positive_int,
        help='train K networks (seeds SEED..SEED+K-1) in one compiled program on the final task '
             '(no curriculum); writes the across-seed summary and a plot')
    add('--devices', metavar='all|N', type=devices_arg,
        help='split each batch over these devices (data parallel; default: one device)')
    add('--coordinator', metavar='HOST:PORT',
        help='address of process 0 of a multi-process run (with --num-processes, --process-id)')
    add('--num-processes', metavar='P', type=positive_int, help='processes of a multi-process run')
    add('--process-id', metavar='I', type=seed_int, help="this process's rank (0 writes the files)")
    add('--distributed', action='store_true',
        help='join a multi-process run whose coordinator, size and rank JAX detects (SLURM srun)')
    add('--resume', metavar='CHECKPOINT',
        help='continue the run that wrote this checkpoint.msgpack (same task, flags and seed), '
             'in its curriculum stage, at its epoch')
    add('--out', metavar='DIR', help='output folder (default: a new runs/<task>-<timestamp>)')
    add('--runs-dir', metavar='DIR', default='runs',
        help='parent of the per-run folders and of `latest`')
    add('--overwrite', action='store_true', help='write into a non-empty --out')
    add('--no-progress', action='store_true', help='hide the progress display')
    add('--no-compile-cache', action='store_true',
        help="don't use JAX's persistent compilation cache (~/.cache/brain-trainer/jax)")
    add_tracking_flags(add)
    train.set_defaults(**DEFAULTS)
    add_sweep_command(commands, formatter, positive_int, seed_int)
    return parser


def say(text, indent='  '):
    """Print ``text`` wrapped to ``WIDTH`` columns (continuation lines indented)."""
    print(textwrap.fill(text, WIDTH, subsequent_indent=indent, break_on_hyphens=False), flush=True)


def takes_trials(name):
    """Whether ``train`` can fit dataset ``name``: its loader generates ``n_trials`` trials.

    Fixed targets (one recorded trial, such as ``steady_state_target``)
    cannot be split into training and held-out trials.
    """
    import datasets
    try:  # the loader's signature is the only record of it
        params = inspect.signature(datasets.loader_of(name)).parameters.values()
    except (TypeError, ValueError):  # a callable without a signature: let `train` try it
        return True
    return any(p.name == 'n_trials' or p.kind is p.VAR_KEYWORD for p in params)


def list_command():
    """Print the registered datasets: tasks first, then fixed targets."""
    import datasets
    entries = datasets.list_datasets()
    groups = [('Tasks (python -m trainer train --task NAME):',
               [e for e in entries if takes_trials(e[0])]),
              ('Fixed targets (one trial each; fit them with trainer.Fitter):',
               [e for e in entries if not takes_trials(e[0])])]
    for title, group in groups:
        if group:
            print(title)
            for name, description in group:
                print(f'  {name}')
                print(textwrap.fill(description, WIDTH, initial_indent=' ' * 6,
                                    subsequent_indent=' ' * 6))
                if group is groups[0][1]:
                    print(textwrap.fill('recipe: ' + _recipe_line(name), WIDTH, initial_indent=' ' * 6,
                                        subsequent_indent=' ' * 8))


def _recipe_line(name):
    from trainer.recipes import recipe_for
    try:
        return recipe_for(name).describe()
    except (KeyError, ValueError):  # a name only brainmass's registry holds
        return 'the default recipe'


def _check_task(name):
    import datasets
    names = [n for n, _ in datasets.list_datasets()]
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f'did you mean {close[0]!r}?' if close else 'see `python -m trainer list`'
        raise UsageError(f'--task {name!r} is unknown; {hint}')
    if not takes_trials(name):
        raise UsageError(f'--task {name} is a fixed target; fit it with trainer.Fitter')


def _make_folder(folder, flag):
    """Create ``folder`` and check a file can be written in it, or raise naming ``flag``."""
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, f'.probe-{os.getpid()}')
        with open(probe, 'wb'):
            pass
        os.remove(probe)
    except OSError as error:
        raise UsageError(f'{flag} {folder}: not writable ({error.strerror or error}); '
                         f'pass another folder') from None


def _run_folder(args):
    """Create this run's folder; return it and whether ``latest`` now points at it.

    A run never mixes its files with an earlier run's: ``--out`` must be new
    or empty (unless ``--overwrite``); the default is a new timestamped folder.
    """
    if args.out is not None:
        if os.path.isfile(args.out):
            raise UsageError(f'--out {args.out} is a file; pass a folder')
        if os.path.isdir(args.out) and os.listdir(args.out) and not args.overwrite:
            raise UsageError(
                f'--out {args.out} already holds files; pass --overwrite or a new --out')
        _make_folder(args.out, '--out')
        return args.out, False
    name = args.task.replace('multitask:', 'multitask-').replace(',', '+')
    stem = os.path.join(args.runs_dir, f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    out, n = stem, 1
    while os.path.exists(out):  # two runs started in the same second
        n += 1
        out = f'{stem}-{n}'
    _make_folder(out, '--runs-dir')
    latest = os.path.join(args.runs_dir, 'latest')
    link = os.path.join(args.runs_dir, f'.latest-{os.getpid()}')
    try:  # replace the link in one step, so `latest` is never missing
        os.symlink(os.path.basename(out), link)
        os.replace(link, latest)
    except OSError:  # no symlinks here, or `latest` is a real folder: leave it
        if os.path.lexists(link):
            os.remove(link)
        return out, False
    return out, True


def history_table(result, width=WIDTH):
    """The history as a fixed-width table (``*`` marks the best epoch), at most ``width`` wide."""
    rows = result.history
    keys = [k for k in headline(rows[0]) if k not in BOOKKEEPING]  # per-task columns are in history.csv
    if len({row.get('stage') for row in rows}) > 1:
        keys.insert(0, 'stage')  # a curriculum moved on (history.csv always keeps the column)
    if len({row['lr'] for row in rows}) > 1:
        keys.append('lr')
    cell = lambda v: '-' if v is None else f'{v:.4g}' if isinstance(v, float) else str(v)
    mark = lambda r: '*' if r['epoch'] == result.best_epoch else ' '
    columns = [('epoch', [f"{r['epoch']}{mark(r)}" for r in rows])]
    columns += [(k, [cell(r[k]) for r in rows]) for k in keys]
    columns.append(('time', [f"{r['time']:.1f}s" for r in rows]))
    widths = [max(len(name), *map(len, values)) for name, values in columns]
    while sum(widths) + 2 * (len(widths) - 1) > width and len(columns) > 2:
        columns.pop(-2), widths.pop(-2)  # the rest are in history.csv
    lines = ['  '.join(name.rjust(w) for (name, _), w in zip(columns, widths))]
    for i in range(len(rows)):
        lines.append('  '.join(values[i].rjust(w) for (_, values), w in zip(columns, widths)))
    return '\n'.join(lines)


def _where(out, linked):
    """The closing lines: which files, then (the last line) the folder they are in."""
    folder = out.rstrip(os.sep) + os.sep
    also = f" (also {os.path.join(os.path.dirname(out.rstrip(os.sep)), 'latest')}{os.sep})"
    last = f'to {folder}' + (also if linked and len(folder + also) + 3 <= WIDTH else '')
    return f"wrote {', '.join(FILES[:-1])} and {FILES[-1]}\n{last}"


def _ms(dt):
    import brainunit as u
    return float(u.get_magnitude(dt.to_decimal(u.ms) if isinstance(dt, u.Quantity) else dt))


def recipe_of(args):
    """The task's recipe with the flags given applied (a flag left out keeps the recipe's value)."""
    from trainer.recipes import recipe_for
    overrides = {field: getattr(args, flag) for flag, field in RECIPE_FLAGS.items()
                 if getattr(args, flag) is not None}
    try:
        recipe = recipe_for(args.task)
        n_trials, held_out = overrides.get('n_trials', recipe.n_trials), overrides.get('held_out', recipe.held_out)
        n_held_out = round(n_trials * held_out)
        if n_held_out < 1 or n_held_out >= n_trials:
            raise UsageError(f'--n-trials {n_trials} x --held-out {held_out} leaves '
                             f'{n_held_out} held-out trials; raise --n-trials')
        if 'batch_size' not in overrides:  # fewer trials than the recipe's batch: one batch of them all
            overrides['batch_size'] = min(recipe.batch_size, int(round((1 - held_out) * n_trials)))
        return recipe.replace(**overrides)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None


def _join_processes(args):
    given = [args.coordinator is not None, args.num_processes is not None, args.process_id is not None]
    if any(given) and not all(given):
        raise UsageError('a multi-process run needs --coordinator, --num-processes and --process-id')
    if all(given) and args.process_id >= args.num_processes:
        raise UsageError(f'--process-id {args.process_id} is out of range for --num-processes '
                         f'{args.num_processes}; ranks are 0 to {args.num_processes - 1}')
    if all(given):
        host, _, port = args.coordinator.rpartition(':')
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise UsageError(f'--coordinator {args.coordinator} must be HOST:PORT, e.g. '
                             f'{host or args.coordinator}:1234')
    if all(given) or args.distributed:
        from trainer import distributed
        distributed.initialize(args.coordinator, num_processes=args.num_processes,
                               process_id=args.process_id)


def _check_resume(path):
    """Refuse, before anything is written, a checkpoint that ``train --resume`` cannot continue."""
    from trainer.core import checkpoint
    try:
        progress = checkpoint.progress(checkpoint.read(path))
    except ValueError as error:
        raise UsageError('--resume: ' + str(error).replace('resume_from=', '', 1)) from None
    if 'n_members' in progress:
        n = progress['n_members']
        raise UsageError(f'--resume {path}: a {n}-member ensemble checkpoint (--ensemble {n}); '
                         '--resume continues one network; resume it with Ensemble.fit(resume_from=...)')


def _check_devices(devices):
    if isinstance(devices, int):
        import jax
        available = jax.device_count()
        if devices > available:
            raise UsageError(f'--devices {devices}: only {available} device'
                             f'{"s are" if available > 1 else " is"} available; pass --devices '
                             f'{available} or all')


def train(args):
    """Run the ``train`` command; returns the :class:`trainer.recipes.TaskRun`."""
    _join_processes(args)
    from trainer.recipes.multitask import parse_tasks
    try:
        tasks = parse_tasks(args.task)
    except ValueError as error:
        raise UsageError(f'--task: {error}') from None
    if tasks is not None:
        return _train_multitask(args, tasks)
    _check_task(args.task)
    if args.resume is not None and args.ensemble is not None:
        raise UsageError('--resume continues one network\'s run; drop --ensemble')
    if args.resume is not None and not os.path.isfile(args.resume):
        raise UsageError(f'--resume {args.resume}: no such file; pass a run\'s checkpoint.msgpack')
    if args.resume is not None:
        _check_resume(args.resume)
    _check_devices(args.devices)
    recipe = recipe_of(args)
    if not args.no_compile_cache:
        enable_compile_cache()
    import jax
    from trainer import NonFiniteLossError, TrainResult
    from trainer.recipes import train_task

    main = jax.process_index() == 0  # only process 0 writes files and shows progress
    out, linked = _run_folder(args) if main else (None, False)
    say(f'{args.task}: {recipe.describe()}')
    if args.ensemble is not None:
        return _train_ensemble(args, recipe, out, linked)
    try:
        run = train_task(args.task, recipe, seed=args.seed, progress=not args.no_progress and main,
                         checkpoint=None if out is None else os.path.join(out, 'checkpoint.msgpack'),
                         resume_from=args.resume, devices=args.devices,
                         callbacks=tracking_callbacks(args, recipe, out))
    except (ValueError, FileNotFoundError) as error:
        if args.resume is None or 'resume_from=' not in str(error):
            raise
        raise UsageError('--resume: ' + str(error).replace('resume_from=', '', 1)) from None
    except NonFiniteLossError as error:
        raise TrainingFailed(f'the loss became NaN or infinite in epoch {len(error.history) + 1}; '
                             f'lower --lr (was {recipe.lr:g})') from None
    except OSError as error:  # the disk filled or turned read-only mid-run
        if getattr(error, 'checkpoint_reason', None) is None:
            raise
        raise TrainingFailed(f'checkpoint not written: {error.checkpoint_reason}; '
                             'the last one saved is kept') from None
    if not main:
        return run
    result = TrainResult(run.history, run.monitor, run.best_epoch, run.best_value, {}, False, {}, run.model)
    print(history_table(result))
    run.to_csv(os.path.join(out, 'history.csv'))
    run.to_json(os.path.join(out, 'history.json'))
    result.plot(os.path.join(out, 'curves.png'))
    best = 'none' if run.best_value is None else f'{run.best_value:.4g}'
    scores = ', '.join(f'{k}={v:.4g}' for k, v in run.held_out.items())
    say(f'best epoch {run.best_epoch} of {len(run.history)}: {run.monitor}={best}; '
        f'held out at the end: {scores}')
    print(_where(out, linked), flush=True)
    return run


_NOT_FOR_STREAMS = {'n_trials': '--n-trials', 'held_out': '--held-out', 'patience': '--patience',
                    'compile_epoch': '--compile-epoch', 'ensemble': '--ensemble'}


def _train_multitask(args, tasks):
    """``train --task yang8`` (or ``multitask:a,b``): one network on many tasks, fresh trials every epoch."""
    import datasets
    names = [n for n, _ in datasets.list_datasets()]
    for task in tasks:
        if task not in names:
            close = difflib.get_close_matches(task, names, n=1)
            raise UsageError(f"--task: {task!r} is unknown; {f'did you mean {close[0]!r}?' if close else 'see list'}")
    for dest, flag in _NOT_FOR_STREAMS.items():
        if getattr(args, dest) is not None:
            raise UsageError(f'{flag} does not apply to a multitask run (its streams draw fresh trials '
                             'every epoch and hold out a fixed set per task); drop it')
    from trainer import TrainResult
    from trainer.recipes.multitask import MultitaskRecipe, train_multitask
    flags = {'epochs': 'n_epochs', 'batch_size': 'batch_size', 'hidden': 'hidden', 'cell': 'cell', 'lr': 'lr',
             'clip': 'grad_clip_norm', 'steps_per_epoch': 'steps_per_epoch'}
    try:
        recipe = MultitaskRecipe(tasks=tasks).replace(
            **{field: getattr(args, flag) for flag, field in flags.items() if getattr(args, flag) is not None})
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    if not args.no_compile_cache:
        enable_compile_cache()
    out, linked = _run_folder(args)
    say(f'{args.task}: {recipe.describe()}{"" if not args.no_rule_input else ", no rule input"}')
    try:
        run = train_multitask(tasks, recipe, seed=args.seed, rule_input=not args.no_rule_input,
                              progress=not args.no_progress, checkpoint=os.path.join(out, 'checkpoint.msgpack'),
                              resume_from=args.resume, devices=args.devices)
    except ValueError as error:
        if args.resume is None or 'resume_from=' not in str(error):
            raise UsageError(str(error)) from None
        raise UsageError('--resume: ' + str(error).replace('resume_from=', '', 1)) from None
    best = max((r['epoch'] for r in run.history if r.get('held_out_acc/worst') is not None), default=None)
    result = TrainResult(run.history, 'held_out_acc/worst', best, run.held_out['acc/worst'], {}, False, {}, run.model)
    print(history_table(result))
    run.to_csv(os.path.join(out, 'history.csv'))
    run.to_json(os.path.join(out, 'history.json'))
    result.plot(os.path.join(out, 'curves.png'))
    say('held-out accuracy per task: ' + ', '.join(f'{t} {a:.3f}' for t, a in run.per_task.items()))
    say(f'{run.epochs} epochs, {run.n_updates} updates, {run.wall_s:.0f} s')
    print(_where(out, linked), flush=True)
    return run


def _train_ensemble(args, recipe, out, linked):
    """``train --ensemble K``: K seeds of the recipe's network on the final task, one program."""
    import json
    import datasets
    from trainer import Ensemble
    from trainer.recipes.task_run import optimizer_for, scoring_for
    from trainer.models import RateRNN

    data = datasets.load_dataset(args.task, n_trials=recipe.n_trials, seed=args.seed, **recipe.stages()[-1])
    train_set, held_out = data.split(1 - recipe.held_out, seed=args.seed)
    n_output = data.n_classes if data.n_classes is not None else data.targets.shape[-1]
    seeds = [args.seed + k for k in range(args.ensemble)]
    objective, metrics, monitor = scoring_for(recipe)
    optimizer, lr_schedule = optimizer_for(recipe)
    models = [RateRNN(data.n_features, recipe.hidden, n_output, cell=recipe.cell, seed=s) for s in seeds]
    ensemble = Ensemble(models, optimizer, objective=objective, metrics=metrics,
                        grad_clip_norm=recipe.grad_clip_norm, lr_schedule=lr_schedule,
                        progress=not args.no_progress and out is not None)
    result = ensemble.fit(train_set, held_out=held_out, n_epochs=recipe.n_epochs,
                          batch_size=recipe.batch_size, seed=args.seed, seeds=seeds, monitor=monitor,
                          patience=recipe.patience, compile_epoch=recipe.compile_epoch,
                          checkpoint=None if out is None else os.path.join(out, 'checkpoint.msgpack'),
                          callbacks=tracking_callbacks(args, recipe, out))
    if out is None:
        return result
    summary = result.summary()
    result.to_csv(os.path.join(out, 'history.csv'))
    result.to_json(os.path.join(out, 'history.json'))
    with open(os.path.join(out, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1, default=float)
    result.plot(os.path.join(out, 'curves.png'))
    number = lambda v: '-' if v is None else f'{v:.4g}'  # noqa: E731
    for key, stats in summary.items():
        say(f"{key}: mean {number(stats.get('mean'))}, sd {number(stats.get('sd'))}, "
            f"min {number(stats.get('min'))}, max {number(stats.get('max'))} ({stats.get('n')} members)")
    say(f'best member: {result.best_member} (seed {seeds[result.best_member]})'
        if result.best_member is not None else 'no member has a best epoch')
    print(_where(out, linked), flush=True)
    return result


def main(argv=None):
    """Entry point of ``python -m trainer``: returns 0, or exits 2 on a bad flag.

    Examples
    --------
    >>> main(['list'])  # doctest: +ELLIPSIS
    Tasks (python -m trainer train --task NAME):
    ...
    0
    """
    try:
        args = _parser().parse_args(argv)
        if args.command == 'list':
            list_command()
        elif args.command == 'sweep':
            _check_task(args.task)
            try:
                sweep_command(args, say)
            except (ValueError, TypeError) as error:
                raise UsageError(str(error)) from None
        else:
            train(args)
    except UsageError as error:
        print(f'error: {error}', file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    except TrainingFailed as error:
        print(f'error: {error}', file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print('interrupted: the last completed epoch is in checkpoint.msgpack',
              file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    return 0


if __name__ == '__main__':
    sys.exit(main())
