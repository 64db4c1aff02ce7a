"""Writes OUT/summary.json for benchmarks/gpu-check.sh from what its stages left in OUT: the stage
table (stages.tsv), JUnit files, sanitizer logs, bench JSON and the faces run's metrics.

    python benchmarks/gpu_check_summary.py OUT --mode gpu --stages "env build ..." [--check]

It runs after every stage, so a run cut short still leaves a summary of the stages it finished;
stages that never ran are listed as "not run". --check exits 1 unless the summary is complete,
valid JSON and every stage is ok (the CPU rehearsal's own test).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

STATUSES = {"ok", "failed", "timed out", "skipped", "not run"}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _junit(path: Path) -> dict[str, Any] | None:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    totals = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    totals["passed"] = totals["tests"] - totals["failures"] - totals["errors"] - totals["skipped"]
    failed = [f"{case.get('classname')}::{case.get('name')}" for case in root.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]
    totals["first_failed"] = failed[:5]
    return totals


def _last_json_line(text: str) -> dict[str, Any] | None:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def _sanitizer(log: Path) -> dict[str, Any]:
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    numbers: dict[str, Any] = {}
    found = re.findall(r"ERROR SUMMARY: (\d+) error", text)
    if found:
        numbers["sanitizer_errors"] = int(found[-1])
    hazards = re.findall(r"RACECHECK SUMMARY: (\d+) hazard", text)
    if hazards:
        numbers["racecheck_hazards"] = int(hazards[-1])
    ops = _last_json_line(text)
    if ops:
        numbers.update({k: ops.get(k) for k in ("calls_checked", "failures", "first_failures", "seconds")})
    return numbers


def _bench_ops(path: Path) -> dict[str, Any] | None:
    data = _read_json(path)
    if not isinstance(data, dict):
        return None
    rows = data.get("ops", {}).get("rows", [])
    cases: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        if row.get("mode") != "fwd+bwd":
            continue
        key = (row.get("op"), tuple(row.get("shape", ())), row.get("dtype"))
        cases.setdefault(key, {})[row.get("provider")] = row.get("median_us")
    table = []
    for (op, shape, dtype), us in cases.items():
        entry: dict[str, Any] = {"case": f"{op} {'x'.join(map(str, shape))} {dtype}", "pygan_us": us.get("pygan")}
        for name in ("eager stable", "torch.compile"):
            if us.get(name) and us.get("pygan"):
                entry[f"x_vs_{name.replace(' ', '_').replace('.', '_')}"] = round(us[name] / us["pygan"], 3)
        table.append(entry)
    return {"rows": len(rows), "fwd_bwd": table}


def _bench_train(path: Path) -> dict[str, Any] | None:
    data = _read_json(path)
    if not isinstance(data, dict):
        return None
    train = data.get("train", {})
    return {"image_size": train.get("size"), "batch": train.get("batch"),
            "images_per_s": {r.get("provider"): round(r.get("images_per_s") or 0.0, 1) for r in train.get("rows", [])},
            "speedup": {r.get("provider"): round(r.get("speedup_vs_plain_eager") or 0.0, 3)
                        for r in train.get("rows", [])}}


def _faces(out: Path) -> dict[str, Any] | None:
    folder = out / "faces"
    metrics = folder / "metrics.jsonl"
    if not metrics.is_file():
        return None
    rows = [json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines() if line.strip()]
    last = rows[-1] if rows else {}
    grids = sorted(p.name for p in folder.glob("*.png") if p.name != "training.png")
    keys = ("step", "epoch", "loss_d", "loss_g", "d_real", "d_fake", "images_per_s", "precision")
    return {"metrics_rows": len(rows), "last_row": {k: last[k] for k in keys if k in last},
            "grid": grids[-1] if grids else None}


def numbers_for(name: str, out: Path, log: Path) -> dict[str, Any] | None:
    if name == "env":
        return _read_json(out / "env.json")
    if name == "build":
        return _read_json(out / "build.json")
    if name.startswith("tests_"):
        return _junit(out / f"junit-{name}.xml")
    if name.startswith("sanitize_"):
        return _sanitizer(log)
    if name.startswith("bench_ops"):
        return _bench_ops(out / f"{name.replace('_', '-')}.json")
    if name.startswith("bench_train"):
        return _bench_train(out / f"{name.replace('_', '-')}.json")
    if name == "train_faces":
        return _faces(out)
    return None


def build(out: Path, mode: str, expected: list[str], started: float | None) -> dict[str, Any]:
    recorded: dict[str, dict[str, Any]] = {}
    table = out / "stages.tsv"
    if table.is_file():
        for line in table.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) < 5:
                continue
            name, status, seconds, rc, log = parts[:5]
            note = parts[5] if len(parts) > 5 else ""
            recorded[name] = {"name": name, "status": status, "seconds": float(seconds),
                              "rc": int(rc) if rc.lstrip("-").isdigit() else None, "log": log or None}
            if note:
                recorded[name]["note"] = note
    stages = []
    for name in expected + [n for n in recorded if n not in expected]:
        stage = recorded.get(name, {"name": name, "status": "not run", "seconds": 0.0, "rc": None, "log": None})
        log = out / stage["log"] if stage.get("log") else out / "logs" / f"{name}.log"
        if stage["status"] != "not run":
            stage["numbers"] = numbers_for(name, out, log)
        stages.append(stage)
    now = time.time()
    return {
        "mode": mode,
        "complete": all(s["status"] != "not run" for s in stages),
        "ok": all(s["status"] in ("ok", "skipped") for s in stages) and all(s["status"] != "not run" for s in stages),
        "failed": [s["name"] for s in stages if s["status"] in ("failed", "timed out")],
        "skipped": [s["name"] for s in stages if s["status"] == "skipped"],
        "seconds": round(now - started, 1) if started else None,
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "stages": stages,
    }


def check(summary_path: Path, expected: list[str]) -> list[str]:
    """What is wrong with a written summary (empty when it is complete and every stage is ok)."""
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{summary_path} is not valid JSON: {exc}"]
    problems = []
    names = [s.get("name") for s in summary.get("stages", [])]
    problems += [f"stage {n} is missing" for n in expected if n not in names]
    for stage in summary.get("stages", []):
        if stage.get("status") not in STATUSES:
            problems.append(f"stage {stage.get('name')} has status {stage.get('status')!r}")
        elif stage["status"] != "ok":
            problems.append(f"stage {stage['name']}: {stage['status']} (log {stage.get('log')})")
        elif not stage.get("numbers"):
            problems.append(f"stage {stage['name']} is ok but left no numbers")
        if not isinstance(stage.get("seconds"), (int, float)):
            problems.append(f"stage {stage.get('name')} has no seconds")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--mode", default="gpu")
    parser.add_argument("--stages", default="", help="the stage names the run means to record, in order")
    parser.add_argument("--started", type=float, help="the run's start, seconds since the epoch")
    parser.add_argument("--check", action="store_true", help="exit 1 unless complete and every stage is ok")
    args = parser.parse_args(argv)
    expected = args.stages.split()
    summary = build(args.out, args.mode, expected, args.started)
    path = args.out / "summary.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a summary
    if args.check:
        problems = check(path, expected)
        for p in problems:
            print(f"summary check: {p}", file=sys.stderr)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
