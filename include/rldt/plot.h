/* rldt/plot.h — `rldt plot`: a run's metrics.csv as learning curves in one PNG, and its per-step gradient
 * norms in a second; `rldt plot compare`: several labelled groups of runs (say one algorithm's seeds each)
 * overlaid in one PNG (drawn with rldt/image.h). */
#ifndef RLDT_PLOT_H
#define RLDT_PLOT_H

#include "rldt/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads <run_dir>/metrics.csv and draws one panel per curve against env steps into `out_png`: for a
 * fine-tuning run eval return and success, critic loss, actor transport loss, |phi|, env steps/s; for a SAC
 * run (no itr column) eval and training return, critic and actor loss, temperature and entropy. When the run has a step_grads.csv
 * (finetune.step_grad_freq), also draws step_grads.png in out_png's directory: the log10 of each denoising
 * step's mean gradient norm against k. Missing or malformed metrics file, malformed step_grads.csv:
 * RLDT_ERR_USAGE naming it. */
rldt_status_t rldt_plot_run(const char *run_dir, const char *out_png);

/* One curve of a comparison: a legend label and the run directories (one per seed) averaged under it. */
typedef struct {
    const char *label;       /* 1 to 24 of A-Z a-z 0-9 . _ + - (printed upper-case), distinct across series */
    const char *const *runs; /* n_runs >= 1 fine-tuning run directories, each holding a metrics.csv */
    int n_runs;
} rldt_plot_series_t;

/* Draws n (1 to 10) series into out_png (a name ending in ".png") and writes their numbers beside it as
 * <out without .png>.csv: header label,x,mean,lo,hi,n_seeds, one row per label and x.
 * metric: eval_return (NULL: the default) or eval_success, read from each run's evaluation rows (the rows
 * where it is finite); x: env_steps (NULL: the default) or itr. A series' seeds are aligned on the x values
 * of all its runs' evaluations (the union), kept only where every run has data (from the latest first
 * evaluation to the earliest last one: the shortest common range); a run without an evaluation at one of
 * those x takes the straight line between its evaluations before and after it. At each x, mean is the mean
 * over the seeds and [lo, hi] the band drawn around it: band "minmax" (NULL: the default) their minimum and
 * maximum, "std" mean -/+ their sample standard deviation (n - 1; 0 for one seed). Each series gets its
 * own colour: a line for the mean, the band as a light tint of it, and a legend entry with its seed count.
 * Errors (RLDT_ERR_USAGE, nothing written): an unknown metric, x or band, a bad or repeated label, a run
 * given twice, a missing or damaged metrics.csv or one without the metric (named with its label), a label
 * whose runs have no evaluation or no common x range, an out (or its .csv) that is one of the metrics
 * files read. */
rldt_status_t rldt_plot_compare(const rldt_plot_series_t *series, int n, const char *metric, const char *x, const char *band,
                                const char *out_png);

#ifdef __cplusplus
}
#endif
#endif
