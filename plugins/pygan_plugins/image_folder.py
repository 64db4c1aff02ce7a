"""Any folder of images (searched recursively), resized and centre-cropped to --image-size."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pygan.data.image_files import MAX_IMAGE_SIZE, ImageFiles, ImageFolderError
from pygan.plugins import Dataset, DataSpec, Option


class ImageFolder(Dataset):
    description = "any folder of images (png, jpg, bmp, gif, webp, tiff), recursively"
    options = (
        Option("data-dir", str, None, "folder of images (required)"),
        Option("image-size", int, 64, "side of the square images", min=1, max=MAX_IMAGE_SIZE),
        Option("channels", int, 3, "1 = grayscale, 3 = RGB", choices=(1, 3)),
    )

    def spec(self, options: Mapping[str, Any]) -> DataSpec:
        size = int(options["image_size"])
        return DataSpec((int(options["channels"]), size, size), (-1.0, 1.0))

    def load(self, options: Mapping[str, Any]) -> ImageFiles:
        if not options.get("data_dir"):
            raise ImageFolderError("image-folder needs --data-dir PATH (a folder of images)")
        return ImageFiles(options["data_dir"], int(options["image_size"]), int(options["channels"]))
