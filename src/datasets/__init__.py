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

Every dataset is a :class:`TaskDataset`: batch-major ``inputs``, per-trial or
per-step ``targets``, an optional loss ``mask``, its ``dt``, and ``n_classes``
counted from the labels it emits. The registry holds brainmass's delayed-match
task, all 23 ``braintools.cogtask`` tasks (with response-period masks), and two
fixed fitting targets; :func:`from_arrays`, :func:`from_npz` and
:func:`register_dataset` add your own; a :class:`Curriculum` orders stages of a
task, easiest first. :func:`batches` serves minibatches
through grain, one record per batch, reshuffled per ``(seed, epoch)`` and
resumable from any step.
"""

from ._batching import batch_indices, batches, epoch_indices
from ._cogtask import from_cogtask
from ._curriculum import Curriculum
from ._delayed_match import delayed_match_task
from ._fixed_targets import fc_matrix, multi_region_signal, steady_state_target
from ._io import from_arrays, from_npz, save_npz
from ._plot import plot_trial
from ._record import TaskDataset
from ._registry import list_datasets, load_dataset, register_dataset

__all__ = [
    'Curriculum',
    'TaskDataset',
    'batch_indices',
    'batches',
    'delayed_match_task',
    'epoch_indices',
    'fc_matrix',
    'from_arrays',
    'from_cogtask',
    'from_npz',
    'list_datasets',
    'load_dataset',
    'multi_region_signal',
    'plot_trial',
    'register_dataset',
    'save_npz',
    'steady_state_target',
]
