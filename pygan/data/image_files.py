"""A folder of image files as a torch Dataset: recursive scan, resize + centre crop, values in [-1, 1].

Every image mode is read by its real range (pygan/data/image_modes.py: 16-bit and float images
too, transparency composited on black). Corrupt files and images in a mode pygan cannot read are
skipped and counted, never a crash mid-epoch: files whose header does not verify, or whose mode is
unsupported, are dropped at the scan (one warning per reason, naming how many and the first few),
and a file that verifies but fails to decode later is replaced by the next good one and counted in
`skipped`. An image over Pillow's decompression-bomb limit (PIL.Image.MAX_IMAGE_PIXELS) is skipped
and counted the same way. A file that disappears after the scan is an ImageFolderError saying the
folder changed: silently training on what is left would change the data under a running run.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from pygan.data.image_modes import readable, unsupported_mode
from pygan.errors import PyganError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MAX_IMAGE_SIZE = 4096  # the largest --image-size: one 4096 px RGB image is already 200 MB of float32


class ImageFolderError(PyganError, RuntimeError):
    """The folder is missing, empty, or holds no readable image."""


class ImageFolderWarning(UserWarning):
    """Images were skipped (corrupt, too large, an unreadable mode); `pygan train` shows it as one line."""


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


CORRUPT = "corrupt"
# Raised by Image.open for a file whose pixel count is over Pillow's decompression-bomb limit
# (the warning, over MAX_IMAGE_PIXELS, is turned into an error by _open; the error is over twice it).
TOO_LARGE = (Image.DecompressionBombError, Image.DecompressionBombWarning)
UNREADABLE = (OSError, UnidentifiedImageError, ValueError, *TOO_LARGE)
GONE = (FileNotFoundError, NotADirectoryError)


def _open(path: Path) -> Image.Image:
    """Image.open, refusing (not just warning about) an image over the decompression-bomb limit."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(path)


def _too_large() -> str:
    return (f"size is over Pillow's decompression-bomb limit of {Image.MAX_IMAGE_PIXELS} pixels "
            "(raise PIL.Image.MAX_IMAGE_PIXELS to read them)")


def _scan(path: Path) -> tuple[str | None, tuple[int, int] | None]:
    """(None, (width, height)) if `path` looks readable from its header, else (why not, None): CORRUPT, too
    large, or an unsupported mode. The size comes from the header: nothing is decoded."""
    try:
        with _open(path) as img:
            size = img.size
            img.verify()
            problem = unsupported_mode(img.mode)
            return problem, None if problem else size
    except TOO_LARGE:
        return _too_large(), None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return CORRUPT, None


def _warn_skipped(root: str | Path, problems: dict[Path, str]) -> None:
    by_reason: dict[str, list[Path]] = {}
    for path, reason in problems.items():
        by_reason.setdefault(reason, []).append(path)
    for reason, paths in by_reason.items():
        names = ", ".join(p.name for p in paths[:5]) + (" ..." if len(paths) > 5 else "")
        what = "corrupt image(s)" if reason == CORRUPT else f"image(s) whose {reason}"
        warnings.warn(f"skipped {len(paths)} {what} under {str(root)!r}: {names}", ImageFolderWarning, stacklevel=3)


def to_square_tensor(img: Image.Image, size: int, channels: int) -> torch.Tensor:
    """Resize the shorter side to `size`, centre-crop to size x size, scale to [-1, 1]."""
    img = readable(img, channels)  # L, RGB, or one float plane on the same 0..255 scale
    w, h = img.size
    scale = size / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    img = img.crop((left, top, left + size, top + size))
    array = np.asarray(img, dtype=np.float32)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], channels, axis=2)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).div_(127.5).sub_(1.0).clamp_(-1.0, 1.0)


class ImageFiles(torch.utils.data.Dataset):
    def __init__(self, root: str | Path, size: int, channels: int = 3) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
        if not 1 <= size <= MAX_IMAGE_SIZE:
            raise ValueError(f"image size must be in [1, {MAX_IMAGE_SIZE}], got {size}")
        candidates = find_images(root)
        scanned = {p: _scan(p) for p in candidates}
        problems = {p: reason for p, (reason, _) in scanned.items() if reason}
        self.files = [p for p in candidates if p not in problems]
        self.source_sizes = [scanned[p][1] for p in self.files]  # (width, height) of each file, from its header
        if problems:
            _warn_skipped(root, problems)
        if not self.files:
            first = next(iter(problems.items()))
            raise ImageFolderError(f"none of the {len(candidates)} image files under {str(root)!r} could be read "
                                   f"(e.g. {first[0].name}: {first[1]})")
        self.root, self.size, self.channels = Path(root), size, channels
        self.skipped_at_scan = len(problems)
        self.scan_problems = problems  # path -> why it was skipped
        self.skipped: set[int] = set()

    def __len__(self) -> int:
        return len(self.files)

    def notes(self) -> list[str]:
        """What a run on this folder should tell its user once at the start: images smaller than the
        training size are upscaled (and so blurred)."""
        small = [min(size) for size in self.source_sizes if size and min(size) < self.size]
        if not small:
            return []
        share = f"all {len(small)}" if len(small) == len(self.files) else f"{len(small)} of {len(self.files)}"
        return [f"{share} images under {str(self.root)!r} are smaller than {self.size} px (the smallest: {min(small)} "
                "px): they are upscaled, which blurs them; a smaller --image-size avoids it"]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.read(index)[1]

    def read(self, index: int) -> tuple[int, torch.Tensor]:
        """(i, image i): image `index`, or the next readable one when it cannot be decoded."""
        for offset in range(len(self.files)):
            i = (index + offset) % len(self.files)
            if i in self.skipped:
                continue
            try:
                with _open(self.files[i]) as img:
                    return i, to_square_tensor(img, self.size, self.channels)
            except GONE as exc:
                raise ImageFolderError(
                    f"{str(self.files[i])!r} was in the data folder {str(self.root)!r} when it was scanned but is "
                    "gone now: the folder changed during training; restore its files (or start again, which scans "
                    "the folder afresh)"
                ) from exc
            except UNREADABLE as exc:
                self.skipped.add(i)
                warnings.warn(f"skipping unreadable image {self.files[i]}: {exc}", ImageFolderWarning, stacklevel=2)
        raise ImageFolderError(f"every image under {str(self.root)!r} failed to decode ({len(self.files)} files); "
                               "check that they are images, or point --data-dir elsewhere")


def class_folders(root: str | Path) -> tuple[str, ...]:
    """The classes of a labelled image folder: its subfolders' names, sorted (hidden ones left out)."""
    path = Path(root)
    if not path.is_dir():
        raise ImageFolderError(f"--data-dir {str(root)!r} is not a folder; give the folder that holds one "
                               "subfolder of images per class")
    names = tuple(sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if len(names) < 2:
        raise ImageFolderError(f"--option labels=folders: {str(root)!r} has {len(names)} subfolder(s); a labelled "
                               "folder holds one subfolder of images per class, two or more")
    return names


class LabelledImageFiles(torch.utils.data.Dataset):
    """An image folder whose first-level subfolders are the classes: items are (image, label)."""

    def __init__(self, images: ImageFiles, classes: tuple[str, ...]) -> None:
        index = {name: k for k, name in enumerate(classes)}
        loose = [f for f in images.files if len(f.relative_to(images.root).parts) < 2]
        if loose:
            raise ImageFolderError(f"--option labels=folders: {len(loose)} image(s) lie directly in "
                                   f"{str(images.root)!r} (e.g. {loose[0].name}), in no class subfolder; move them "
                                   "into one")
        self.images, self.classes = images, classes
        self.labels = torch.tensor([index[f.relative_to(images.root).parts[0]] for f in images.files],
                                   dtype=torch.int64)
        self.files = images.files

    def __len__(self) -> int:
        return len(self.images)

    def notes(self) -> list[str]:
        return self.images.notes()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        i, image = self.images.read(index)
        return image, self.labels[i]
