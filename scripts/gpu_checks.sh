#!/usr/bin/env bash
# The GPU checks of the speed work, as one script for a short slot on a GPU machine (stages below):
#   1. CUDA-graph replay equals eager training, samplers on the GPU, no host sync per training iteration (tests
#      that CPU-only machines skip);
#   2. python -m granlib.bench for CNN32 and ResNet32 (reference, typical, fast eager, fast with a CUDA graph);
#   3. python -m granlib.bench.quality: fast vs reference on the CIFAR-10 JPEG copy, two seeds each;
#   4. python -m granlib.bench.metrics_speed with the offline proxy extractor (50k generated images);
#   5. python -m granlib.bench for the 48×48 and 128×128 configurations;
#   6. python -m granlib.bench --profile: the costliest ops of the fast path (CNN32, ResNet32);
#   7. python -m granlib.bench --ablation: the fast path with each of its measures switched off in turn;
#   table (not in the default list): python -m granlib.study.pipeline.slots: whole runs of the CIFAR-10 results table
#      (params/gpu_cifar10.yaml) that fit in GPU_CHECKS_TABLE_MINUTES (default 8), rows and grids to $OUT/results;
#   long (not in the default list): python -m granlib.bench.long_run, the timed 100k-iteration CNN32 run with periodic
#      evaluation. It stops with a checkpoint after GPU_CHECKS_LONG_MINUTES (default 8) and the same stage resumes
#      it in the next call on the same (warm) machine: a 10-minute command limit holds ~75k iterations.
# Each stage has its own time limit and writes into $OUT (default results/gpu_checks/); a failed stage does not
# stop the next. Inputs: the CIFAR-10 JPEG archive in .device_data/ and, where packages are missing, wheels in
# .whl/ (both git-ignored; see README "Speed"). GPU_CHECKS_DRY=1 runs every stage at toy sizes (plumbing check);
# GPU_CHECKS_STAGES and GPU_CHECKS_SEEDS choose stages and quality seeds. For slots of 15 GPU minutes with 10
# per command, the measured stage times (H200, 2026-11-27) suggest two slots:
#   A: GPU_CHECKS_STAGES="tests bench32 ablation profile metrics" (~5 min), then
#      GPU_CHECKS_STAGES=quality GPU_CHECKS_SEEDS="0 1 2 3" (~6 min: 4 seeds per path for the noise estimate);
#   B: GPU_CHECKS_STAGES=long (8 minutes of training, ~75k iterations, inside a 600 s command with the set-up),
#      then at once (the machine is released after 30 s idle) GPU_CHECKS_STAGES=long again: the rest (~3 min).
#      A segment killed by the command limit would lose its wall-time record, hence 8 and not 9 minutes.
# Afterwards: `python -m granlib.bench --table <out>/bench_32.json='run 3' <out>/ablation_32.json='run 3'` prints
# the README's speed-table rows (and the ablation's gains per measure).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-results/gpu_checks}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/granlib_site .whl/*.whl \
    && export PYTHONPATH=/tmp/granlib_site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
DATA=${GPU_CHECKS_DATA:-/tmp/granlib_data}
if [ ! -d "$DATA/cifar10-jpeg/train" ]; then
  mkdir -p "$DATA" && tar -xzf .device_data/cifar10-jpeg.tar.gz -C "$DATA"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv >"$OUT/gpu.txt" 2>&1
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name())" | tee -a "$OUT/gpu.txt"

if [ "${GPU_CHECKS_DRY:-0}" = 1 ]; then
  BENCH_ARGS=(--iterations 1 --min-seconds 0)
  QUALITY_ARGS=(--iterations 4 --n-eval 16 --ngf 16 --ndf 8 --nz 16 --device cpu)
  METRICS_ARGS=(--n 20 --batch-size 10)
  LONG_ARGS=(--iterations 6 --eval-every 3 --n-eval 16 --ngf 16 --ndf 8 --nz 16 --device cpu --max-minutes 0
    --run-dir /tmp/granlib_runs/long_dry)
else
  BENCH_ARGS=()
  QUALITY_ARGS=(--iterations 2500 --n-eval 10000)
  METRICS_ARGS=()
  LONG_ARGS=(--max-minutes "${GPU_CHECKS_LONG_MINUTES:-8}" --run-dir runs/bench_long_cnn32)  # whole minutes
fi

stage() {  # stage <seconds> <name> <command...>
  local limit=$1 name=$2; shift 2
  echo "=== $name ($(date -u +%H:%M:%S), limit ${limit}s)"
  local start=$SECONDS
  timeout "$limit" "$@"
  echo "=== $name: exit $? after $((SECONDS - start))s"
}

STAGES=${GPU_CHECKS_STAGES:-tests bench32 quality metrics bench_large profile ablation}
SEEDS=${GPU_CHECKS_SEEDS:-0 1}
N_SEEDS=$(wc -w <<<"$SEEDS")
LONG_LIMIT=$(( ${GPU_CHECKS_LONG_MINUTES:-8} * 60 + 60 ))
for name in $STAGES; do
  case $name in
    tests) stage 90 "GPU tests" $PY -m pytest -q -p no:cacheprovider tests/training/test_graphs.py tests/test_data.py \
      tests/training/test_loop.py::test_the_training_loop_does_not_synchronise_between_logs ;;
    # whole runs of the CIFAR-10 table (params/gpu_cifar10.yaml) that fit in the stage's minutes; rows, grids and
    # curves under $OUT/results, to be copied into results/ and committed
    table) stage $(( ${GPU_CHECKS_TABLE_MINUTES:-8} * 60 + 90 )) "CIFAR-10 table" $PY -m granlib.study.pipeline.slots \
      --profile gpu_cifar10 --budget-minutes "${GPU_CHECKS_TABLE_MINUTES:-8}" --set "results_dir=$OUT/results" \
      --set "dataset_override=imagefolder:$DATA/cifar10-jpeg/train" \
      --set "eval_dataset_override=imagefolder:$DATA/cifar10-jpeg/test" ;;
    bench32) stage 100 "bench 32x32" $PY -m granlib.bench --configs cnn32_ndis1_ns resnet32_ndis5_hinge \
      "${BENCH_ARGS[@]}" --out "$OUT/bench_32.json" ;;
    quality) stage $((60 + 95 * N_SEEDS)) "quality" $PY -m granlib.bench.quality --dataset "imagefolder:$DATA/cifar10-jpeg/train" \
      --seeds $SEEDS --extractor effnet_lite0 "${QUALITY_ARGS[@]}" --runs-dir /tmp/granlib_runs \
      --out "$OUT/quality.json" ;;
    metrics) stage 50 "metrics" $PY -m granlib.bench.metrics_speed --extractor effnet_lite0 "${METRICS_ARGS[@]}" \
      --out "$OUT/metrics.json" ;;
    # the large configurations: fewer paths and a shorter warm-up (a ResNet128 reference iteration takes seconds)
    bench_large) stage 110 "bench 48x48, 128x128" $PY -m granlib.bench --configs cnn48_ndis1_ns \
      resnet128_ndis5_hinge --paths reference fast_eager fast --warmup 4 --min-seconds 1 "${BENCH_ARGS[@]}" \
      --out "$OUT/bench_48_128.json" ;;
    # where the fast path's time goes (eager kernels; a replayed graph runs the same ones)
    profile) stage 60 "profile" $PY -m granlib.bench --configs cnn32_ndis1_ns resnet32_ndis5_hinge --paths fast \
      --min-seconds 0.5 --profile "${BENCH_ARGS[@]}" --out "$OUT/profile_32.json" ;;
    ablation) stage 120 "ablation" $PY -m granlib.bench --configs cnn32_ndis1_ns resnet32_ndis5_hinge --paths fast \
      --ablation "${BENCH_ARGS[@]}" --out "$OUT/ablation_32.json" ;;
    long) stage "$LONG_LIMIT" "100k run (one segment)" $PY -m granlib.bench.long_run \
      --dataset "imagefolder:$DATA/cifar10-jpeg/train" --extractor effnet_lite0 "${LONG_ARGS[@]}" \
      --out "$OUT/long.json" ;;
    *) echo "unknown stage $name" ;;
  esac
done
echo "=== done $(date -u +%H:%M:%S)"
