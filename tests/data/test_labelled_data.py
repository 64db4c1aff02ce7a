"""Labelled datasets: class folders, the mixtures' modes, Animal-MNIST, the contract checks, and
the unpickler that reads numpy arrays only."""

from __future__ import annotations

import gzip
import os
import pickle
import re

import numpy as np
import pytest
import torch
from PIL import Image
from pygan_plugins.animal_mnist import DATA_FILES, DISTRIBUTION

from pygan import plugins
from pygan.data.array_pickle import UnsafePickleError, load_arrays
from pygan.data.image_files import ImageFolderError
from pygan.package_files import installed_file
from pygan.plugin_checks import checked_load, checked_spec
from pygan.plugins import Dataset, DataSpec, PluginError


def _options(name: str, **given):
    plugin = plugins.get_dataset(name)
    return plugin, plugins.resolve_options(name, plugin.options, given)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_the_unpickler_reads_numpy_arrays(tmp_path):
    path = tmp_path / "arrays.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump({"x": np.arange(6, dtype=np.uint8).reshape(2, 3), "y": np.array([1, 2])}, f)
    data = load_arrays(path)
    assert data["x"].tolist() == [[0, 1, 2], [3, 4, 5]] and data["y"].dtype == np.int64


@pytest.mark.parametrize("payload", [_RunsCode(), [np.arange(3), _RunsCode()]])
def test_the_unpickler_refuses_anything_that_would_run_code(tmp_path, payload, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(UnsafePickleError, match=r"refused to load (posix|os)\.system"):
        load_arrays(path)
    assert not (tmp_path / "pwned").exists()


def test_the_unpickler_refuses_arrays_of_python_objects_and_non_arrays(tmp_path):
    objects = tmp_path / "objects.pkl"
    objects.write_bytes(pickle.dumps(np.array([1, "a"], dtype=object)))
    with pytest.raises(UnsafePickleError):
        load_arrays(objects)
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(UnsafePickleError, match="expected numeric numpy arrays, found int"):
        load_arrays(plain)


def test_ring8_labelled_by_mode():
    plugin, options = _options("ring8", size=500, labels="modes")
    spec = plugin.spec(options)
    assert spec.classes == tuple(f"mode-{k}" for k in range(8))
    data = checked_load("ring8", plugin, options, spec)
    points = torch.stack([data[i][0] for i in range(len(data))])
    assert torch.equal(torch.cdist(points, plugin.modes()).argmin(1), data.labels)
    unlabelled = plugin.load(_options("ring8", size=500)[1])
    assert torch.equal(unlabelled.samples, points)  # labels change nothing about the points


def test_an_image_folder_with_one_subfolder_per_class(tmp_path):
    for name in ("b", "a"):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / name / f"{i}.png")
    plugin, options = _options("image-folder", **{"data-dir": str(tmp_path), "image-size": 8, "labels": "folders"})
    spec = plugin.spec(options)
    assert spec.classes == ("a", "b")
    data = checked_load("image-folder", plugin, options, spec)
    assert sorted(data.labels.tolist()) == [0, 0, 1, 1]
    for i in range(4):
        image, label = data[i]
        assert image.shape == (3, 8, 8) and data.files[i].parent.name == spec.classes[int(label)]
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "loose.png")
    with pytest.raises(ImageFolderError, match=r"lie directly in .* in no class subfolder"):
        plugin.load(options)


def test_a_labelled_folder_needs_two_class_subfolders(tmp_path):
    (tmp_path / "only").mkdir()
    plugin, options = _options("image-folder", **{"data-dir": str(tmp_path), "labels": "folders"})
    with pytest.raises(ImageFolderError, match="has 1 subfolder"):
        plugin.spec(options)


class _Labelled(Dataset):
    def __init__(self, classes=("a", "b"), item=None, labels=None) -> None:
        self.classes, self.item, self.labels_ = classes, item, labels

    def spec(self, options):
        return DataSpec((2,), None, self.classes)

    def load(self, options):
        outer = self

        class Data(torch.utils.data.Dataset):
            labels = outer.labels_

            def __len__(self):
                return 2

            def __getitem__(self, i):
                return outer.item

        return Data()


@pytest.mark.parametrize(("classes", "message"), [(("a",), "two or more"), (("a", "a"), "distinct"),
                                                  (["a", "b"], "a tuple"), (("a", ""), "non-empty")])
def test_the_spec_names_its_classes_properly(classes, message):
    with pytest.raises(PluginError, match=message):
        checked_spec("toy", _Labelled(classes=classes), {})


def test_labelled_items_and_labels_are_checked():
    good_labels = torch.tensor([0, 1])
    spec = DataSpec((2,), None, ("a", "b"))
    with pytest.raises(PluginError, match="needs `labels`, an int64 tensor"):
        checked_load("toy", _Labelled(item=(torch.zeros(2), torch.tensor(0))), {}, spec)
    with pytest.raises(PluginError, match=r"outside \[0, 2\)"):
        checked_load("toy", _Labelled(labels=torch.tensor([0, 2])), {}, spec)
    bare = checked_load("toy", _Labelled(item=torch.zeros(2), labels=good_labels), {}, spec)
    with pytest.raises(PluginError, match=r"is a Tensor; expected \(sample, label\)"):
        bare[0]
    float_label = checked_load("toy", _Labelled(item=(torch.zeros(2), 0.0), labels=good_labels), {}, spec)
    with pytest.raises(PluginError, match=r"its label is 0\.0"):
        float_label[0]
    ok = checked_load("toy", _Labelled(item=(torch.zeros(2), torch.tensor(1)), labels=good_labels), {}, spec)
    assert ok[0][1] == 1


animal_mnist = pytest.mark.skipif(installed_file(DISTRIBUTION, DATA_FILES[0]) is None,
                                  reason="animal-mnist is not installed (pip install --no-deps animal-mnist==0.4)")


@animal_mnist
def test_animal_mnist_is_ten_balanced_classes_padded_to_32():
    plugin, options = _options("animal-mnist")
    spec = plugin.spec(options)
    assert spec.shape == (1, 32, 32) and spec.classes[:3] == ("bear", "bird", "cat")
    data = checked_load("animal-mnist", plugin, options, spec)
    assert len(data) == 10_000 and torch.bincount(data.labels).tolist() == [1000] * 10
    image, _ = data[0]
    assert image[:, :2].eq(-1).all() and image[:, :, -2:].eq(-1).all()  # the padding is the black background
    assert image.max() > 0.9


def test_animal_mnist_says_how_to_install_it(monkeypatch):
    import pygan_plugins.animal_mnist as module

    monkeypatch.setattr(module, "installed_file", lambda distribution, name: None)
    plugin, options = _options("animal-mnist")
    with pytest.raises(module.AnimalMnistMissing, match=re.escape("pip install --no-deps animal-mnist==0.4")):
        plugin.load(options)
