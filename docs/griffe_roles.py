"""A Griffe extension: Sphinx roles in our docstrings become mkdocs cross-references.

The docstrings are NumPy style and say ``:func:`rollout``` (readable in a
terminal and in ``help()``); mkdocstrings renders Markdown, where a link to
another documented object is ``[`rollout`][trainer.rollout]``. Names of our
own packages become such links -- so ``mkdocs build --strict`` fails on a
reference to something that is not documented -- and names from other
packages stay plain code.
"""

import importlib
import importlib.util
import os
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
    return '.'.join(part for part in module_path.split('.') if not part.startswith('_'))


def resolve(target, module_path):
    """The documented path ``target`` names, seen from the module ``module_path``."""
    if target.split('.')[0] in OURS:
        return target
    here = _public_module(module_path)
    candidates = [f'{here}.{target}', f'{here.split(".")[0]}.{target}']
    return next((c for c in candidates if _exists(c)), candidates[0])


def _another_package(target, module_path):
    first = target.split('.')[0]
    if first in OURS or _exists(f'{_public_module(module_path)}.{first}') \
            or _exists(f'{module_path.split(".")[0]}.{first}'):
        return False
    return importlib.util.find_spec(first) is not None


def rewrite(text, module_path):
    """Replace every Sphinx role in ``text``."""
    def link(match):
        short, target = match.groups()
        shown = target.rsplit('.', 1)[-1] if short else target
        if _another_package(target, module_path):
            return f'`{shown}`'  # e.g. braintools.metric: no page of ours to link to
        return f'[`{shown}`][{resolve(target, module_path)}]'
    return ROLE.sub(link, text)


class SphinxRoles(griffe.Extension):
    """Rewrite the roles of each object's docstring as it is loaded."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None and ':' in obj.docstring.value:
            obj.docstring.value = rewrite(obj.docstring.value, obj.module.path)


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
