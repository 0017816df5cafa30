"""The name -> loader registry behind :func:`load_dataset`, shared with ``brainmass.datasets``."""

import difflib
import inspect
from typing import Callable, List, Optional, Tuple

from . import _brainmass

from ._record import TaskDataset

__all__ = ['list_datasets', 'load_dataset', 'loader_of', 'register_dataset']

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
        Called as ``loader(**kwargs)`` on each :func:`load_dataset`; it must
        return a :class:`TaskDataset`, and should accept ``n_trials`` and
        ``seed`` when its data are random.
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


# Registered names whose loaders return brainmass's own objects, not TaskDatasets.
_AS_IS = {'example_connectome'}


def _entries():
    """Ours, then the names only brainmass's registry holds (once brainmass is imported)."""
    return {**_brainmass.foreign(), **_REGISTRY}


def loader_of(name: str) -> Callable:
    """The loader registered under ``name`` (its signature says which arguments it takes).

    Examples
    --------
    >>> import datasets
    >>> 'n_trials' in __import__('inspect').signature(datasets.loader_of('delayed_match_task')).parameters
    True
    """
    if name not in _REGISTRY:
        load_dataset(name)  # raises the registry's error: the known names, the closest first
    return _REGISTRY[name][0]


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
        A :class:`TaskDataset` for the built-ins, except ``example_connectome``
        (brainmass's ``Connectome``, as is). A name only ``brainmass.datasets``
        holds loads through its loader.

    Raises
    ------
    KeyError
        If ``name`` is not registered; the message lists the names.
    TypeError
        If the loader takes none of some ``kwargs`` (the message lists the
        ones it takes), or returns something other than a TaskDataset.

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
    _check_kwargs(name, loader, kwargs)
    dataset = loader(**kwargs)
    # brainmass's own objects (a Connectome, its registry's entries) come back as brainmass made them.
    if not isinstance(dataset, TaskDataset) and name not in _AS_IS and name in _REGISTRY:
        raise TypeError(
            f'the loader registered as {name!r} returned {type(dataset).__name__}, not a '
            f'TaskDataset; make it return datasets.from_arrays(inputs, targets, ...).'
        )
    return dataset


def _check_kwargs(name, loader, kwargs):
    """Raise, listing what ``loader`` takes, for keywords it does not (Python names neither)."""
    try:
        parameters = inspect.signature(loader).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: let the call speak
        return
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    accepted = [p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        close = difflib.get_close_matches(unknown[0], accepted, n=1)
        hint = f' Did you mean {close[0]!r}?' if close else ''
        takes = f'it takes {accepted}' if accepted else 'it takes none (its data are fixed)'
        raise TypeError(f'dataset {name!r} takes no argument(s) {unknown}; {takes}.{hint}')


_brainmass.install(_REGISTRY)
