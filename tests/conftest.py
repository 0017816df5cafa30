import os
import tempfile

os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import pytest  # noqa: E402

# Many tests compile the same small programs; one persistent cache per test session,
# shared by the xdist workers and the README's subprocesses (the controller sets it
# before the workers start), serves the repeats from disk (the compile counter counts
# those loads too).
os.environ.setdefault('TRAINER_TEST_JAX_CACHE', tempfile.mkdtemp(prefix='jax-cache-'))


def pytest_configure(config):
    if getattr(config.option, 'numprocesses', None) and not hasattr(config, 'workerinput'):
        return  # an xdist controller runs no test: the workers start without waiting ~4 s for jax
    from trainer.__main__ import enable_compile_cache
    enable_compile_cache(os.environ['TRAINER_TEST_JAX_CACHE'])


# About how many seconds of one core each test file takes (measured with the suite's
# two workers; a README block is a unit of its own). Only the order in which the workers
# get the files depends on these: the longest first, so both finish about together.
COST = {
    'test_trainer.py': 60, 'test_recipes.py': 45, 'test_datasets_cogtask.py': 40, 'test_ensemble.py': 35,
    'test_fcd.py': 35, 'test_distributed.py': 35, 'test_main.py': 28, 'test_docstrings.py': 25,
    'test_analysis.py': 20, 'test_examples.py': 17, 'test_objectives.py': 17, 'test_core.py': 17,
    'test_datasets_registry.py': 15, 'test_prediction.py': 11, 'test_docs.py': 9, 'test_checkpoint.py': 9,
    'test_properties.py': 9, 'test_fitter.py': 8, 'test_seed_parity.py': 6, 'test_checks.py': 6,
    'test_brainmass_interop.py': 6, 'test_bad_inputs.py': 5, 'test_load_checkpoint.py': 4,
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
    test went to either worker and both built each module's fixtures."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return work_unit(nodeid.rsplit('@', 1)[0] if '@' in nodeid.rsplit(']', 1)[-1] else nodeid)

    config.option.loadscopereorder = False  # keep the costly-first order above
    return WorkUnits(config, log)
