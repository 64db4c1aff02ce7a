"""Any folder of images (searched recursively), resized and centre-cropped to --image-size. With
--option labels=folders it is labelled: one subfolder per class, named after the class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pygan.data.image_files import MAX_IMAGE_SIZE, ImageFiles, ImageFolderError, LabelledImageFiles, class_folders
from pygan.plugins import Dataset, DataSpec, Option


class ImageFolder(Dataset):
    description = "any folder of images (png, jpg, bmp, gif, webp, tiff), recursively"
    options = (
        Option("data-dir", str, None, "folder of images (required)"),
        Option("image-size", int, 64, "side of the square images", min=1, max=MAX_IMAGE_SIZE),
        Option("channels", int, 3, "1 = grayscale, 3 = RGB", choices=(1, 3)),
        Option("labels", str, "none", "folders = one subfolder per class, labelled by its name; none = unlabelled",
               choices=("none", "folders")),
    )

    def spec(self, options: Mapping[str, Any]) -> DataSpec:
        size = int(options["image_size"])
        classes = class_folders(self._data_dir(options)) if options.get("labels") == "folders" else ()
        return DataSpec((int(options["channels"]), size, size), (-1.0, 1.0), classes)

    @staticmethod
    def _data_dir(options: Mapping[str, Any]) -> str:
        if not options.get("data_dir"):
            raise ImageFolderError("image-folder needs --data-dir PATH (a folder of images)")
        return options["data_dir"]

    def load(self, options: Mapping[str, Any]) -> ImageFiles | LabelledImageFiles:
        images = ImageFiles(self._data_dir(options), int(options["image_size"]), int(options["channels"]))
        if options.get("labels") == "folders":
            return LabelledImageFiles(images, class_folders(options["data_dir"]))
        return images
