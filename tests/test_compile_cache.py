"""The persistent compilation cache the API and the command line turn on (core/compile_cache.py)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

# A fresh interpreter per case: JAX's cache settings are process-wide.
PROBE = textwrap.dedent('''
    import json, os, jax
    from trainer.core.compile_cache import enable_compile_cache
    folder = enable_compile_cache()
    jax.jit(lambda x: x * 2 + 1)(jax.numpy.ones(3)).block_until_ready()  # compiles in milliseconds
    print('RESULT', json.dumps({
        'folder': folder,
        'min_secs': jax.config.jax_persistent_cache_min_compile_time_secs,
        'min_bytes': jax.config.jax_persistent_cache_min_entry_size_bytes,
        'written': len(os.listdir(folder)) if os.path.isdir(folder) else 0}))
''')


def _probe(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(('JAX_COMPILATION_CACHE', 'JAX_PERSISTENT'))}
    out = subprocess.run([sys.executable, '-c', PROBE], env={**clean, 'JAX_PLATFORMS': 'cpu', **env},
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(next(ln for ln in out.stdout.splitlines() if ln.startswith('RESULT'))[len('RESULT '):])


def test_the_default_folder_is_under_the_users_cache_and_takes_every_program(tmp_path):
    got = _probe(tmp_path, XDG_CACHE_HOME=str(tmp_path / 'home-cache'))
    assert got['folder'] == str(tmp_path / 'home-cache' / 'brain-trainer' / 'jax')
    assert (got['min_secs'], got['min_bytes']) == (0, 0)
    assert got['written'] >= 1  # a millisecond compile is kept (JAX's default keeps only >= 1 s)


def test_a_configured_folder_is_kept_and_takes_every_program(tmp_path):
    got = _probe(tmp_path, JAX_COMPILATION_CACHE_DIR=str(tmp_path / 'mine'))
    assert got['folder'] == str(tmp_path / 'mine')
    assert got['min_secs'] == 0 and got['written'] >= 1


@pytest.mark.parametrize('secs', ['5', '1.0'])
def test_thresholds_somebody_set_are_kept_with_their_folder(tmp_path, secs):
    got = _probe(tmp_path, JAX_COMPILATION_CACHE_DIR=str(tmp_path / 'mine'),
                 JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=secs)
    assert got['min_secs'] == float(secs) and got['written'] == 0
