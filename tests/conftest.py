import numpy as np
import pytest
import torch
from PIL import Image


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _pinned_threads(request, monkeypatch):
    """Runs in this process keep one thread count whatever else loads the machine: auto threads
    would follow the load, and oneDNN's convolution gradients round differently at another count,
    which would make the exactness tests depend on the machine's other work. The thread tests
    themselves (tests/training/test_threads.py) see the real auto."""
    if request.module.__name__.endswith("test_threads"):
        return
    from pygan.training import threads

    real_choose = threads.choose
    monkeypatch.setattr(threads, "choose",
                        lambda requested, *args, **kwargs: real_choose(requested or torch.get_num_threads(),
                                                                       *args, **kwargs))


@pytest.fixture(autouse=True)
def _private_feature_cache(tmp_path, monkeypatch):
    """Each test its own cache of real images' Inception features, never the user's."""
    monkeypatch.setenv("PYGAN_CACHE_DIR", str(tmp_path / "pygan-cache"))


@pytest.fixture
def tiny_images(tmp_path):
    """A folder of eight 16 px PNG images."""
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder
