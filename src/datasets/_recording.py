"""A long recording as a dataset for carried-state training: consecutive windows, in order.

A recording (``(T, F)`` inputs, ``(T, N)`` targets, say recorded rates) is
one long trial. :func:`from_recording` cuts it into ``n_streams``
contiguous segments (the trials, trained in parallel as one batch, as
PyTorch's language-model ``batchify`` does) of whole ``window``-step windows.
A ``Trainer(..., gradient='tbptt', chunk=window)`` then runs each segment's
windows in order, one optimizer step per window, the hidden state carried
from window to window and reset only where a segment starts.
"""

import numpy as np

from ._checks import check_positive_int
from ._io import from_arrays

__all__ = ['from_recording']


def _as_series(name, values):
    array = np.asarray(values)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must be a (T, features) recording, one row per time step, got an array "
                         f"of shape {array.shape}.")
    return array


def from_recording(inputs, targets, *, window, dt, n_streams=1, mask=None):
    """Cut a long recording into consecutive windows for carried-state (truncated BPTT) training.

    Parameters
    ----------
    inputs : array_like
        ``(T, n_features)`` (or ``(T,)``): what drives the model at each step.
    targets : array_like
        ``(T, n_outputs)`` (or ``(T,)``): what it should produce (recorded
        rates, say), float.
    window : int
        Steps per window: the chunk of truncated BPTT (``Trainer(chunk=window)``).
    dt : float or brainunit.Quantity
        The recording's time step (a float is milliseconds).
    n_streams : int, default 1
        Contiguous segments trained in parallel (the batch); each is cut to a
        whole number of windows, and the steps left over at each segment's end
        are dropped.
    mask : array_like, optional
        ``(T,)`` loss weights (e.g. 0 over artefacts).

    Returns
    -------
    TaskDataset
        ``(n_streams, n_windows * window, ...)``; ``conditions['start']`` is
        each segment's first step in the recording and ``conditions['window']``
        the window.

    Examples
    --------
    >>> import numpy as np
    >>> import datasets
    >>> ds = datasets.from_recording(np.ones((1000, 3)), np.zeros((1000, 2)), window=100, dt=1.0, n_streams=4)
    >>> ds.inputs.shape, ds.conditions['start'].tolist()
    ((4, 200, 3), [0, 250, 500, 750])
    """
    x, y = _as_series('inputs', inputs), _as_series('targets', targets)
    if len(x) != len(y):
        raise ValueError(f"`inputs` has {len(x)} steps but `targets` has {len(y)}; they must match along axis 0.")
    n_streams = check_positive_int('n_streams', n_streams, at_most=len(x),
                                   fix=f'The recording has {len(x)} steps.')
    segment = len(x) // n_streams
    window = check_positive_int('window', window, at_most=segment,
                                fix=f'Each of the {n_streams} segments has {segment} steps; use a shorter window '
                                    'or fewer streams.')
    kept = segment // window * window
    starts = np.arange(n_streams) * segment
    cut = lambda a: np.stack([a[s:s + kept] for s in starts])  # noqa: E731
    m = None
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != (len(x),):
            raise ValueError(f"mask must be ({len(x)},), one weight per step, got shape {m.shape}.")
        m = cut(m[:, None])[..., 0]
    dropped = len(x) - n_streams * kept
    return from_arrays(
        cut(x).astype(np.float32), cut(y).astype(np.float32), m, dt=dt,
        description=(f"A {len(x)}-step recording in {n_streams} segment(s) of {kept // window} windows of "
                     f"{window} steps ({dropped} steps dropped); train with gradient='tbptt', chunk={window}."),
        conditions={'start': starts, 'window': np.full(n_streams, window)})
