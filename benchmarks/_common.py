"""Shared measurement helpers: side-by-side rounds, summaries, compile names, memory, machine.

Every claim in the suite is a ratio of two variants measured in the same
process, in alternating order, over several rounds; these helpers keep that
discipline in one place.
"""

import os
import platform
import resource
import subprocess
import sys
import time
from importlib import metadata

import numpy as np
from jax import monitoring

_COMPILE_EVENT = '/jax/core/compile/backend_compile_duration'
_TRACE_EVENT = '/jax/core/compile/jaxpr_trace_duration'
_compiled = []  # (fun_name, seconds) of every XLA compilation in this process
_traced = []  # (fun_name, seconds) of every trace to a jaxpr (brainstate's retraces included)


def _listen(event, duration, **kwargs):
    if event == _COMPILE_EVENT:
        _compiled.append((kwargs.get('fun_name', '?'), duration))
    elif event == _TRACE_EVENT:
        _traced.append((kwargs.get('fun_name', '?'), duration))


def counts():
    """``(compilations, traces)`` so far in this process; differences count what happened between."""
    return len(_compiled), len(_traced)


monitoring.register_event_duration_secs_listener(_listen)


class CompileLog:
    """Collect the XLA compilations and jaxpr traces (name, seconds) inside a ``with`` block.

    JAX reports the function's name with its compile and trace events, so
    the log tells a train step from an op-by-op initialiser, and counts the
    Python re-traces that cost time without compiling anything.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> with CompileLog() as log:
    ...     _ = jax.jit(lambda x: x + 1)(jnp.arange(3.0))
    >>> log.count
    1
    """

    def __enter__(self):
        self._start = counts()
        self.entries, self.traces = [], []
        return self

    def __exit__(self, *exc):
        self.entries = list(_compiled[self._start[0]:])
        self.traces = list(_traced[self._start[1]:])

    @property
    def count(self):
        return len(self.entries) if hasattr(self, 'entries') else 0

    @property
    def seconds(self):
        return float(sum(s for _, s in self.entries))

    def by_name(self):
        """``{name: count}``, most frequent first."""
        counts = {}
        for name, _ in self.entries:
            counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def summary(samples):
    """``{'median', 'min', 'max', 'n', 'samples'}`` of a list of numbers."""
    values = [float(v) for v in samples]
    return {'median': float(np.median(values)), 'min': min(values), 'max': max(values),
            'n': len(values), 'samples': values}


def paired_ratio(numerators, denominators):
    """Summary of the per-round ratios ``numerators[i] / denominators[i]``.

    Both lists hold one value per round, measured side by side, so a slow
    moment on a shared machine hits both terms of one ratio.
    """
    return summary([n / d for n, d in zip(numerators, denominators)])


def rounds(variants, n_rounds, *, label=None):
    """Run ``{name: callable}`` for ``n_rounds``, rotating the order each round.

    Returns ``{name: [result per round]}``. Rotation spreads warm-up effects
    (the first call in a process pays shared one-off costs) over all variants.
    """
    names = list(variants)
    results = {name: [] for name in names}
    for r in range(n_rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            if label:
                print(f'  [{label}] round {r + 1}/{n_rounds}: {name}', flush=True)
            results[name].append(variants[name]())
    return results


def judge(measured, bound, *, unit='x', unreachable=None, lower=False):
    """A target row: ``{'target', 'value', 'min', 'max', 'status'[, 'reason']}``.

    Parameters
    ----------
    measured : dict or float
        A :func:`summary` (its median is judged, its min-max reported) or a number.
    bound : float
        The target's bound: an upper bound, or a lower bound with ``lower=True``.
    unreachable : str, optional
        The measured reason why the bound cannot be met on this machine; a
        miss is then reported as ``'unreachable'`` rather than ``'missed'``.
    """
    value = measured['median'] if isinstance(measured, dict) else float(measured)
    ok = value >= bound if lower else value <= bound
    row = {'target': f'{">=" if lower else "<="} {bound:g}{unit}', 'value': value, 'unit': unit,
           'status': 'met' if ok else ('unreachable' if unreachable else 'missed')}
    if isinstance(measured, dict):
        row.update(min=measured['min'], max=measured['max'], n=measured['n'])
    if unreachable and not ok:
        row['reason'] = unreachable
    return row


def host_profile(fn, repeats, *, top=8):
    """Where ``fn``'s time goes: cProfile's own-time leaders, per call of ``fn``.

    Waiting for the device shows up as ``array.py:_value`` (a blocking
    read); everything else is host work in Python.
    """
    import cProfile
    import pstats
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeats):
        fn()
    profiler.disable()
    rows = sorted(((tt, nc, f'{os.path.basename(file)}:{name}')
                   for (file, _, name), (_, nc, tt, _, _) in pstats.Stats(profiler).stats.items()), reverse=True)
    return {'ms_per_call': sum(r[0] for r in rows) / repeats * 1e3,
            'top': [{'function': name, 'ms_per_call': tt / repeats * 1e3, 'calls_per_call': nc / repeats}
                    for tt, nc, name in rows[:top]]}


def rss_mb():
    """Current resident set size in MiB (``VmRSS`` from ``/proc/self/status``)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float('nan')


def peak_rss_mb():
    """Peak resident set size of this process in MiB (``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def now():
    return time.perf_counter()


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib():
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemTotal:'):
                    return round(int(line.split()[1]) / 1024 ** 2, 1)
    except OSError:
        pass
    return None


def _git_commit():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        out = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=root,
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(['git', 'status', '--porcelain', '--', 'src'], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ('+dirty-src' if dirty else '')
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info():
    """CPU, cores, memory, load, library versions and the git commit."""
    import jax
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return {
        'cpu': _cpu_model(),
        'cores': os.cpu_count(),
        'cores_usable': affinity,
        'memory_gib': _memory_gib(),
        'load_average': [round(x, 2) for x in os.getloadavg()],
        'platform': platform.platform(),
        'python': sys.version.split()[0],
        'jax_backend': jax.default_backend(),
        'versions': {d: _version(d) for d in (
            'jax', 'jaxlib', 'brainstate', 'braintools', 'brainmass', 'brainunit',
            'grain', 'optax', 'numpy')},
        'git_commit': _git_commit(),
    }


def run_alone(run, doc, argv=None):
    """``python benchmarks/<workload>.py [--quick]``: run one workload and print its targets."""
    import argparse
    import json
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    out = run(parser.parse_args(argv).quick)
    print(json.dumps(out['targets'], indent=1))
    return out
