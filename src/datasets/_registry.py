"""The name -> loader registry behind :func:`load_dataset`, shared with ``brainmass.datasets``."""

import difflib
from typing import Callable, List, Optional, Tuple

from . import _brainmass

__all__ = ['list_datasets', 'load_dataset', 'register_dataset']

# name -> (loader, one-line description)
_REGISTRY = {}


def register_dataset(name: str, loader: Callable, *, description: Optional[str] = '',
                     overwrite: bool = False) -> None:
    """Register ``loader`` under ``name`` for :func:`load_dataset`.

    Parameters
    ----------
    name : str
        The lookup name (snake_case by convention).
    loader : callable
        Called as ``loader(**kwargs)`` on each :func:`load_dataset`; it should
        accept ``n_trials`` and ``seed`` when its data are random.
    description : str, optional
        One line shown by :func:`list_datasets` (``None`` is ``''``, as in brainmass).
    overwrite : bool, optional
        Replace an existing entry instead of raising.

    Raises
    ------
    TypeError
        If ``loader`` is not callable.
    ValueError
        If ``name`` is empty, or taken and ``overwrite`` is False.

    Notes
    -----
    When brainmass is imported (before or after), the entry is also offered
    to ``brainmass.datasets``, whose ``load_dataset(name)`` then calls
    ``loader()`` with its defaults; brainmass's own names stay brainmass's.

    Examples
    --------
    >>> import numpy as np
    >>> import datasets
    >>> def ramp(*, n_trials=4, seed=0):
    ...     x = np.linspace(0, 1, 5)[None, :, None].repeat(n_trials, 0)
    ...     return datasets.from_arrays(x, x, seed=seed)
    >>> datasets.register_dataset('ramp_example', ramp, description='a ramp', overwrite=True)
    >>> len(datasets.load_dataset('ramp_example', n_trials=3))
    3
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f'name must be a non-empty str, got {name!r}.')
    if not callable(loader):
        raise TypeError(
            f'loader for dataset {name!r} must be callable, got {type(loader).__name__}.'
        )
    if name in _REGISTRY and not overwrite:
        raise ValueError(
            f'dataset {name!r} is already registered; pass overwrite=True to replace it '
            f'or choose another name.'
        )
    description = '' if description is None else description
    if not isinstance(description, str):
        raise TypeError(f'description must be a str, got {type(description).__name__}.')
    _REGISTRY[name] = (loader, description)
    _brainmass.share(name, loader, description)


def _entries():
    """Ours, then the names only brainmass's registry holds (once brainmass is imported)."""
    return {**_brainmass.foreign(), **_REGISTRY}


def list_datasets() -> List[Tuple[str, str]]:
    """The registered ``(name, description)`` pairs, sorted by name.

    Names registered in ``brainmass.datasets`` are listed too once brainmass
    is imported.

    Examples
    --------
    >>> import datasets
    >>> 'delayed_match_task' in dict(datasets.list_datasets())
    True
    """
    return [(name, description) for name, (_, description) in sorted(_entries().items())]


def load_dataset(name: str, **kwargs):
    """Call the loader registered under ``name`` with ``kwargs``.

    Parameters
    ----------
    name : str
        A name from :func:`list_datasets`.
    **kwargs
        Passed to the loader: ``n_trials``, ``seed``, ``dt`` and task
        parameters.

    Returns
    -------
    TaskDataset
        Whatever the loader returns: a TaskDataset for the built-ins, except
        ``example_connectome`` (brainmass's ``Connectome``, as is). A name
        only ``brainmass.datasets`` holds loads through its loader.

    Raises
    ------
    KeyError
        If ``name`` is not registered; the message lists the names.

    Examples
    --------
    >>> import datasets
    >>> ds = datasets.load_dataset('delayed_match_task', n_trials=16, seed=1)
    >>> ds.inputs.shape
    (16, 10, 4)
    """
    entries = _entries()
    if name not in entries:
        close = difflib.get_close_matches(str(name), entries, n=1)
        hint = f' Did you mean {close[0]!r}?' if close else ''
        raise KeyError(
            f'unknown dataset {name!r}.{hint} Available datasets: '
            f'{", ".join(sorted(entries)) or "<none>"}.'
        )
    loader, _ = entries[name]
    return loader(**kwargs)


_brainmass.install(_REGISTRY)
