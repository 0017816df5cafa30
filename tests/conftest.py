import os
import tempfile

os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

from trainer.__main__ import enable_compile_cache  # noqa: E402

# Many tests compile the same small programs; one persistent cache per test session,
# shared by the xdist workers and the README's subprocesses (the controller sets it
# before the workers start), serves the repeats from disk (the compile counter counts
# those loads too).
os.environ.setdefault('TRAINER_TEST_JAX_CACHE', tempfile.mkdtemp(prefix='jax-cache-'))
enable_compile_cache(os.environ['TRAINER_TEST_JAX_CACHE'])


import pytest  # noqa: E402


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    """With pytest-xdist (``--dist loadgroup``): a test file stays on one worker (its module
    fixtures are built once), except the README's blocks, independent runs spread over both."""
    for item in items:
        if item.module.__name__ != 'test_readme':
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
