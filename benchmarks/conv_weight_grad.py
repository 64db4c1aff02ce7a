"""The weight gradient of each of DCGAN's convolutions (64 px, batch 64, 3 channels, channels-last
as the trainer runs them): oneDNN's (ATen's convolution_backward, weight only, channels-last and
NCHW) against pygan's conv2d_weight_grad (im2col + GEMM), timed interleaved in one process, with
each layer's GFLOP/s and this machine's float32 matrix-multiply rate beside them. The evidence for
pygan.ops.conv's rule; every weight gradient a DCGAN step computes is one of these rows.

    python benchmarks/conv_weight_grad.py [--batch-size 64] [--repeats 9] [--json FILE]

torch.compile is left out: Inductor hands a convolution's backward to the same ATen call (oneDNN).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from functools import partial
from pathlib import Path

import torch

from pygan.bench.report import describe, machine
from pygan.ops import conv2d_weight_grad

# (layer, wide side's channels and size, narrow side's channels and size): the weight gradient's two
# operands. A convolution's wide side is its input; a transposed convolution's is its grad_output.
LAYERS = [
    ("D conv 3->64", 3, 64, 64, 32),
    ("D conv 64->128", 64, 32, 128, 16),
    ("D conv 128->256", 128, 16, 256, 8),
    ("D conv 256->512", 256, 8, 512, 4),
    ("G deconv 512->256", 256, 8, 512, 4),
    ("G deconv 256->128", 128, 16, 256, 8),
    ("G deconv 128->64", 64, 32, 128, 16),
    ("G deconv 64->3", 3, 64, 64, 32),
]


def _onednn(wide: torch.Tensor, narrow: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.convolution_backward(narrow, wide, weight, None, [2, 2], [1, 1], [1, 1], False, [0, 0], 1,
                                               [False, True, False])[1]


def _time_into(fn, times: list[float]) -> None:  # appends one call's ms
    start = time.perf_counter()
    fn()
    times.append((time.perf_counter() - start) * 1e3)


def sgemm_gflops(repeats: int) -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    times: list[float] = []
    for _ in range(repeats + 1):
        _time_into(lambda: a @ b, times)
    return 2 * 2048 ** 3 / statistics.median(times[1:]) / 1e6


def run(batch: int, repeats: int) -> dict:
    cl = torch.channels_last
    rows = []
    for name, c_wide, s_wide, c_narrow, s_narrow in LAYERS:
        wide = torch.randn(batch, c_wide, s_wide, s_wide).contiguous(memory_format=cl)
        narrow = torch.randn(batch, c_narrow, s_narrow, s_narrow).contiguous(memory_format=cl)
        weight = torch.empty(c_narrow, c_wide, 4, 4).contiguous(memory_format=cl)
        wide_nchw, narrow_nchw, weight_nchw = wide.contiguous(), narrow.contiguous(), weight.contiguous()
        terms = batch * s_narrow * s_narrow  # float32 sums of this many products: rounding ~ its square root
        exact = conv2d_weight_grad(wide.double(), narrow.double(), 4, 2, 1)
        for got in (conv2d_weight_grad(wide, narrow, 4, 2, 1), _onednn(wide, narrow, weight)):
            torch.testing.assert_close(got.double(), exact, rtol=1e-4, atol=4e-5 * terms ** 0.5)
        providers = {
            "oneDNN channels-last": partial(_onednn, wide, narrow, weight),
            "oneDNN NCHW": partial(_onednn, wide_nchw, narrow_nchw, weight_nchw),
            "pygan im2col+GEMM": partial(conv2d_weight_grad, wide, narrow, 4, 2, 1),
        }
        times: dict[str, list[float]] = {k: [] for k in providers}
        for f in providers.values():  # warm-up: oneDNN's primitive cache, the allocator
            f()
        for _ in range(repeats):
            for label, f in providers.items():
                _time_into(f, times[label])
        gflop = 2 * batch * c_wide * c_narrow * 16 * s_narrow * s_narrow / 1e9
        ms = {k: statistics.median(v) for k, v in times.items()}
        rows.append({"layer": name, "gflop": gflop, "ms": ms,
                     "gflops": {k: gflop / v * 1e3 for k, v in ms.items()}})
    return {"machine": machine(), "batch": batch, "repeats": repeats, "rows": rows,
            "sgemm_2048_gflops": sgemm_gflops(repeats)}


def print_table(result: dict) -> None:
    providers = list(result["rows"][0]["ms"])
    print(f"{describe(result['machine'])}; batch {result['batch']}, "
          f"medians of {result['repeats']} interleaved repeats")
    print(f"{'layer (weight gradient)':22s}{'GFLOP':>7s}" + "".join(f"{p:>24s}" for p in providers)
          + f"{'pygan / oneDNN CL':>19s}")
    for r in result["rows"]:
        cells = "".join(f"{r['ms'][p]:9.1f} ms {r['gflops'][p]:6.0f} GF/s" for p in providers)
        speedup = r["ms"]["oneDNN channels-last"] / r["ms"]["pygan im2col+GEMM"]
        print(f"{r['layer']:22s}{r['gflop']:7.2f}{cells}{speedup:18.2f}x")
    print(f"float32 matmul 2048^2: {result['sgemm_2048_gflops']:.0f} GFLOP/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    if args.batch_size < 1 or args.repeats < 1:
        parser.error("--batch-size and --repeats must be at least 1")
    result = run(args.batch_size, args.repeats)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
