"""brainunit's array-library detectors answer from ``sys.modules`` once trainer is imported."""

import subprocess
import sys
import textwrap
import types

import jax.numpy as jnp
import pytest

import trainer  # noqa: F401  (the import points the detectors)

backend = pytest.importorskip('saiunit._backend')

# A fresh interpreter records every attempt to import an array library while
# trainer is imported and a brainstate Linear is traced and run.
PROBE = textwrap.dedent('''
    import sys
    LIBRARIES = ('torch', 'cupy', 'dask', 'ndonnx')
    attempts = []

    class Recorder:
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in LIBRARIES:
                attempts.append(name.split('.')[0])
            return None

    sys.meta_path.insert(0, Recorder())
    import jax, brainstate, brainunit as u
    import trainer
    layer = brainstate.nn.Linear(3, 2)
    jax.jit(lambda x: layer(x))(jax.numpy.ones((4, 3)))
    u.math.dot(jax.numpy.ones(3), jax.numpy.ones(3))
    print('ATTEMPTS', sorted(set(attempts)))
''')


def test_tracing_a_model_imports_no_other_array_library():
    out = subprocess.run([sys.executable, '-c', PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith('ATTEMPTS'))
    assert line == 'ATTEMPTS []', line


def test_a_tensor_of_an_imported_library_is_still_recognised(monkeypatch):
    fake = types.ModuleType('torch')
    fake.Tensor = type('Tensor', (), {})
    monkeypatch.setitem(sys.modules, 'torch', fake)
    assert backend.is_torch_array(fake.Tensor())
    assert not backend.is_torch_array(jnp.ones(2))
    assert backend.get_backend(jnp.ones(2)) is backend.get_backend(jnp.zeros(3))  # jax's, unchanged


def test_the_detectors_are_array_api_compats():
    import array_api_compat
    for name in ('is_cupy_array', 'is_torch_array', 'is_dask_array', 'is_ndonnx_array'):
        assert getattr(backend, name) is getattr(array_api_compat, name)
