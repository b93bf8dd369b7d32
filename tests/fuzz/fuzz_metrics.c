/* fuzz_metrics.c — libFuzzer target: `rldt plot`, which reads a run's metrics.csv (rldt_plot_run).
 * Input: the bytes of metrics.csv (seeds: real ones). Whatever they are, the curves are drawn or the file
 * is refused with a message. */
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "rldt/plot.h"

static char run_dir[128], csv[160], png[160];

static void remove_run(void)
{
    unlink(csv);
    unlink(png);
    rmdir(run_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    const char *tmp = getenv("RLDT_FUZZ_TMPDIR"); /* run.sh removes it, also after a crash */
    if (!tmp) tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(run_dir, sizeof run_dir, "%.80s/rldt_fuzz_run_%d", tmp, (int)getpid());
    snprintf(csv, sizeof csv, "%s/metrics.csv", run_dir);
    snprintf(png, sizeof png, "%s/curves.png", run_dir);
    if (mkdir(run_dir, 0700) != 0) {
        perror(run_dir);
        abort();
    }
    atexit(remove_run);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(csv, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(csv);
        abort();
    }
    rldt_plot_run(run_dir, png);
    return 0;
}
