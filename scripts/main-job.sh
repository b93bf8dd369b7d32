#!/usr/bin/env bash
# main-job.sh — the end-to-end job behind `make run`: expert demos -> BC pretraining -> evaluation on the
# pendulum task, on whatever device is present (CUDA when usable, else CPU). Takes about a minute on 2 CPU
# cores. Outputs go to runs/pendulum/ and data/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./rldt
TASK=${TASK:-pendulum}
mkdir -p data
$BIN info
$BIN collect env="$TASK" demos=50 noise=0.1 seed=0 out="data/$TASK.h5"
$BIN dataset info "data/$TASK.h5"
$BIN pretrain "configs/$TASK.yaml" "$@"
$BIN eval "runs/$TASK/pretrain.ckpt" episodes=50 export="data/$TASK-bc-rollouts.h5"
