#!/usr/bin/env bash
# One prepared check of pygan on a CUDA GPU, in about 8 minutes, with one command:
#
#   bash benchmarks/gpu-check.sh OUT                  # on the GPU machine, in the repo root
#   bash benchmarks/gpu-check.sh --cpu-rehearsal OUT  # the same stages on the CPU, small (1-2 min)
#   bash benchmarks/gpu-check.sh --stage-pydeps       # copy tomli_w and hypothesis for a bare machine
#
# Stages (each in its own log under OUT/logs, each time-boxed, all within GPU_CHECK_BUDGET_S):
#   env          python, torch, GPU, nvcc, compute-sanitizer, which modules are missing
#   build        pygan._C with CUDA for this GPU's architecture only (setup.py build_ext --inplace)
#   tests_cuda   pytest -m cuda (tests/ops/test_cuda.py, tests/training/test_cuda_training.py)
#   tests_ops    every op test on the GPU (PYGAN_TEST_DEVICE=cuda pytest tests/ops -m "not cuda")
#   sanitize_memcheck, sanitize_racecheck   compute-sanitizer over benchmarks/gpu_sanitize_ops.py
#   train_faces  the faces default run; keeps its metrics, plot and last grid
#   bench_train, bench_ops, bench_train_b256, bench_ops_compile   pygan bench on the GPU (last: the
#                first to go when the budget runs out)
# OUT/summary.json (benchmarks/gpu_check_summary.py) is rewritten after every stage and on exit.
# Nothing is installed: the repo goes on PYTHONPATH, `python -m pygan` is the CLI, and the plugin
# entry points come from `setup.py egg_info` into a scratch folder. PYTHON picks the interpreter.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
PYDEPS=${GPU_CHECK_PYDEPS:-$ROOT/build/gpu-check-pydeps}
# Pure-Python modules a bare machine may lack (pygan's config writer; the fuzz tests).
PYDEP_MODULES="tomli_w hypothesis sortedcontainers"

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  echo "Environment: PYTHON (default python3), GPU_CHECK_BUDGET_S (default 480 on a GPU, 240 rehearsing),"
  echo "GPU_CHECK_PYDEPS (default build/gpu-check-pydeps), GPU_CHECK_ONLY (stage names to run, e.g."
  echo "\"tests_ops bench_train\" to rerun two on a machine that kept pygan/_C*.so: build then only checks it)."
}

stage_pydeps() {  # copy the pure-Python modules (and their metadata) PYTHON has into $PYDEPS
  mkdir -p "$PYDEPS"
  "$PYTHON" - "$PYDEPS" $PYDEP_MODULES <<'EOF'
import importlib, importlib.metadata as md, shutil, sys
from pathlib import Path
dest = Path(sys.argv[1])
for name in sys.argv[2:]:
    mod = importlib.import_module(name)
    src = Path(mod.__file__)
    src = src.parent if src.name == "__init__.py" else src
    target = dest / src.name
    if target.exists():
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    (shutil.copytree if src.is_dir() else shutil.copy2)(src, target)
    dist = md.distribution(name)
    info = Path(dist._path)  # the .dist-info folder
    shutil.copytree(info, dest / info.name, dirs_exist_ok=True)
    for extra in (dist.read_text("top_level.txt") or "").split():  # e.g. hypothesis' _hypothesis_* modules
        f = src.parent / f"{extra}.py"
        if f.is_file():
            shutil.copy2(f, dest / f.name)
    for f in src.parent.glob(f"_{name}_*.py"):
        shutil.copy2(f, dest / f.name)
print(f"pydeps: {', '.join(sys.argv[2:])} -> {dest}")
EOF
}

MODE=gpu
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-rehearsal) MODE=cpu-rehearsal ;;
    --stage-pydeps) stage_pydeps; exit $? ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "gpu-check: unknown option $1 (expected --cpu-rehearsal, --stage-pydeps or --help)" >&2; exit 2 ;;
    *) [ -n "$OUT" ] && { echo "gpu-check: one output folder only, got $OUT and $1" >&2; exit 2; }; OUT=$1 ;;
  esac
  shift
done
[ -n "$OUT" ] || { echo "gpu-check: give the output folder, e.g. bash benchmarks/gpu-check.sh \"\$OUT\"" >&2; exit 2; }
command -v "$PYTHON" > /dev/null || { echo "gpu-check: PYTHON=$PYTHON not found; set PYTHON=/path/to/python" >&2; exit 2; }
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
: > "$OUT/stages.tsv"
cd "$ROOT"

STAGES="env build tests_cuda tests_ops sanitize_memcheck sanitize_racecheck train_faces bench_train bench_ops bench_train_b256 bench_ops_compile"
if [ "$MODE" = gpu ]; then BUDGET=${GPU_CHECK_BUDGET_S:-480}; DEV=cuda; else BUDGET=${GPU_CHECK_BUDGET_S:-240}; DEV=cpu; fi
STARTED=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pygan-gpu-check.XXXXXX")
BUILD_OK=0

summary() {
  "$PYTHON" "$ROOT/benchmarks/gpu_check_summary.py" "$OUT" --mode "$MODE" --stages "$STAGES" --started "$STARTED" "$@"
}
finish() {
  local rc=$?
  if ! summary 2> "$OUT/logs/summary.log"; then
    # No usable Python: still leave valid JSON that says so.
    printf '{"mode": "%s", "complete": false, "ok": false, "error": "summary writer failed, see logs/summary.log"}\n' \
      "$MODE" > "$OUT/summary.json"
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# run_stage NAME LIMIT_S COMMAND...: runs COMMAND under timeout, logs it, records one row.
run_stage() {
  local name=$1 limit=$2; shift 2
  local log="logs/$name.log" left=$(( BUDGET - ($(date +%s) - STARTED) - 10 ))
  if ! selected "$name"; then
    skip_stage "$name" "not in GPU_CHECK_ONLY"
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  if [ "$limit" -lt 20 ]; then
    printf '%s\tskipped\t0\t\t%s\tno time left in GPU_CHECK_BUDGET_S=%s\n' "$name" "$log" "$BUDGET" >> "$OUT/stages.tsv"
    echo "== $name: skipped (no time left)"
    summary > /dev/null 2>&1
    return 1
  fi
  echo "== $name (at most ${limit}s)"
  local t0 rc status note=""
  t0=$(date +%s.%N)
  { echo "\$ $*"; echo; } > "$OUT/$log"
  # timeout signals its whole process group, so a hung child of the stage goes too; stages are
  # shell functions (exported below), hence bash -c.
  timeout --kill-after=10 "$limit" bash -c '"$@"' stage "$@" >> "$OUT/$log" 2>&1
  rc=$?
  case $rc in
    0) status=ok ;;
    124|137) status="timed out"; note="killed after ${limit}s" ;;
    *) status=failed ;;
  esac
  local secs
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$secs" "$rc" "$log" "$note" >> "$OUT/stages.tsv"
  echo "   $status in ${secs}s (log $log)"
  [ "$status" = ok ] || tail -5 "$OUT/$log" | sed 's/^/   | /'
  summary > /dev/null 2>&1
  [ "$status" = ok ]
}

skip_stage() {  # skip_stage NAME REASON
  printf '%s\tskipped\t0\t\t\t%s\n' "$1" "$2" >> "$OUT/stages.tsv"
  echo "== $1: skipped ($2)"
}
selected() { [ "$1" = env ] || [ -z "${GPU_CHECK_ONLY:-}" ] || [[ " $GPU_CHECK_ONLY " == *" $1 "* ]]; }

export ROOT PYTHON OUT WORK MODE DEV PYDEP_MODULES
# --- the environment: PYTHONPATH, the missing pure-Python modules, plugin entry points ---------
mkdir -p "$WORK/pydeps" "$WORK/meta"
for mod in $PYDEP_MODULES; do
  if ! "$PYTHON" -c "import $mod" > /dev/null 2>&1 && [ -e "$PYDEPS/$mod" ]; then
    ln -s "$PYDEPS/$mod" "$WORK/pydeps/$mod"
    for extra in "$PYDEPS/$mod"-*.dist-info "$PYDEPS"/_"$mod"_*.py; do [ -e "$extra" ] && ln -s "$extra" "$WORK/pydeps/"; done
    echo "$mod" >> "$WORK/supplied"
  fi
done
export PYTHONPATH="$ROOT:$ROOT/plugins:$WORK/meta:$WORK/pydeps${PYTHONPATH:+:$PYTHONPATH}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$([ "$MODE" = gpu ] && nproc || echo 1)}
export PYTHONDONTWRITEBYTECODE=1 MPLBACKEND=Agg
export TORCHINDUCTOR_CACHE_DIR="$WORK/inductor"  # cold compiles, as a fresh machine has them
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}

env_info() {
  "$PYTHON" - "$OUT/env.json" "$MODE" "$WORK/supplied" $PYDEP_MODULES <<'EOF'
import importlib.util, json, os, platform, shutil, subprocess, sys
out, mode, supplied_file, modules = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
import torch
info = {"mode": mode, "python": platform.python_version(), "torch": torch.__version__,
        "torch_cuda": torch.version.cuda, "cores": os.cpu_count(), "cuda_available": torch.cuda.is_available()}
if torch.cuda.is_available():
    info["gpu"] = torch.cuda.get_device_name(0)
    info["capability"] = "%d.%d" % torch.cuda.get_device_capability(0)
    info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
for tool, args in (("nvcc", ["--version"]), ("compute-sanitizer", ["--version"]), ("ninja", ["--version"])):
    path = shutil.which(tool) or (os.path.join(os.environ.get("CUDA_HOME", ""), "bin", tool)
                                  if os.path.exists(os.path.join(os.environ.get("CUDA_HOME", ""), "bin", tool)) else None)
    if path:
        text = subprocess.run([path, *args], capture_output=True, text=True).stdout.strip().splitlines()
        info[tool] = text[-1] if text else path
    else:
        info[tool] = None
try:
    info["supplied_from_pydeps"] = open(supplied_file).read().split()
except OSError:
    info["supplied_from_pydeps"] = []
wanted = ["setuptools", "numpy", "PIL", "typer", "rich", "skimage", "matplotlib", "pytest", *modules]
info["missing_modules"] = [m for m in wanted if importlib.util.find_spec(m) is None]
print(json.dumps(info, indent=1))
json.dump(info, open(out, "w"), indent=1)
if mode == "gpu" and not torch.cuda.is_available():
    sys.exit("torch sees no GPU: run with --cpu-rehearsal on a machine without one")
EOF
}
export -f env_info
run_stage env 60 env_info

# --- build ---------------------------------------------------------------------------------------
build_cuda() {
  local arch
  arch=$("$PYTHON" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability(0))') || return 1
  echo "TORCH_CUDA_ARCH_LIST=$arch MAX_JOBS=$(nproc) CUDA_HOME=$CUDA_HOME"
  TORCH_CUDA_ARCH_LIST=$arch MAX_JOBS=$(nproc) PYGAN_FORCE_CUDA=1 \
    "$PYTHON" setup.py build_ext --inplace --build-temp "$WORK/build" || return 1
  record_build "$arch" --cuda
}
export -f build_cuda
record_build() {  # record_build ARCH [--cuda]: entry points, the CI's build check, build.json
  local arch=$1; shift
  "$PYTHON" setup.py -q egg_info --egg-base "$WORK/meta" > /dev/null || return 1
  local so
  so=$(ls pygan/_C*.so 2> /dev/null | head -1)
  [ -n "$so" ] || { echo "no pygan/_C*.so was built"; return 1; }
  "$PYTHON" .ci/check_build.py "$so" "$@" || return 1
  "$PYTHON" - "$OUT/build.json" "$so" "$arch" <<'EOF'
import json, os, sys
from pygan._extension import compiled_for
from pygan.plugins import discover
out, so, arch = sys.argv[1:]
info = {"so": os.path.basename(so), "so_mib": round(os.path.getsize(so) / 2**20, 1), "arch": arch,
        "compiled_for_cpu": compiled_for("cpu"), "compiled_for_cuda": compiled_for("cuda"),
        "architectures": sorted(discover("pygan.architectures")), "datasets": sorted(discover("pygan.datasets"))}
print(json.dumps(info))
json.dump(info, open(out, "w"))
sys.exit(0 if "faces" in info["datasets"] and "dcgan" in info["architectures"] else "plugins not found")
EOF
}
export -f record_build
if [ "$MODE" = gpu ] && selected build; then
  run_stage build 300 build_cuda && BUILD_OK=1
elif [ "$MODE" = gpu ]; then
  # A rerun on a machine that kept the extension: check it instead of building it again.
  GPU_CHECK_ONLY="$GPU_CHECK_ONLY build" run_stage build 60 record_build reused --cuda && BUILD_OK=1
else
  # The rehearsal reuses the extension already built for the CPU; it checks the rest of the stage.
  PYGAN_FORCE_CPU=1 run_stage build 60 record_build none && BUILD_OK=1
fi

# --- tests ---------------------------------------------------------------------------------------
pytest_run() { "$PYTHON" -m pytest -q -p no:cacheprovider --junitxml "$OUT/junit-$1.xml" "${@:2}"; }
export -f pytest_run
if [ "$BUILD_OK" = 1 ]; then
  run_stage tests_cuda 120 pytest_run tests_cuda -m cuda tests/ops/test_cuda.py tests/training/test_cuda_training.py
  if [ "$MODE" = gpu ]; then
    PYGAN_TEST_DEVICE=cuda run_stage tests_ops 240 pytest_run tests_ops tests/ops -m "not cuda"
  else
    PYGAN_TEST_DEVICE=cpu run_stage tests_ops 120 pytest_run tests_ops tests/ops/test_gan_loss.py \
      tests/ops/test_opcheck_and_compile.py -m "not cuda and not slow" -k "extreme or non_contiguous or opcheck"
  fi
else
  skip_stage tests_cuda "build failed"; skip_stage tests_ops "build failed"
fi

# --- compute-sanitizer ---------------------------------------------------------------------------
sanitize() {  # sanitize TOOL [script args]
  local tool=$1; shift
  if [ "$MODE" != gpu ]; then
    "$PYTHON" benchmarks/gpu_sanitize_ops.py --device cpu "$@"
    return
  fi
  local cs
  cs=$(command -v compute-sanitizer || echo "$CUDA_HOME/bin/compute-sanitizer")
  local help opts=(--tool "$tool" --error-exitcode 1)
  help=$("$cs" --help 2>&1)
  # Only pygan's kernels (their mangled names hold "pygan") where this version can filter:
  # torch's own are not under test, and each instrumented launch costs time.
  grep -q -- "--kernel-name " <<< "$help" && opts+=(--kernel-name kns=pygan)
  grep -q -- "--print-limit" <<< "$help" && opts+=(--print-limit 20)
  echo "$cs ${opts[*]}"
  # No caching allocator: each tensor is its own allocation, so reads past its end are caught.
  PYTORCH_NO_CUDA_MEMORY_CACHING=1 "$cs" "${opts[@]}" "$PYTHON" benchmarks/gpu_sanitize_ops.py --device cuda "$@"
}
export -f sanitize
if [ "$BUILD_OK" = 1 ]; then
  run_stage sanitize_memcheck 150 sanitize memcheck
  run_stage sanitize_racecheck 150 sanitize racecheck --no-large
else
  skip_stage sanitize_memcheck "build failed"; skip_stage sanitize_racecheck "build failed"
fi

# --- the faces default run -----------------------------------------------------------------------
train_faces() {
  local run="$WORK/faces" extra=()
  [ "$MODE" = gpu ] || extra=(--max-steps 3)
  "$PYTHON" -m pygan train --arch dcgan --plugin faces --device "$DEV" --out "$run" --quiet "${extra[@]}" || return 1
  # Keep what a reader looks at; the checkpoints (tens of MB) stay behind.
  mkdir -p "$OUT/faces"
  cp "$run/metrics.jsonl" "$run/config.toml" "$OUT/faces/"
  [ -f "$run/training.png" ] && cp "$run/training.png" "$OUT/faces/"
  local grid
  grid=$(ls "$run"/samples/*.png 2> /dev/null | sort | tail -1)
  [ -n "$grid" ] || { echo "the run left no sample grid"; return 1; }
  cp "$grid" "$OUT/faces/"
}
export -f train_faces
if [ "$BUILD_OK" = 1 ]; then run_stage train_faces 150 train_faces; else skip_stage train_faces "build failed"; fi

# --- benchmarks ----------------------------------------------------------------------------------
bench() { "$PYTHON" -m pygan bench "$@"; }
export -f bench
if [ "$BUILD_OK" = 1 ] && [ "$MODE" = gpu ]; then
  # The training step at batch 64 with every variant (the two --compile ones compile first), every
  # op shape in both dtypes against eager, batch 256 without compiling again, then torch.compile on
  # four quick cases: compiling all 104 op cases cold would take minutes of the window.
  run_stage bench_train 200 bench train --device cuda --json "$OUT/bench-train.json"
  run_stage bench_ops 200 bench --device cuda --no-compile --repeats 5 --json "$OUT/bench-ops.json"
  run_stage bench_train_b256 90 bench train --device cuda --batch-size 256 --no-compile \
    --json "$OUT/bench-train-b256.json"
  run_stage bench_ops_compile 90 bench --quick --device cuda --op d_loss --op bias_leaky_relu \
    --op bn_leaky_relu_cl --json "$OUT/bench-ops-compile.json"
elif [ "$BUILD_OK" = 1 ]; then
  small=(--device cpu --image-size 16 --steps 1 --repeats 1 --no-compile)
  run_stage bench_train 120 bench train "${small[@]}" --batch-size 4 --json "$OUT/bench-train.json"
  run_stage bench_ops 150 bench --quick --device cpu --no-compile --json "$OUT/bench-ops.json"
  run_stage bench_train_b256 120 bench train "${small[@]}" --batch-size 8 --json "$OUT/bench-train-b256.json"
  run_stage bench_ops_compile 150 bench --quick --device cpu --op d_loss --repeats 3 --json "$OUT/bench-ops-compile.json"
else
  for s in bench_train bench_ops bench_train_b256 bench_ops_compile; do skip_stage "$s" "build failed"; done
fi

# --- the summary ---------------------------------------------------------------------------------
echo "== summary: $OUT/summary.json ($(( $(date +%s) - STARTED ))s)"
if [ "$MODE" = cpu-rehearsal ]; then
  stage_pydeps > "$OUT/logs/pydeps.log" 2>&1 || echo "   (could not stage pydeps for the GPU run, see logs/pydeps.log)"
  summary --check  # complete, valid JSON, every stage ok: the rehearsal's verdict
  exit $?
fi
summary
"$PYTHON" -c 'import json, sys; s = json.load(open(sys.argv[1])); sys.exit(0 if s["ok"] else 1)' "$OUT/summary.json"
