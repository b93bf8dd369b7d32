#!/usr/bin/env bash
# main-job.sh — the end-to-end job behind `make run`: demos -> BC pretraining of a flow policy -> RLDT
# fine-tuning -> evaluation with the episodes exported as a dataset -> learning curves, on whatever device is
# present (CUDA when usable, else CPU). Arguments are config overrides for pretraining and fine-tuning.
#   make run                 pendulum: scripted-expert demos; a few minutes on 2 CPU cores
#   make run TASK=hopper     a MuJoCo locomotion task: SAC from scratch for SAC_STEPS env steps (default 50000)
#                            makes the "medium" policy whose episodes are the demos (D4RL's recipe), then the
#                            CPU-sized configs/<task>_cpu.yaml; about an hour on 2 CPU cores (README)
# Outputs: data/<task>*.h5 and runs/ (checkpoints, metrics.csv/jsonl, curves.png).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./rldt
TASK=${TASK:-pendulum}
$BIN info
if [ -f "configs/sac_$TASK.yaml" ] && [ -f "configs/${TASK}_cpu.yaml" ]; then
    CONFIG="configs/${TASK}_cpu.yaml"
    RUN=${TASK}_cpu
    $BIN sac "configs/sac_$TASK.yaml" sac.steps="${SAC_STEPS:-50000}" sac.ckpt_every=0
    $BIN collect policy="runs/sac_$TASK/sac.ckpt" demos=50 seed=0 out="data/$TASK.h5"
else
    CONFIG="configs/$TASK.yaml"
    RUN=$TASK
    $BIN collect env="$TASK" demos=50 noise=0.1 seed=0 out="data/$TASK.h5"
fi
$BIN dataset info "data/$TASK.h5"
$BIN pretrain "$CONFIG" "$@"
$BIN finetune "$CONFIG" init="runs/$RUN/pretrain.ckpt" "$@"
$BIN eval "runs/$RUN/finetune.ckpt" episodes=50 export="data/$TASK-rldt-rollouts.h5"
$BIN plot "runs/$RUN"
