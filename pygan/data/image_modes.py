"""Pillow image modes read by their real range, so that white is white in every bit depth.

`readable(img, channels)` returns an image ready for resizing: mode L or RGB (8-bit, 0..255), or
mode F (one float plane on the same 0..255 scale) for the high-bit-depth modes, which Pillow's own
`convert("L")` would clip at 255 (a 16-bit PNG comes out nearly all white).

- I;16 (16-bit grayscale): 0..65535 is black..white.
- I (32-bit integer): read as 16-bit (the mode Pillow gives some 16-bit files); values outside
  0..65535 have no agreed range and are refused.
- F (32-bit float): values in [0, 1] are black..white; anything else (or NaN/inf) is refused,
  because a float file's range is a convention the file does not record.
- Transparency (RGBA, LA, PA, RGBa, or a palette / L / RGB image with a transparent colour) is
  composited on black: the colour under a fully transparent pixel is undefined, black is not.
- P (palette), CMYK, YCbCr, HSV, LAB, 1 (bilevel): converted to L or RGB by Pillow.
Any other mode is refused at the scan (`unsupported_mode`); refused images are skipped and counted.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

EIGHT_BIT = frozenset({"1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr", "HSV", "LAB"})
WITH_ALPHA = frozenset({"RGBA", "RGBa", "LA", "PA"})
SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
SUPPORTED = EIGHT_BIT | WITH_ALPHA | SIXTEEN_BIT | {"I", "F"}
UINT16_MAX = 65535


class UnsupportedImage(ValueError):
    """An image whose values have no range pygan can read (e.g. a float image outside [0, 1])."""


def unsupported_mode(mode: str) -> str | None:
    """None if images of `mode` can be read, else the reason (known from the header alone)."""
    if mode in SUPPORTED:
        return None
    return f"mode {mode} is not supported (supported: {', '.join(sorted(SUPPORTED))})"


def _has_transparency(img: Image.Image) -> bool:
    return img.mode in WITH_ALPHA or (img.mode in {"P", "L", "RGB"} and img.info.get("transparency") is not None)


def _on_black(img: Image.Image) -> Image.Image:
    rgba = img.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)


def _float_plane(values: np.ndarray, white: float) -> Image.Image:
    """One float plane on the 0..255 scale, `white` mapping to 255."""
    return Image.fromarray((values.astype(np.float32) * np.float32(255.0 / white)).astype(np.float32), "F")


def readable(img: Image.Image, channels: int) -> Image.Image:
    """`img` as mode L (channels 1) or RGB (channels 3), or F (one plane on 0..255) for deep modes."""
    target = "L" if channels == 1 else "RGB"
    mode = img.mode
    if reason := unsupported_mode(mode):
        raise UnsupportedImage(reason)
    if mode in SIXTEEN_BIT:
        return _float_plane(np.asarray(img), UINT16_MAX)
    if mode == "I":
        values = np.asarray(img)
        low, high = int(values.min()), int(values.max())
        if low < 0 or high > UINT16_MAX:
            raise UnsupportedImage(f"32-bit integer image with values {low}..{high}, outside the 16-bit range "
                                   f"0..{UINT16_MAX}; convert it to an 8- or 16-bit image")
        return _float_plane(values, UINT16_MAX)
    if mode == "F":
        values = np.asarray(img)
        if not np.isfinite(values).all():
            raise UnsupportedImage("float image with NaN or infinite values")
        low, high = float(values.min()), float(values.max())
        if low < 0.0 or high > 1.0:
            raise UnsupportedImage(f"float image with values in [{low:g}, {high:g}], outside [0, 1]; "
                                   "rescale it to [0, 1] or save it as an 8- or 16-bit image")
        return _float_plane(values, 1.0)
    if _has_transparency(img):
        return _on_black(img).convert(target)
    return img.convert(target)
