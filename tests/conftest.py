import os
import tempfile

os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import jax  # noqa: E402

# Many tests compile the same small programs; a per-session persistent cache
# serves the repeats from disk (the compile counter counts those loads too).
jax.config.update('jax_compilation_cache_dir', tempfile.mkdtemp(prefix='jax-cache-'))
jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)
