"""Animal-MNIST: 10,000 28x28 grayscale silhouettes of animals in 10 classes of 1,000 (bear, bird,
cat, cow, dog, elephant, giraffe, horse, sheep, zebra), labelled: class-conditional training with
no download.

The images come from the `animal-mnist` wheel (MIT), which carries them as gzipped pickles of
numpy arrays. Its own loader imports tensorflow, so it is installed with
`pip install --no-deps animal-mnist==0.4` (no pip extra can skip a package's dependencies) and
pygan reads the files itself, through an unpickler that admits numpy arrays only. White animals
on black; zero-padded to 32x32 (the nearest size dcgan takes), resized from there for other
sizes; --option labels=none drops the labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from pygan.data.array_pickle import load_arrays
from pygan.data.tensor_samples import TensorSamples
from pygan.errors import PyganError
from pygan.package_files import installed_file
from pygan.plugins import Dataset, DataSpec, Option

DISTRIBUTION = "animal-mnist"
DATA_FILES = ("animal_mnist/data/Animal_MNIST/animal_data_version_3.gz",
              "animal_mnist/data/Animal_MNIST/animal_label_version_3.gz")
CLASSES = ("bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra")
NATIVE, PADDED = 28, 32


class AnimalMnistMissing(PyganError, RuntimeError):
    """The animal-mnist wheel is not installed."""


def _tensors() -> tuple[torch.Tensor, torch.Tensor]:
    paths = [installed_file(DISTRIBUTION, name) for name in DATA_FILES]
    if None in paths:
        raise AnimalMnistMissing("--plugin animal-mnist reads its images from the animal-mnist package, which is not "
                                 "installed: pip install --no-deps animal-mnist==0.4 (--no-deps: its own loader "
                                 "needs tensorflow, which pygan does not use)")
    images, labels = (load_arrays(p) for p in paths)
    if images.shape != (len(labels), NATIVE, NATIVE) or labels.min() < 0 or labels.max() >= len(CLASSES):
        raise AnimalMnistMissing(f"the animal-mnist files hold images of shape {images.shape} and labels in "
                                 f"[{labels.min()}, {labels.max()}], not 28x28 images in {len(CLASSES)} classes: "
                                 "reinstall animal-mnist==0.4")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.copy()).long()


class AnimalMnist(Dataset):
    description = "10,000 animal silhouettes, 10 labelled classes (animal-mnist wheel, no download)"
    options = (
        Option("image-size", int, PADDED, "side of the square images (28 = as stored, 32 = zero-padded)",
               min=8, max=256),
        Option("labels", str, "classes", "classes = labelled (class-conditional training); none = unlabelled",
               choices=("classes", "none")),
    )

    def spec(self, options: Mapping[str, Any]) -> DataSpec:
        size = int(options["image_size"])
        return DataSpec((1, size, size), (-1.0, 1.0), CLASSES if options["labels"] == "classes" else ())

    def load(self, options: Mapping[str, Any]) -> torch.utils.data.Dataset:
        images, labels = _tensors()
        x = images[:, None].float().div_(127.5).sub_(1.0)
        size = int(options["image_size"])
        if size != NATIVE:
            pad = (PADDED - NATIVE) // 2
            x = F.pad(x, (pad, pad, pad, pad), value=-1.0)  # the black background, so the animals keep their pixels
            if size != PADDED:
                x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return TensorSamples(x.clamp_(-1.0, 1.0).contiguous(), labels if options["labels"] == "classes" else None)
