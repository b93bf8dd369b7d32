/* fuzz_dataset.c — libFuzzer target: the dataset reader (rldt_dataset_load_opts), the way `rldt dataset
 * info` and pretraining call it: with the file's own key, and with robomimic's low-dim and image keys. Input: edits to a real dataset (h5edit.h), or with RLDT_FUZZ_RAW=1 the bytes of
 * an HDF5 file. Whatever they are, the reader either loads a dataset whose arrays agree with its counts
 * and bounds, or refuses with a message. */
#include "h5edit.h"
#include "rldt/dataset.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    seeds_load();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = h5_input(data, size);
    static const rldt_dataset_opts_t opts[] = {
        {NULL, NULL, NULL},
        {NULL, NULL, "train"},
        {"robot0_eef_pos,robot0_eef_quat,robot0_gripper_qpos,object", "agentview_image", "valid"},
    };
    for (int k = 0; k < 3; k++) {
        rldt_dataset_t d;
        if (rldt_dataset_load_opts(&d, path, &opts[k]) == RLDT_OK) {
            /* what the loader promises: consistent counts, finite statistics */
            if (d.n_demos < 1 || d.ep_start[d.n_demos] != d.n_samples) abort();
            for (int j = 0; j < d.meta.obs_dim; j++)
                if (!isfinite(d.obs_mean[j]) || !(d.obs_std[j] > 0)) abort();
            for (size_t s = 0; s < d.n_samples; s++)
                if (d.ep_index[s] < 0 || d.ep_index[s] >= d.n_demos) abort();
            for (size_t i = 0; i < d.n_samples * (size_t)d.meta.act_dim; i++)
                if (!(fabsf(d.actions[i]) <= RLDT_DATASET_VALUE_MAX)) abort();
            for (int i = 0; i < d.meta.n_image_keys; i++)
                if (!d.images[i] || (d.meta.has_next_obs && !d.next_images[i])) abort();
        }
        rldt_dataset_free(&d);
    }
    return 0;
}
