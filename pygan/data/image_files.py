"""A folder of image files as a torch Dataset: recursive scan, resize + centre crop, values in [-1, 1].

Corrupt files are skipped and counted, never a crash mid-epoch: files whose header does not
verify are dropped at the scan (with one warning naming how many and the first few), and a file
that verifies but fails to decode later is replaced by the next good one and counted in
`skipped`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from pygan.errors import PyganError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class ImageFolderError(PyganError, RuntimeError):
    """The folder is missing, empty, or holds no readable image."""


def find_images(root: str | Path) -> list[Path]:
    root = Path(root).expanduser()
    if not root.exists():
        raise ImageFolderError(f"data folder {str(root)!r} does not exist; pass --data-dir PATH to a folder of images")
    if not root.is_dir():
        raise ImageFolderError(f"--data-dir {str(root)!r} is a file, not a folder of images")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())
    if not files:
        raise ImageFolderError(f"no images ({', '.join(EXTENSIONS)}) found under {str(root)!r}")
    return files


def _verifies(path: Path) -> bool:
    try:
        with Image.open(path) as img:
            img.verify()
        return True
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return False


def to_square_tensor(img: Image.Image, size: int, channels: int) -> torch.Tensor:
    """Resize the shorter side to `size`, centre-crop to size x size, scale to [-1, 1]."""
    img = img.convert("L" if channels == 1 else "RGB")
    w, h = img.size
    scale = size / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    img = img.crop((left, top, left + size, top + size))
    array = np.asarray(img, dtype=np.float32)
    if channels == 1:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).div_(127.5).sub_(1.0).clamp_(-1.0, 1.0)


class ImageFiles(torch.utils.data.Dataset):
    def __init__(self, root: str | Path, size: int, channels: int = 3) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
        candidates = find_images(root)
        self.files = [p for p in candidates if _verifies(p)]
        bad = [p for p in candidates if p not in set(self.files)] if len(self.files) < len(candidates) else []
        if bad:
            names = ", ".join(p.name for p in bad[:5]) + (" ..." if len(bad) > 5 else "")
            warnings.warn(f"skipped {len(bad)} corrupt image(s) under {str(root)!r}: {names}", stacklevel=2)
        if not self.files:
            raise ImageFolderError(f"none of the {len(candidates)} image files under {str(root)!r} could be read")
        self.size, self.channels = size, channels
        self.skipped_at_scan = len(bad)
        self.skipped: set[int] = set()

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        for offset in range(len(self.files)):
            i = (index + offset) % len(self.files)
            if i in self.skipped:
                continue
            try:
                with Image.open(self.files[i]) as img:
                    return to_square_tensor(img, self.size, self.channels)
            except (OSError, UnidentifiedImageError, ValueError) as exc:
                self.skipped.add(i)
                warnings.warn(f"skipping unreadable image {self.files[i]}: {exc}", stacklevel=2)
        raise ImageFolderError("every image in the folder failed to decode")
