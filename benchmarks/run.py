"""Run the benchmark suite, write ``benchmarks/results.json`` and print the summary table.

    python benchmarks/run.py            # full suite (~12 min on 2 quiet cores); also rewrites BENCHMARKS.md
    python benchmarks/run.py --quick    # a few minutes: fewer rounds, epochs and sizes
    python benchmarks/run.py --only horn,floor

Every number that makes a claim is a ratio of two variants measured side by
side in this run (alternating order, several rounds, medians with min-max);
see BENCHMARKS.md for the method and the latest table.
"""

import argparse
import importlib.util
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

WORKLOADS = ('batching', 'scaling', 'horn', 'eval', 'floor', 'fitter', 'startup', 'devices', 'ensemble', 'pytorch',
             'population', 'streams', 'long_trials')


# Optional packages each workload imports. population's Hopf model is brainmass's and its search evosax's;
# every long_trials gradient trains braintrace's LSTM (one model for all four, so the online one can learn it).
NEEDS = {'horn': ('brainmass',), 'eval': ('brainmass',), 'population': ('brainmass', 'evosax'),
         'long_trials': ('braintrace',)}
# The extra that brings each of them.
EXTRAS = {'brainmass': 'test', 'braintrace': 'test', 'evosax': 'empirical'}


def _run_one(name, quick):
    missing = [package for package in NEEDS.get(name, ()) if importlib.util.find_spec(package) is None]
    if missing:
        extras = ','.join(sorted({EXTRAS[package] for package in missing}))
        verb = 'is' if len(missing) == 1 else 'are'
        return {'skipped': f'{" and ".join(missing)} {verb} not installed; install with pip install -e ".[{extras}]".'}
    # Imported here so ``--only`` pays only for what it runs.
    module = __import__({'eval': 'horn'}.get(name, name))
    return (module.run_eval if name == 'eval' else module.run)(quick)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='fewer rounds, epochs and sizes (a few minutes)')
    parser.add_argument('--only', default=None, help=f'comma-separated subset of: {", ".join(WORKLOADS)}')
    parser.add_argument('--out', default=os.path.join(HERE, 'results.json'), help='results file')
    parser.add_argument('--markdown', default=None,
                        help='rewrite this markdown file from the results (default: BENCHMARKS.md for a full '
                             'run of every workload, nothing for --quick or --only)')
    args = parser.parse_args(argv)
    names = args.only.split(',') if args.only else list(WORKLOADS)
    unknown = sorted(set(names) - set(WORKLOADS))
    if unknown:
        parser.error(f'unknown workload(s) {unknown}; choose from {", ".join(WORKLOADS)}.')

    from _common import machine_info
    import render
    started = time.time()
    results = {'mode': 'quick' if args.quick else 'full', 'command': 'python benchmarks/run.py'
               + (' --quick' if args.quick else '') + (f' --only {args.only}' if args.only else ''),
               'machine': machine_info(), 'workloads': {}, 'seconds': {}}
    for name in names:
        print(f'== {name}', flush=True)
        start = time.time()
        results['workloads'][name] = _run_one(name, args.quick)
        results['seconds'][name] = round(time.time() - start, 1)
    results['seconds']['total'] = round(time.time() - started, 1)
    results['machine']['load_average_end'] = [round(x, 2) for x in os.getloadavg()]
    with open(args.out, 'w') as f:
        json.dump(results, f, indent=1, default=float)
    table = render.summary_table(results)
    print(table)
    print(f'\nwrote {os.path.relpath(args.out)} in {results["seconds"]["total"]:.0f} s')
    markdown = args.markdown
    if markdown is None and not args.quick and not args.only:
        markdown = os.path.join(ROOT, 'BENCHMARKS.md')
    if markdown:
        render.write_markdown(results, markdown)
        print(f'wrote {os.path.relpath(markdown)}')
    return results


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
