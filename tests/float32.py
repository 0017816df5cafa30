"""How close two float32 results of two different programs must be: the rule, written once.

Two programs that compute the same quantity in float32 (jax against a float64 numpy
reference, vmapped members against solo fits, a sharded fit against one device, a compiled
epoch against per-step calls, brainmass against us, the Trainer against a hand-written
loop) need not round alike: XLA chooses each reduction's order, the fusions and how work is
split over threads per program and per host (the CPU's vector units and cache sizes, how
many cores it has), so a suite tuned on one CPU fails on another by a few units in the last
place. What float32 promises is about ``EPS`` = 1.2e-7 per operation, relative to the
magnitude of the operands, not of the result:

- ``rtol = 1e-5`` (about 80 EPS): sums and chains of up to thousands of terms.
- ``atol = 1e-6 * scale``: a result that cancels to near zero (a correlation close to 0, a
  gradient component, a parameter crossing 0) keeps only its absolute accuracy, that of the
  values it was computed from; ``scale`` is their magnitude, by default ``max|desired|``
  (each leaf of a tree on its own).
- ``steps``: each optimizer step feeds the last step's rounding into the next gradient,
  so both grow with the steps taken, ``* (1 + steps)``: about 1e-4 after ten Adam steps.

A deliberately wrong variant (one step fewer, the other member's parameters, ``1 - score``)
misses these by orders of magnitude (see each test). Exact comparisons (``array_equal``,
``==``) stay where the claim is that the *same* program, run twice, agrees bit for bit:
resume after a stop, the same seed twice, one device against itself.
"""

import jax
import numpy as np

EPS = float(np.finfo(np.float32).eps)
RTOL = 1e-5
ATOL = 1e-6


def tolerance(desired, *, steps=0, scale=None):
    """``(rtol, atol)`` for comparing a float32 result of another program with ``desired``."""
    growth = 1 + steps
    if scale is None:
        desired = np.asarray(desired, np.float64)
        scale = float(np.max(np.abs(desired))) if desired.size else 0.0
    return RTOL * growth, ATOL * growth * scale


def assert_close_f32(actual, desired, *, steps=0, scale=None, err_msg=''):
    """Assert that ``actual`` (arrays, numbers, or trees of them) matches ``desired`` to
    what float32 promises of two different programs, after ``steps`` optimizer steps."""
    def check(a, d):
        a, d = np.asarray(a, np.float64), np.asarray(d, np.float64)
        rtol, atol = tolerance(d, steps=steps, scale=scale)
        np.testing.assert_allclose(a, d, rtol=rtol, atol=atol, err_msg=err_msg)

    jax.tree.map(check, actual, desired, is_leaf=_numbers)


def _numbers(x):
    # A (nested) list of numbers, a loss history or a weight matrix from JSON, is one array: its
    # scale is its largest value, as an array's.
    if not isinstance(x, (list, tuple)):
        return False
    try:
        return np.asarray(x).dtype.kind in 'biuf'
    except ValueError:  # ragged
        return False


def close_f32(actual, desired, *, steps=0, scale=None):
    """Whether ``assert_close_f32`` would pass (for ``assert not close_f32(...)``)."""
    try:
        assert_close_f32(actual, desired, steps=steps, scale=scale)
    except AssertionError:
        return False
    return True
