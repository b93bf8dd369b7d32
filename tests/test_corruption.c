/* test_corruption.c — the HDF5 files rldt reads, damaged in a fixed set of ways, given to every command that
 * reads them (issue 10, "Hardening"; the harness, and what REFUSED and SAME assert: corruption.h): datasets
 * written by `rldt collect` (`dataset info`, `pretrain data.path=`), pretraining checkpoints (`eval`,
 * `export`, `finetune init=`, `pretrain pretrain.resume=`) and fine-tuning checkpoints (`eval`, `export`,
 * `finetune resume=`). The text files are damaged in test_corruption_text.c. The classes:
 *   truncations  at fixed offsets (fractions of the size, inside the first structures, one byte short):
 *                REFUSED by every reader. HDF5 records the end of the file in the superblock.
 *   bit flips    HDF5 files rldt writes use the 1.10 format, where every piece of metadata carries a
 *                checksum libhdf5 verifies before parsing, and every dataset carries Fletcher-32: a flip
 *                in a structure a reader reads is REFUSED (asserted for the superblock and the object
 *                headers and chunks of objects every reader reads, located with h5py). A flip at each
 *                of FLIPS evenly spread offsets is SAME: it lands either in a checksummed structure
 *                (refused) or in bytes nothing refers to (free space, the tail of a metadata block; the
 *                output is then identical), or in a structure that reader does not read (identical).
 *   edits        deleted, renamed, retyped and reshaped HDF5 objects, attributes and JSON fields out of
 *                range, values out of range, made with h5py (tests/corrupt_h5.py): REFUSED by the readers
 *                that read the object, SAME for the others (e.g. `eval` does not read optimiser moments). */
#include <criterion/criterion.h>

#include "corruption.h"

static void setup(void) { corruption_setup(); }
static void teardown(void) { corruption_teardown(); }

// ---------------------------------------------------------------------------------------------------
// datasets

#define DATASET_READERS                                                                                                \
    {"dataset info", "{bin} dataset info {file}", OUT_STDOUT, NULL, 0, 0, 0},                                         \
    {                                                                                                                  \
        "pretrain data.path=",                                                                                         \
            "{bin} pretrain env.name=bandit2d data.path={file} run.out_dir={dir}/out run.name=p pretrain.steps=2 "     \
            "pretrain.batch=4 eval.episodes=1 env.n_envs=1 " TINY_POLICY " " QUIET,                                    \
            OUT_H5, "p/pretrain.ckpt", 0, 0, 0                                                                         \
    }
enum { INFO = 1, PRETRAIN = 2 };

Test(corruption, dataset_truncations_and_bit_flips, .init = setup, .fini = teardown, .timeout = 600)
{
    make_dataset();
    reader_t readers[] = {DATASET_READERS};
    /* every demo and both masks are read by both readers */
    static const h5_target_t targets[] = {{"/", ALL},
                                          {"/data", ALL},
                                          {"/data/demo_0", ALL},
                                          {"/data/demo_0/obs", ALL},
                                          {"/data/demo_0/obs/state", ALL},
                                          {"/data/demo_3/actions", ALL},
                                          {"/data/demo_7/states", ALL},
                                          {"/data/demo_11/dones", ALL},
                                          {"/mask", ALL},
                                          {"/mask/train", ALL},
                                          {"/mask/valid", ALL}};
    PATH(clean, "d.h5");
    PATH(file, "case.h5");
    h5_damage(clean, file, readers, 2, targets, sizeof targets / sizeof targets[0]);
    summary("dataset", readers, 2);
}

Test(corruption, dataset_edits, .init = setup, .fini = teardown, .timeout = 600)
{
    make_dataset();
    reader_t readers[] = {DATASET_READERS};
    PATH(clean, "d.h5");
    PATH(file, "case.h5");
    copy_file(clean, file);
    reference(readers, 2, file);
    static const h5_edit_t edits[] = {
        /* deleted objects */
        {"delete:/data/demo_3/actions", ALL, 0},
        {"delete:/data/demo_0/obs", ALL, 0},
        {"delete:/data/demo_5", ALL, 0}, /* a mask still names it */
        {"delete:/mask/valid", ALL, 0},  /* half a split */
        {"delete:/mask", PRETRAIN, INFO}, /* no split at all: a valid file to summarise, nothing to train on */
        {"delete:/data", ALL, 0},
        {"delattr:/data:env_args", ALL, 0},
        {"delattr:/data:total", ALL, 0},
        {"delattr:/data/demo_2:num_samples", ALL, 0},
        {"delattr:/data/demo_2:success", ALL, 0},
        /* renamed objects */
        {"rename:/data/demo_4:/data/demo_40", ALL, 0},
        {"rename:/data/demo_0:/data/demo_00", ALL, 0},
        {"rename:/data/demo_1/rewards:/data/demo_1/reward", ALL, 0},
        {"rename:/data/demo_1/obs/state:/data/demo_1/obs/stat", ALL, 0},
        {"rename:/mask/train:/mask/trian", ALL, 0},
        {"rename:/data:/dat", ALL, 0},
        /* wrong types: refused; float64 rewards are the same numbers (robomimic writes float64): SAME */
        {"dtype:/data/demo_0/actions:int32", ALL, 0},
        {"dtype:/data/demo_0/obs/state:S8", ALL, 0},
        {"dtype:/data/demo_0/dones:float32", ALL, 0},
        {"dtype:/data/demo_0/states:int64", ALL, 0},
        {"dtype:/mask/train:int64", ALL, 0},
        {"dtype:/data/demo_6/rewards:float64", 0, 0},
        /* wrong shapes */
        {"shape:/data/demo_0/actions:1x3", ALL, 0},
        {"shape:/data/demo_0/actions:2x2", ALL, 0},
        {"shape:/data/demo_0/actions:2", ALL, 0},
        {"shape:/data/demo_0/rewards:1x1", ALL, 0},
        {"shape:/data/demo_0/obs/state:1x2x1", ALL, 0},
        {"shape:/data/demo_0/states:1x2", ALL, 0},
        {"shape:/mask/train:11x1", ALL, 0},
        /* attributes out of range */
        {"int:/data/demo_2:num_samples:0", ALL, 0},
        {"int:/data/demo_2:num_samples:-1", ALL, 0},
        {"int:/data/demo_2:num_samples:2", ALL, 0},
        {"int:/data/demo_2:num_samples:1099511627776", ALL, 0},
        {"int:/data:total:-5", ALL, 0},
        {"int:/data:total:13", ALL, 0},
        {"int:/data/demo_2:success:7", ALL, 0},
        {"int:/data/demo_2:success:-1", ALL, 0},
        {"json:/data:env_args:env_kwargs.obs_dim:0", ALL, 0},
        {"json:/data:env_args:env_kwargs.act_dim:99", ALL, 0},
        {"json:/data:env_args:env_kwargs.state_dim:-1", ALL, 0},
        {"json:/data:env_args:env_kwargs.max_steps:0", ALL, 0},
        {"json:/data:env_args:env_kwargs.act_low:[5,5]", ALL, 0},
        {"json:/data:env_args:env_kwargs.act_high:[1e40,1]", ALL, 0},
        {"json:/data:env_args:env_kwargs.image_shape:[1,1,9]", ALL, 0},
        {"json:/data:env_args:env_kwargs.reward_kind:\"dull\"", ALL, 0},
        {"json:/data:env_args:env_kwargs.obs_key:\"nope\"", ALL, 0},
        {"json:/data:env_args:env_name:\"\"", ALL, 0},
        /* values out of range */
        {"value:/data/demo_0/dones:0:7", ALL, 0},
        {"value:/data/demo_1/actions:0:50", ALL, 0},
        {"value:/data/demo_1/obs/state:1:nan", ALL, 0},
        {"value:/data/demo_2/rewards:0:inf", ALL, 0},
        {"value:/data/demo_2/states:0:nan", ALL, 0},
    };
    h5_edits(clean, file, readers, 2, edits, sizeof edits / sizeof edits[0]);
    summary("dataset edits", readers, 2);
}

// ---------------------------------------------------------------------------------------------------
// pretraining checkpoints

#define PRETRAIN_CKPT_READERS                                                                                          \
    {"eval", "{bin} eval {file} episodes=2", OUT_STDOUT, NULL, 0, 0, 0},                                       \
        {"export", "{bin} export {file} out={dir}/out/p.safetensors", OUT_FILE, "p.safetensors", 0, 0, 0},            \
        {"finetune init=", "{bin} finetune init={file} run.out_dir={dir}/out run.name=i finetune.iterations=1 " TINY_FT, \
         OUT_H5, "i/finetune.ckpt", 0, 0, 0},                                                                          \
    {                                                                                                                  \
        "pretrain pretrain.resume=",                                                                                   \
            "{bin} pretrain env.name=bandit2d data.path={dir}/d.h5 pretrain.resume={file} run.out_dir={dir}/out "      \
            "run.name=p pretrain.steps=4 pretrain.batch=4 eval.episodes=1 env.n_envs=1 " TINY_POLICY " " QUIET,        \
            OUT_H5, "p/pretrain.ckpt", 0, 0, 0                                                                         \
    }
enum { EVAL = 1, EXPORT = 2, INIT = 4, PRE_RESUME = 8 };

/* A resumed pretraining takes its normalisers from the dataset again: it does not read /norm. */
static const h5_target_t pretrain_targets[] = {{"/", ALL},
                                               {"/scalars", ALL},
                                               {"/policy", ALL},
                                               {"/policy/weights", ALL},
                                               {"/norm/obs_std", EVAL | EXPORT | INIT},
                                               {"/norm/act_high", EVAL | EXPORT | INIT},
                                               {"/optim/v", PRE_RESUME}};

Test(corruption, pretrain_checkpoint_truncations_and_bit_flips, .init = setup, .fini = teardown, .timeout = 600)
{
    make_pretrained();
    reader_t readers[] = {PRETRAIN_CKPT_READERS};
    PATH(clean, "runs/p/pretrain_2.ckpt");
    PATH(file, "case.ckpt");
    h5_damage(clean, file, readers, 4, pretrain_targets, sizeof pretrain_targets / sizeof pretrain_targets[0]);
    summary("pretraining checkpoint", readers, 4);
}

Test(corruption, pretrain_checkpoint_edits, .init = setup, .fini = teardown, .timeout = 600)
{
    make_pretrained();
    reader_t readers[] = {PRETRAIN_CKPT_READERS};
    PATH(clean, "runs/p/pretrain_2.ckpt");
    PATH(file, "case.ckpt");
    copy_file(clean, file);
    reference(readers, 4, file);
    static const h5_edit_t edits[] = {
        /* deleted: what every reader reads, and what only a resume reads */
        {"delete:/policy/weights", ALL, 0},
        {"delete:/norm/obs_std", EVAL | EXPORT | INIT, 0}, /* a resume normalises by the dataset again */
        {"delete:/scalars", ALL, 0},
        {"delete:/optim/m", PRE_RESUME, 0},
        {"delattr:/:config", ALL, 0},
        {"delattr:/:kind", ALL, 0},
        {"delattr:/:format", ALL, 0},
        {"delattr:/:header_crc32", ALL, 0},
        {"delattr:/scalars:step", ALL, 0}, /* the header checksum covers the scalars */
        /* renamed */
        {"rename:/policy/weights:/policy/w", ALL, 0},
        {"rename:/norm:/nrm", EVAL | EXPORT | INIT, 0},
        {"rename:/optim/v:/optim/w", PRE_RESUME, 0},
        /* wrong types and shapes */
        {"dtype:/policy/weights:float64", ALL, 0},
        {"dtype:/norm/act_low:int32", EVAL | EXPORT | INIT, 0},
        {"dtype:/optim/m:float16", PRE_RESUME, 0},
        {"shape:/policy/weights:120", ALL, 0},
        {"shape:/policy/weights:240x1", ALL, 0},
        {"shape:/norm/obs_mean:3", EVAL | EXPORT | INIT, 0},
        {"shape:/optim/v:239", PRE_RESUME, 0},
        /* scalars and config out of range, with the header signed again */
        {"scalar:step:-1", PRE_RESUME, 0},
        {"scalar:step:99", PRE_RESUME, 0},
        {"scalar:adam_step:7", PRE_RESUME, 0},
        {"scalar:obs_dim:5", ALL, 0},
        {"scalar:act_dim:0", ALL, 0},
        /* the command line's policy.* keys override the stored config on resume: only the readers that take
         * the policy from the checkpoint see these */
        {"config:policy.width:16", EVAL | EXPORT | INIT, 0},
        {"config:policy.blocks:3", EVAL | EXPORT | INIT, 0},
        /* values (Fletcher-32 recomputed by HDF5) */
        {"value:/norm/obs_std:0:0", EVAL | EXPORT | INIT, 0},
        {"value:/norm/act_low:1:5", EVAL | EXPORT | INIT, 0},
        {"value:/policy/weights:3:nan", ALL, 0},
        {"value:/optim/m:3:inf", PRE_RESUME, 0},
    };
    h5_edits(clean, file, readers, 4, edits, sizeof edits / sizeof edits[0]);
    summary("pretraining checkpoint edits", readers, 4);
}

// ---------------------------------------------------------------------------------------------------
// fine-tuning checkpoints

#define FINETUNE_CKPT_READERS                                                                                          \
    {"eval", "{bin} eval {file} episodes=2", OUT_STDOUT, NULL, 0, 0, 0},                                       \
        {"export", "{bin} export {file} out={dir}/out/p.safetensors", OUT_FILE, "p.safetensors", 0, 0, 0},            \
    {                                                                                                                  \
        "finetune resume=",                                                                                            \
            "{bin} finetune resume={file} run.out_dir={dir}/out run.name=r finetune.iterations=3 " TINY_FT, OUT_H5,    \
            "r/finetune.ckpt", 0, 0, 0                                                                                 \
    }
enum { RESUME = 4 };

static const h5_target_t finetune_targets[] = {{"/", ALL},
                                               {"/scalars", ALL},
                                               {"/policy/weights", ALL},
                                               {"/norm/obs_std", ALL},
                                               {"/norm/act_high", ALL},
                                               {"/critic/online", RESUME},
                                               {"/replay/obs", RESUME},
                                               {"/rollout/envs", RESUME}};

Test(corruption, finetune_checkpoint_truncations_and_bit_flips, .init = setup, .fini = teardown, .timeout = 600)
{
    make_finetuned();
    reader_t readers[] = {FINETUNE_CKPT_READERS};
    PATH(clean, "runs/f/finetune_2.ckpt");
    PATH(file, "case.ckpt");
    h5_damage(clean, file, readers, 3, finetune_targets, sizeof finetune_targets / sizeof finetune_targets[0]);
    summary("fine-tuning checkpoint", readers, 3);
}

Test(corruption, finetune_checkpoint_edits, .init = setup, .fini = teardown, .timeout = 600)
{
    make_finetuned();
    reader_t readers[] = {FINETUNE_CKPT_READERS};
    PATH(clean, "runs/f/finetune_2.ckpt");
    PATH(file, "case.ckpt");
    copy_file(clean, file);
    reference(readers, 3, file);
    static const h5_edit_t edits[] = {
        {"delete:/policy/weights", ALL, 0},
        {"delete:/critic/online", RESUME, 0},
        {"delete:/replay/obs", RESUME, 0},
        {"delete:/rollout/envs", RESUME, 0},
        {"delete:/actor", RESUME, 0},
        {"delattr:/:header_crc32", ALL, 0},
        {"delattr:/scalars:itr", ALL, 0},
        {"rename:/critic/target:/critic/targets", RESUME, 0},
        {"dtype:/replay/mask:float32", RESUME, 0},
        {"dtype:/critic/target:float64", RESUME, 0},
        {"dtype:/policy/ref:int8", RESUME, 0},
        {"shape:/actor/m:100", RESUME, 0},
        {"shape:/rollout/envs:10", RESUME, 0},
        {"shape:/replay/rew:40x1", RESUME, 0},
        {"scalar:itr:-1", RESUME, 0},
        {"scalar:itr:4", RESUME, 0}, /* past finetune.iterations */
        {"scalar:replay_count:100000", RESUME, 0},
        {"scalar:env_steps:-1", RESUME, 0},
        {"scalar:obs_dim:7", ALL, 0},
        /* a resume takes all but the policy's keys from its command line (the stored value is not read);
         * export copies the stored config into its output, which is then another, valid file */
        {"config:critic.members:5", 0, EXPORT},
        {"value:/critic/online:0:inf", RESUME, 0},
        {"value:/policy/weights:0:nan", ALL, 0},
        {"value:/norm/obs_std:1:-1", ALL, 0},
    };
    h5_edits(clean, file, readers, 3, edits, sizeof edits / sizeof edits[0]);
    summary("fine-tuning checkpoint edits", readers, 3);
}
