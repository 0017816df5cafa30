"""Train every task at its recipe, one after another, and render ``TASKS.md``.

    python benchmarks/tasks.py                      # every task (~15 min on 2 cores); rewrites TASKS.md
    python benchmarks/tasks.py --only go_no_go,anti_reach   # some tasks, merged into tasks.json
    python benchmarks/tasks.py --render             # re-render TASKS.md from benchmarks/tasks.json

Each task trains in a fresh process with an empty JAX compilation cache, so
its wall time is what a user's first ``train --task NAME`` costs: process
start, imports, trial generation, every compilation, training and the final
evaluation. The goal: every classification task reaches >= 0.9 held-out
accuracy (>= 0.9 of the ceiling where the inputs cannot decide every trial)
within 180 s.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, 'tasks.json')
TABLE = os.path.join(ROOT, 'TASKS.md')
GOAL_ACC, GOAL_WALL_S = 0.9, 180.0


def chance_and_ceiling(ds):
    """Chance: the majority label's share of the scored steps. Ceiling: the best any rule
    reading the inputs can score -- the majority label among trials with identical inputs,
    step by step (``None`` when most trials' inputs are unique, e.g. noisy inputs)."""
    import numpy as np
    labels = ds.targets if ds.targets.ndim == 2 else ds.targets[:, None]
    if ds.mask is not None:
        weights = ds.mask
    elif ds.targets.ndim == 1:  # a per-trial label is scored at the last step
        weights = np.ones((len(ds), 1), np.float32)
    else:
        weights = np.ones(labels.shape, np.float32)
    counts = np.bincount(labels.ravel(), weights=weights.ravel(), minlength=ds.n_classes)
    chance = float(counts.max() / counts.sum())
    groups = {}
    for trial in range(len(ds)):
        groups.setdefault(ds.inputs[trial].tobytes(), []).append(trial)
    if len(groups) > len(ds) / 2:
        return chance, None
    best = 0.0
    for trials in groups.values():
        per_step = np.zeros((labels.shape[1], ds.n_classes))
        for trial in trials:
            np.add.at(per_step, (np.arange(labels.shape[1]), labels[trial]), weights[trial])
        best += per_step.max(axis=1).sum()
    return chance, float(best / weights.sum())


def evidence_ceiling(task, params, ds):
    """The expected ceiling a cogtask's coherence list sets: trials at coherence 0 carry no
    evidence, so at best they are guessed (1 / num_choices right). ``None`` without such
    trials, or when some scored steps ask for more than the choice (a wager)."""
    import numpy as np
    import inspect
    from braintools import cogtask
    from datasets._cogtask import _TASKS
    if task not in _TASKS:
        return None
    defaults = inspect.signature(getattr(cogtask, _TASKS[task][0]).__init__).parameters
    if 'coherences' not in defaults:
        return None
    coherences = params.get('coherences', defaults['coherences'].default)
    n_choices = params.get('num_choices', defaults['num_choices'].default)
    if len(np.unique(ds.targets[ds.mask > 0])) != n_choices:
        return None
    blind = sum(1 for c in coherences if c == 0) / len(coherences)
    return 1 - blind * (1 - 1 / n_choices) if blind else None


def constant_angle_error(ds):
    """Chance for a direction report: the mean angular error (deg) of the best fixed answer."""
    import numpy as np
    scored = ds.mask > 0
    angles = np.arctan2(ds.targets[..., 2], ds.targets[..., 1])[scored]
    candidates = np.unique(np.round(angles, 6))
    errors = [np.degrees(np.abs((angles - c + np.pi) % (2 * np.pi) - np.pi)).mean() for c in candidates]
    return float(min(errors))


def run_one(task, seed):
    """Train ``task`` at its recipe in this process; the row of ``tasks.json``."""
    from trainer.recipes import recipe_for, train_task
    recipe = recipe_for(task)
    run = train_task(task, recipe, seed=seed)
    # The chance and ceiling of the whole task, on a fresh set of trials of it.
    import datasets
    reference = datasets.load_dataset(task, n_trials=2048, seed=seed + 1, **recipe.stages()[-1])
    metric = 'acc' if recipe.metric == 'accuracy' else 'angle_err'
    row = {'task': task, 'metric': metric, 'final': run.history[-1][f'held_out_{metric}'],
           'held_out': run.held_out[metric], 'best': run.best_value, 'epochs': len(run.history),
           'stage_epochs': list(run.stage_epochs), 'commit': _machine()['commit'],
           'updates': run.n_updates, 'train_s': run.wall_s, 'recipe': recipe.describe(),
           'note': recipe.note, 'n_steps': run.held_out_data.n_steps,
           'curve': [row[f'held_out_{metric}'] for row in run.history]}
    if metric == 'acc':
        chance, ceiling = chance_and_ceiling(reference)
        bound = evidence_ceiling(task, recipe.task_params, reference)
        if bound is not None:
            ceiling = bound if ceiling is None else min(ceiling, bound)
        row.update(classes=reference.n_classes, chance=chance, ceiling=ceiling)
    else:
        row.update(classes=None, chance=constant_angle_error(reference), ceiling=None)
    return row


def _spawn(task, seed):
    with tempfile.TemporaryDirectory(prefix='tasks-') as scratch:
        out = os.path.join(scratch, 'row.json')
        env = {**os.environ, 'JAX_PLATFORMS': 'cpu', 'PYTHONPATH': os.path.join(ROOT, 'src')}
        start = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, '--one', task, '--seed', str(seed),
                               '--cache', os.path.join(scratch, 'jax-cache'), '--out', out],
                              env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode:
            return {'task': task, 'error': done.stderr.strip().splitlines()[-1], 'wall_s': wall}
        with open(out) as f:
            return {**json.load(f), 'wall_s': wall, 'load': os.getloadavg()[0]}


def _met(row):
    if 'error' in row:
        return 'error'
    if row['metric'] != 'acc':
        return '-'
    goal = GOAL_ACC * (row['ceiling'] if row['ceiling'] is not None else 1.0)
    ok = row['held_out'] >= goal and row['wall_s'] <= GOAL_WALL_S
    return 'met' if ok else 'missed'


def _fmt(value, digits=2):
    return '-' if value is None else f'{value:.{digits}f}'


def _commits(rows):
    counts = {}
    for row in rows:
        counts[row.get('commit', '?')] = counts.get(row.get('commit', '?'), 0) + 1
    return ', '.join(f'`{commit}` ({n} tasks)' for commit, n in counts.items())


def render(results):
    rows = [results['tasks'][name] for name in sorted(results['tasks'])]
    machine = results['machine']
    lines = [
        '# Tasks',
        '',
        'Generated by `benchmarks/tasks.py` from `benchmarks/tasks.json`; do not edit by hand. '
        'Every registered task trained at its recipe (`trainer.recipes.recipe_for`), one after '
        'another, each in a fresh process with an empty compilation cache:',
        '',
        '```bash',
        'python benchmarks/tasks.py              # all tasks, rewrites this file',
        'python benchmarks/tasks.py --only NAME  # one task, merged in',
        '```',
        '',
        f"Goal: held-out accuracy >= {GOAL_ACC} (>= {GOAL_ACC} x ceiling where the inputs cannot "
        f"decide every trial) within {GOAL_WALL_S:.0f} s wall, cold compile cache included.",
        '',
        '- **chance**: the majority label\'s share of the held-out scored steps (for the '
        'reproduction tasks: the mean angular error of the best fixed direction).',
        '- **ceiling**: the best any rule reading the inputs can score: the majority label among '
        'trials with identical inputs, and for tasks whose coherence list holds 0 (no evidence) '
        'the share those trials leave, guessed; `-` where neither applies.',
        '- **final / best**: held-out accuracy (or mean angular error, degrees) on the final task '
        'at the last epoch / at the best epoch, where the run leaves the model (restore-best).',
        '- **epochs**: epochs run, with the epochs of each curriculum stage; **updates**: optimizer '
        'steps; **wall s**: the whole process (imports, trial generation, compilation, training, '
        'evaluation).',
        '',
        f"Machine: {machine['cpu']}, {machine['cores']} cores, shared with other jobs: times are "
        f"slower than on a quiet machine (load average {machine['load_start']:.2f} at the start, "
        f"{machine['load_end']:.2f} at the end; each task's own run is in `tasks.json`). "
        f"Seed {results['seed']}; commits {_commits(rows)}.",
        '',
        '| task | classes | chance | ceiling | final | best | epochs | updates | wall s | goal | recipe |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    notes = []
    for row in rows:
        if 'error' in row:
            lines.append(f"| {row['task']} | | | | error: {row['error']} | | | | "
                         f"{row['wall_s']:.0f} | error | |")
            continue
        digits = 2 if row['metric'] == 'acc' else 1
        unit = '' if row['metric'] == 'acc' else ' deg'
        epochs = str(row['epochs']) + (f" ({'+'.join(map(str, row['stage_epochs']))})"
                                       if len(row['stage_epochs']) > 1 else '')
        lines.append(
            f"| {row['task']} | {row['classes'] or 'value'} | {_fmt(row['chance'], digits)}{unit} | "
            f"{_fmt(row['ceiling'])} | {_fmt(row['final'], digits)}{unit} | "
            f"{_fmt(row['held_out'], digits)}{unit} | {epochs} | {row['updates']} | "
            f"{row['wall_s']:.0f} | {_met(row)} | {row['recipe']} |")
        if row.get('note'):
            notes.append(f"- **{row['task']}**: {row['note']}")
    if notes:
        lines += ['', '## Notes', ''] + notes
    text = '\n'.join(lines) + '\n'
    multitask = os.path.join(os.path.dirname(RESULTS), 'multitask.json')
    if os.path.exists(multitask):  # the many-tasks section (benchmarks/multitask.py) follows
        from multitask import render_section
        with open(multitask) as f:
            text += '\n' + render_section(json.load(f))
    return text


def _machine():
    try:
        commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = '?'
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return {'cpu': cpu, 'cores': os.cpu_count(), 'commit': commit, 'python': platform.python_version(),
            'load_start': os.getloadavg()[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--only', help='comma-separated task names (merged into tasks.json)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--render', action='store_true', help='only re-render TASKS.md')
    parser.add_argument('--one', help=argparse.SUPPRESS)
    parser.add_argument('--cache', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        sys.path.insert(0, os.path.join(ROOT, 'src'))
        from trainer.__main__ import enable_compile_cache
        enable_compile_cache(args.cache)
        with open(args.out, 'w') as f:
            json.dump(run_one(args.one, args.seed), f)
        return 0
    results = {'tasks': {}}
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            results = json.load(f)
    if not args.render:
        sys.path.insert(0, os.path.join(ROOT, 'src'))
        from trainer.recipes import RECIPES
        tasks = args.only.split(',') if args.only else sorted(RECIPES)
        if not args.only or 'machine' not in results:
            results.update(seed=args.seed, machine=_machine(), tasks={})
        elif args.seed != results['seed']:
            raise SystemExit(f"--seed {args.seed} differs from the table's seed {results['seed']}; "
                             'rerun every task to change it.')
        for task in tasks:
            row = _spawn(task, args.seed)
            results['tasks'][task] = row
            shown = {k: v for k, v in row.items() if k not in ('curve', 'recipe', 'note')}
            print(json.dumps(shown), flush=True)
            results['machine']['load_end'] = os.getloadavg()[0]
            with open(RESULTS, 'w') as f:
                json.dump(results, f, indent=1)
    with open(TABLE, 'w') as f:
        f.write(render(results))
    print(f'wrote {TABLE}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
