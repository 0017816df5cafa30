"""A Griffe extension: Sphinx roles in our docstrings become mkdocs cross-references.

The docstrings are NumPy style and say ``:func:`rollout``` (readable in a
terminal and in ``help()``); mkdocstrings renders Markdown, where a link to
another documented object is ``[`rollout`][trainer.rollout]``. Names of our
own packages become such links -- so ``mkdocs build --strict`` fails on a
reference to something that is not documented -- and names from other
packages stay plain code.
"""

import functools
import glob
import importlib
import importlib.util
import os
import pkgutil
import re
import sys

import logging

import griffe

# The names are checked by importing them: the source tree, installed or not.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src'))

ROLE = re.compile(r':(?:func|class|meth|mod|attr|data|exc|obj):`(~?)([\w.]+)`')
OURS = ('trainer', 'datasets')
# Under mkdocs' logger, so a warning fails `mkdocs build --strict`.
LOGGER = logging.getLogger('mkdocs.plugins.griffe_roles')


def _exists(path):
    parts = path.split('.')
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module('.'.join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            return False
        return True
    return False


def _public_module(module_path):
    """The documented module that publishes ``module_path``: the longest page whose path prefixes it
    (``trainer.objectives.fc_dynamics`` -> ``trainer.objectives``, ``trainer.core.state`` -> ``trainer``)."""
    parts = module_path.split('.')
    for cut in range(len(parts), 0, -1):
        candidate = '.'.join(parts[:cut])
        if candidate in public_modules():
            return candidate
    return parts[0]


@functools.lru_cache(maxsize=None)
def public_modules():
    """The modules with a page of their own (a ``::: name`` line in ``docs/*.md``), each documenting
    its ``__all__``; the layer folders (``trainer.core``, ``trainer.loop``...) are internal."""
    found = []
    for page in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), '*.md'))):
        with open(page) as f:
            found += [line[4:].strip() for line in f if line.startswith('::: ')]
    return tuple(dict.fromkeys(m for m in found if m.split('.')[0] in OURS and not m.endswith('__main__')))


def _exports(module):
    try:
        return getattr(importlib.import_module(module), '__all__', ())
    except ImportError:
        return ()


def _entry(module, name):
    """The name in ``module.__all__`` whose entry documents ``name``: an alias (``timeseries_rmse =
    rmse``) is documented once, under its first name in sorted order."""
    runtime = importlib.import_module(module)
    obj = getattr(runtime, name)
    return min((other for other in runtime.__all__ if getattr(runtime, other) is obj), default=name)


def _member(cls_path, name):
    """``'method'`` for a documented member of the class (method, property), ``'field'`` for a
    data attribute (described in the class's own entry), ``None`` for no member of that name."""
    module, _, qualname = cls_path.rpartition(':')
    try:
        cls = importlib.import_module(module)
        for part in qualname.split('.'):
            cls = getattr(cls, part)
    except (ImportError, AttributeError):
        return None
    if callable(getattr(cls, name, None)) or isinstance(getattr(cls, name, None), property):
        return 'method'
    annotated = any(name in vars(base).get('__annotations__', {}) for base in getattr(cls, '__mro__', ()))
    return 'field' if annotated or hasattr(cls, name) else None


def resolve(target, module_path, cls=None):
    """The documented path ``target`` names, seen from the module ``module_path`` (and from inside
    the class ``cls``, its name within that module, where the docstring is a class's or a member's).

    A bare name resolves, in order, to a member of ``cls``; to a name in the ``__all__`` of the
    public module the source belongs to; to a name in the ``__all__`` of any public module (a
    module such as ``trainer.objectives.fc_dynamics`` is published through ``trainer.objectives``).
    """
    first, _, rest = target.partition('.')
    if first in OURS:
        module = next((m for m in sorted(public_modules(), key=len, reverse=True)
                       if target.startswith(m + '.')), None)
        if module is not None:
            name, _, tail = target[len(module) + 1:].partition('.')
            if name in _exports(module):
                return '.'.join(filter(None, (module, _entry(module, name), tail)))
        return target
    if cls is not None:
        kind = _member(f'{module_path}:{cls}', first)
        if kind is not None:
            owner = resolve(cls, module_path)
            return owner if kind == 'field' and not rest else f'{owner}.{target}'
    here = _public_module(module_path)
    modules = [here] if here in public_modules() else []
    modules += [m for m in public_modules() if m not in modules]
    for module in modules:
        if first in _exports(module) and _exists(f'{module}.{target}'):
            return '.'.join(filter(None, (module, _entry(module, first), rest)))
    return f'{here}.{target}'  # nothing of ours: a link the strict build refuses


def _another_package(target, module_path, cls=None):
    first = target.split('.')[0]
    if first in OURS or _exists(f'{_public_module(module_path)}.{first}') \
            or _exists(f'{module_path.split(".")[0]}.{first}') \
            or any(first in _exports(m) for m in public_modules()) \
            or (cls is not None and _member(f'{module_path}:{cls}', first)):
        return False
    return importlib.util.find_spec(first) is not None


def rewrite(text, module_path, cls=None):
    """Replace every Sphinx role in ``text`` (the docstring of an object in ``module_path``, within
    the class ``cls`` where it is a class's or a member's)."""
    def link(match):
        short, target = match.groups()
        shown = target.rsplit('.', 1)[-1] if short else target
        if _another_package(target, module_path, cls):
            return f'`{shown}`'  # e.g. braintools.metric: no page of ours to link to
        return f'[`{shown}`][{resolve(target, module_path, cls)}]'
    return ROLE.sub(link, text)


def _enclosing_class(obj):
    """The name within its module of the class ``obj`` is or belongs to, else ``None``."""
    while obj is not None and not obj.is_module:
        if obj.is_class:
            return obj.path[len(obj.module.path) + 1:]
        obj = obj.parent
    return None


class SphinxRoles(griffe.Extension):
    """Rewrite the roles of each object's docstring as it is loaded."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None and ':' in obj.docstring.value:
            obj.docstring.value = rewrite(obj.docstring.value, obj.module.path, _enclosing_class(obj))


class PublicDocstrings(griffe.Extension):
    """Take each module's ``__all__`` as its public names, and warn (an error under
    ``mkdocs build --strict``) about one without a docstring.

    Public: every name in a package's or public module's ``__all__``, and the
    public methods and properties of the public classes.
    """

    def on_package(self, *, pkg, **kwargs):
        for module in [pkg, *(m for m in pkg.modules.values() if not m.name.startswith('_'))]:
            # `__all__ = sorted([...])` is beyond static analysis: ask the imported module.
            runtime = importlib.import_module(module.path)
            if hasattr(runtime, '__all__'):
                module.exports = list(runtime.__all__)  # so the pages list exactly these
            for name in getattr(runtime, '__all__', ()):
                if any(getattr(runtime, name) is getattr(runtime, other)
                       for other in runtime.__all__ if other < name):
                    continue  # another name for an object documented under its first name
                self._check(module[name], f'{module.path}.{name}')

    def _check(self, obj, shown):
        target = obj.final_target if obj.is_alias else obj
        if target.is_module:
            return  # a submodule has its own page and its own check
        if not target.docstring or not target.docstring.value.strip():
            LOGGER.warning('%s has no docstring; every public name needs one.', shown)
        if target.is_class:
            for name, member in target.members.items():
                if not name.startswith('_') and not member.is_alias and (member.is_function or member.is_attribute
                                                                         and 'property' in member.labels):
                    if not member.docstring or not member.docstring.value.strip():
                        LOGGER.warning('%s.%s has no docstring; every public name needs one.', shown, name)
