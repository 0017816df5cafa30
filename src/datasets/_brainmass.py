"""Our registry and ``brainmass.datasets``, both ways, without importing brainmass until it is used.

The seed's contract has the Trainer's datasets register *through*
``brainmass.datasets``; brainmass stays an optional dependency here:

- names registered in brainmass (its own, or a user's) load through
  :func:`datasets.load_dataset` once brainmass is imported;
- our names load through ``brainmass.datasets.load_dataset`` (called with no
  arguments, so with each loader's defaults), whether brainmass was imported
  before or after us: an import hook shares them the moment it loads.

A name both registries hold keeps each registry's own entry
(``delayed_match_task`` is brainmass's tuple there and our TaskDataset here).
"""

import functools
import importlib
import importlib.abc
import sys

_MODULE = 'brainmass.datasets'


def require():
    """Import ``brainmass.datasets``, or raise an ``ImportError`` that says how to get it."""
    try:
        return importlib.import_module(_MODULE)
    except ImportError as error:
        raise ImportError(
            "this dataset is brainmass's bundled data, and brainmass is not installed; "
            "`pip install brainmass` (or `pip install -e .[test]`) and load it again."
        ) from error


def _theirs():
    """brainmass's registry dict, or ``None`` while brainmass is not imported."""
    return getattr(sys.modules.get(_MODULE), '_REGISTRY', None)


def foreign():
    """``{name: (loader, description)}`` of brainmass's entries that are not ours."""
    return {name: entry for name, entry in (_theirs() or {}).items()
            if not getattr(entry[0], 'shared_from_datasets', False)}


def share(name, loader, description):
    """Offer one of our entries to brainmass's registry, if loaded; its own names stay its own."""
    theirs = _theirs()
    if theirs is None or name in foreign():
        return
    shared = functools.partial(loader)  # brainmass calls loader() with no arguments
    shared.shared_from_datasets = True
    theirs[name] = (shared, description)


class _ShareOnImport(importlib.abc.MetaPathFinder):
    """Wrap the loader of ``brainmass.datasets`` so our entries are shared once it has run."""

    def __init__(self, ours):
        self.ours = ours

    def find_spec(self, fullname, path, target=None):
        if fullname != _MODULE:
            return None
        for finder in sys.meta_path:
            spec = None if finder is self else getattr(finder, 'find_spec', lambda *a: None)(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _SharingLoader(spec.loader, self.ours)
                return spec
        return None


class _SharingLoader(importlib.abc.Loader):
    def __init__(self, inner, ours):
        self.inner, self.ours = inner, ours

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        share_all(self.ours)

    def __getattr__(self, name):  # get_source, get_filename, ... for tracebacks and inspect
        return getattr(self.inner, name)


def share_all(ours):
    for name, (loader, description) in list(ours.items()):
        share(name, loader, description)


def install(ours):
    """Share ``ours`` now if brainmass is loaded, and on its import if it is not yet."""
    share_all(ours)
    if not any(isinstance(finder, _ShareOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ShareOnImport(ours))
