import os
import tempfile

os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

from trainer.__main__ import enable_compile_cache  # noqa: E402

# Many tests compile the same small programs; a per-session persistent cache
# serves the repeats from disk (the compile counter counts those loads too).
enable_compile_cache(tempfile.mkdtemp(prefix='jax-cache-'))


def pytest_collection_modifyitems(items):
    """With pytest-xdist (``--dist loadgroup``): a test file stays on one worker (its module
    fixtures are built once), except the README's blocks, independent runs spread over both."""
    import pytest
    for item in items:
        if item.module.__name__ != 'test_readme':
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
