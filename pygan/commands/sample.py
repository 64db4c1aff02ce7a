"""`pygan sample`: images (a grid or files) or a latent walk from a trained generator."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import typer

from pygan.commands.errors import exit_on_user_error
from pygan.errors import PyganError

MAX_SEED = 2**32 - 1  # the seeds `pygan train` accepts


class SampleError(PyganError):
    """The samples cannot be drawn or written as asked."""


def _check_device(device: str) -> None:
    import torch

    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise SampleError(f"--device must be cpu, cuda or cuda:N (N a GPU index), got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SampleError(f"--device {device}: no CUDA GPU is available here; use --device cpu")


@contextlib.contextmanager
def _writing(out: Path) -> Iterator[None]:
    """An OSError while writing the samples becomes one line naming --out (errors that already name
    the file pass through)."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SampleError(f"cannot write the samples to --out {out}: {reason} ({exc.filename or out}); "
                          "choose a folder you can write to") from None


def sample(
    checkpoint: Path = typer.Argument(..., metavar="RUN",
                                      help="A run directory or a .pt checkpoint written by `pygan train`."),
    n: int = typer.Option(64, "--n", "-n", metavar="N", help="How many samples.", min=1),
    out: Path = typer.Option(Path("samples.png"), "--out", metavar="PATH",
                             help="Output PNG (or folder with --no-grid)."),
    grid: bool = typer.Option(True, "--grid/--no-grid", help="One grid image, or one PNG per sample."),
    interpolate: bool = typer.Option(False, "--interpolate", help="Latent walks: rows from one z to another."),
    steps: int = typer.Option(8, "--steps", metavar="N", help="Images per latent walk.", min=2),
    seed: int = typer.Option(0, "--seed", metavar="N", help="Seed of the latent draws.", min=0, max=MAX_SEED),
    ema: bool = typer.Option(True, "--ema/--no-ema", help="Use the EMA weights when the run kept them."),
    device: str = typer.Option("cpu", "--device", metavar="DEVICE", help="cpu or cuda."),
    class_: str = typer.Option(None, "--class", metavar="NAME_OR_INDEX", help="Class-conditional runs: samples "
                               "of this class only (default: one row per class)."),
) -> None:
    """Generate samples from a trained generator."""
    import torch

    from pygan.generate import generate
    from pygan.sampling import latent_walks, load_generator
    from pygan.training import artifacts

    with exit_on_user_error():
        _check_device(device)
        loaded = load_generator(checkpoint, ema=ema, device=device)
        chosen = loaded.class_index(class_) if class_ is not None else None
    if interpolate:
        z, nrow = latent_walks(loaded, max(1, n // steps), steps, seed), steps
    else:
        z, nrow = loaded.latent(n, seed), 0
    labels = None
    if loaded.conditional:
        k = len(loaded.spec.classes)
        if chosen is not None:
            labels = loaded.labels(len(z), chosen)
        elif interpolate:  # walk w in class w mod k
            labels = (torch.arange(len(z)) // steps) % k
        else:  # one row per class
            nrow = -(-len(z) // k)
            labels = torch.arange(len(z)) // nrow
    images = generate(loaded.generator, z.to(device), labels).cpu()
    spec = loaded.spec
    with exit_on_user_error(), _writing(out):
        if not spec.is_image:
            if spec.shape != (2,):
                from pygan.atomic import atomic_output

                with atomic_output(out.with_suffix(".pt")) as f:
                    torch.save(images, f)
                typer.echo(f"wrote {len(images)} samples of shape {spec.shape} to {out.with_suffix('.pt')}")
                return
            artifacts.save_scatter(images, out, title=f"{checkpoint} (step {loaded.step})", labels=labels,
                                   classes=spec.classes)
        elif grid:
            rows = -(-len(images) // nrow) if nrow else 0
            names = [spec.classes[int(labels[r * nrow])] for r in range(rows)] \
                if labels is not None and chosen is None and not interpolate else []
            artifacts.save_image_grid(images, out, spec.value_range or (-1.0, 1.0), nrow=nrow, row_labels=names)
        else:
            out.mkdir(parents=True, exist_ok=True)
            for i, image in enumerate(images):
                artifacts.save_image_grid(image[None], out / f"sample-{i:04d}.png", spec.value_range or (-1.0, 1.0),
                                          nrow=1)
    weights = "EMA" if loaded.used_ema else "raw"
    of_class = f" of class {spec.classes[chosen]}" if chosen is not None else ""
    typer.echo(f"wrote {len(images)} samples{of_class} ({weights} weights, step {loaded.step}) to {out}")
