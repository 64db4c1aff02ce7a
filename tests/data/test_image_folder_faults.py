"""Image folders under faults: images over Pillow's decompression-bomb limit, files deleted during training."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pygan.data.image_files import ImageFiles, ImageFolderError


def write(path, side):
    Image.fromarray(np.full((side, side), 128, np.uint8)).save(path)


def test_images_over_the_decompression_bomb_limit_are_skipped_and_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    write(tmp_path / "small.png", 16)  # 256 pixels
    write(tmp_path / "warns.png", 40)  # 1,600: over the limit, Pillow warns
    write(tmp_path / "raises.png", 64)  # 4,096: over twice the limit, Pillow raises
    with pytest.warns(UserWarning, match="skipped 2 image\\(s\\) whose size is over Pillow's decompression-bomb "
                                         "limit of 1000 pixels .*raises.png, warns.png"):
        data = ImageFiles(tmp_path, 8, 1)
    assert len(data) == 1 and data.skipped_at_scan == 2
    assert data[0].shape == (1, 8, 8)


def test_a_folder_of_only_oversized_images_says_why_none_could_be_read(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    write(tmp_path / "big.png", 32)
    with pytest.warns(UserWarning), pytest.raises(ImageFolderError, match=r"big\.png: size is over Pillow's"):
        ImageFiles(tmp_path, 8, 1)


@pytest.mark.parametrize("deleted", ["all", "one"])
def test_files_deleted_during_training_name_the_file_and_say_the_folder_changed(tmp_path, deleted):
    for i in range(3):
        write(tmp_path / f"img{i}.png", 16)
    data = ImageFiles(tmp_path, 8, 1)
    assert data[0].shape == (1, 8, 8)
    for path in data.files if deleted == "all" else data.files[1:2]:
        path.unlink()
    index = 0 if deleted == "all" else 1
    with pytest.raises(ImageFolderError, match=f"img{index}.png' was in the data folder .* is gone now: the folder "
                                               "changed during training; restore its files"):
        data[index]
