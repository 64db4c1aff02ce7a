"""Faces for DCGAN.

With no options: the 100 faces of Labeled Faces in the Wild that scikit-image ships inside its
wheel (`skimage.data.lfw_subset()`, the face half; 25x25 grayscale), resized to --image-size.
No download. An epoch serves them (and their mirror images) 20 times (--option repeat=N).
With --data-dir: a folder of face images (e.g. CelebA's aligned images), resized
and centre-cropped, RGB unless --option channels=1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from pygan.data.image_files import MAX_IMAGE_SIZE, ImageFiles
from pygan.plugins import Dataset, DataSpec, Option

LFW_FACES = 100  # lfw_subset(): 100 faces, then 100 non-face patches


class RepeatedFaces(torch.utils.data.Dataset):
    """In-memory images, each also served mirrored left-right (faces are near-symmetric), the
    whole set `repeat` times per epoch so that an epoch of 100 faces is not 1 step long."""

    def __init__(self, images: torch.Tensor, flip: bool, repeat: int) -> None:
        if repeat < 1:
            raise ValueError(f"faces: option repeat must be >= 1, got {repeat}")
        self.images, self.flip, self.repeat = images, flip, repeat
        self.distinct = len(images) * (2 if flip else 1)

    def __len__(self) -> int:
        return self.distinct * self.repeat

    def __getitem__(self, index: int) -> torch.Tensor:
        index %= self.distinct
        image = self.images[index % len(self.images)]
        return image.flip(-1) if index >= len(self.images) else image


def bundled_faces(size: int) -> torch.Tensor:
    """The scikit-image LFW faces as a (100, 1, size, size) tensor in [-1, 1]."""
    from skimage.data import lfw_subset

    faces = torch.from_numpy(lfw_subset()[:LFW_FACES]).float().unsqueeze(1)  # in [0, 1]
    faces = F.interpolate(faces, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
    return faces.mul(2.0).sub(1.0).clamp(-1.0, 1.0)


class Faces(Dataset):
    description = "faces: 100 LFW faces bundled with scikit-image (no download), or --data-dir"
    options = (
        Option("data-dir", str, None, "folder of face images; default: the bundled LFW faces"),
        Option("image-size", int, 32, "side of the square images", min=1, max=MAX_IMAGE_SIZE),
        Option("channels", int, None, "1 or 3; default 1 for the bundled faces, 3 for --data-dir", choices=(1, 3)),
        Option("flip", bool, True, "also serve each bundled face mirrored"),
        Option("repeat", int, 20, "passes over the bundled faces per epoch", min=1),
    )

    def _channels(self, options: Mapping[str, Any]) -> int:
        if options.get("channels") is not None:
            return int(options["channels"])
        return 3 if options.get("data_dir") else 1

    def spec(self, options: Mapping[str, Any]) -> DataSpec:
        size = int(options["image_size"])
        return DataSpec((self._channels(options), size, size), (-1.0, 1.0))

    def load(self, options: Mapping[str, Any]) -> torch.utils.data.Dataset:
        size, channels = int(options["image_size"]), self._channels(options)
        if options.get("data_dir"):
            return ImageFiles(options["data_dir"], size, channels)
        faces = bundled_faces(size)
        if channels == 3:
            faces = faces.expand(-1, 3, -1, -1).contiguous()
        elif channels != 1:
            raise ValueError(f"faces: channels must be 1 or 3, got {channels}")
        return RepeatedFaces(faces, bool(options["flip"]), int(options["repeat"]))
