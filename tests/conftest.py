import gc
import json
import os
import pathlib
import select
import signal
import subprocess
import sys
import tempfile

os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# No XLA flag is pinned here: a user's run has none, and XLA CPU's float32 results depend on the
# host anyway (FMA or not; how many threads split a reduction, set by the number of cores), which
# no flag of the tests should hide. Comparisons of two different programs use the tolerances of
# tests/float32.py instead; to find fragile ones on one machine, run the suite under
# XLA_FLAGS=--xla_cpu_max_isa=SSE4_2 (no FMA) or on one core (taskset -c 0).

import pytest  # noqa: E402

# Many tests compile the same small programs; one persistent cache per test session,
# shared by the xdist workers and the fork server's jobs (the controller sets it before
# the workers start), serves the repeats from disk (the compile counter counts those
# loads too).
os.environ.setdefault('TRAINER_TEST_JAX_CACHE', tempfile.mkdtemp(prefix='jax-cache-'))


def pytest_collection_finish(session):
    # Tracing makes many short-lived objects: collected test modules, fixtures and imported
    # libraries frozen out of the cyclic collector, and fewer young-generation passes, cut its
    # time about threefold (test_trainer + test_core: 3.1 s -> 1.2 s of ~65 s). Only when
    # cycles are freed changes; nothing here relies on it.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20000, 20, 20)


def pytest_configure(config):
    if getattr(config.option, 'numprocesses', None) and not hasattr(config, 'workerinput'):
        return  # an xdist controller runs no test: the workers start without waiting ~4 s for jax
    from trainer.__main__ import enable_compile_cache
    enable_compile_cache(os.environ['TRAINER_TEST_JAX_CACHE'])


# About how many seconds of one core each test file takes (measured file by file, or with
# the suite's two workers; a README block is a unit of its own). Only the order in which the
# workers get the files depends on these: the longest first, so both finish about together.
COST = {
    'test_trainer.py': 62, 'test_recipes.py': 30, 'test_ensemble.py': 42, 'test_datasets_cogtask.py': 30,
    'test_fcd.py': 30, 'test_distributed.py': 30, 'test_docstrings.py': 25, 'test_main.py': 24,
    'test_sweep.py': 40, 'test_tracking.py': 20,
    'test_core.py': 17, 'test_objectives.py': 17, 'test_examples.py': 17, 'test_analysis.py': 16,
    'test_prediction.py': 11, 'test_checkpoint.py': 9, 'test_docs.py': 9, 'test_properties.py': 9,
    'test_fitter.py': 8, 'test_seed_parity.py': 6, 'test_checks.py': 6, 'test_brainmass_interop.py': 6,
    'test_bad_inputs.py': 5, 'test_load_checkpoint.py': 4, 'test_simulator.py': 3, 'test_result.py': 3,
    'test_support.py': 3, 'test_datasets_registry.py': 3, 'test_curriculum.py': 28, 'test_callbacks.py': 10,
    'test_layers.py': 1,
    'test_datasets_stream.py': 28, 'test_datasets_multitask.py': 12, 'test_datasets_neurogym.py': 4,
    'test_scores.py': 4,
    # Estimated from runs on a loaded machine (load ~20 on 2 cores), scaled down: re-measure.
    'test_spiking.py': 12, 'test_regularizers.py': 8, 'test_leaky.py': 5,
}
README_BLOCK_COST = 8


def work_unit(nodeid):
    """What one xdist worker runs as a whole: a test file (its module fixtures are built
    once), except the README's blocks, independent runs spread over both workers."""
    path = nodeid.split('::', 1)[0]
    if os.path.basename(path) == 'test_readme.py' and '::test_block_runs_standalone[' in nodeid:
        return nodeid
    return path


def cost(nodeid):
    unit = work_unit(nodeid)
    return README_BLOCK_COST if unit == nodeid else COST.get(os.path.basename(unit), 1)


def pytest_collection_modifyitems(items):
    # Costly work units first (a stable sort: a file's tests keep their order).
    items.sort(key=lambda item: -cost(item.nodeid))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist hands out whole work units (see ``work_unit``) in collection order.

    Not ``--dist loadgroup`` with ``xdist_group`` marks: pytest-xdist 3.8 names a marked
    test's group by rewriting ``item._nodeid``, which pytest 9.2 no longer reads, so every
    test went to either worker and both built each module's fixtures. Another ``--dist``
    given on the command line (``load``, ``worksteal``, ...) is left to pytest-xdist."""
    if config.getvalue('dist') not in ('loadgroup', 'loadscope'):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return work_unit(nodeid.rsplit('@', 1)[0] if '@' in nodeid.rsplit(']', 1)[-1] else nodeid)

    config.option.loadscopereorder = False  # keep the costly-first order above
    return WorkUnits(config, log)


class ForkServer:
    """Runs test processes (README blocks, data-parallel fits, command lines) as children
    forked from one process per xdist worker that has already imported the libraries they
    use: each skips those ~4 s of imports, imports this project's modules itself, and
    starts from a fresh interpreter's state otherwise (see tests/scripts/forkserver.py)."""

    SCRIPT = os.path.join(os.path.dirname(__file__), 'scripts', 'forkserver.py')

    def __init__(self, env, log):
        self.env, self.log, self.server = env, log, None

    def stop(self):
        if self.server is not None:
            os.killpg(self.server.pid, signal.SIGKILL)  # the server and any job still running
            self.server.wait()
            self.server.stdin.close()
            self.server.stdout.close()
            self.server = None

    def run(self, jobs, folder, timeout):
        """Run ``jobs`` (dicts of ``code``, or ``path`` or ``module`` and ``argv``, with ``cwd``
        and ``env``: see the script) together; ``[(returncode, stdout, stderr)]`` in order,
        their outputs kept in ``folder``."""
        if self.server is None or self.server.poll() is not None:
            with open(self.log, 'a') as log:
                self.server = subprocess.Popen([sys.executable, self.SCRIPT], env=self.env, text=True,
                                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                               stderr=log, start_new_session=True)
        jobs = [dict(job, stdout=str(folder / f'job{i}.stdout'), stderr=str(folder / f'job{i}.stderr'))
                for i, job in enumerate(jobs)]
        self.server.stdin.write(json.dumps(jobs) + '\n')
        self.server.stdin.flush()
        ready, _, _ = select.select([self.server.stdout], [], [], timeout)
        reply = self.server.stdout.readline() if ready else ''
        if not reply:  # timed out, or the server died: the next call starts another
            self.stop()
            raise AssertionError(f'no exit status within {timeout} s; fork server log:\n'
                                 + pathlib.Path(self.log).read_text()[-3000:])
        return [(code, pathlib.Path(job['stdout']).read_text(), pathlib.Path(job['stderr']).read_text())
                for code, job in zip(json.loads(reply)['returncodes'], jobs)]


@pytest.fixture(scope='session')
def fork_server(tmp_path_factory):
    # The session's JAX compilation cache (see above) is the jobs' too: a program compiled
    # alike twice is compiled once.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
               MPLBACKEND='Agg', JAX_PLATFORMS='cpu',
               JAX_COMPILATION_CACHE_DIR=os.environ['TRAINER_TEST_JAX_CACHE'],
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0',
               JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES='0')
    server = ForkServer(env, str(tmp_path_factory.mktemp('fork-server') / 'server.log'))
    yield server
    server.stop()
