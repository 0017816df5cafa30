import os
import tempfile

os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

from trainer.__main__ import enable_compile_cache  # noqa: E402

# Many tests compile the same small programs; a per-session persistent cache
# serves the repeats from disk (the compile counter counts those loads too).
enable_compile_cache(tempfile.mkdtemp(prefix='jax-cache-'))
