#!/usr/bin/env bash
# The paper profile's code path on a GPU, at tiny size, in under 10 minutes:
#   1. made-up VideoSet-layout data and an unlabelled folder (tests/test_paper_chain.py's)
#   2. a grid (3 losses x 2 metrics, Cheng2020-attention from scratch) under torchrun with
#      1 process, AMP off and on; with 2 processes where there are 2 GPUs
#   3. a resume on the GPU: the AMP-off grid extended to a larger budget
#   4. the whole chain: reproduce --profile paper with overrides (training on the GPU,
#      evaluation on one CPU worker per core), to Tables I and II
#   5. training throughput of Cheng2020-attention, batch 16 at 256 px, against CompressAI's
#      examples/train.py loop: benchmarks/results/gpu_train_throughput.json; the same for the
#      WeConv mean-scale hyperprior and the plain one at the zoo's quality-6 size (N=192,
#      M=320): gpu_train_throughput_weconv.json, gpu_train_throughput_mean_scale.json
# Usage: benchmarks/gpu_check.sh [WORK_DIR]   (PYTHON=... to choose the interpreter)
# A dry run of the script itself on a CPU (no result written):
#   GPU_CHECK_DEVICE=cpu GPU_CHECK_STEPS=2 GPU_CHECK_N=8 benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
WORK=${1:-$(mktemp -d -t jndlc_gpu_check.XXXX)}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
STEPS=${GPU_CHECK_STEPS:-10}
N=${GPU_CHECK_N:-32}
mkdir -p "$WORK"
export JNDLC_OFFLINE=1 MPLBACKEND=Agg PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
GPUS=$("$PY" -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)")
if [ "$DEVICE" = cuda ] && [ "$GPUS" -lt 1 ]; then echo "gpu_check: no CUDA GPU here; nothing checked" >&2; exit 2; fi
START=$SECONDS
step() { echo "== [$((SECONDS - START)) s] $*"; }

step "data in $WORK"
"$PY" - "$WORK" <<'EOF'
import sys
from pathlib import Path
sys.path.insert(0, "tests")
from conftest import smooth_rgb, write_png
from test_paper_chain import videoset_layout
work = Path(sys.argv[1])
videoset_layout(work / "videoset")
for i in range(8):
    write_png(work / "jpeg_ai" / f"img{i}.png", smooth_rgb(288, 320, seed=50 + i))
EOF

# grid NPROC RUNS_DIR [options]: the grid under torchrun
grid() {
  "$PY" -m torch.distributed.run --standalone --nproc_per_node="$1" -m jndlc_helpers.codec grid "$2" \
    --losses baseline iwl fwl --distortions mse ms-ssim --qualities 1 --profile paper --data-root "$WORK/videoset" \
    --unlabelled-root "$WORK/jpeg_ai" --architecture cheng2020-attn --N "$N" --init scratch --features nlpd \
    --batch-size 4 --patch-size 192 --num-workers 2 --device "$DEVICE" --no-progress "${@:3}"
}
step "torchrun, 1 process, AMP off"
grid 1 "$WORK/grid-amp-off" --max-steps "$STEPS"
step "torchrun, 1 process, AMP on (bf16)"
grid 1 "$WORK/grid-amp-on" --max-steps "$STEPS" --amp
if [ "$GPUS" -ge 2 ]; then
  step "torchrun, 2 processes"
  grid 2 "$WORK/grid-2gpu" --max-steps "$STEPS"
fi
step "resume on the device: the AMP-off grid extended to $((2 * STEPS)) steps"
grid 1 "$WORK/grid-amp-off" --max-steps "$((2 * STEPS))"
"$PY" - "$WORK/grid-amp-off" "$STEPS" <<'EOF'
import json, sys
from pathlib import Path
runs, steps = sorted(Path(sys.argv[1]).glob("*-q1")), int(sys.argv[2])
assert len(runs) == 6, runs
for run in runs:
    sessions = json.loads((run / "config.json").read_text())["sessions"]
    assert [s["start_step"] for s in sessions] == [0, steps], (run, sessions)
    assert json.loads((run / "done.json").read_text())["steps"] == 2 * steps, run
print(f"6 runs resumed from step {steps} and finished at {2 * steps}")
EOF

step "the chain: reproduce --profile paper (training on $DEVICE, evaluation on the CPU cores)"
"$PY" -m jndlc_helpers reproduce --profile paper --run-dir "$WORK/chain" --figures-dir "$WORK/chain-figures" \
  --no-progress -p data_root="$WORK/videoset" -p unlabelled_root="$WORK/jpeg_ai" -p model_N="$N" \
  -p device="$DEVICE" -p pretrained=scratch -p "qualities=[1, 2]" -p "losses=['baseline', 'iwl', 'fwl']" \
  -p feature_extractor=nlpd -p max_steps="$STEPS" -p batch_size=4 -p patch_size=64 -p num_workers=2 \
  -p "anchors=['jpeg']" -p "anchor_qualities=[10, 40, 70]" -p jod=False -p bootstrap=20
"$PY" - "$WORK/chain" "$DEVICE" <<'EOF'
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
devices = {s["device"] for p in (run / "models").glob("*/config.json")
           for s in json.loads(p.read_text()).get("sessions", [])}
assert any(d.startswith(sys.argv[2]) for d in devices), devices
for name in ("table1_bd_rate", "table2_bs_jnd"):
    assert (run / "figures" / f"{name}.md").is_file(), name
print("trained on", sorted(devices), "; Tables I and II written")
EOF

if [ "$DEVICE" = cuda ]; then
  step "throughput: Cheng2020-attention, batch 16 at 256 px, ours vs examples/train.py"
  "$PY" benchmarks/bench_gpu_train.py --steps 60 --quality 6
  step "throughput: the WeConv mean-scale hyperprior and the plain one, batch 16 at 256 px"
  "$PY" benchmarks/bench_gpu_train.py --steps 60 --quality 6 --architecture weconv-mean-scale-hyperprior
  "$PY" benchmarks/bench_gpu_train.py --steps 60 --quality 6 --architecture mean-scale-hyperprior
  step "done: every check passed; results in benchmarks/results/gpu_train_throughput*.json"
else
  step "throughput (a check of the script, nothing written)"
  "$PY" benchmarks/bench_gpu_train.py --device "$DEVICE" --N 8 --batch 2 --patch 64 --steps 12 --workers 0 --images 4
  "$PY" benchmarks/bench_gpu_train.py --device "$DEVICE" --N 8 --M 12 --batch 2 --patch 64 --steps 12 --workers 0 \
    --images 4 --architecture weconv-mean-scale-hyperprior
  step "done: the dry run passed on $DEVICE (no GPU checked)"
fi
