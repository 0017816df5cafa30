"""The package's layers: folders import only lower folders, no import cycles, no private names.

Read from the source with ``ast`` (function-local imports included), so a
cycle hidden inside a function is found too.
"""

import ast
import os

import pytest

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'trainer')

# Lower first. A module may import its own layer and the ones before it.
LAYERS = {
    'core': 0,
    # the public namespaces of the lower layers: models and their pieces, metrics, regularisers
    'objectives': 1, 'nets': 1, 'models': 1, 'metrics': 1, 'regularizers': 1,
    'loop': 2, 'callbacks': 2, 'tracking': 2,
    'analysis': 3,
    'fitting': 4, '_trainer': 4, '_ensemble': 4,
    'recipes': 5, 'sweeps': 5,
    # the package's namespace and the command line re-export or drive everything
    '__init__': 6, 'distributed': 6,
    '__main__': 7,
}


def _modules():
    found = {}
    for folder, _, files in os.walk(SRC):
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
                if rel[-1] == '__init__' and len(rel) > 1:
                    rel = rel[:-1]
                found['.'.join(['trainer', *rel])] = path
    return found


def _imports(module, path):
    """``(line, imported module, imported names)`` of every import in ``path``, absolute."""
    package = module if path.endswith('__init__.py') else module.rsplit('.', 1)[0]
    out = []
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            out.append((node.lineno, target, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name, []) for a in node.names)
    return out


def _layer(module):
    top = module.split('.')[1] if module.count('.') else '__init__'
    return LAYERS[top]


MODULES = _modules()


def _resolved(target, names):
    """The trainer modules an import reaches (``from . import x`` reaches the module ``x``)."""
    reached = [target] if target in MODULES else []
    reached += [f'{target}.{n}' for n in names if f'{target}.{n}' in MODULES]
    return reached


def test_every_folder_has_a_layer():
    tops = {m.split('.')[1] for m in MODULES if m.count('.')}
    assert tops <= set(LAYERS), sorted(tops - set(LAYERS))


def test_no_module_imports_a_higher_layer():
    wrong = []
    for module, path in MODULES.items():
        for line, target, names in _imports(module, path):
            for reached in _resolved(target, names):
                if reached != 'trainer' and _layer(reached) > _layer(module):
                    wrong.append(f'{path}:{line}: {module} (layer {_layer(module)}) imports {reached} '
                                 f'(layer {_layer(reached)})')
    assert not wrong, '\n'.join(wrong)


def test_no_import_cycles():
    graph = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for _, target, names in _imports(module, path):
            graph[module].update(r for r in _resolved(target, names) if r != module and r != 'trainer')
    # A package importing its own submodules to re-export them is not a cycle with them.
    for module in graph:
        graph[module] = {r for r in graph[module] if not (module in MODULES and MODULES[module].endswith('__init__.py')
                                                          and r.startswith(module + '.'))}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = 'open'
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 'open':
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 'done'

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_no_private_names_cross_modules():
    wrong = []
    for module, path in MODULES.items():
        for line, target, names in _imports(module, path):
            wrong += [f'{path}:{line}: from {target} import {n}' for n in names
                      if n.startswith('_') and not n.startswith('__')]
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Attribute) and node.attr.startswith('_') and not node.attr.startswith('__'):
                base = node.value
                if isinstance(base, ast.Name) and base.id in ('self', 'cls'):
                    continue
                if node.attr == '_replace':  # a NamedTuple's public method
                    continue
                if isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == 'super':
                    continue  # an override calling its base class
                wrong.append(f'{path}:{node.lineno}: .{node.attr} on {ast.unparse(base)}')
    assert not wrong, '\n'.join(wrong)


@pytest.mark.parametrize('module', ['trainer.core.state', 'trainer.loop.run'])
def test_the_checks_see_function_local_imports(module):
    # The reader finds imports inside functions too (a hidden cycle is still a cycle).
    assert any(target for _, target, _ in _imports(module, MODULES[module]))
