"""The API reference builds with ``mkdocs build --strict`` and covers every public name."""

import doctest
import glob
import importlib
import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
PAGES = {'trainer': 'trainer', 'trainer.objectives': 'objectives', 'trainer.metrics': 'metrics', 'trainer.callbacks': 'callbacks',
         'trainer.models': 'models', 'trainer.regularizers': 'regularizers',
         'trainer.analysis': 'analysis', 'trainer.recipes': 'recipes', 'trainer.sweeps': 'sweeps',
         'trainer.distributed': 'distributed', 'datasets': 'datasets'}


def load_roles():
    spec = importlib.util.spec_from_file_location('griffe_roles', os.path.join(ROOT, 'docs', 'griffe_roles.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    pytest.importorskip('mkdocs', reason='needs the docs extra: pip install -e ".[docs]"')
    pytest.importorskip('mkdocstrings_handlers.python', reason='needs the docs extra')
    out = tmp_path_factory.mktemp('site')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), NO_MKDOCS_2_WARNING='1')
    run = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--strict', '-d', str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    return out


@pytest.mark.parametrize('module, page', PAGES.items())
def test_every_public_name_has_an_entry(site, module, page):
    html = (site / page / 'index.html').read_text()
    names = importlib.import_module(module).__all__
    objects = [getattr(importlib.import_module(module), n) for n in names]
    for name, obj in zip(names, objects):
        if type(obj).__name__ == 'module' or any(obj is other for other in objects[:names.index(name)]):
            continue  # a submodule has its own page; a second name for one object, the first's entry
        assert f'id="{module}.{name}"' in html, name


def test_sphinx_roles_become_cross_references_or_plain_code():
    pytest.importorskip('griffe', reason='needs the docs extra: pip install -e ".[docs]"')
    roles = load_roles()
    assert roles.rewrite(':func:`rollout`', 'trainer._trainer') == '[`rollout`][trainer.rollout]'
    assert roles.rewrite(':meth:`Trainer.fit`', 'trainer.fitting.fitter') == '[`Trainer.fit`][trainer.Trainer.fit]'
    assert roles.rewrite(':func:`get`', 'trainer.metrics') == '[`get`][trainer.metrics.get]'
    assert roles.rewrite(':class:`~datasets.TaskDataset`', 'datasets._io') == '[`TaskDataset`][datasets.TaskDataset]'
    assert roles.rewrite(':func:`braintools.metric.cosine_similarity`', 'trainer.objectives') == \
        '`braintools.metric.cosine_similarity`'  # another package: nothing of ours to link
    # A private module links to the public module that exports the name, not to `trainer`.
    assert roles.rewrite(':func:`fcd`', 'trainer.objectives.fc_dynamics') == '[`fcd`][trainer.objectives.fcd]'
    assert roles.rewrite(':func:`predict`', 'trainer.analysis.conditions') == '[`predict`][trainer.analysis.predict]'
    assert roles.rewrite(':func:`train_task`', 'trainer.recipes.task_run') == '[`train_task`][trainer.recipes.train_task]'
    assert roles.rewrite(':data:`DEFAULT_RECIPE`', 'trainer.recipes') == \
        '[`DEFAULT_RECIPE`][trainer.recipes.DEFAULT_RECIPE]'
    # A second name for one object links to the entry under its first name.
    assert roles.rewrite(':func:`trainer.objectives.timeseries_rmse`', 'trainer.fitting.fitter') == \
        '[`trainer.objectives.timeseries_rmse`][trainer.objectives.rmse]'
    # Inside a class (its docstring or a member's) a bare member name is that class's member;
    # a data field has no entry of its own, so it links to the class.
    assert roles.rewrite(':meth:`position`', 'datasets._curriculum', 'Curriculum') == \
        '[`position`][datasets.Curriculum.position]'
    assert roles.rewrite(':meth:`split`', 'datasets._record', 'TaskDataset') == \
        '[`split`][datasets.TaskDataset.split]'
    assert roles.rewrite(':attr:`unique`', 'trainer.analysis.attractors', 'FixedPoints') == \
        '[`unique`][trainer.analysis.FixedPoints]'
    # A name of ours that does not exist still becomes a link, which the strict build refuses.
    assert roles.rewrite(':func:`no_such_name`', 'trainer._trainer') == '[`no_such_name`][trainer.no_such_name]'


def test_attribute_docstring_examples_run():
    """A module attribute's docstring (the string after it, which doctest does not see) runs too."""
    griffe = pytest.importorskip('griffe', reason='needs the docs extra: pip install -e ".[docs]"')
    roles = load_roles()
    checked = 0
    for path in roles.public_modules():
        runtime = importlib.import_module(path)
        module = griffe.load(path, search_paths=[os.path.join(ROOT, 'src')])
        for name in getattr(runtime, '__all__', ()):
            obj = module.members.get(name)
            obj = obj.final_target if obj is not None and obj.is_alias else obj  # defined in a submodule
            if obj is None or not obj.is_attribute or not obj.docstring:
                continue
            test = doctest.DocTestParser().get_doctest(obj.docstring.value, {}, f'{path}.{name}', None, 0)
            result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test)
            assert test.examples and result.failed == 0, f'{path}.{name}'
            checked += 1
    assert checked >= 2  # trainer.recipes.DEFAULT_RECIPE and RECIPES at least


def test_every_public_module_has_a_page():
    pages = ' '.join(open(p).read() for p in glob.glob(os.path.join(ROOT, 'docs', '*.md')))
    for package in ('trainer', 'datasets'):
        for path in glob.glob(os.path.join(ROOT, 'src', package, '*.py')):
            name = os.path.basename(path)[:-3]
            module = package if name == '__init__' else f'{package}.{name}'
            if not name.startswith('_') or name in ('__init__', '__main__'):
                assert re.search(rf'^::: {re.escape(module)}$', pages, flags=re.M), module
    with open(os.path.join(ROOT, 'mkdocs.yml')) as f:
        nav = f.read()
    for page in glob.glob(os.path.join(ROOT, 'docs', '*.md')):
        assert os.path.basename(page) in nav, page
