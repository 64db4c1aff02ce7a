"""The first-party dataset plugins: faces, image-folder, ring8/grid25, and the mlp architecture."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from pygan import plugins
from pygan.data.image_files import ImageFolderError
from pygan.plugins import DataSpec


def resolved(name, **given):
    dataset = plugins.get_dataset(name)
    return dataset, plugins.resolve_options(name, dataset.options, given)


def test_bundled_faces_need_no_download_and_are_real_faces():
    faces, options = resolved("faces", image_size=32, repeat=1)
    assert faces.spec(options) == DataSpec((1, 32, 32), (-1.0, 1.0))
    data = faces.load(options)
    assert len(data) == 200  # 100 faces, each also mirrored
    assert len(faces.load({**options, "repeat": 3})) == 600
    images = torch.stack([data[i] for i in range(len(data))])
    assert images.shape == (200, 1, 32, 32)
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0.2
    torch.testing.assert_close(data[100], data[0].flip(-1))
    # At the native 25 px they are exactly the face half of scikit-image's LFW subset.
    from skimage.data import lfw_subset

    native = faces.load(plugins.resolve_options("faces", faces.options, {"image_size": 25, "flip": False,
                                                                         "repeat": 1}))
    expected = torch.from_numpy(lfw_subset()[:100]).float().unsqueeze(1) * 2 - 1
    torch.testing.assert_close(torch.stack([native[i] for i in range(100)]), expected, atol=1e-5, rtol=0)


def test_faces_sizes_and_options():
    faces, options = resolved("faces", image_size=64, flip=False, channels=3, repeat=1)
    data = faces.load(options)
    assert len(data) == 100 and data[0].shape == (3, 64, 64)


def write_images(folder, n, size=(40, 30), mode="RGB", fmt="PNG"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode).save(folder / f"img{i}.{fmt.lower()}", fmt)


def test_faces_from_a_data_dir(tmp_path):
    write_images(tmp_path / "a", 3, fmt="PNG")
    write_images(tmp_path / "b" / "nested", 2, fmt="JPEG")
    faces, options = resolved("faces", data_dir=str(tmp_path), image_size=16)
    assert faces.spec(options).shape == (3, 16, 16)
    data = faces.load(options)
    assert len(data) == 5
    assert all(data[i].shape == (3, 16, 16) for i in range(5))
    assert data[0].min() >= -1 and data[0].max() <= 1


def test_image_folder_resizes_and_centre_crops(tmp_path):
    img = np.zeros((20, 40, 3), dtype=np.uint8)
    img[:, 10:30] = 255  # a white centre square in a 40x20 black image
    Image.fromarray(img).save(tmp_path / "wide.png")
    folder, options = resolved("image-folder", data_dir=str(tmp_path), image_size=16, channels=1)
    x = folder.load(options)[0]
    assert x.shape == (1, 16, 16)
    assert x.mean() > 0.9  # the crop kept the white centre, not the black sides


def test_missing_and_empty_folders_get_clear_errors(tmp_path):
    folder, options = resolved("image-folder", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(ImageFolderError, match="does not exist"):
        folder.load(options)
    (tmp_path / "empty").mkdir()
    folder, options = resolved("image-folder", data_dir=str(tmp_path / "empty"))
    with pytest.raises(ImageFolderError, match="no images"):
        folder.load(options)
    folder, options = resolved("image-folder")
    with pytest.raises(ImageFolderError, match="needs --data-dir"):
        folder.load(options)


def test_corrupt_images_are_skipped_and_counted(tmp_path):
    write_images(tmp_path, 3)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (tmp_path / "truncated.jpg").write_bytes((tmp_path / "img0.png").read_bytes()[:60])
    folder, options = resolved("image-folder", data_dir=str(tmp_path), image_size=8)
    with pytest.warns(UserWarning, match="skipped 2 corrupt image"):
        data = folder.load(options)
    assert len(data) == 3 and data.skipped_at_scan == 2
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=3)))
    assert batch.shape == (3, 3, 8, 8)


def test_image_that_fails_late_is_replaced_not_fatal(tmp_path):
    write_images(tmp_path, 2)
    folder, options = resolved("image-folder", data_dir=str(tmp_path), image_size=8)
    data = folder.load(options)
    data.files[0].write_bytes(b"garbage")  # corrupted after the scan
    with pytest.warns(UserWarning, match="skipping unreadable image"):
        x = data[0]
    assert x.shape == (3, 8, 8) and data.skipped == {0}


@pytest.mark.parametrize(("name", "modes", "std"), [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_gaussian_mixtures(name, modes, std):
    mixture, options = resolved(name, size=20_000, seed=3)
    assert mixture.spec(options) == DataSpec((2,), None)
    centres = mixture.modes()
    assert centres.shape == (modes, 2)
    points = torch.stack(list(mixture.load(options)))
    nearest = torch.cdist(points, centres).argmin(1)
    counts = torch.bincount(nearest, minlength=modes)
    assert counts.min() > 0.8 * 20_000 / modes  # every mode, about evenly
    spread = (points - centres[nearest]).std(0)
    torch.testing.assert_close(spread, torch.full((2,), std), rtol=0.1, atol=0)
    again = torch.stack(list(mixture.load(options)))
    assert torch.equal(points, again)  # seeded


def test_ring8_and_grid25_geometry():
    ring = plugins.get_dataset("ring8").modes()
    torch.testing.assert_close(ring.norm(dim=1), torch.ones(8))
    torch.testing.assert_close(torch.atan2(ring[1, 1], ring[1, 0]), torch.tensor(2 * math.pi / 8))
    grid = plugins.get_dataset("grid25").modes()
    assert set(grid[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}


def test_mlp_architecture_for_vectors_and_small_images():
    mlp = plugins.get_architecture("mlp")
    options = plugins.resolve_options("mlp", mlp.options, {"hidden": 32})
    for spec in (DataSpec((2,), None), DataSpec((1, 28, 28))):
        assert mlp.accepts(spec) is None
        models = mlp.build(spec, options)
        x = models.generator(mlp.sample_latent(6, spec, options))
        assert x.shape == (6, *spec.shape)
        if spec.value_range:
            assert x.min() >= -1 and x.max() <= 1
        assert models.discriminator(x).shape == (6,)
    assert "try --arch dcgan" in mlp.accepts(DataSpec((3, 128, 128)))
    # latent-dim 0 = auto: as small as low-dimensional data, 100 for images
    assert mlp.latent_shape(DataSpec((2,), None), options) == (2,)
    assert mlp.latent_shape(DataSpec((1, 28, 28)), options) == (100,)
    assert mlp.latent_shape(DataSpec((2,), None), {**options, "latent_dim": 8}) == (8,)
