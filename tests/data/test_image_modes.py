"""Image folders read every Pillow mode by its real range (16-bit, 32-bit, float, alpha, palette, CMYK)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pygan.data.image_files import ImageFiles
from pygan.data.image_modes import UnsupportedImage, readable

SIZE = 16


def ramp8() -> np.ndarray:
    """A 16x16 8-bit ramp over the whole range 0..255."""
    return np.arange(SIZE * SIZE, dtype=np.uint8).reshape(SIZE, SIZE)


def as_expected(values8: np.ndarray) -> torch.Tensor:
    """What an 8-bit image with these values becomes: [-1, 1], channels first."""
    array = values8.astype(np.float32)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(array) / 127.5 - 1.0


def load_one(tmp_path, image: Image.Image, name: str, channels: int = 1) -> torch.Tensor:
    image.save(tmp_path / name)
    return ImageFiles(tmp_path, SIZE, channels)[0]


def test_16_bit_grayscale_png_uses_its_whole_range(tmp_path):
    values16 = ramp8().astype(np.uint16) * 257  # 0..65535, the same ramp at 16 bits
    x = load_one(tmp_path, Image.fromarray(values16), "deep.png")
    assert (x == 1.0).float().mean() < 0.01  # was 97% of the pixels at +1
    torch.testing.assert_close(x, as_expected(ramp8()), atol=1e-4, rtol=0)


def test_16_bit_grayscale_as_rgb_repeats_the_plane(tmp_path):
    x = load_one(tmp_path, Image.fromarray(ramp8().astype(np.uint16) * 257), "deep.png", channels=3)
    assert x.shape == (3, SIZE, SIZE)
    torch.testing.assert_close(x, as_expected(ramp8()).expand(3, -1, -1), atol=1e-4, rtol=0)


def test_32_bit_integer_images_are_read_as_16_bit(tmp_path):
    values = ramp8().astype(np.int32) * 257
    image = Image.fromarray(values)
    assert image.mode == "I"
    x = load_one(tmp_path, image, "int.tif")
    torch.testing.assert_close(x, as_expected(ramp8()), atol=1e-4, rtol=0)


def test_float_images_in_0_1_use_that_range(tmp_path):
    image = Image.fromarray(ramp8().astype(np.float32) / 255.0)
    assert image.mode == "F"
    x = load_one(tmp_path, image, "float.tif")
    assert (x == 1.0).float().mean() < 0.01
    torch.testing.assert_close(x, as_expected(ramp8()), atol=1e-4, rtol=0)


@pytest.mark.parametrize(("values", "why"), [
    (np.full((SIZE, SIZE), 3.5, np.float32), "outside \\[0, 1\\]"),
    (np.full((SIZE, SIZE), np.nan, np.float32), "NaN"),
    (np.full((SIZE, SIZE), 70_000, np.int32), "outside the 16-bit range"),
])
def test_images_without_a_known_range_are_skipped_and_counted(tmp_path, values, why):
    Image.fromarray(ramp8()).save(tmp_path / "a_good.png")
    Image.fromarray(values).save(tmp_path / "b_bad.tif")
    data = ImageFiles(tmp_path, SIZE, 1)
    with pytest.warns(UserWarning, match=f"skipping unreadable image .*b_bad.tif.*{why}"):
        x = data[1]
    torch.testing.assert_close(x, as_expected(ramp8()))  # replaced by the good image
    assert data.skipped == {1}


def test_rgba_is_composited_on_black(tmp_path):
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[:, :8, 3] = 255  # left half opaque, right half fully transparent
    x = load_one(tmp_path, Image.fromarray(rgba, "RGBA"), "alpha.png", channels=3)
    torch.testing.assert_close(x[:, :, :8], as_expected(rgba[:, :8, :3]))
    assert torch.all(x[:, :, 8:] == -1.0)  # transparent = black, not the hidden colour


def test_gray_with_alpha_is_composited_on_black(tmp_path):
    la = np.stack([np.full((SIZE, SIZE), 180, np.uint8), np.full((SIZE, SIZE), 0, np.uint8)], axis=-1)
    la[:8, :, 1] = 255
    x = load_one(tmp_path, Image.fromarray(la, "LA"), "la.png")
    assert torch.allclose(x[:, :8], torch.tensor(180 / 127.5 - 1)) and torch.all(x[:, 8:] == -1.0)


def test_palette_images_become_their_colours(tmp_path):
    image = Image.new("P", (SIZE, SIZE))
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    image.paste(1, (0, 0, 8, SIZE))
    image.paste(2, (8, 0, SIZE, SIZE))
    x = load_one(tmp_path, image, "palette.png", channels=3)
    assert torch.all(x[:, :, :8] == torch.tensor([1.0, -1.0, -1.0])[:, None, None])
    assert torch.all(x[:, :, 8:] == torch.tensor([-1.0, -1.0, 1.0])[:, None, None])


def test_cmyk_becomes_rgb(tmp_path):
    image = Image.new("CMYK", (SIZE, SIZE), (0, 0, 0, 0))  # no ink: white
    image.paste((255, 0, 0, 0), (8, 0, SIZE, SIZE))  # full cyan
    x = load_one(tmp_path, image, "cmyk.tif", channels=3)
    assert torch.all(x[:, :, :8] == 1.0)
    assert torch.all(x[:, :, 8:] == torch.tensor([-1.0, 1.0, 1.0])[:, None, None])


def test_a_mode_pygan_cannot_read_is_refused_with_its_name():
    with pytest.raises(UnsupportedImage, match="mode La is not supported"):
        readable(Image.new("La", (4, 4)), 1)
