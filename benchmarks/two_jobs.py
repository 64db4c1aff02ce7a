"""Two trainings at once on one machine: images/s of each with N threads apiece, against one alone.

    python benchmarks/two_jobs.py [--steps 300] [--out benchmarks/two-jobs.json]

Runs the faces default recipe (`pygan train --arch dcgan --plugin faces`) for --steps steps: once
alone with auto threads, then two copies at once with --threads 2 each, 1 each, and auto each
(the second started 10 s after the first, once the first trains). Reports each run's median images_per_s
over its metrics rows after the first (warm-up), the thread count each run used, and the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _start(out: Path, steps: int, threads: int | None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pygan", "train", "--arch", "dcgan", "--plugin", "faces", "--max-steps",
           str(steps), "--out", str(out), "--quiet"]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _result(out: Path) -> dict:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r.get("images_per_s") is not None and not r.get("partial")]
    return {"images_per_s": statistics.median(r["images_per_s"] for r in rows[1:]),
            "threads": sorted({r["threads"] for r in rows})}


def _runs(root: Path, name: str, steps: int, threads: list[int | None]) -> list[dict]:
    procs = []
    for i, t in enumerate(threads):
        out = root / f"{name}-{i}"
        procs.append((out, _start(out, steps, t)))
        if i + 1 < len(threads):
            time.sleep(10.0)
    results = []
    for out, proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"{out}: pygan train failed:\n{err}")
        results.append(_result(out))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from pygan.bench.report import describe, machine

    settings = {"alone, auto": [None], "two at once, --threads 2 each": [2, 2],
                "two at once, --threads 1 each": [1, 1], "two at once, auto each": [None, None]}
    with tempfile.TemporaryDirectory() as tmp:
        result = {name: _runs(Path(tmp), f"run{k}", args.steps, threads)
                  for k, (name, threads) in enumerate(settings.items())}
    info = machine()
    for name, runs in result.items():
        each = ", ".join(f"{r['images_per_s']:.0f} img/s ({'/'.join(map(str, r['threads']))} threads)" for r in runs)
        print(f"{name:32s} {each}")
    print(describe(info))
    if args.out:
        args.out.write_text(json.dumps({"machine": info, "steps": args.steps, "runs": result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
