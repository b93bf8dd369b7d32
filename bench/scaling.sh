#!/usr/bin/env bash
# scaling.sh — data parallelism on CPU ranks over MPI (issue 13): on 1 and 2 ranks, the gradient average's
# time at the actor and critic sizes of the shipped configs (build/bench/bench_comm), and a short pendulum
# fine-tune's iteration time and env steps/s (weak scaling: each rank keeps the config's env.n_envs, so two
# ranks step twice the envs). Iteration figures are medians over the training iterations of REPEATS runs:
# rollout seconds (the iteration's env steps / its env_steps_per_s), update seconds (update_s) and their sum.
# The fine-tune runs finetune.q_repeat=1 (32 critic steps and 2 actor steps per iteration, one gradient
# average each) instead of the config's 8 rounds, to keep the runs short.
#
# usage: bench/scaling.sh [BUILD_DIR=build] [REPEATS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}" repeats="${2:-3}"
mpirun="mpirun --allow-run-as-root --oversubscribe --mca btl self,vader"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "# gradient average (bench_comm), 1 and 2 ranks"
"$build/bench/bench_comm" 20
$mpirun -np 2 "$build/bench/bench_comm" 20

"$build/rldt" collect env=pendulum demos=20 out="$work/d.h5" >/dev/null
"$build/rldt" pretrain configs/pendulum.yaml pretrain.steps=200 eval.episodes=1 run.threads=1 data.path="$work/d.h5" \
    run.out_dir="$work" run.name=bc >/dev/null 2>&1
ft="configs/pendulum.yaml init=$work/bc/pretrain.ckpt run.out_dir=$work run.threads=1 run.blas_threads=1 finetune.iterations=4
    finetune.q_repeat=1 finetune.critic_warmup=0 finetune.val_freq=1000 eval.episodes=1"
for np in 1 2; do
    for r in $(seq "$repeats"); do
        launch=""
        [ "$np" -gt 1 ] && launch="$mpirun -np $np"
        # shellcheck disable=SC2086 # $launch and $ft are word lists
        $launch "$build/rldt" finetune $ft run.name="np${np}_$r" >/dev/null 2>&1
    done
done
echo "# pendulum fine-tune (env.n_envs 16 per rank, q_repeat 1), medians over iterations 1-4 of $repeats runs"
python3 - "$work" "$repeats" <<'EOF'
import csv, statistics, sys
work, repeats = sys.argv[1], int(sys.argv[2])
print(f"{'ranks':>5} {'envs':>5} {'iteration s':>11} {'rollout s':>9} {'update s':>8} {'env steps/s':>11}")
for np in (1, 2):
    it, ro, up, sps = [], [], [], []
    for r in range(1, repeats + 1):
        rows = list(csv.DictReader(open(f"{work}/np{np}_{r}/metrics.csv")))
        prev = 0.0
        for row in rows:
            steps = float(row["env_steps"])
            if row["update_s"] not in ("nan", "") and steps > prev:
                rollout = (steps - prev) / float(row["env_steps_per_s"])
                ro.append(rollout); up.append(float(row["update_s"])); it.append(rollout + float(row["update_s"]))
                sps.append((steps - prev) / (rollout + float(row["update_s"])))
            prev = steps
    m = statistics.median
    print(f"{np:>5} {16 * np:>5} {m(it):>11.2f} {m(ro):>9.2f} {m(up):>8.2f} {m(sps):>11.0f}")
EOF
