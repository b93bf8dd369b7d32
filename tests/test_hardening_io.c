/* test_hardening_io.c — writing when the disk does not cooperate (issue 10, items 2, 8 and 10): every HDF5
 * writer (collect, pretrain and finetune checkpoints, eval export) on a full disk and under a file-size
 * limit ends in a clean error, leaves no temp file and keeps the file it would have replaced; metrics write
 * errors stop a run; a resume cuts the metrics back to its checkpoint, so no iteration appears twice;
 * datasets carry checksums h5py reads; checkpoints are synced around their rename. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hardening.h"
#include "helpers.h"

static char dir[256], mnt[300];
static bool mounted;

static void setup(void) { test_tmpdir(dir, sizeof dir); }

static void teardown(void)
{
    if (mounted) test_run("umount %s", mnt);
    test_rmtree(dir);
}

/* A tmpfs of `size` at <dir>/mnt; skips the test where mounting is not permitted (not root). */
static const char *small_disk(const char *size)
{
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    cr_assert_eq(mkdir(mnt, 0700), 0);
    if (test_run("mount -t tmpfs -o size=%s tmpfs %s", size, mnt) != 0) cr_skip_test("skipped: cannot mount a tmpfs here: %s", test_err);
    mounted = true;
    return mnt;
}

/* The last command must have exited (not crashed) with status 1 and a message containing `needle` (and
 * "writing checkpoint" when `ckpt`), with no "*.tmp" left under `where`. */
static void expect_clean_failure(int rc, const char *what, const char *needle, bool ckpt, const char *where)
{
    cr_assert_eq(rc, 1, "%s: exit %d (-1: killed by a signal), want 1: %s", what, rc, test_err);
    cr_assert(strstr(test_err, needle), "%s: message lacks '%s': %s", what, needle, test_err);
    cr_assert(!ckpt || strstr(test_err, "writing checkpoint"), "%s: %s", what, test_err);
    cr_assert_neq(test_run("find %s -name '*.tmp' | grep -q .", where), 0, "%s left a temp file", what);
}

#define FT_ARGS HARDENING_FT_ARGS

// ---------------------------------------------------------------------------------------------------
// full disk, file-size limit

/* Every writer on a 200 KB tmpfs. HDF5 1.10 used to die with SIGSEGV in its close-at-exit after the
 * failed final flush; an existing output must survive the failed overwrite. */
Test(hardening_io, writers_on_a_full_disk_fail_cleanly, .init = setup, .fini = teardown, .timeout = 180)
{
    test_bin();
    hardening_pretrained(dir);
    const char *m = small_disk("200k");
    cr_assert_eq(test_run("%s collect env=bandit2d demos=2 seed=1 out=%s/c.h5", test_bin(), m), 0, "%s", test_err);
    cr_assert_eq(test_run("cp %s/c.h5 %s/c_before.h5", m, dir), 0);
    expect_clean_failure(test_run("%s collect env=pendulum demos=40 seed=1 out=%s/c.h5", test_bin(), m), "collect",
                         "No space left on device", false, m);
    cr_assert_eq(test_run("cmp %s/c.h5 %s/c_before.h5", m, dir), 0, "the existing dataset was damaged: %s", test_out);
    expect_clean_failure(test_run("%s pretrain ../configs/bandit2d.yaml data.path=%s/d.h5 run.out_dir=%s run.name=p run.threads=1 "
                                  "pretrain.steps=10 eval.episodes=1",
                                  test_bin(), dir, m),
                         "pretrain", "No space left on device", true, m);
    expect_clean_failure(test_run("%s finetune " FT_ARGS " init=%s/runs/b/pretrain.ckpt run.out_dir=%s run.name=f finetune.iterations=2",
                                  test_bin(), dir, m),
                         "finetune", "No space left on device", true, m);
    expect_clean_failure(test_run("%s eval %s/runs/b/pretrain.ckpt episodes=300 export=%s/e.h5", test_bin(), dir, m), "eval export",
                         "No space left on device", false, m);
}

/* The same writers under `ulimit -f` (SIGXFSZ used to kill them): the write fails with EFBIG instead. */
Test(hardening_io, writers_under_a_file_size_limit_fail_cleanly, .init = setup, .fini = teardown, .timeout = 180)
{
    test_bin();
    hardening_pretrained(dir);
    const char *limit = "sh -c 'ulimit -f 100 && exec \"$0\" \"$@\"'"; /* 100 KB */
    expect_clean_failure(test_run("%s %s collect env=pendulum demos=40 seed=1 out=%s/c.h5", limit, test_bin(), dir), "collect",
                         "File too large", false, dir);
    expect_clean_failure(test_run("%s %s pretrain ../configs/bandit2d.yaml data.path=%s/d.h5 run.out_dir=%s/runs run.name=p "
                                  "run.threads=1 pretrain.steps=10 eval.episodes=1",
                                  limit, test_bin(), dir, dir),
                         "pretrain", "File too large", true, dir);
    expect_clean_failure(test_run("%s %s finetune " FT_ARGS " init=%s/runs/b/pretrain.ckpt run.out_dir=%s/runs run.name=f "
                                  "finetune.iterations=2",
                                  limit, test_bin(), dir, dir),
                         "finetune", "File too large", true, dir);
    expect_clean_failure(test_run("%s %s eval %s/runs/b/pretrain.ckpt episodes=300 export=%s/e.h5", limit, test_bin(), dir, dir),
                         "eval export", "File too large", false, dir);
}

// ---------------------------------------------------------------------------------------------------
// metrics

/* metrics.jsonl on a device that is always full (/dev/full): the run stops with an error naming the file,
 * it does not go on without metrics. */
Test(hardening_io, a_metrics_write_error_stops_the_run, .init = setup, .fini = teardown, .timeout = 120)
{
    test_bin();
    hardening_pretrained(dir);
    cr_assert_eq(test_run("mkdir -p %s/runs/f && ln -s /dev/full %s/runs/f/metrics.jsonl", dir, dir), 0);
    int rc = test_run("%s finetune " FT_ARGS " init=%s/runs/b/pretrain.ckpt run.out_dir=%s/runs run.name=f finetune.iterations=2",
                      test_bin(), dir, dir);
    cr_assert_eq(rc, 1, "exit %d: %s", rc, test_err);
    cr_assert(strstr(test_err, "cannot write metrics to") && strstr(test_err, "metrics.jsonl"), "%s", test_err);
}

/* A run killed after its iteration-2 checkpoint (rows 2 and 3 written, a half-written row after them) and
 * resumed in the same directory: each iteration's row appears once, in order, and the replayed rows equal
 * the first run's (bit-exact resume). */
Test(hardening_io, resume_cuts_metrics_back_to_the_checkpoint, .init = setup, .fini = teardown, .timeout = 120)
{
    test_bin();
    hardening_pretrained(dir);
    const char *run = "%s finetune " FT_ARGS " run.out_dir=%s/runs run.name=m finetune.iterations=4 finetune.ckpt_every=2 "
                      "finetune.val_freq=3 %s=%s";
    char init[300], resume[300];
    snprintf(init, sizeof init, "%s/runs/b/pretrain.ckpt", dir);
    snprintf(resume, sizeof resume, "%s/runs/m/finetune_2.ckpt", dir);
    cr_assert_eq(test_run(run, test_bin(), dir, "init", init), 0, "%s", test_err);
    cr_assert_eq(test_run("cd %s/runs/m && cp metrics.csv first.csv && printf '4,12' >> metrics.csv && "
                          "printf '{\"itr\":4' >> metrics.jsonl",
                          dir),
                 0);
    cr_assert_eq(test_run(run, test_bin(), dir, "resume", resume), 0, "%s", test_err);
    cr_assert_eq(test_run(PYTHON " -c 'import csv, json, sys\n"
                          "d = sys.argv[1]\n"
                          "rows = list(csv.DictReader(open(d + \"/metrics.csv\")))\n"
                          "first = list(csv.DictReader(open(d + \"/first.csv\")))\n"
                          "js = [json.loads(l) for l in open(d + \"/metrics.jsonl\")]\n"
                          "assert [r[\"itr\"] for r in rows] == [\"0\", \"1\", \"2\", \"3\"], rows\n"
                          "assert [j[\"itr\"] for j in js] == [0, 1, 2, 3], js\n"
                          "for a, b in zip(rows, first):\n"
                          "    for k in (\"env_steps\", \"critic_loss\", \"eval_return\", \"skipped\"):\n"
                          "        assert a[k] == b[k], (k, a, b)\n"
                          "' %s/runs/m",
                          dir),
                 0, "%s", test_err);
}

// ---------------------------------------------------------------------------------------------------
// checksums and syncs

/* Every non-empty dataset rldt writes carries Fletcher-32, h5py reads all of it, and a flipped byte in a
 * demo's data fails the read instead of changing the demo silently. */
Test(hardening_io, datasets_carry_checksums, .init = setup, .fini = teardown, .timeout = 60)
{
    cr_assert_eq(test_run("%s collect env=pendulum demos=12 seed=1 out=%s/p.h5", test_bin(), dir), 0, "%s", test_err);
    cr_assert_eq(test_run(PYTHON " -c 'import h5py, sys\n"
                          "bad = []\n"
                          "def visit(name, obj):\n"
                          "    if isinstance(obj, h5py.Dataset):\n"
                          "        obj[()]\n"
                          "        if obj.size and not obj.fletcher32: bad.append(name)\n"
                          "h5py.File(sys.argv[1], \"r\").visititems(visit)\n"
                          "assert not bad, bad\n"
                          "' %s/p.h5",
                          dir),
                 0, "%s", test_err);
    cr_assert_eq(test_run(PYTHON " make_bad_checkpoint.py %s/p.h5 %s/flip.h5 flip data/demo_3/actions", dir, dir), 0, "%s", test_err);
    cr_assert_neq(test_run(PYTHON " -c 'import h5py, sys; h5py.File(sys.argv[1], \"r\")[\"data/demo_3/actions\"][()]' %s/flip.h5", dir),
                  0, "h5py read a flipped dataset");
    cr_assert_neq(test_run("%s dataset info %s/flip.h5", test_bin(), dir), 0, "rldt read a flipped dataset: %s", test_out);
}

/* The checkpoint file is synced before its rename and its directory after it (strace shows the calls;
 * skipped without strace or where tracing is not permitted). */
Test(hardening_io, checkpoints_are_synced_around_the_rename, .init = setup, .fini = teardown, .timeout = 60)
{
    test_bin();
    cr_assert_eq(test_run("%s collect env=bandit2d demos=20 seed=1 out=%s/d.h5", test_bin(), dir), 0, "%s", test_err);
    if (test_run("strace -f -o /dev/null true") != 0) cr_skip_test("skipped: strace is missing or cannot trace here");
    /* LeakSanitizer cannot run under ptrace: off for the traced run of a sanitizer build */
    cr_assert_eq(test_run("ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=fsync,rename,openat -o %s/trace %s pretrain "
                          "../configs/bandit2d.yaml data.path=%s/d.h5 run.out_dir=%s/runs run.name=s run.threads=1 pretrain.steps=5 "
                          "eval.episodes=1",
                          dir, test_bin(), dir, dir),
                 0, "%s", test_err);
    /* the calls on the checkpoint, in order: its temp file opened, fsync, rename, the directory opened, fsync */
    cr_assert_eq(test_run("grep -E 'pretrain.ckpt|runs/s\", O_RDONLY|fsync' %s/trace | grep -v ENOENT | "
                          "awk '/pretrain.ckpt.tmp\", O_RDWR\\|O_CREAT/ {s=1} s==1 && /fsync\\(/ {s=2; next} "
                          "s==2 && /rename\\(/ {s=3} s==3 && /O_DIRECTORY/ {s=4} s==4 && /fsync\\(/ {s=5} END {exit s!=5}'",
                          dir),
                 0, "no fsync-rename-fsync sequence in the trace");
}
