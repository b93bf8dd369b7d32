#!/bin/bash
# tests/fuzz/run.sh OUT RLDT — builds the libFuzzer targets of tests/fuzz/ against OUT/librldt.a (built
# by `make fuzz` with coverage, ASan and UBSan), makes each a seed corpus from real files (written by the
# regular CLI RLDT; made again whenever RLDT is newer than they are, so that they follow its file format),
# runs each for $FUZZ_SECONDS seconds and prints executions per second and in total. Targets: the config
# loader, the dataset reader, the checkpoint reader and `rldt plot`'s metrics reader.
# Exits non-zero on any finding (crash, sanitizer report, timeout, out-of-memory); the input that caused it
# is kept as OUT/artifacts/<target>-*. The corpora in OUT/corpus/ grow from run to run. The dataset and
# checkpoint targets edit real files through libhdf5 (tests/fuzz/h5edit.h says why); RLDT_FUZZ_RAW=1
# mutates the files' bytes instead, which mostly exercises libhdf5's own parser.
set -euo pipefail
out=$1
rldt=$2
secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"config dataset checkpoint metrics"} # FUZZ_TARGETS picks some
flags="-D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Ihost/io -Itests/fuzz $(pkg-config --cflags hdf5)"
mkdir -p "$out/seeds" "$out/corpus" "$out/artifacts"

# --- seed corpora ------------------------------------------------------------------------------------
seeds=$out/seeds
if [ ! -e "$seeds/done" ] || [ ! -d "$seeds/metrics" ] || [ "$rldt" -nt "$seeds/done" ]; then
    rm -rf "$seeds" && mkdir -p "$seeds"/{config,dataset,checkpoint,metrics}
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    quiet="log.level=error run.threads=1"
    # configs: every shipped file, and one with overrides after the NUL byte
    cp configs/*.yaml "$seeds/config/"
    printf 'pretrain:\n  lr: 3e-4\ncritic: {q_min: 0, q_max: 1}\n\000env.name=reach2d\nfinetune.n_steps=8\n' >"$seeds/config/overrides"
    # datasets: small real collections of each task
    "$rldt" collect env=bandit2d demos=3 seed=1 out="$seeds/dataset/bandit2d.h5" >/dev/null 2>&1
    "$rldt" collect env=reach2d demos=2 seed=1 out="$seeds/dataset/reach2d.h5" >/dev/null 2>&1
    "$rldt" collect env=pendulum demos=1 seed=1 out="$seeds/dataset/pendulum.h5" >/dev/null 2>&1
    # and one in robomimic's own layout (float64 keys, images, robosuite env_args)
    /usr/bin/python3 tests/make_robomimic_files.py lift "$seeds/dataset/lift.h5"
    # checkpoints: a tiny pretrain and a tiny finetune of bandit2d
    "$rldt" pretrain env.name=bandit2d data.path="$seeds/dataset/bandit2d.h5" run.out_dir="$work" run.name=p pretrain.steps=2 \
        pretrain.batch=2 policy.width=4 policy.time_dim=2 policy.chunk=1 policy.denoise_steps=2 eval.episodes=1 env.n_envs=1 $quiet >/dev/null
    "$rldt" finetune env.name=bandit2d init="$work/p/pretrain.ckpt" run.out_dir="$work" run.name=f finetune.iterations=1 env.n_envs=1 \
        finetune.n_steps=1 finetune.q_repeat=1 finetune.critic_steps=1 finetune.actor_steps=1 finetune.val_freq=0 actor.states=1 \
        critic.width=4 critic.depth=1 critic.batch=2 eval.episodes=1 $quiet >/dev/null
    cp "$work/p/pretrain.ckpt" "$seeds/checkpoint/pretrain.ckpt"
    cp "$work/f/finetune.ckpt" "$seeds/checkpoint/finetune.ckpt"
    # metrics: the tiny finetune's, and one of a run with evaluation iterations
    cp "$work/f/metrics.csv" "$seeds/metrics/finetune.csv"
    "$rldt" finetune env.name=bandit2d init="$work/p/pretrain.ckpt" run.out_dir="$work" run.name=e finetune.iterations=4 env.n_envs=1 \
        finetune.n_steps=1 finetune.q_repeat=1 finetune.critic_steps=1 finetune.actor_steps=1 finetune.val_freq=2 actor.states=1 \
        critic.width=4 critic.depth=1 critic.batch=2 eval.episodes=1 $quiet >/dev/null
    cp "$work/e/metrics.csv" "$seeds/metrics/eval.csv"
    # the HDF5 targets mutate those files through libhdf5 (tests/fuzz/h5edit.h): their inputs are edit
    # programs, and the first ones pick each seed file unedited
    for t in dataset checkpoint; do
        mkdir -p "$seeds/$t-edits"
        for k in 0 1 2 3; do printf "\\$k" >"$seeds/$t-edits/seed$k"; done
    done
    touch "$seeds/done"
    rm -rf "$work"
    trap - EXIT
fi

# --- build and run -------------------------------------------------------------------------------------
status=0
RLDT_FUZZ_TMPDIR=$(mktemp -d /dev/shm/rldt_fuzz.XXXXXX 2>/dev/null || mktemp -d)
export RLDT_FUZZ_TMPDIR
trap 'rm -rf "$RLDT_FUZZ_TMPDIR"' EXIT
printf '%-11s %12s %14s %8s  %s\n' target execs/s "total execs" seconds result
for t in $targets; do
    clang $flags "tests/fuzz/fuzz_$t.c" "$out/librldt.a" $LDLIBS -o "$out/fuzz_$t"
    mkdir -p "$out/corpus/$t${RLDT_FUZZ_RAW:+-raw}"
    log=$out/fuzz_$t.log
    rc=0
    # HDF5 targets: edits of the seed files unless RLDT_FUZZ_RAW=1 (then the files' bytes are mutated)
    inputs=$seeds/$t
    max_len=
    if { [ "$t" = dataset ] || [ "$t" = checkpoint ]; } && [ "${RLDT_FUZZ_RAW:-0}" != 1 ]; then
        inputs=$seeds/$t-edits
        max_len="-max_len=256 -len_control=0" # room for a few edits from the start
    fi
    RLDT_FUZZ_SEEDS=$seeds/$t LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp \
        "$out/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=2560 $max_len \
        -artifact_prefix="$out/artifacts/$t-" "$out/corpus/$t${RLDT_FUZZ_RAW:+-raw}" "$inputs" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    result=ok
    if [ "$rc" -ne 0 ]; then
        result="FINDING (exit $rc; see $log and $out/artifacts/)"
        status=1
    fi
    printf '%-11s %12s %14s %8s  %s\n' "$t" "${rate:-?}" "${execs:-?}" "$secs" "$result"
done
exit $status
