#!/usr/bin/env bash
# compare.sh — RLDT against its two baselines (BPTT, PPO) on one task, several seeds each, at equal env
# steps: expert demos, one BC pretraining shared by every run, one fine-tune per (algorithm, seed), then one
# overlay plot of the evaluation curves (mean and spread over seeds).
#
#   scripts/compare.sh TASK [OUT_DIR]        TASK: bandit2d | pendulum | reach2d   (OUT_DIR: runs/compare)
#
# Environment: SEEDS (default "0 1 2"), ALGOS (default "rldt bptt ppo"; also "delta": RLDT with the
# delta-kernel ablation svgd.kernel=delta), RLDT (the binary, default ./rldt), and EXTRA (key=value settings
# added to every fine-tune). Outputs in OUT_DIR/TASK/: demos.h5, bc/ (the pretrained policy), <algo>_s<seed>/
# (each fine-tune's metrics and checkpoint), compare_success.png and compare_return.png (+ .csv), and on
# bandit2d modes.csv: for every run in OUT_DIR/TASK (of this call or an earlier one), how many of 2,000
# sampled actions land within 0.25 of the left and of the right peak (read by $PYTHON, default /usr/bin/python3, with h5py). A run directory that already holds finetune.ckpt is kept, not
# run again.
set -euo pipefail

usage() { echo "usage: scripts/compare.sh bandit2d|pendulum|reach2d [OUT_DIR]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
task=$1
out=${2:-runs/compare}/$task
rldt=${RLDT:-./rldt}
seeds=${SEEDS:-0 1 2}
algos=${ALGOS:-rldt bptt ppo}
[ -x "$rldt" ] || { echo "compare.sh: $rldt is not an executable (build with make, or set RLDT)" >&2; exit 2; }

# Per task: the demos, the BC pretraining (deliberately weak where the expert's demos would leave nothing to
# gain) and the fine-tuning budget, identical for every algorithm: same envs, rollouts and env steps.
case $task in
bandit2d)
    collect="demos=1000 noise=0.25"
    pretrain=""
    finetune="finetune.iterations=21 finetune.val_freq=5"
    ;;
pendulum)
    collect="demos=50 noise=0.1"
    pretrain="pretrain.steps=400 policy.width=128"
    finetune="critic.width=128 finetune.iterations=31 finetune.val_freq=5"
    ;;
reach2d)
    collect="demos=20 noise=0.3"
    pretrain=""
    finetune="finetune.iterations=41 finetune.val_freq=10"
    ;;
*) usage ;;
esac
config=configs/$task.yaml

mkdir -p "$out"
if [ ! -f "$out/demos.h5" ]; then
    echo "== collecting $task demos ($collect)"
    # shellcheck disable=SC2086
    "$rldt" collect env="$task" $collect out="$out/demos.h5.part" && mv "$out/demos.h5.part" "$out/demos.h5"
fi
if [ ! -f "$out/bc/pretrain.ckpt" ]; then
    echo "== BC pretraining"
    # shellcheck disable=SC2086
    "$rldt" pretrain "$config" data.path="$out/demos.h5" run.out_dir="$out" run.name=bc $pretrain
fi
# the modes of bandit2d: 2,000 sampled actions of a checkpoint, counted near each good peak
modes() {
    "$rldt" eval "$1/finetune.ckpt" episodes=2000 export="$1/modes.h5" > /dev/null
    "${PYTHON:-/usr/bin/python3}" - "$1/modes.h5" "$2" "$3" >> "$out/modes.csv" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    a = np.array([f["data"][d]["actions"][0] for d in f["data"]])
    r = np.array([f["data"][d]["rewards"][0] for d in f["data"]])
left = int((np.hypot(a[:, 0] + 0.6, a[:, 1] - 0.5) < 0.25).sum())
right = int((np.hypot(a[:, 0] - 0.6, a[:, 1] - 0.5) < 0.25).sum())
print(f"{sys.argv[2]},{sys.argv[3]},{left},{right},{len(a)},{r.mean():.4f}")
PY
    rm -f "$1/modes.h5"
}

groups=()
for algo in $algos; do
    case $algo in
    rldt | bptt | ppo) settings="finetune.algo=$algo" ;;
    delta) settings="finetune.algo=rldt svgd.kernel=delta" ;;
    *) echo "compare.sh: unknown algorithm '$algo' (rldt, bptt, ppo, delta)" >&2; exit 2 ;;
    esac
    dirs=()
    for seed in $seeds; do
        name=${algo}_s$seed
        dirs+=("$out/$name")
        [ -f "$out/$name/finetune.ckpt" ] && continue
        echo "== $algo, seed $seed"
        # shellcheck disable=SC2086
        "$rldt" finetune "$config" init="$out/bc/pretrain.ckpt" run.out_dir="$out" run.name="$name" run.seed="$seed" \
            $settings $finetune ${EXTRA:-}
    done
    groups+=("$algo=$(IFS=,; echo "${dirs[*]}")")
done
if [ "$task" = bandit2d ]; then
    echo "algo,seed,left,right,samples,mean_reward" > "$out/modes.csv"
    for ckpt in "$out"/*_s*/finetune.ckpt; do
        run=$(basename "$(dirname "$ckpt")")
        modes "$out/$run" "${run%_s*}" "${run##*_s}"
    done
fi
for metric in success return; do
    "$rldt" plot compare out="$out/compare_$metric.png" metric="eval_$metric" "${groups[@]}"
done
