"""What a run leaves to look at: sample grids (images), sample scatters (2-D data), and the plot
of losses and D outputs over training. Every file is written atomically."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pygan.atomic import write_bytes_atomic
from pygan.metrics.inception_input import quantise


def image_grid(images: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0), nrow: int = 0,
               padding: int = 2, min_side: int = 64) -> Image.Image:
    """(N, C, H, W) images in `value_range` as one PIL image; small images are scaled up."""
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    x = quantise(images.detach().cpu(), value_range).to(torch.uint8)
    if c == 1:
        x = x.expand(-1, 3, -1, -1)
    canvas = torch.full((3, rows * (h + padding) + padding, nrow * (w + padding) + padding), 255, dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        canvas[:, top:top + h, left:left + w] = x[i, :3]
    picture = Image.fromarray(canvas.permute(1, 2, 0).numpy())
    scale = max(1, min_side // min(h, w))
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    return picture


def _save_png(picture: Image.Image, path: Path) -> None:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    write_bytes_atomic(buffer.getvalue(), path)


def with_row_labels(picture: Image.Image, labels: Sequence[str], padding: int = 2) -> Image.Image:
    """`picture` (a grid of len(labels) rows) with each row's name written in a margin on its left."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default()
    draw = ImageDraw.Draw(picture)
    width = max(int(draw.textlength(text, font=font)) for text in labels) + 3 * padding
    out = Image.new("RGB", (picture.width + width, picture.height), (255, 255, 255))
    out.paste(picture, (width, 0))
    draw, row = ImageDraw.Draw(out), picture.height / len(labels)
    for r, text in enumerate(labels):
        draw.text((padding, int((r + 0.5) * row)), text, fill=(0, 0, 0), font=font, anchor="lm")
    return out


def save_image_grid(images: torch.Tensor, path: str | Path, value_range: tuple[float, float] = (-1.0, 1.0),
                    nrow: int = 0, row_labels: Sequence[str] = ()) -> None:
    """A grid of `images` as a PNG; with `row_labels` (one per row) each row named on its left."""
    picture = image_grid(images, value_range, nrow)
    _save_png(with_row_labels(picture, row_labels) if row_labels else picture, Path(path))


def _figure_png(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    write_bytes_atomic(buffer.getvalue(), path)


def save_scatter(points: torch.Tensor, path: str | Path, real: torch.Tensor | None = None, title: str = "",
                 labels: torch.Tensor | None = None, classes: Sequence[str] = ()) -> None:
    """2-D samples (and, faintly, real data) as a scatter plot; with labels, one colour per class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    if real is not None:
        ax.scatter(*real.cpu().numpy().T, s=4, c="#bbbbbb", label="data")
    points = points.detach().float().cpu()
    if labels is None:
        ax.scatter(*points.numpy().T, s=4, c="#d62728", label="samples")
    else:
        colours = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        for k, name in enumerate(classes):
            chosen = labels.cpu() == k
            ax.scatter(*points[chosen].numpy().T, s=4, color=colours(k % colours.N), label=f"G(z, {name})")
    ax.set_aspect("equal")
    # Below the axes: inside, it would hide the modes in a corner.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2 if labels is None else 5, frameon=False,
              markerscale=3)
    ax.set_title(title)
    _figure_png(fig, Path(path))


def save_training_plot(rows: Sequence[dict], path: str | Path, probabilities: bool = True) -> None:
    """Losses and mean D outputs against steps, from metrics.jsonl rows (evaluation rows skipped);
    with the JSD lower bound and the augmentation strength where the rows log them. `probabilities`:
    D's outputs are probabilities (BCE losses), else raw scores (no 0..1 axis)."""
    rows = [r for r in rows if "loss_d" in r]
    if not rows:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([r["step"] for r in rows])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    top.plot(steps, [r["loss_d"] for r in rows], label="loss D")
    top.plot(steps, [r["loss_g"] for r in rows], label="loss G")
    top.set_ylabel("loss")
    top.legend()
    bottom.plot(steps, [r["d_real"] for r in rows], label="D(x)")
    bottom.plot(steps, [r["d_fake"] for r in rows], label="D(G(z))")
    for key, label in (("jsd_lower_bound", "JSD lower bound"), ("augment_p", "augmentation p")):
        if all(key in r for r in rows):
            bottom.plot(steps, [r[key] for r in rows], label=label, linestyle=":")
    if probabilities:
        bottom.axhline(0.5, color="#999999", linewidth=0.8, linestyle="--")
        bottom.set_ylim(0, 1)
    bottom.set_ylabel("mean D output" if probabilities else "mean D score")
    bottom.set_xlabel("step")
    bottom.legend()
    _figure_png(fig, Path(path))
