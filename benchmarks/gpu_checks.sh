#!/usr/bin/env bash
# Every GPU check of dis-rl in one run (issue 14, part 5; issue 25). Each step has its own timeout:
# at most 16 minutes in all on one GPU (360 + 200 + 200 + 90 + 120 s), 5 more with 2+ GPUs (step 4).
#
#   bash benchmarks/gpu_checks.sh                # writes gpu_checks/ (override with OUT=...)
#   PYTHON=/path/to/python OUT=/tmp/g bash benchmarks/gpu_checks.sh
#   ARC1_EVAL_RUNS="dis_s0 dis_s1 trm_s0 trm_s1" bash benchmarks/gpu_checks.sh   # more arc1_eval_small runs
#
# 0. arc1_eval_small (configs/arc1_eval_small.yaml, the same batches and fp32 as on a CPU): DIS seed 0
#    by default (ARC1_EVAL_RUNS lists method_s<seed> runs, 360 s each); results in $OUT/arc1_eval_small/;
# 1. training throughput and MFU, bf16, compact and medium, every shape incl. ARC full vs cropped
#    (benchmarks/train_throughput.py --full: batch 192 per GPU, >= 5 passes and >= 10 s per row);
# 2. the same ARC rows with torch.compile;
# 3. fp32 ARC rows (what bf16 buys);
# 4. with 2+ GPUs: a 2-process NCCL run of DIS and of the TRM baseline on the cropped canvas
#    (configs/arc_small.yaml, a few batches), then a resume on 1 GPU;
# 5. the test suite's gpu-marked tests, if any.
# Each step has its own timeout so one hang cannot eat the budget; the tables land in $OUT/*.md.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python}
OUT=${OUT:-gpu_checks}
mkdir -p "$OUT"
start=$(date +%s)
step() { echo "== $1 ($(( $(date +%s) - start )) s)"; }

step "device"
nvidia-smi | tee "$OUT/nvidia-smi.txt"
"$PY" -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0), torch.cuda.device_count(), 'GPUs')" \
    | tee "$OUT/torch.txt"

for run in ${ARC1_EVAL_RUNS:-dis_s0}; do
    step "0. arc1_eval_small $run"
    timeout 360 "$PY" benchmarks/arc1_eval_small.py --method "${run%_s*}" --tag "$run" train.seed="${run##*_s}" \
        --out "$OUT/arc1_eval_small" --figures "$OUT/arc1_eval_small" --run-dir "$OUT/runs/arc1_eval_small_$run" \
        2>&1 | tail -4 | tee "$OUT/arc1_eval_small_$run.txt"
done

step "1. throughput + MFU, bf16, eager (all shapes)"
timeout 200 "$PY" benchmarks/train_throughput.py --full --precision bf16 \
    --shapes nqueens,sudoku,arc,arc_cropped --presets compact,medium | tee "$OUT/throughput_bf16.md"

step "2. throughput + MFU, bf16, torch.compile (ARC full vs cropped)"
timeout 200 "$PY" benchmarks/train_throughput.py --full --precision bf16 --compile \
    --shapes arc,arc_cropped --presets compact,medium | tee "$OUT/throughput_bf16_compile.md"

step "3. throughput, fp32 (ARC full vs cropped)"
timeout 90 "$PY" benchmarks/train_throughput.py --full --precision fp32 \
    --shapes arc,arc_cropped --presets compact,medium | tee "$OUT/throughput_fp32.md"

gpus=$("$PY" -c "import torch; print(torch.cuda.device_count())")
if [ "$gpus" -ge 2 ]; then
    for method in dis trm; do
        step "4. 2-process NCCL run: $method, cropped canvas"
        extra=()
        if [ "$method" = trm ]; then
            extra=(train.method=trm model.halting_head=true model.step_embedding=0 model.cycles=3
                   model.latent_steps=6 train.supervision_steps=16 train.path_cells=scored)
        fi
        run="$OUT/runs/nccl_$method"
        timeout 90 "$PY" -m torch.distributed.run --standalone --nproc_per_node=2 -m dis_rl train \
            configs/arc_small.yaml "${extra[@]}" train.device=cuda train.precision=bf16 train.max_network_calls=0 \
            train.max_batches=20 train.checkpoint_every=10 train.eval_at_calls=[] train.threads=0 \
            out_dir="$OUT/runs" name="nccl_$method" 2>&1 | tail -5 | tee "$OUT/nccl_$method.txt"
        step "4b. resume the 2-process $method run on one GPU"
        timeout 60 "$PY" -m dis_rl train configs/arc_small.yaml "${extra[@]}" train.device=cuda train.precision=bf16 \
            train.max_network_calls=0 train.max_batches=25 train.eval_at_calls=[] train.threads=0 \
            out_dir="$OUT/runs" name="nccl_$method" --resume 2>&1 | tail -3 | tee -a "$OUT/nccl_$method.txt"
    done
else
    step "4. skipped: $gpus GPU (the NCCL step needs 2)"
fi

step "5. gpu-marked tests"
timeout 120 "$PY" -m pytest -q -m gpu tests 2>&1 | tail -3 | tee "$OUT/pytest_gpu.txt"

step "done"
