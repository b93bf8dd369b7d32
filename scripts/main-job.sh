#!/usr/bin/env bash
# main-job.sh — the end-to-end job behind `make run`: scripted-expert demos -> BC pretraining of a flow
# policy -> RLDT fine-tuning -> evaluation with the episodes exported as a dataset -> learning curves, on the
# pendulum task, on whatever device is present (CUDA when usable, else CPU). A few minutes on 2 CPU cores.
# Outputs: data/pendulum*.h5 and runs/pendulum/ (checkpoints, metrics.csv/jsonl, curves.png).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./rldt
TASK=${TASK:-pendulum}
$BIN info
$BIN collect env="$TASK" demos=50 noise=0.1 seed=0 out="data/$TASK.h5"
$BIN dataset info "data/$TASK.h5"
$BIN pretrain "configs/$TASK.yaml" "$@"
$BIN finetune "configs/$TASK.yaml" init="runs/$TASK/pretrain.ckpt" "$@"
$BIN eval "runs/$TASK/finetune.ckpt" episodes=50 export="data/$TASK-rldt-rollouts.h5"
$BIN plot "runs/$TASK"
